/**
 * W3C trace context in a message's headers (`traceparent`, `tracestate`), written and read here
 * rather than through the global propagator, so that a producer and a worker agree whatever
 * propagators the app registered. Celery's wire carries the same two headers.
 */
import type { Context, SpanContext } from '@opentelemetry/api'
import type { OtelApi } from './api.js'

export const TRACEPARENT = 'traceparent'
export const TRACESTATE = 'tracestate'

const PARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

/** Writes a span's context into headers (a fresh object: the caller's stays untouched). */
export function injectHeaders(sc: SpanContext, headers: Record<string, string>): Record<string, string> {
  const flags = (sc.traceFlags & 0xff).toString(16).padStart(2, '0')
  const out: Record<string, string> = { ...headers, [TRACEPARENT]: `00-${sc.traceId}-${sc.spanId}-${flags}` }
  const state = sc.traceState?.serialize()
  if (state) out[TRACESTATE] = state
  return out
}

/** The remote parent context carried by headers, or the root context when none is valid. */
export function extractContext(api: OtelApi, headers: Record<string, string>): Context {
  const root = api.ROOT_CONTEXT
  const parent = headers[TRACEPARENT]
  if (typeof parent !== 'string') return root
  const m = PARENT.exec(parent.trim())
  if (!m || /^0+$/.test(m[1]!) || /^0+$/.test(m[2]!)) return root
  const state = headers[TRACESTATE]
  return api.trace.setSpanContext(root, {
    traceId: m[1]!,
    spanId: m[2]!,
    traceFlags: parseInt(m[3]!, 16) & 1,
    isRemote: true,
    ...(typeof state === 'string' && state ? { traceState: api.createTraceState(state) } : {}),
  })
}

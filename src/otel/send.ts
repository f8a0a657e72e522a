/**
 * PRODUCER spans: one `send <task>` span per message, a child of the caller's active span (the
 * HTTP request that sent it, say). Its context goes into the message's headers (`traceparent`),
 * so the worker's `run <task>` span joins the same trace. The span ends when the publish does.
 */
import type { Span } from '@opentelemetry/api'
import type { Message } from '../core/message.js'
import { loadOtel, type Otel } from './api.js'
import { messageAttributes } from './attributes.js'
import { injectHeaders } from './context.js'

/** The spans of one send call. */
export interface SendSpans {
  /** Starts the span of a message and writes its context into the message's headers. */
  add(message: Message): void
  /** The publish is over; `err` when it failed. */
  end(err?: unknown): void
}

export interface SendTracer {
  /** Spans for one send call, or null while no tracer provider is registered. */
  batch(): SendSpans | null
}

export async function sendTracer(): Promise<SendTracer | null> {
  const otel = await loadOtel()
  return otel ? { batch: () => (otel.live() ? new Spans(otel) : null) } : null
}

class Spans implements SendSpans {
  private readonly spans: Span[] = []
  private readonly parent
  constructor(private readonly otel: Otel) {
    this.parent = otel.api.context.active()
  }

  add(message: Message): void {
    const { api, tracer } = this.otel
    const span = tracer.startSpan(
      `send ${message.task}`,
      { kind: api.SpanKind.PRODUCER, attributes: messageAttributes(message, 'send') },
      this.parent,
    )
    message.headers = injectHeaders(span.spanContext(), message.headers)
    this.spans.push(span)
  }

  end(err?: unknown): void {
    for (const span of this.spans) {
      if (err !== undefined) recordError(this.otel, span, err)
      span.end()
    }
  }
}

export function recordError(otel: Otel, span: Span, err: unknown, message?: string): void {
  if (err instanceof Error) span.recordException(err)
  else if (err !== undefined && err !== null) span.recordException(String(err))
  span.setStatus({
    code: otel.api.SpanStatusCode.ERROR,
    message: message ?? (err instanceof Error ? err.message : String(err)),
  })
}

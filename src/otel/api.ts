/**
 * The OpenTelemetry API, loaded lazily and once. `@opentelemetry/api` is an optional peer: when it
 * is not installed, tracing stays off (one warning) and nothing else is tried again. When it is,
 * `live()` says whether a tracer provider has been registered: until one is, no span is started,
 * so an app that never sets up an SDK pays one flag check per send or run and allocates nothing.
 */
import type * as Api from '@opentelemetry/api'

export type OtelApi = typeof Api

export interface Otel {
  readonly api: OtelApi
  readonly tracer: Api.Tracer
  /** Whether a tracer provider is registered (checked per call: one may be registered later). */
  live(): boolean
}

const TRACER_NAME = 'celeriac'

let loading: Promise<Otel | null> | null = null

/** The API when it can be loaded, else null (a warning is emitted once). */
export function loadOtel(): Promise<Otel | null> {
  loading ??= import('@opentelemetry/api').then(
    (mod) => fromApi(mod),
    (err: Error) => {
      process.emitWarning(
        `tracing is on but @opentelemetry/api cannot be loaded (${err.message}); install it to trace tasks`,
        { code: 'CELERIAC_TRACING' },
      )
      return null
    },
  )
  return loading
}

export function fromApi(api: OtelApi): Otel {
  // An unset proxy hands out the API's no-op provider: the same object the global proxy
  // returns until an SDK registers a real one.
  const noop = new api.ProxyTracerProvider().getDelegate()
  const proxy = api.ProxyTracerProvider
  return {
    api,
    // A ProxyTracer: it follows a provider registered after this line.
    tracer: api.trace.getTracer(TRACER_NAME),
    live() {
      const p = api.trace.getTracerProvider()
      return !(p instanceof proxy) || p.getDelegate() !== noop
    },
  }
}

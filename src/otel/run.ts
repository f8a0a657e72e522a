/**
 * CONSUMER spans: `run <task>` around a task's body in the worker, a child of the producer's
 * span carried in the message's `traceparent` header (a root span when there is none). The body
 * runs inside the span's context, so spans the task starts, and tasks it sends, join the trace.
 * A retry or a failure sets status ERROR with the exception recorded.
 */
import type { Context, Span } from '@opentelemetry/api'
import type { PreparedJob } from '../worker/prepare.js'
import type { RunResult } from '../worker/run.js'
import type { Outcome } from '../worker/settle.js'
import type { RunBody, RunWatch, WatchedRun } from '../worker/watch.js'
import type { RunEnv } from '../worker/run.js'
import { loadOtel, type Otel } from './api.js'
import { messageAttributes } from './attributes.js'
import { extractContext } from './context.js'
import { recordError } from './send.js'

/** The worker's tracing watch, or undefined when the API cannot be loaded. */
export async function runTracing(): Promise<RunWatch | undefined> {
  const otel = await loadOtel()
  if (!otel) return undefined
  return { begin: (job) => (otel.live() ? new RunSpan(otel, job) : undefined) }
}

class RunSpan implements WatchedRun {
  private readonly span: Span
  private readonly ctx: Context

  constructor(
    private readonly otel: Otel,
    job: PreparedJob,
  ) {
    const { api, tracer } = otel
    const parent = extractContext(api, job.msg.headers)
    this.span = tracer.startSpan(
      `run ${job.msg.task}`,
      {
        kind: api.SpanKind.CONSUMER,
        attributes: {
          ...messageAttributes(job.msg, 'process'),
          'messaging.message.delivery_count': job.delivery.deliveries,
        },
      },
      parent,
    )
    this.ctx = api.trace.setSpan(parent, this.span)
  }

  run<E extends RunEnv>(body: RunBody<E>, env: E, job: PreparedJob): Promise<RunResult> {
    return this.otel.api.context.with(this.ctx, body, undefined, env, job)
  }

  end(_job: PreparedJob, run: RunResult | null, outcome: Outcome): void {
    const span = this.span
    span.setAttribute('celeriac.outcome', outcome.kind)
    if (outcome.kind === 'retry' || outcome.kind === 'dead') {
      const err = run && !run.ok ? run.error : undefined
      recordError(this.otel, span, err, outcome.reason)
    }
    span.end()
  }
}

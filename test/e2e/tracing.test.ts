/**
 * One OpenTelemetry trace across two processes: an HTTP request in this process (a node:http
 * server with a SERVER span) sends a task with `delay()`; a spawned worker (SQLite broker) runs
 * it. Each process has its own SDK and in-memory exporter; the worker's spans come back as JSON
 * lines in a file. Same trace id, parent/child links and span kinds are asserted, on SQLite and
 * on Redis (the context travels in the message, so every broker carries it).
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { createApp } from 'celeriac'
import { spanJson } from '../fixtures/observability-tasks.js'
import { ROOT, run, tempDir, until, type Proc } from './helpers.js'
import { deletePrefix, REDIS_BASE, withPrefix } from './redis-helpers.js'

const TASKS = join(ROOT, 'test/fixtures/observability-tasks.ts')

type SpanLine = ReturnType<typeof spanJson>

const dir = tempDir()
const redis = withPrefix(REDIS_BASE, 'otel')
const brokers = [
  { name: 'sqlite', url: `sqlite://${join(dir, 'tracing.db')}`, cleanup: async () => {} },
  { name: 'redis', url: redis.url, cleanup: () => deletePrefix(REDIS_BASE, redis.prefix) },
]

// One SDK per process: registered once, shared by both scenarios.
const memory = new InMemorySpanExporter()
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] })
const contextManager = new AsyncLocalStorageContextManager().enable()
context.setGlobalContextManager(contextManager)
trace.setGlobalTracerProvider(provider)
after(async () => {
  await provider.shutdown()
  contextManager.disable()
})

for (const { name, url: broker, cleanup } of brokers)
  describe(`tracing across processes (${name})`, () => {
    const spansFile = join(dir, `worker-spans-${name}.jsonl`)
    const app = createApp({ broker, tracing: true })
    const echo = app.task('echo', (_ctx, v: number) => v)
    const boom = app.task('boom', () => 0)
    const fanout = app.task('fanout', (_ctx, v: number) => v)
    let server: Server
    let port = 0
    let worker: Proc

    const workerSpans = (): SpanLine[] =>
      existsSync(spansFile)
        ? readFileSync(spansFile, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as SpanLine)
        : []

    /** Waits for the worker's span named `name` in trace `traceId`. */
    async function workerSpan(name: string, traceId: string): Promise<SpanLine> {
      let found: SpanLine | undefined
      await until(
        () => !!(found = workerSpans().find((s) => s.name === name && s.traceId === traceId)),
        15_000,
        `worker span ${name}`,
      )
      return found!
    }

    before(async () => {
      const tracer = trace.getTracer('test-http')
      // What an HTTP instrumentation does: a SERVER span per request, active while it is handled.
      server = createServer((req, res) => {
        void tracer.startActiveSpan(`GET ${req.url}`, { kind: SpanKind.SERVER }, async (span) => {
          const task = req.url === '/boom' ? boom : req.url === '/fanout' ? fanout : echo
          const job = await task.delay(7)
          span.end()
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ id: job.id, traceId: span.spanContext().traceId }))
        })
      })
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
      port = (server.address() as AddressInfo).port
      // With metrics on too: the run goes through both watches, the span's context still holds.
      worker = run(['-A', TASKS, 'worker', '--no-banner', '-c', '2', '--metrics-port', '0'], {
        CELERIAC_BROKER: broker,
        OTEL_SPANS_FILE: spansFile,
      })
      await worker.waitFor(/ready/)
    })

    after(async () => {
      worker?.kill('SIGKILL')
      server?.close()
      await app.close()
      await cleanup()
    })

    async function request(path: string): Promise<{ id: string; traceId: string }> {
      const res = await fetch(`http://127.0.0.1:${port}${path}`)
      return (await res.json()) as { id: string; traceId: string }
    }

    it('links the request, the send and the run in the worker into one trace', async () => {
      const { id, traceId } = await request('/users')
      assert.equal(await app.asyncResult(id).get({ timeout: 10_000 }), 7)

      const local = memory.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId)
      const serverSpan = local.find((s) => s.name === 'GET /users')!
      const sendSpan = local.find((s) => s.name === 'send echo')!
      assert.ok(serverSpan && sendSpan, `spans here: ${local.map((s) => s.name).join(', ')}`)
      assert.equal(serverSpan.kind, SpanKind.SERVER)
      assert.equal(sendSpan.kind, SpanKind.PRODUCER)
      assert.equal(sendSpan.parentSpanContext?.spanId, serverSpan.spanContext().spanId)
      assert.equal(sendSpan.attributes['messaging.system'], 'celeriac')
      assert.equal(sendSpan.attributes['messaging.destination.name'], 'default')
      assert.equal(sendSpan.attributes['messaging.message.id'], id)
      assert.equal(sendSpan.attributes['messaging.operation'], 'publish')

      const runSpan = await workerSpan('run echo', traceId)
      assert.equal(runSpan.kind, SpanKind.CONSUMER)
      assert.equal(runSpan.traceId, traceId)
      assert.equal(runSpan.parentSpanId, sendSpan.spanContext().spanId)
      assert.equal(runSpan.attributes['messaging.message.id'], id)
      assert.equal(runSpan.attributes['messaging.operation'], 'process')
      assert.equal(runSpan.attributes['celeriac.outcome'], 'ack')
      assert.notEqual(runSpan.status.code, SpanStatusCode.ERROR)
    })

    it('records a failed run with status ERROR and its exception', async () => {
      const { id, traceId } = await request('/boom')
      await assert.rejects(app.asyncResult(id).get({ timeout: 10_000 }))
      const runSpan = await workerSpan('run boom', traceId)
      assert.equal(runSpan.status.code, SpanStatusCode.ERROR)
      assert.match(runSpan.status.message ?? '', /boom on purpose/)
      assert.ok(runSpan.events.includes('exception'))
      assert.equal(runSpan.attributes['celeriac.outcome'], 'dead')
    })

    it('runs the task body in its span: its own spans and the tasks it sends join the trace', async () => {
      const { id, traceId } = await request('/fanout')
      assert.equal(await app.asyncResult(id).get({ timeout: 10_000 }), 7)
      const run = await workerSpan('run fanout', traceId)
      const inside = await workerSpan('inside fanout', traceId)
      const send = await workerSpan('send echo', traceId)
      const child = await workerSpan('run echo', traceId)
      assert.equal(inside.parentSpanId, run.spanId)
      assert.equal(send.parentSpanId, inside.spanId)
      assert.equal(send.kind, SpanKind.PRODUCER)
      assert.equal(child.parentSpanId, send.spanId)
    })
  })

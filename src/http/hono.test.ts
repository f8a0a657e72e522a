import assert from 'node:assert/strict'
import type { ServerResponse } from 'node:http'
import { test } from 'node:test'
import { serve, type HttpBindings, type ServerType } from '@hono/node-server'
import { Hono, type Context } from 'hono'
import {
  addInOrder,
  httpScenarios,
  IN_ORDER,
  recorder,
  type HttpTarget,
  type RunningServer,
} from '../../test/support/http-scenarios.js'
import type { BackgroundOptions } from './background.js'
import { backgroundTasks, taskStatusRoutes } from './hono.js'

type Api = Hono<{ Bindings: HttpBindings }>

async function listen(options: BackgroundOptions, build: (api: Api) => void): Promise<RunningServer> {
  const bg = backgroundTasks(options)
  const api: Api = new Hono()
  api.use(bg)
  build(api)
  let server!: ServerType
  const port = await new Promise<number>((resolve) => {
    server = serve({ fetch: api.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(info.port))
  })
  return {
    url: `http://127.0.0.1:${port}`,
    drain: (timeoutMs) => bg.drain(timeoutMs),
    close: () => bg.close(server),
    report: () => bg.runner.report,
  }
}

const hono: HttpTarget = {
  start: (routes, options) =>
    listen(options, (api) => {
      for (const route of routes) {
        api.get(route.path, async (c) => {
          const out: ServerResponse = c.env.outgoing
          const body = await route.handle({
            background: c.get('background'),
            params: c.req.param(),
            responseFinished: () => out.writableFinished,
          })
          return typeof body === 'string' ? c.text(body) : c.json(body)
        })
      }
    }),
  startStatus: (app, options = {}) =>
    listen({}, (api) => {
      api.route('/', taskStatusRoutes(app, options))
      api.route('/api', taskStatusRoutes(app, { ...options, prefix: '/jobs' }))
    }),
  header: (req, name) => (req as Context).req.header(name),
  malformedEscapeCode: 'INVALID_TASK_ID',
  sigterm: {
    heading: '### Hono',
    script: (handler, src) => `
import { Hono } from 'hono'
import { serve } from '@hono/node-server'
import { backgroundTasks } from '${src}hono.ts'
const bg = backgroundTasks({ shutdownTimeout: '5s' })
const api = new Hono()
api.use(bg)
api.get('/', (c) => { c.get('background').add(work); return c.text('ok') })
const server = serve({ fetch: api.fetch, port: 0, hostname: '127.0.0.1' }, (info) => console.log('LISTENING', info.port))
${handler}
`,
  },
}

httpScenarios(hono)

test('functions run in the order added, one after another, after a streamed response', async () => {
  const seen: string[] = []
  const server = await listen({ logger: recorder().logger }, (api) => {
    api.get('/', (c) => {
      addInOrder(c.get('background'), seen)
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(new TextEncoder().encode('o'))
          await new Promise((r) => setTimeout(r, 30))
          assert.deepEqual(seen, [], 'nothing runs while the body streams')
          controller.enqueue(new TextEncoder().encode('k'))
          controller.close()
        },
      })
      return c.body(body)
    })
  })
  assert.equal(await (await fetch(server.url)).text(), 'ok')
  await server.close()
  assert.deepEqual(seen, IN_ORDER)
})

test('without a Node response (app.request, other runtimes) the work starts on a later macrotask', async () => {
  const bg = backgroundTasks({ logger: recorder().logger })
  const api = new Hono()
  api.use(bg)
  const seen: string[] = []
  api.get('/', (c) => {
    c.get('background').add((x: string) => void seen.push(x), 'later')
    return c.text('ok')
  })
  assert.equal(await (await api.request('/')).text(), 'ok')
  assert.deepEqual(seen, [])
  assert.equal(bg.runner.pending, 1, 'drain() already sees the scheduled work')
  assert.equal(await bg.drain(1000), true)
  assert.deepEqual(seen, ['later'])
})

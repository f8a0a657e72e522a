import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import {
  httpScenarios,
  type HttpTarget,
  type RunningServer,
  type ScenarioRoute,
} from '../../test/support/http-scenarios.js'
import type { BackgroundOptions } from './background.js'
import { backgroundTasks, taskStatusFrameworkErrors, taskStatusRoutes } from './fastify.js'

async function listen(
  options: BackgroundOptions,
  build: (server: FastifyInstance) => void | Promise<void>,
): Promise<RunningServer> {
  const server = Fastify({ frameworkErrors: taskStatusFrameworkErrors(['/tasks', '/api/jobs']) })
  await server.register(backgroundTasks, options)
  await build(server)
  await server.listen({ port: 0, host: '127.0.0.1' })
  return {
    url: `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`,
    drain: (timeoutMs) => server.celeriacBackground.drain(timeoutMs),
    close: async () => {
      await server.close()
      return server.celeriacBackground.report?.finished ?? false
    },
    report: () => server.celeriacBackground.report,
  }
}

function addRoutes(server: FastifyInstance, routes: readonly ScenarioRoute[]): void {
  for (const route of routes) {
    server.get(route.path, async (req, reply) =>
      route.handle({
        background: req.background,
        params: req.params as Record<string, string>,
        responseFinished: () => reply.raw.writableFinished,
      }),
    )
  }
}

const fastify: HttpTarget = {
  start: (routes, options) => listen(options, (s) => addRoutes(s, routes)),
  startStatus: (app, options = {}) =>
    listen({}, async (s) => {
      await s.register(taskStatusRoutes, { ...options, app })
      await s.register(taskStatusRoutes, { ...options, app, prefix: '/api/jobs' })
    }),
  header: (req, name) => (req as FastifyRequest).headers[name] as string | undefined,
  malformedEscapeCode: 'INVALID_TASK_ID',
  sigterm: {
    heading: '### Fastify',
    script: (handler, src) => `
import Fastify from 'fastify'
import { backgroundTasks } from '${src}fastify.ts'
const server = Fastify()
await server.register(backgroundTasks, { shutdownTimeout: '5s' })
server.get('/', async (req) => { req.background.add(work); return 'ok' })
await server.listen({ port: 0, host: '127.0.0.1' })
${handler}
console.log('LISTENING', server.server.address().port)
`,
  },
}

httpScenarios(fastify)

test('without a logger, failures go to the console when Fastify logs nothing', async (t) => {
  const errors = t.mock.method(console, 'error', () => {})
  const server = await fastify.start(
    [
      {
        path: '/',
        handle: (req) => {
          req.background.add(function quietJob() {
            throw new Error('nobody listens')
          })
          return 'ok'
        },
      },
    ],
    {},
  )
  await (await fetch(server.url)).text()
  await server.close()
  assert.equal(errors.mock.callCount(), 1)
  assert.match(String(errors.mock.calls[0]?.arguments[0]), /quietJob/)
})

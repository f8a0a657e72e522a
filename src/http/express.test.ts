import assert from 'node:assert/strict'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import express, { type Express, type Request } from 'express'
import { httpScenarios, type HttpTarget, type RunningServer } from '../../test/support/http-scenarios.js'
import type { BackgroundOptions } from './background.js'
import { backgroundTasks, taskStatusRouter } from './express.js'

async function listen(options: BackgroundOptions, build: (api: Express) => void): Promise<RunningServer> {
  const bg = backgroundTasks(options)
  const api = express()
  api.use(bg)
  build(api)
  const server = await new Promise<Server>((resolve) => {
    const s = api.listen(0, '127.0.0.1', () => resolve(s))
  })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    drain: (timeoutMs) => bg.drain(timeoutMs),
    close: () => bg.close(server),
    report: () => bg.runner.report,
  }
}

const expressTarget: HttpTarget = {
  start: (routes, options) =>
    listen(options, (api) => {
      for (const route of routes) {
        api.get(route.path, async (req, res) => {
          const body = await route.handle({
            background: req.background,
            params: req.params as Record<string, string>,
            responseFinished: () => res.writableFinished,
          })
          if (typeof body === 'string') res.send(body)
          else res.json(body)
        })
      }
    }),
  startStatus: (app, options = {}) =>
    listen({}, (api) => {
      api.use(taskStatusRouter(app, options))
      api.use('/api', taskStatusRouter(app, { includeStack: true, ...options, prefix: 'jobs/' }))
    }),
  header: (req, name) => (req as Request).get(name),
  malformedEscapeCode: 'INVALID_TASK_ID',
  sigterm: {
    heading: '### Express 5',
    script: (handler, src) => `
import express from 'express'
import { backgroundTasks } from '${src}express.ts'
const bg = backgroundTasks({ shutdownTimeout: '5s' })
const api = express()
api.use(bg)
api.get('/', (req, res) => { req.background.add(work); res.send('ok') })
const server = api.listen(0, '127.0.0.1', () => console.log('LISTENING', server.address().port))
${handler}
`,
  },
  // Only the /api mount asks for stacks.
  async checkStatus(url) {
    const withStack = (await (await fetch(`${url}/api/jobs/failed-1`)).json()) as {
      error: { stack?: string }
    }
    assert.match(withStack.error.stack ?? '', /TypeError: bad input/)
    const without = (await (await fetch(`${url}/tasks/failed-1`)).json()) as { error: object }
    assert.deepEqual(Object.keys(without.error), ['name', 'message'])
  },
}

httpScenarios(expressTarget)

import assert from 'node:assert/strict'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import express, { type Express } from 'express'
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
  }
}

const expressTarget: HttpTarget = {
  closeReportsOutcome: true,
  start: (routes, options) =>
    listen(options, (api) => {
      for (const route of routes) {
        api.get(route.path, (req, res) => {
          const body = route.handle({
            background: req.background,
            params: req.params as Record<string, string>,
            responseFinished: () => res.writableFinished,
          })
          if (typeof body === 'string') res.send(body)
          else res.json(body)
        })
      }
    }),
  startStatus: (app) =>
    listen({}, (api) => {
      api.use(taskStatusRouter(app))
      api.use('/api', taskStatusRouter(app, { prefix: 'jobs/', includeStack: true }))
    }),
  // Only the /api mount asks for stacks.
  async checkStatus(url) {
    const withStack = (await (await fetch(`${url}/api/jobs/failed-1`)).json()) as {
      error: { stack?: string }
    }
    assert.match(withStack.error.stack ?? '', /TypeError: bad input/)
  },
}

httpScenarios(expressTarget)

/** The task events route (server-sent events) on Express: the shared scenarios. */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import { sseScenarios } from '../../test/support/sse-scenarios.js'
import { backgroundTasks, taskStatusRouter } from './express.js'

sseScenarios({
  async start(app, options = {}, shutdownTimeout = '5s') {
    const bg = backgroundTasks({ shutdownTimeout })
    const api = express()
    api.use(bg)
    const events =
      options.events === false
        ? false
        : { ...(options.events === true ? {} : options.events), background: bg }
    api.use(taskStatusRouter(app, { ...options, events }))
    const server = await new Promise<Server>((resolve) => {
      const s = api.listen(0, '127.0.0.1', () => resolve(s))
    })
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      drain: (timeoutMs) => bg.drain(timeoutMs),
      close: () => bg.close(server),
      report: () => bg.runner.report,
    }
  },
})

/** The task events route (server-sent events) on Hono (@hono/node-server): the shared scenarios. */
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { sseScenarios } from '../../test/support/sse-scenarios.js'
import { backgroundTasks, taskStatusRoutes } from './hono.js'

sseScenarios({
  async start(app, options = {}, shutdownTimeout = '5s') {
    const bg = backgroundTasks({ shutdownTimeout })
    const api = new Hono()
    api.use(bg)
    const events =
      options.events === false
        ? false
        : { ...(options.events === true ? {} : options.events), background: bg }
    api.route('/', taskStatusRoutes(app, { ...options, events }))
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const s = serve({ fetch: api.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
    })
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      drain: (timeoutMs) => bg.drain(timeoutMs),
      close: () => bg.close(server),
      report: () => bg.runner.report,
    }
  },
})

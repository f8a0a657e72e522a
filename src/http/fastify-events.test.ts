/** The task events route (server-sent events) on Fastify: the shared scenarios. */
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import { sseScenarios } from '../../test/support/sse-scenarios.js'
import { backgroundTasks, taskStatusFrameworkErrors, taskStatusRoutes } from './fastify.js'

sseScenarios({
  async start(app, options = {}, shutdownTimeout = '5s') {
    const server = Fastify({ frameworkErrors: taskStatusFrameworkErrors() })
    await server.register(backgroundTasks, { shutdownTimeout })
    await server.register(taskStatusRoutes, { ...options, app })
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
  },
})

/**
 * The dashboard mounted under /jobs in Express, Fastify and Hono (real servers on loopback, real
 * HTTP): an authenticated page and API call, an unauthenticated refusal, the sign-in cookie's
 * path, an action with the framework's body parser in front (Express, Fastify), and the host's
 * own routes left alone.
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, describe, it } from 'node:test'
import { serve, type HttpBindings } from '@hono/node-server'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { createApp, type App } from '../core/app.js'
import { dashboardHandler, type DashboardHandler } from './handler.js'
import { honoDashboard, mountFastify } from './mount.js'

const credentials = { user: 'admin', password: 'mount test password' }
const basic = { authorization: `Basic ${Buffer.from('admin:mount test password').toString('base64')}` }

interface Mounted {
  readonly url: string
  close(): Promise<void>
}

const listen = async (server: Server): Promise<string> => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}
const closeServer = (server: Server) =>
  new Promise<void>((r) => {
    server.closeAllConnections()
    server.close(() => r())
  })

const frameworks: Record<string, (handler: DashboardHandler) => Promise<Mounted>> = {
  async express(handler) {
    const web = express()
    web.use(express.json())
    web.get('/health', (_req, res) => void res.json({ host: 'express' }))
    web.use('/jobs', handler)
    const server = createServer(web)
    return { url: await listen(server), close: () => closeServer(server) }
  },
  async fastify(handler) {
    const web = Fastify()
    web.get('/health', async () => ({ host: 'fastify' }))
    mountFastify(web, handler)
    await web.listen({ port: 0, host: '127.0.0.1' })
    const { port } = web.server.address() as AddressInfo
    return { url: `http://127.0.0.1:${port}`, close: () => web.close() }
  },
  async hono(handler) {
    const web = new Hono<{ Bindings: HttpBindings }>()
    web.get('/health', (c) => c.json({ host: 'hono' }))
    const dashboard = honoDashboard(handler)
    web.all('/jobs', dashboard)
    web.all('/jobs/*', dashboard)
    const server = await new Promise<Server>((resolve) => {
      const s = serve({ fetch: web.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server))
    })
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => closeServer(server),
    }
  },
}

for (const [name, mount] of Object.entries(frameworks)) {
  describe(`dashboard mounted in ${name} under /jobs`, () => {
    const apps: App[] = []
    const closers: (() => Promise<void>)[] = []
    after(async () => {
      for (const c of closers) await c()
      for (const a of apps) await a.close()
    })

    it('serves pages and the API to a signed-in user, refuses others, keeps the host routes', async () => {
      const app = createApp({ broker: 'memory://' })
      apps.push(app)
      const handler = dashboardHandler(app, { credentials, basePath: '/jobs' })
      const web = await mount(handler)
      closers.push(async () => {
        handler.close()
        await web.close()
      })
      const at = (path: string) => new URL(path, web.url)

      // Refused without credentials: pages go to the sign-in page below the base, the API says 401.
      const page = await fetch(at('/jobs/queues'), { redirect: 'manual' })
      assert.equal(page.status, 303)
      assert.equal(page.headers.get('location'), '/jobs/login')
      const refused = await fetch(at('/jobs/api/overview'))
      assert.equal(refused.status, 401)

      // Signed in with basic auth: the shell names the base, the API answers.
      const shell = await fetch(at('/jobs/tasks'), { headers: basic })
      assert.equal(shell.status, 200)
      assert.match(await shell.text(), /<base href="\/jobs\/" \/>/)
      const overview = await fetch(at('/jobs/api/overview'), { headers: basic })
      assert.equal(overview.status, 200)
      assert.ok(Array.isArray(((await overview.json()) as { queues: unknown }).queues))
      const asset = await fetch(at('/jobs/static/chart.js'), { headers: basic })
      assert.equal(asset.status, 200)
      assert.match(asset.headers.get('content-type') ?? '', /javascript/)

      // The sign-in form sets a cookie scoped to the base path, which then opens the API.
      const login = await fetch(at('/jobs/login'), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: web.url },
        body: 'user=admin&password=mount+test+password',
        redirect: 'manual',
      })
      assert.equal(login.status, 303)
      assert.equal(login.headers.get('location'), '/jobs/')
      const cookie = login.headers.get('set-cookie') ?? ''
      assert.match(cookie, /Path=\/jobs;/)
      const withCookie = await fetch(at('/jobs/api/queues'), { headers: { cookie: cookie.split(';')[0]! } })
      assert.equal(withCookie.status, 200)

      // An action through the framework (Express parses the JSON body before the dashboard).
      const action = await fetch(at('/jobs/api/rate-limits'), {
        method: 'POST',
        headers: { ...basic, 'content-type': 'application/json', 'x-celeriac-csrf': '1' },
        body: JSON.stringify({ task: 'mount.example', rate: '5/s' }),
      })
      assert.equal(action.status, 200, await action.clone().text())
      const limits = (await (await fetch(at('/jobs/api/rate-limits'), { headers: basic })).json()) as {
        limits: { key: string; rate: string }[]
      }
      assert.deepEqual(limits.limits, [{ key: 'task:mount.example', rate: '5/s' }])

      const health = await fetch(at('/health'))
      assert.deepEqual(await health.json(), { host: name })
    })
  })
}

/**
 * The dashboard over a large queue (`--broker dashboard`): a backlog of n no-op jobs (1,000,000 by
 * default) on $REDIS_URL's server under a fresh key prefix, the dashboard served in this process
 * (no credentials, loopback), and the time of each API call a page makes: the overview, the
 * queues, the first and the last page of waiting jobs, the tasks list. Also the dashboard's heap
 * after the calls: pages never load all rows, so it stays flat whatever the backlog.
 */
import { randomUUID } from 'node:crypto'
import { dropPrefix } from './redis-admin.js'
import { createApp } from 'celeriac'
import { startDashboard } from 'celeriac/dashboard'
import { runChild, type ProducerReport } from './proc.js'

export interface DashboardRow {
  readonly call: string
  readonly ms: number
  readonly note: string
}

export async function benchDashboard(
  redisUrl: string,
  n: number,
): Promise<{ rows: DashboardRow[]; heapMb: number }> {
  const prefix = `bench-dash-${randomUUID().slice(0, 8)}`
  const url = `${redisUrl}${redisUrl.includes('?') ? '&' : '?'}prefix=${prefix}`
  const app = createApp({ broker: url })
  try {
    const filled = await runChild<ProducerReport>('redis-producer.ts', ['bulk', url, n, 5000])
    console.error(`[dashboard] ${n.toLocaleString('en-US')} jobs enqueued in ${Math.round(filled.ms)} ms`)
    const d = await startDashboard(app, { port: 0, credentials: null })
    const rows: DashboardRow[] = []
    try {
      const call = async (name: string, path: string, note: (body: Record<string, unknown>) => string) => {
        // The second call of each is timed: the first may open connections.
        await fetch(new URL(path.slice(1), d.url)).then((r) => r.json())
        const t0 = performance.now()
        const res = await fetch(new URL(path.slice(1), d.url))
        const body = (await res.json()) as Record<string, unknown>
        const ms = Math.round((performance.now() - t0) * 10) / 10
        if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`)
        rows.push({ call: name, ms, note: note(body) })
      }
      await call('overview', '/api/overview', () => '')
      await call('queues', '/api/queues', (b) => {
        const q = (b.queues as { queue: string; waiting: number }[]).find((x) => x.queue === 'default')
        return `waiting ${q?.waiting.toLocaleString('en-US')}`
      })
      await call(
        'waiting jobs, first page',
        '/api/queues/default/jobs?state=waiting&limit=20',
        (b) => `${(b.jobs as unknown[]).length} rows of ${Number(b.total).toLocaleString('en-US')}`,
      )
      await call(
        'waiting jobs, last page',
        `/api/queues/default/jobs?state=waiting&limit=20&offset=${n - 20}`,
        (b) => `${(b.jobs as unknown[]).length} rows`,
      )
      await call('tasks list', '/api/tasks', () => '')
      global.gc?.()
      return { rows, heapMb: Math.round(process.memoryUsage().heapUsed / 1e5) / 10 }
    } finally {
      await d.close()
    }
  } finally {
    await app.close()
    await dropPrefix(redisUrl, prefix)
  }
}

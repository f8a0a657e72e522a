/**
 * Per-job CPU of the matrix's processing phase on a private redis-server (its own port, no
 * persistence), so that its CPU and INFO commandstats hold only this run's work:
 * `node --import tsx bench/redis-cost.ts <celeriac|bullmq> [n] [workers] [payload] [port]`.
 * Enqueues n jobs with the matrix's producer, starts the matrix's gated worker children, and prints
 * one JSON line: worker CPU µs/job (their process.cpuUsage), server CPU µs/job (/proc/<pid>/stat
 * utime+stime around the drain), jobs/s, and per command calls/job and µs/call.
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { Redis } from 'ioredis'
import { drainGated, runChild, start, type GatedReport, type ProducerReport } from './proc.js'

const [system = 'celeriac', nArg = '20000', wArg = '1', payload = 'empty', portArg = '6395'] =
  process.argv.slice(2)
const n = Number(nArg)
const workers = Number(wArg)
const port = Number(portArg)
const server = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], {
  stdio: 'ignore',
})
const tick = 100 // USER_HZ
const cpuOf = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return ((Number(f[11]) + Number(f[12])) * 1e6) / tick // µs
}
const admin = new Redis({ port, lazyConnect: true, retryStrategy: () => 50 })
for (let i = 0; ; i++) {
  try {
    await admin.connect()
    break
  } catch {
    if (i > 50) throw new Error('no server')
    await new Promise((r) => setTimeout(r, 50))
  }
}
try {
  const env = { BENCH_PAYLOAD: payload, BENCH_GATED: '1' }
  const url = `redis://127.0.0.1:${port}/0`
  const c = Math.ceil(50 / workers)
  const nodeArgs = process.env.COST_NODE_ARGS ? process.env.COST_NODE_ARGS.split(' ') : []
  const e =
    system === 'celeriac'
      ? await runChild<ProducerReport>('redis-producer.ts', ['bulk', `${url}?prefix=hpay`, n, 1000], { env })
      : await runChild<ProducerReport>('bullmq-producer.ts', ['bulk', url, n, 1000, 'keep'], { env })
  const children = Array.from({ length: workers }, () =>
    system === 'celeriac'
      ? start<GatedReport>('redis-worker.ts', [`${url}?prefix=hpay`, 0, c, 'results'], {
          env,
          stdin: true,
          nodeArgs,
        })
      : start<GatedReport>('bullmq-worker.ts', [url, 0, c, 'results'], { env, stdin: true, nodeArgs }),
  )
  await Promise.all(children.map((ch) => ch.ready))
  await admin.config('SET', 'lua-time-limit', '5000')
  await admin.call('CONFIG', 'RESETSTAT')
  const s0 = cpuOf(server.pid!)
  const d = await drainGated(children, n)
  const s1 = cpuOf(server.pid!)
  const info = (await admin.info('commandstats')) as string
  const cmds: Record<string, [number, number]> = {}
  for (const m of info.matchAll(/cmdstat_(\S+):calls=(\d+),usec=(\d+)/g)) {
    if (m[1] === 'config' || m[1] === 'info') continue
    cmds[m[1]!] = [
      Math.round((Number(m[2]) / n) * 1000) / 1000,
      Math.round((Number(m[3]) / Number(m[2])) * 10) / 10,
    ]
  }
  const serverUs = (s1 - s0) / n
  const workerUs = (d.cpuMs * 1000) / n
  console.log(
    JSON.stringify({
      system,
      payload,
      workers,
      enqueueUs: Math.round((e.cpuMs * 1000) / n),
      workerUs: Math.round(workerUs * 10) / 10,
      serverUs: Math.round(serverUs * 10) / 10,
      sumUs: Math.round((workerUs + serverUs) * 10) / 10,
      rate: Math.round((n / d.ms) * 1000),
      cmds,
    }),
  )
} finally {
  admin.disconnect()
  const exited = new Promise((resolve) => server.once('exit', resolve))
  server.kill('SIGTERM')
  await exited
}

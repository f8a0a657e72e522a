/**
 * Bulk enqueue on RabbitMQ, producer and server CPU per job: celeriac's `sendMany` in batches of
 * 1,000 (`celeriac`, optional URL query such as max-priority=0) or the minimal amqplib loop of
 * bench/amqp-bare.ts (`bare`), on a fresh queue deleted afterwards. Producer CPU is
 * process.cpuUsage around the batches; server CPU is beam.smp's utime + stime from /proc (run it
 * on the RabbitMQ host). Prints one JSON line: jobs/s, cpuUs (sysUs of it) and serverUs per job.
 *
 *   node --import tsx bench/amqp-producer-cost.ts celeriac|bare [n] [url query]
 */
import { execSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { connect } from 'amqplib'
import { createApp } from 'celeriac'
const [mode, nArg, query] = process.argv.slice(2)
const n = Number(nArg ?? 50000)
const pid = process.env.BEAM_PID ?? execSync('pgrep -o beam.smp').toString().trim()
const ticks = Number(execSync('getconf CLK_TCK').toString())
const serverMs = () => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return ((Number(f[11]) + Number(f[12])) * 1000) / ticks
}
const tag = `celeriac-cost-${mode}-${process.pid}`
const url = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'
let cpu: NodeJS.CpuUsage, ms: number, s0: number, sms: number
if (mode === 'bare') {
  const conn = await connect(url)
  const ch = await conn.createConfirmChannel()
  await ch.assertQueue(tag, { durable: true })
  const body = Buffer.from(JSON.stringify([[], {}, {}]))
  const c0 = process.cpuUsage()
  s0 = serverMs()
  const t0 = performance.now()
  for (let sent = 0; sent < n;) {
    for (let i = 0; i < 1000; i++)
      ch.sendToQueue(tag, body, {
        persistent: true,
        messageId: String(sent + i),
        contentType: 'application/json',
      })
    sent += 1000
    await ch.waitForConfirms()
  }
  ms = performance.now() - t0
  cpu = process.cpuUsage(c0)
  sms = serverMs() - s0
  await ch.deleteQueue(tag)
  await conn.close()
} else {
  const app = createApp({ broker: `${url}?prefix=${tag}${query ? '&' + query : ''}`, resultBackend: false })
  const noop = app.task('noop', (_ctx, ..._a: unknown[]) => undefined)
  await app.broker()
  const args = Array.from({ length: 1000 }, () => [] as unknown[])
  await noop.sendMany(args.slice(0, 10))
  const c0 = process.cpuUsage()
  s0 = serverMs()
  const t0 = performance.now()
  for (let e = 0; e < n; e += 1000) await noop.sendMany(args)
  ms = performance.now() - t0
  cpu = process.cpuUsage(c0)
  sms = serverMs() - s0
  await app.close()
  const conn = await connect(url)
  const ch = await conn.createChannel()
  for (const q of [`${tag}.default`, `${tag}.default.dead`, `${tag}.default.paused`]) await ch.deleteQueue(q)
  await conn.close()
}
const r = (x: number) => Math.round(x * 10) / 10
console.log(
  JSON.stringify({
    mode,
    rate: Math.round(n / (ms / 1000)),
    cpuUs: r((cpu.user + cpu.system) / n),
    sysUs: r(cpu.system / n),
    serverUs: r((sms * 1000) / n),
  }),
)

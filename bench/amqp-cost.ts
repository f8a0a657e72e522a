/**
 * Where RabbitMQ's CPU per message goes: amqplib alone, one variant of the message, queue, publish
 * or consume at a time. Publishes n messages to a fresh durable queue on a confirm channel (one
 * confirm wait per batch), then consumes and acknowledges them, and reads the server process's CPU
 * (utime + stime of beam.smp in /proc, so run it on the RabbitMQ host) before and after each phase.
 * Prints one JSON line: jobs/s and server µs per message for publish and consume.
 *
 *   node --import tsx bench/amqp-cost.ts <url> <n> [key=value ...]
 *
 * Keys (defaults in brackets): size [120] body bytes; maxpri [0] the queue's x-max-priority;
 * pri [0] each message's priority (`mixed`: 0-9 in turn); headers [0] number of small header
 * entries; props [1] messageId + contentType (0: none); persistent [1]; exchange [''] publish
 * through a direct exchange of this name bound to the queue; qv the queue's x-queue-version;
 * mode its x-queue-mode; prefetch [50]; global [1] channel-wide prefetch (0: per consumer);
 * ackEvery [1] ack with `multiple` once per this many deliveries; batch [1000] confirm batch;
 * channels [1] publish channels (batches spread over them); nodelay [0] 1: Nagle's algorithm off (as
 * celeriac's connections); pid the server's process id
 * (default: `pgrep -o beam.smp`). Only this run's queue (and exchange) is declared and deleted.
 */
import { execSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { connect, type Options } from 'amqplib'

const [url, nArg, ...rest] = process.argv.slice(2)
const n = Number(nArg)
const o = Object.fromEntries(rest.map((kv) => kv.split('=') as [string, string]))
const num = (k: string, d: number) => (o[k] === undefined ? d : Number(o[k]))
const size = num('size', 120)
const maxPri = num('maxpri', 0)
const headers = num('headers', 0)
const props = num('props', 1)
const persistent = num('persistent', 1) === 1
const prefetch = num('prefetch', 50)
const ackEvery = num('ackEvery', 1)
const batch = num('batch', 1000)
const channels = num('channels', 1)
const exchange = o.exchange ?? ''
const pid = o.pid ?? execSync('pgrep -o beam.smp').toString().trim()
const ticks = Number(execSync('getconf CLK_TCK').toString())

function serverMs(): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return ((Number(f[11]) + Number(f[12])) * 1000) / ticks
}

const queue = `celeriac-cost-${randomUUID().slice(0, 8)}`
const conn = await connect(url!, { noDelay: num('nodelay', 0) === 1 })
const admin = await conn.createChannel()
const qArgs: Record<string, unknown> = maxPri ? { 'x-max-priority': maxPri } : {}
if (o.qv) qArgs['x-queue-version'] = Number(o.qv)
if (o.mode) qArgs['x-queue-mode'] = o.mode
await admin.assertQueue(queue, { durable: true, arguments: qArgs })
if (exchange) {
  await admin.assertExchange(exchange, 'direct', { durable: true })
  await admin.bindQueue(queue, exchange, queue)
}
const body = Buffer.alloc(size, 'x')
const hdrs: Record<string, unknown> | undefined = headers
  ? Object.fromEntries(Array.from({ length: headers }, (_, i) => [`celeriac-h${i}`, i + 1]))
  : undefined

const pubs = await Promise.all(Array.from({ length: channels }, () => conn.createConfirmChannel()))
let s0 = serverMs()
let t0 = performance.now()
for (let sent = 0; sent < n;) {
  const waits: Promise<void>[] = []
  for (const ch of pubs) {
    const m = Math.min(batch, n - sent)
    if (m <= 0) break
    for (let i = 0; i < m; i++) {
      const options: Options.Publish = { persistent }
      if (props) {
        options.messageId = randomUUID()
        options.contentType = 'text/plain'
      }
      if (hdrs) options.headers = hdrs
      const p = o.pri === 'mixed' ? (sent + i) % 10 : num('pri', 0)
      if (p) options.priority = p
      if (exchange) ch.publish(exchange, queue, body, options)
      else ch.sendToQueue(queue, body, options)
    }
    sent += m
    waits.push(ch.waitForConfirms())
  }
  await Promise.all(waits)
}
const pubMs = performance.now() - t0
const pubServer = serverMs() - s0

const ch = await conn.createChannel()
await ch.prefetch(prefetch, num('global', 1) === 1)
s0 = serverMs()
t0 = performance.now()
await new Promise<void>((resolve) => {
  let done = 0
  void ch.consume(queue, (m) => {
    if (!m) return
    done++
    if (done % ackEvery === 0 || done === n) ch.ack(m, ackEvery > 1)
    if (done === n) resolve()
  })
})
// The last ack's effect: a passive check after it comes back once RabbitMQ read it.
await ch.checkQueue(queue)
const conMs = performance.now() - t0
const conServer = serverMs() - s0
await admin.deleteQueue(queue)
if (exchange) await admin.deleteExchange(exchange)
await conn.close()
const r = (x: number) => Math.round(x * 10) / 10
process.stdout.write(
  JSON.stringify({
    ...o,
    pubRate: Math.round(n / (pubMs / 1000)),
    pubUs: r((pubServer * 1000) / n),
    conRate: Math.round(n / (conMs / 1000)),
    conUs: r((conServer * 1000) / n),
  }) + '\n',
)

/**
 * Bench child, the limit for RabbitMQ: amqplib alone, no task framework. Prints one JSON line.
 * Optional trailing arguments <size> <max-priority> match the message size and queue type of a
 * framework's messages.
 *
 *   bulk <url> <queue> <n> <batch>   persistent messages to a durable queue on a confirm channel,
 *                                    one confirm wait per batch: {"enqueued","ms","cpuMs"}
 *   work <url> <queue> <n> <prefetch> consume with a prefetch window and ack each message:
 *                                    `ready`, then {"processed","ms","cpuMs"} from the first delivery
 */
import { connect } from 'amqplib'

const [mode, url, queue, nArg, kArg, sizeArg, priorityArg] = process.argv.slice(2)
const n = Number(nArg)
// Optional: the body's size in bytes and the queue's x-max-priority, to match what a framework
// sends (bench/rabbitmq.ts: celeriac's message size and its priority queues).
const size = sizeArg ? Number(sizeArg) : 0
const queueArgs = priorityArg ? { arguments: { 'x-max-priority': Number(priorityArg) } } : {}
const conn = await connect(url!)
const out = (o: object) => process.stdout.write(JSON.stringify(o) + '\n')

if (mode === 'bulk') {
  const batch = Number(kArg ?? 1000)
  const ch = await conn.createConfirmChannel()
  await ch.assertQueue(queue!, { durable: true, ...queueArgs })
  const body = size ? Buffer.alloc(size, 'x') : Buffer.from(JSON.stringify([[], {}, {}]))
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  for (let sent = 0; sent < n;) {
    const m = Math.min(batch, n - sent)
    for (let i = 0; i < m; i++)
      ch.sendToQueue(queue!, body, {
        persistent: true,
        messageId: String(sent + i),
        contentType: 'application/json',
      })
    sent += m
    await ch.waitForConfirms()
  }
  const ms = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  await conn.close()
  out({ enqueued: n, ms, cpuMs: (cpu.user + cpu.system) / 1000 })
} else {
  const ch = await conn.createChannel()
  await ch.assertQueue(queue!, { durable: true, ...queueArgs })
  await ch.prefetch(Number(kArg ?? 100))
  let done = 0
  let t0 = 0
  let cpu0: NodeJS.CpuUsage | null = null
  await ch.consume(queue!, (m) => {
    if (!m) return
    if (!cpu0) {
      cpu0 = process.cpuUsage()
      t0 = performance.now()
    }
    ch.ack(m)
    if (++done === n) {
      const ms = performance.now() - t0
      const cpu = process.cpuUsage(cpu0)
      out({ processed: n, ms, cpuMs: (cpu.user + cpu.system) / 1000 })
      void conn.close().then(() => process.exit(0))
    }
  })
  process.stdout.write('ready\n')
}

/**
 * RabbitMQ's CPU per celeriac message, bulk enqueue and processing apart (the companion of
 * bench/amqp-cost.ts, which measures amqplib alone): the benchmark's producer and worker children
 * (bench/redis-producer.ts, bench/redis-worker.ts, results in Redis) on queues of their own, with
 * the server process's CPU (beam.smp's utime + stime in /proc, so run it on the RabbitMQ host) read
 * before and after each phase. Prints one JSON line per run.
 *
 *   node --import tsx bench/amqp-cost-celeriac.ts <amqp url> <redis url> <n> [url query, e.g. max-priority=0]
 */
import { execSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { connect } from 'amqplib'
import { LEVELS } from '../src/brokers/amqp/delays.js'
import { runChild, start, type ProducerReport, type WorkerReport } from './proc.js'

const [amqpUrl, redisUrl, nArg, query] = process.argv.slice(2)
const n = Number(nArg)
const pid = process.env.BEAM_PID ?? execSync('pgrep -o beam.smp').toString().trim()
const ticks = Number(execSync('getconf CLK_TCK').toString())
const serverMs = () => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return ((Number(f[11]) + Number(f[12])) * 1000) / ticks
}

const tag = `celeriac-cost-${randomUUID().slice(0, 8)}`
const url = `${amqpUrl}?prefix=${tag}${query ? `&${query}` : ''}`
const env = { BENCH_RESULT_BACKEND: redisUrl! }
let s0 = serverMs()
const e = await runChild<ProducerReport>('redis-producer.ts', ['bulk', url, n, 1000])
const pubUs = ((serverMs() - s0) * 1000) / n
s0 = serverMs()
const w = await start<WorkerReport>('redis-worker.ts', [url, n, 50, 'results'], { env }).result
const conUs = ((serverMs() - s0) * 1000) / n

const conn = await connect(amqpUrl!)
const ch = await conn.createChannel()
const work = `${tag}.default`
for (const q of [work, `${work}.dead`, `${work}.paused`]) await ch.deleteQueue(q)
for (let k = 0; k < LEVELS; k++) await ch.deleteQueue(`${work}.delay.${k}`)
await ch.deleteExchange(`${tag}.celeriac.delay.ready`)
for (let k = 0; k < LEVELS; k++) await ch.deleteExchange(`${tag}.celeriac.delay.${k}`)
await conn.close()

const r = (x: number) => Math.round(x * 10) / 10
process.stdout.write(
  JSON.stringify({
    query: query ?? '',
    pubRate: Math.round(n / (e.ms / 1000)),
    pubUs: r(pubUs),
    conRate: Math.round(n / (w.ms / 1000)),
    conUs: r(conUs),
    workerUs: r((w.cpuMs * 1000) / n),
  }) + '\n',
)

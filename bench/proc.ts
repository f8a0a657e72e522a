/**
 * Bench child processes that report on stdout: a line `ready` when they can take work (workers),
 * then one JSON line with their result. Node children run TypeScript through tsx; Python children
 * (Celery) run with the system interpreter.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { BENCH_DIR } from './run.js'

export interface Child<T> {
  /** Resolves when the child printed `ready`. */
  readonly ready: Promise<void>
  /** Resolves with the child's last JSON line when it exits 0. */
  readonly result: Promise<T>
  kill(): void
}

/** Python with Celery: Debian's package installs it for the system interpreter. */
export const PYTHON = process.env.BENCH_PYTHON ?? '/usr/bin/python3'

export function start<T>(
  script: string,
  args: (string | number)[],
  options: { env?: Record<string, string>; nodeArgs?: string[] } = {},
): Child<T> {
  const file = join(BENCH_DIR, script)
  const [cmd, argv] = script.endsWith('.py')
    ? [PYTHON, [file, ...args.map(String)]]
    : [process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', file, ...args.map(String)]]
  const p = spawn(cmd, argv, {
    cwd: BENCH_DIR,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  let onReady: () => void = () => {}
  const ready = new Promise<void>((resolve) => (onReady = resolve))
  p.stdout.on('data', (b: Buffer) => {
    out += b.toString()
    if (/^ready$/m.test(out)) onReady()
  })
  const result = new Promise<T>((resolve, reject) => {
    p.on('exit', (code) => {
      onReady()
      const line = out.trim().split('\n').pop() ?? ''
      if (code !== 0) return reject(new Error(`${script} exited ${code}: ${out.slice(-2000)}`))
      try {
        resolve(JSON.parse(line) as T)
      } catch {
        reject(new Error(`${script} printed no result: ${out.slice(-2000)}`))
      }
    })
  })
  return { ready, result, kill: () => void p.kill('SIGKILL') }
}

/** Runs a child to completion. */
export function runChild<T>(
  script: string,
  args: (string | number)[],
  options: { env?: Record<string, string>; nodeArgs?: string[] } = {},
): Promise<T> {
  return start<T>(script, args, options).result
}

export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

/** What a worker child prints: jobs, ms from the first task's start to the last settle, CPU. */
export interface WorkerReport {
  readonly processed: number
  readonly ms: number
  readonly cpuMs: number
  readonly p50?: number
  readonly p95?: number
  readonly p99?: number
}

export interface ProducerReport {
  readonly enqueued: number
  readonly ms: number
  readonly cpuMs: number
}

/**
 * Sends `rate` jobs per second for `seconds`, each through `send(sentAt)` with its send time in
 * epoch ms; resolves with how many were sent once every send settled.
 */
export async function sendAtRate(
  rate: number,
  seconds: number,
  send: (sentAt: number) => Promise<unknown>,
): Promise<number> {
  const total = Math.round(rate * seconds)
  const pending = new Set<Promise<unknown>>()
  const start = Date.now()
  let sent = 0
  while (sent < total) {
    const due = Math.min(total, Math.floor(((Date.now() - start) * rate) / 1000))
    for (; sent < due; sent++) {
      const p = send(performance.timeOrigin + performance.now())
      pending.add(p)
      void p.finally(() => pending.delete(p))
    }
    await new Promise((r) => setTimeout(r, 1))
  }
  await Promise.all(pending)
  return sent
}

/** A worker child's report: rate inputs, CPU since `cpu0`, and latency percentiles when given. */
export function processingReport(
  n: number,
  t0: number,
  cpu0: NodeJS.CpuUsage | null,
  latencies: number[] | null,
): Record<string, number> {
  const ms = performance.now() - t0
  const cpu = process.cpuUsage(cpu0 ?? undefined)
  const report: Record<string, number> = { processed: n, ms, cpuMs: (cpu.user + cpu.system) / 1000 }
  if (latencies) {
    latencies.sort((x, y) => x - y)
    for (const p of [50, 95, 99]) report[`p${p}`] = percentile(latencies, p)
  }
  return report
}

/**
 * Bench child processes that report on stdout: a line `ready` when they can take work (workers),
 * then one JSON line with their result. Node children run TypeScript through tsx (with this process's
 * node unless `execPath` names another); Python children (Celery) run with the system interpreter.
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
  /** Writes a line to the child's stdin (children started with `stdin: true`). */
  send(line: string): void
  /** Called with each line the child prints on stdout. */
  onLine(listener: (line: string) => void): void
}

/** Python with Celery: Debian's package installs it for the system interpreter. */
export const PYTHON = process.env.BENCH_PYTHON ?? '/usr/bin/python3'

export interface ChildOptions {
  env?: Record<string, string>
  nodeArgs?: string[]
  /** The node binary for a TypeScript child (default: this process's), e.g. bench/node22's Node 22. */
  execPath?: string
}

export function start<T>(
  script: string,
  args: (string | number)[],
  options: ChildOptions & { stdin?: boolean } = {},
): Child<T> {
  const file = join(BENCH_DIR, script)
  const [cmd, argv] = script.endsWith('.py')
    ? [PYTHON, [file, ...args.map(String)]]
    : [
        options.execPath ?? process.execPath,
        [...(options.nodeArgs ?? []), '--import', 'tsx', file, ...args.map(String)],
      ]
  const p = spawn(cmd, argv, {
    cwd: BENCH_DIR,
    env: { ...process.env, ...options.env },
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'inherit'],
  })
  let out = ''
  let partial = ''
  const listeners: ((line: string) => void)[] = []
  let onReady: () => void = () => {}
  const ready = new Promise<void>((resolve) => (onReady = resolve))
  p.stdout!.on('data', (b: Buffer) => {
    const text = b.toString()
    partial += text
    let i
    while ((i = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, i)
      partial = partial.slice(i + 1)
      if (line === 'ready') onReady()
      for (const l of listeners) l(line)
      if (!line.startsWith('count ')) out += line + '\n'
    }
  })
  const result = new Promise<T>((resolve, reject) => {
    p.on('close', (code) => {
      onReady()
      out += partial
      const line = out.trim().split('\n').pop() ?? ''
      if (code !== 0) return reject(new Error(`${script} exited ${code}: ${out.slice(-2000)}`))
      try {
        resolve(JSON.parse(line) as T)
      } catch {
        reject(new Error(`${script} printed no result: ${out.slice(-2000)}`))
      }
    })
  })
  return {
    ready,
    result,
    kill: () => void p.kill('SIGKILL'),
    send: (line) => void p.stdin?.write(line + '\n'),
    onLine: (listener) => void listeners.push(listener),
  }
}

/** Runs a child to completion. */
export function runChild<T>(
  script: string,
  args: (string | number)[],
  options: ChildOptions = {},
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
 * Sends `rate` jobs per second for `seconds`, each through `send(sentAt)` with the epoch ms it was
 * due to be sent, at most `maxInFlight` unsettled at once; resolves with how many were sent once
 * every send settled.
 */
export async function sendAtRate(
  rate: number,
  seconds: number,
  send: (sentAt: number) => Promise<unknown>,
  maxInFlight = 256,
): Promise<number> {
  const total = Math.round(rate * seconds)
  const pending = new Set<Promise<unknown>>()
  const start = performance.timeOrigin + performance.now()
  let sent = 0
  while (sent < total) {
    const due = Math.min(
      total,
      Math.floor(((performance.timeOrigin + performance.now() - start) * rate) / 1000),
    )
    for (; sent < due; sent++) {
      // A producer that falls behind waits here, and its lateness is counted: each job carries
      // the time it was due to be sent, not the time it went (no coordinated omission).
      while (pending.size >= maxInFlight) await Promise.race(pending)
      const p = send(start + (sent * 1000) / rate)
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

/**
 * For a worker child that shares a queue with other worker processes (the matrix, BENCH_GATED=1):
 * tasks wait for `go` on stdin (sent once every worker process is ready), the child prints
 * `count <settled>` every 50 ms, and on `stop` prints {"processed","go","times","cpuMs"}: the
 * epoch ms of `go` and of each settle after it, so the parent finds the n-th settle of all
 * processes together. Returns the gate tasks await and the function to call on each settle.
 */
export function gatedWorker(finish: () => Promise<void>): {
  gate: () => Promise<void> | undefined
  settled: () => void
} {
  let go = 0
  let open: () => void = () => {}
  const opened = new Promise<void>((resolve) => (open = resolve))
  const times: number[] = []
  let cpu0: NodeJS.CpuUsage | undefined
  let buf = ''
  process.stdin.setEncoding('utf8')
  process.stdin.on('data', (chunk: string) => {
    buf += chunk
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trim()
      buf = buf.slice(i + 1)
      if (line === 'go') {
        cpu0 = process.cpuUsage()
        go = performance.timeOrigin + performance.now()
        open()
      } else if (line === 'stop') {
        clearInterval(tick)
        const cpu = process.cpuUsage(cpu0)
        const report = { processed: times.length, go, times, cpuMs: (cpu.user + cpu.system) / 1000 }
        void finish().finally(() => {
          process.stdout.write(JSON.stringify(report) + '\n', () => process.exit(0))
        })
      }
    }
  })
  const tick = setInterval(() => process.stdout.write(`count ${times.length}\n`), 50)
  return {
    gate: () => (go ? undefined : opened),
    settled: () => {
      if (go) times.push(Math.round((performance.timeOrigin + performance.now()) * 100) / 100)
    },
  }
}

export interface GatedReport {
  readonly processed: number
  readonly go: number
  readonly times: number[]
  readonly cpuMs: number
}

/**
 * Runs worker children started with BENCH_GATED=1 over `n` waiting jobs: waits until every one is
 * ready, sends `go`, waits until their counts add up to n, sends `stop`. Returns ms from the
 * first `go` to the n-th settle of all of them, and their CPU ms together.
 */
export async function drainGated(
  children: Child<GatedReport>[],
  n: number,
): Promise<{ ms: number; cpuMs: number }> {
  await Promise.all(children.map((c) => c.ready))
  const counts = children.map(() => 0)
  await new Promise<void>((resolve, reject) => {
    children.forEach((c, i) => {
      c.onLine((line) => {
        const m = /^count (\d+)$/.exec(line)
        if (!m) return
        counts[i] = Number(m[1])
        if (counts.reduce((a, b) => a + b, 0) >= n) resolve()
      })
      c.result.catch(reject)
    })
    for (const c of children) c.send('go')
  })
  for (const c of children) c.send('stop')
  const reports = await Promise.all(children.map((c) => c.result))
  const go = Math.min(...reports.map((r) => r.go))
  const times = reports.flatMap((r) => r.times).sort((a, b) => a - b)
  return { ms: times[n - 1]! - go, cpuMs: reports.reduce((a, r) => a + r.cpuMs, 0) }
}

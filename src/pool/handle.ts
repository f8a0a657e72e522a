/**
 * One pool child, a worker thread or a forked process, behind the same few calls, so the pool
 * never branches on which kind it runs.
 */
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Worker as Thread } from 'node:worker_threads'
import type { FromChild, ToChild } from './protocol.js'

export type PoolKind = 'threads' | 'processes'

export interface ChildHandle {
  /** The child's process id (the worker's own for a thread). */
  readonly pid: number
  /** The thread id, or null for a process. */
  readonly threadId: number | null
  send(msg: ToChild): void
  /** Ends the child at once: `worker.terminate()`, or SIGKILL for a process. */
  kill(): void
  onMessage(cb: (msg: FromChild) => void): void
  /** Called once when the child is gone, with a few words on how it ended. */
  onExit(cb: (how: string) => void): void
}

/**
 * The child's entry module beside this one. Run from TypeScript sources (tests under tsx), the
 * child is the .ts file and inherits the `--import tsx` it needs from execArgv.
 */
function entry(): string {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js'
  return fileURLToPath(new URL(`./child${ext}`, import.meta.url))
}

export function spawnChild(kind: PoolKind): ChildHandle {
  return kind === 'threads' ? spawnThread() : spawnProcess()
}

function spawnThread(): ChildHandle {
  const t = new Thread(entry())
  let exitCb: ((how: string) => void) | null = null
  let lastError: string | null = null
  t.on('error', (err) => (lastError = `${err.name}: ${err.message}`))
  t.on('exit', (code) => exitCb?.(lastError ?? `thread exited with code ${code}`))
  return {
    pid: process.pid,
    threadId: t.threadId,
    send: (msg) => t.postMessage(msg),
    kill: () => void t.terminate(),
    onMessage: (cb) => void t.on('message', cb),
    onExit: (cb) => (exitCb = cb),
  }
}

function spawnProcess(): ChildHandle {
  const p = fork(entry(), [], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  let exitCb: ((how: string) => void) | null = null
  let exited = false
  const exit = (how: string) => {
    if (exited) return
    exited = true
    exitCb?.(how)
  }
  p.on('exit', (code, signal) =>
    exit(signal ? `process killed by ${signal}` : `process exited with code ${code}`),
  )
  p.on('error', (err) => {
    // A failed spawn or a send on a closed channel: the process is, or will be, gone.
    if (p.exitCode === null && p.signalCode === null && !p.connected) p.kill('SIGKILL')
    if (p.pid === undefined) exit(`process could not start: ${err.message}`)
  })
  return {
    pid: p.pid ?? -1,
    threadId: null,
    send: (msg) => {
      if (p.connected) p.send(msg)
    },
    kill: () => void p.kill('SIGKILL'),
    onMessage: (cb) => void p.on('message', (m) => cb(m as FromChild)),
    onExit: (cb) => (exitCb = cb),
  }
}

/** Real processes for end-to-end tests: the built `celeriac` binary, run as a user would. */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

export const ROOT = resolve(import.meta.dirname, '../..')
export const BIN = join(ROOT, 'bin/celeriac.js')
export const FIXTURE = join(ROOT, 'test/fixtures/tasks.ts')

export function tempDir(prefix = 'celeriac-e2e-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

export interface Proc {
  readonly child: ChildProcess
  output(): string
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>
  exited(): Promise<number | null>
  kill(signal?: NodeJS.Signals): void
}

export function run(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, CELERIAC_LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  const listeners = new Set<() => void>()
  const onData = (b: Buffer) => {
    out += b.toString()
    for (const l of listeners) l()
  }
  child.stdout!.on('data', onData)
  child.stderr!.on('data', onData)
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
  return {
    child,
    output: () => out,
    exited: () => exit,
    kill: (signal = 'SIGTERM') => void child.kill(signal),
    waitFor: (pattern, timeoutMs = 20_000) =>
      new Promise((res, rej) => {
        const check = () => {
          if (pattern.test(out)) {
            listeners.delete(check)
            clearTimeout(timer)
            res()
          }
        }
        const timer = setTimeout(() => {
          listeners.delete(check)
          rej(new Error(`timed out waiting for ${pattern} in output:\n${out}`))
        }, timeoutMs)
        listeners.add(check)
        check()
      }),
  }
}

/** Runs a command to completion. */
export async function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; out: string }> {
  const p = run(args, env)
  const code = await p.exited()
  return { code, out: p.output() }
}

export function worker(db: string, args: string[] = [], env: Record<string, string> = {}): Proc {
  return run(['-A', FIXTURE, 'worker', '--no-banner', ...args], { CELERIAC_BROKER: `sqlite://${db}`, ...env })
}

/** Journal lines "<event> <id> <pid>" written by the fixture tasks. */
export function journal(file: string): { event: string; id: string; pid: number }[] {
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [event, id, pid] = l.split(' ')
      return { event: event!, id: id!, pid: Number(pid) }
    })
}

export async function until(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

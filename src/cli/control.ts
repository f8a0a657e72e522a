/**
 * `celeriac revoke`, `celeriac workers`, `celeriac inspect` and `celeriac control`: flags become
 * calls of src/control; replies print one block per worker, or JSON with --json.
 */
import type { Command } from 'commander'
import { InvalidArgumentError } from 'commander'
import type { App } from '../core/app.js'
import { CeleriacError } from '../core/errors.js'
import { listWorkers, request, type ControlReply } from '../control/index.js'
import { requireCoordination } from '../control/revoke.js'
import { appFromFlags, type AppFlags } from './load.js'
import { table } from './format.js'

const INSPECT = ['active', 'reserved', 'registered', 'stats', 'ping', 'revoked'] as const
const CONTROL = [
  'shutdown',
  'pool-grow',
  'pool-shrink',
  'add-consumer',
  'cancel-consumer',
  'rate-limit',
] as const

interface ReplyFlags {
  readonly destination?: string
  readonly timeout?: number
  readonly json?: boolean
}

function ms(v: string): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(`--timeout must be a positive whole number of ms, got "${v}"`)
  return n
}

function destinations(d: string | undefined): string[] | undefined {
  return d
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}

function print(replies: ControlReply[], flags: ReplyFlags, timeoutMs: number): void {
  if (!replies.length) {
    process.stderr.write(`celeriac: error: no worker replied within ${timeoutMs} ms\n`)
    process.exitCode = 1
    return
  }
  if (flags.json) {
    const out: Record<string, unknown> = {}
    for (const r of replies) out[r.worker] = r.ok ? r.result : { error: r.error }
    process.stdout.write(JSON.stringify(out) + '\n')
  } else
    for (const r of replies) {
      if (!r.ok) {
        process.stdout.write(`-> ${r.worker}: ERROR ${r.error}\n`)
        continue
      }
      process.stdout.write(`-> ${r.worker}: OK\n`)
      const body = r.result
      if (Array.isArray(body)) {
        if (!body.length) process.stdout.write('    - empty -\n')
        for (const item of body)
          process.stdout.write(`    * ${typeof item === 'string' ? item : JSON.stringify(item)}\n`)
      } else if (body && typeof body === 'object')
        for (const [k, v] of Object.entries(body)) process.stdout.write(`    ${k}: ${JSON.stringify(v)}\n`)
      else process.stdout.write(`    ${String(body)}\n`)
    }
  if (replies.some((r) => !r.ok)) process.exitCode = 1
}

async function ask(
  app: App,
  command: string,
  args: Record<string, unknown>,
  flags: ReplyFlags,
): Promise<void> {
  const c = requireCoordination(await app.coordination(), `celeriac ${command}`)
  const timeoutMs = flags.timeout ?? 1000
  const replies = await request(c, command, { destination: destinations(flags.destination), timeoutMs, args })
  print(replies, flags, timeoutMs)
}

async function workers(app: App, json: boolean): Promise<void> {
  const list = await listWorkers(requireCoordination(await app.coordination(), 'celeriac workers'))
  if (json) {
    process.stdout.write(JSON.stringify(list) + '\n')
    return
  }
  if (!list.length) {
    process.stdout.write('no worker has registered in the last hour\n')
    return
  }
  const ago = (t: number) => `${Math.max(0, Math.round((Date.now() - t) / 1000))}s ago`
  process.stdout.write(
    table(
      ['worker', 'state', 'pool', 'conc', 'active', 'processed', 'failed', 'queues', 'heartbeat', 'version'],
      list.map((w) => [
        w.name,
        w.online ? 'online' : 'offline',
        w.pool,
        w.concurrency,
        w.active,
        w.processed,
        w.failed,
        w.queues.join(','),
        ago(w.heartbeatAt),
        w.version,
      ]),
    ) + '\n',
  )
}

function controlArgs(
  command: string,
  arg: string | undefined,
  extra: string | undefined,
): Record<string, unknown> {
  if (command === 'pool-grow' || command === 'pool-shrink') {
    const n = arg === undefined ? 1 : Number(arg)
    if (!Number.isInteger(n) || n < 1)
      throw new CeleriacError(`${command} takes a positive whole number, got "${arg}"`)
    return { n }
  }
  if (command === 'add-consumer' || command === 'cancel-consumer') {
    if (!arg) throw new CeleriacError(`${command} needs a queue name: celeriac control ${command} <queue>`)
    return { queue: arg }
  }
  if (command === 'rate-limit') {
    if (!arg || !extra)
      throw new CeleriacError(
        'rate-limit needs a task name and a rate: celeriac control rate-limit <task> <rate>',
      )
    return { task: arg, rate: extra }
  }
  return {}
}

/** Adds the commands to the program; `globals` reads -A, -b and --result-backend. */
export function registerControlCommands(program: Command, globals: () => AppFlags): void {
  const withApp = async (fn: (app: App) => Promise<void>) => {
    const { app } = await appFromFlags(globals())
    try {
      await fn(app)
    } finally {
      await app.close()
    }
  }
  program
    .command('revoke <ids...>')
    .description('revoke tasks: never run if not started; aborted (REVOKED) if running')
    .option('--terminate', 'also stop running ones: kill their thread or process, or free their async slot')
    .option('--expires <duration>', 'how long the revocation is kept (default 3h, or the app setting)')
    .action((ids: string[], flags: { terminate?: boolean; expires?: string }) =>
      withApp(async (app) => {
        await app.revoke(ids, { terminate: flags.terminate, expires: flags.expires })
        process.stdout.write(
          `revoked ${ids.length} task${ids.length === 1 ? '' : 's'}${flags.terminate ? ' (terminate)' : ''}\n`,
        )
      }),
    )
  program
    .command('workers')
    .description('workers in the registry (heard from in the last hour), online or offline')
    .option('--json', 'one JSON array')
    .action((flags: { json?: boolean }) => withApp((app) => workers(app, flags.json === true)))
  const replyOptions = (c: Command) =>
    c
      .option('-d, --destination <workers>', 'comma-separated worker names (default: every worker)')
      .option('--timeout <ms>', 'how long to wait for replies (default 1000)', ms)
      .option('--json', 'one JSON object: worker name → reply')
  replyOptions(
    program.command('inspect <what>').description(`ask live workers: ${INSPECT.join(', ')}`),
  ).action((what: string, flags: ReplyFlags) => {
    if (!(INSPECT as readonly string[]).includes(what))
      throw new CeleriacError(`inspect what? "${what}" is not one of ${INSPECT.join(', ')}`)
    return withApp((app) => ask(app, what, {}, flags))
  })
  replyOptions(
    program
      .command('control <command> [arg] [extra]')
      .description(
        `tell live workers: ${CONTROL.join(', ')} (pool-grow/-shrink [n], add-/cancel-consumer <queue>)`,
      ),
  ).action((command: string, arg: string | undefined, extra: string | undefined, flags: ReplyFlags) => {
    if (!(CONTROL as readonly string[]).includes(command))
      throw new CeleriacError(`control command "${command}" is not one of ${CONTROL.join(', ')}`)
    const args = controlArgs(command, arg, extra)
    return withApp((app) => ask(app, command, args, flags))
  })
}

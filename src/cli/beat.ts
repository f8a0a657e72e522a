/**
 * `celeriac beat`: run beat, or list, pause, resume, add and remove its entries at run time.
 * The beat is the one the app module exports (`export const beat = createBeat(app, …)`); without
 * one, beat runs the entries stored at run time only.
 */
import type { Command } from 'commander'
import { isBeat, createBeat, type Beat } from '../beat/beat.js'
import type { EntrySpec, MissedPolicy, ScheduleSpec } from '../beat/entries.js'
import { toEpoch } from '../beat/entries.js'
import type { App } from '../core/app.js'
import { toMs } from '../core/duration.js'
import { CeleriacError, ConfigError, redactUrl } from '../core/errors.js'
import { createLogger, type Logger } from '../worker/logger.js'
import { table } from './format.js'
import { appFromFlags, importModule, type AppFlags } from './load.js'

const out = (s: string): void => void process.stdout.write(s + '\n')

/** The beat the app module exports for this app, else one with no entries declared in code. */
export async function beatOf(app: App, file: string | null, key?: string): Promise<Beat> {
  if (file) {
    const mod = await importModule(file)
    const found = Object.values(mod).filter((v): v is Beat => isBeat(v) && v.app === app)
    const chosen = key === undefined ? found[0] : found.find((b) => b.key === key)
    if (found.length > 1 && key === undefined)
      throw new ConfigError(
        `${file} exports ${found.length} beats (keys ${found.map((b) => b.key).join(', ')}); choose one with --key`,
      )
    if (chosen) return chosen
  }
  return createBeat(app, { key })
}

/** Beat inside a worker (`celeriac worker -B`): started after the worker, stopped before it closes. */
export async function embeddedBeat(
  app: App,
  file: string,
): Promise<{ start(logger: Logger): Promise<void>; stop(): Promise<void> }> {
  const beat = await beatOf(app, file)
  return {
    start: (logger) => beat.start({ logger: logger.child({ part: 'beat' }) }),
    stop: () => beat.stop(),
  }
}

interface RunFlags {
  readonly loglevel?: string
  readonly logFormat?: 'json' | 'pretty'
  readonly key?: string
}

async function runBeat(app: App, file: string | null, flags: RunFlags): Promise<void> {
  const logger = createLogger({
    level: (flags.loglevel?.toLowerCase() as 'info') ?? 'info',
    format: flags.logFormat,
  })
  const beat = await beatOf(app, file, flags.key)
  let started = false
  let stopping: Promise<void> | null = null
  let stopped!: () => void
  const done = new Promise<void>((resolve) => (stopped = resolve))
  const onSignal = (sig: NodeJS.Signals) => {
    if (!started) process.exit(0)
    logger.info({ signal: sig }, 'beat stopping')
    stopping ??= beat.stop().then(stopped)
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  await beat.start({ logger })
  started = true
  logger.info(
    {
      key: beat.key,
      owner: beat.owner,
      broker: redactUrl(app.brokerUrl ?? '(instance)'),
      entries: beat.entries.map((e) => e.name),
    },
    'beat ready',
  )
  await done
  await app.close()
  logger.info({}, 'beat stopped')
  logger.flush?.()
}

function when(d: Date | null): string {
  return d ? d.toISOString() : '-'
}

async function list(beat: Beat, json: boolean): Promise<void> {
  const entries = await beat.list()
  if (json) return out(JSON.stringify(entries, null, 2))
  if (!entries.length) return out('no beat entries')
  out(
    table(
      ['NAME', 'TASK', 'SCHEDULE', 'NEXT', 'LAST', 'STATE', 'FROM'],
      entries.map((e) => [
        e.name,
        e.task,
        e.description,
        when(e.next),
        when(e.last),
        e.paused ? 'paused' : 'active',
        e.source + (e.stored ? '' : ' (not stored yet)'),
      ]),
    ),
  )
}

interface AddFlags {
  readonly task: string
  readonly cron?: string
  readonly tz?: string
  readonly every?: string
  readonly at?: string
  readonly args?: string
  readonly kwargs?: string
  readonly queue?: string
  readonly priority?: string
  readonly missed?: string
}

function parseMissed(text: string | undefined): MissedPolicy | undefined {
  if (text === undefined || text === 'skip' || text === 'once') return text
  const m = /^all:(\d+)$/.exec(text)
  if (m) return { all: Number(m[1]) }
  throw new ConfigError(`--missed must be skip, once or all:N (e.g. all:10), got "${text}"`)
}

function parseJson(text: string | undefined, what: string): unknown {
  if (text === undefined) return undefined
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new ConfigError(`${what} is not valid JSON: ${(err as Error).message} (got ${text})`)
  }
}

/** An entry from `beat add` flags. */
export function entryFromFlags(name: string, f: AddFlags): EntrySpec {
  const kinds = [f.cron, f.every, f.at].filter((x) => x !== undefined).length
  if (kinds !== 1) throw new ConfigError('beat add needs exactly one of --cron, --every or --at')
  if (f.tz !== undefined && f.cron === undefined) throw new ConfigError('--tz goes with --cron')
  const schedule: ScheduleSpec =
    f.cron !== undefined
      ? { kind: 'cron', pattern: f.cron, ...(f.tz !== undefined ? { timezone: f.tz } : {}) }
      : f.every !== undefined
        ? { kind: 'every', everyMs: toMs(f.every, '--every') }
        : { kind: 'once', at: toEpoch(f.at!, '--at') }
  const priority = f.priority === undefined ? undefined : Number(f.priority)
  const missed = parseMissed(f.missed)
  const kwargs = parseJson(f.kwargs, '--kwargs') as Record<string, unknown> | undefined
  return {
    name,
    task: f.task,
    args: (parseJson(f.args, '--args') as unknown[] | undefined) ?? [],
    schedule,
    ...(kwargs !== undefined ? { kwargs } : {}),
    ...(missed !== undefined ? { missed } : {}),
    ...(f.queue !== undefined ? { queue: f.queue } : {}),
    ...(priority !== undefined ? { priority } : {}),
  }
}

/** Registers `celeriac beat` and its subcommands. */
export function beatCommands(program: Command, globals: () => AppFlags): void {
  const withBeat =
    <A extends unknown[]>(fn: (beat: Beat, ...args: A) => Promise<void>) =>
    async (...args: A) => {
      const { app, file } = await appFromFlags(globals())
      try {
        await fn(await beatOf(app, file, beatCmd.opts<{ key?: string }>().key), ...args)
      } finally {
        await app.close()
      }
    }
  const beatCmd = program
    .command('beat')
    .description(
      'periodic tasks: run beat, or manage its entries at run time (list, pause, resume, add, remove)',
    )
    .option(
      '--key <key>',
      'records space and lock name shared by cooperating beats (default: the beat\'s, "beat")',
    )
  beatCmd
    .command('run', { isDefault: true })
    .description('run beat: one of any number of beat processes leads and sends each tick once')
    .option('-l, --loglevel <level>', 'trace, debug, info, warn, error, silent', 'info')
    .option('--log-format <format>', 'json, or pretty (default: pretty on a terminal)')
    .action(async (flags: RunFlags) => {
      const { app, file } = await appFromFlags(globals())
      await runBeat(app, file, { ...flags, key: beatCmd.opts<{ key?: string }>().key })
    })
  beatCmd
    .command('list')
    .description('entries with their schedule, next and last fire, and state')
    .option('--json', 'print JSON')
    .action(withBeat((beat, flags: { json?: boolean }) => list(beat, flags.json === true)))
  for (const [name, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const)
    beatCmd
      .command(`${name} <entry>`)
      .description(
        paused
          ? 'stop firing an entry (its ticks are dropped)'
          : 'fire a paused entry again from its next tick',
      )
      .action(
        withBeat(async (beat, entry: string) => {
          await (paused ? beat.pause(entry) : beat.resume(entry))
          out(`${paused ? 'paused' : 'resumed'} ${entry}`)
        }),
      )
  beatCmd
    .command('add <entry>')
    .description('add an entry at run time, or change one added so (a running beat picks it up)')
    .requiredOption('-t, --task <name>', 'task name')
    .option('--cron <pattern>', 'cron pattern, seconds optional: "0 30 2 * * *"')
    .option('--tz <zone>', 'time zone of --cron, e.g. Europe/Berlin (default UTC)')
    .option('--every <duration>', 'fixed interval, e.g. 30s, 5m (1s or more)')
    .option('--at <time>', 'once, at this ISO time')
    .option('-a, --args <json>', 'positional arguments as a JSON array')
    .option('-k, --kwargs <json>', 'keyword arguments as a JSON object')
    .option('-Q, --queue <name>', 'queue (default: the task or app default)')
    .option('--priority <n>', '0 to 9')
    .option('--missed <policy>', 'ticks missed while no beat ran: skip, once (default) or all:N')
    .action(
      withBeat(async (beat, entry: string, flags: AddFlags) => {
        const spec = entryFromFlags(entry, flags)
        if (!beat.app.getTask(spec.task) && beat.app.taskNames().length)
          throw new CeleriacError(
            `no task named "${spec.task}" in the app module (tasks: ${beat.app.taskNames().join(', ')})`,
          )
        out(`${await beat.add(spec)} ${entry}`)
      }),
    )
  beatCmd
    .command('remove <entry>')
    .description('remove an entry added at run time')
    .action(
      withBeat(async (beat, entry: string) => {
        if (!(await beat.remove(entry))) throw new ConfigError(`no beat entry named "${entry}"`)
        out(`removed ${entry}`)
      }),
    )
}

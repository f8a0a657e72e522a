/**
 * The `celeriac` command. Thin: flags become the options the library takes, then the library's
 * own functions run. Errors a user can fix print as one line and exit 1.
 */
import { Command, InvalidArgumentError, Option } from 'commander'
import { CeleriacError, isCeleriacError } from '../core/errors.js'
import { appFromFlags, type AppFlags } from './load.js'
import {
  call,
  deadDelete,
  deadPrune,
  deadList,
  deadReplay,
  pauseQueues,
  purge,
  showResult,
  stats,
} from './ops.js'
import { showEvents, type EventsFlags } from './events.js'
import { registerControlCommands } from './control.js'
import { registerRateLimit } from './rate-limit.js'
import { VERSION } from './version.js'
import { runExporter, type ExporterFlags } from './exporter.js'
import { runWorker } from './worker.js'
import { beatCommands, embeddedBeat } from './beat.js'
import { runDashboard, type DashboardFlags } from './dashboard.js'

function int(name: string) {
  return (v: string) => {
    const n = Number(v)
    if (!Number.isInteger(n) || n < 0)
      throw new InvalidArgumentError(`${name} must be a whole number, got "${v}"`)
    return n
  }
}

const program = new Command()
program
  .name('celeriac')
  .description(
    'Background jobs for TypeScript: workers, and operator commands for queues, results and dead letters.',
  )
  .version(VERSION)
  .option('-A, --app <module>', 'app module: ./tasks.ts, ./dist/tasks.js, or path:exportName')
  .option(
    '-b, --broker <url>',
    'broker URL (overrides $CELERIAC_BROKER): sqlite://./celeriac.db, memory://, redis://host:6379/0',
  )
  .option('--result-backend <url>', 'result store URL (overrides $CELERIAC_RESULT_BACKEND)')
  .showHelpAfterError()

const globals = (): AppFlags => program.opts<AppFlags>()

program
  .command('worker')
  .description('run a worker: consume queues and run tasks')
  .option('-c, --concurrency <n>', 'tasks run at once (default: number of CPUs)', int('--concurrency'))
  .option('-Q, --queues <list>', 'comma-separated queues to consume (default: the app default queue)')
  .option('-l, --loglevel <level>', 'trace, debug, info, warn, error, silent', 'info')
  .addOption(
    new Option('--log-format <format>', 'json, or pretty (default: pretty on a terminal)').choices([
      'json',
      'pretty',
    ]),
  )
  .option(
    '--prefetch <n>',
    'deliveries reserved beyond the running ones (default: 3 × concurrency, so 4 × concurrency held as in Celery)',
    int('--prefetch'),
  )
  .option('--lease <duration>', 'visibility timeout; leases are extended while tasks run (default 30s)')
  .option('--grace <duration>', 'on SIGTERM, how long running tasks may take to finish (default 30s)')
  .option(
    '--max-deliveries <n>',
    'dead-letter a message whose runs ended this often without finishing, e.g. killed workers (default 10)',
    int('--max-deliveries'),
  )
  .option(
    '--dead-retention <duration>',
    'delete dead letters older than this during housekeeping, or "forever" (default 7d)',
  )
  .addOption(
    new Option('-P, --pool <kind>', 'where tasks run: async slots, worker threads, or child processes')
      .choices(['async', 'threads', 'processes'])
      .default('async'),
  )
  .option(
    '--max-tasks-per-child <n>',
    'threads/processes: replace a child after it ran this many tasks',
    int('--max-tasks-per-child'),
  )
  .option(
    '--max-memory-per-child <MB>',
    'threads/processes: replace a child whose memory after a task exceeds this (process RSS, thread heap)',
    int('--max-memory-per-child'),
  )
  .option('-n, --hostname <name>', 'worker name (%h is the host name)')
  .option('-E, --events', 'send task and worker events to the event log (celeriac events, the dashboard)')
  .option('--log-tasks', 'one info line per succeeded task (default: when stdout is a terminal)')
  .option('--no-log-tasks', 'no line per succeeded task')
  .option('--heartbeat <duration>', 'how often the worker writes its registry entry (default 2s)')
  .option('--no-control', 'stay out of the worker registry and ignore remote control and revokes')
  .option('--no-banner', 'do not print the start banner')
  .option('-B, --beat', 'also run beat (periodic tasks) in this worker')
  .option(
    '--health-port <port>',
    'serve /livez, /readyz, /metrics and /queues on this port for probes and Prometheus (0: any free port)',
    int('--health-port'),
  )
  .option('--health-host <host>', 'address the health server listens on (default 0.0.0.0)')
  .option(
    '--metrics-port <port>',
    'serve Prometheus /metrics alone on this port (per-task runtimes and outcomes, broker round trips, queues; 0: any free port)',
    int('--metrics-port'),
  )
  .option('--metrics-host <host>', 'address the metrics listener binds (default 0.0.0.0)')
  .option(
    '--health-max-lag <duration>',
    '/livez fails when the event loop was blocked this long (default 10s)',
  )
  .action(async (flags) => {
    const g = globals()
    if (!g.app)
      throw new CeleriacError(
        'the worker needs the app module that registers its tasks: celeriac worker -A ./tasks.ts',
      )
    const { app, file } = await appFromFlags(g)
    await runWorker(
      app,
      file!,
      { ...flags, appSpec: g.app, broker: g.broker, resultBackend: g.resultBackend },
      flags.beat ? await embeddedBeat(app, file!) : undefined,
    )
  })

program
  .command('call <task>')
  .description('send a task by name; prints its id')
  .option('-a, --args <json>', 'positional arguments as a JSON array', undefined)
  .option('-k, --kwargs <json>', 'keyword arguments as a JSON object')
  .option('-Q, --queue <name>', 'queue (default: the task or app default)')
  .option('--countdown <duration>', 'run no sooner than this from now (e.g. 10s)')
  .option('--eta <time>', 'run no sooner than this ISO time')
  .option('--expires <duration>', 'do not run after this long from now')
  .option('--priority <n>', '0 to 9, higher first', int('--priority'))
  .option('--id <id>', 'choose the task id')
  .option('-w, --wait [timeout]', 'wait for the result and print it (default 60s)')
  .action(async (task: string, flags) => {
    const { app } = await appFromFlags(globals())
    await call(app, task, flags)
    await app.close()
  })

program
  .command('result <id>')
  .description('print the state and result of a task')
  .option('-w, --wait [timeout]', 'wait until it finishes (default 60s)')
  .action(async (id: string, flags: { wait?: string | boolean }) => {
    const { app } = await appFromFlags(globals())
    await showResult(app, id, flags.wait)
    await app.close()
  })

program
  .command('events')
  .description('task and worker events from workers started with --events, newest last')
  .option('-f, --follow', 'keep printing new events as they come')
  .option('--limit <n>', 'how many of the newest to print first (default 50)', int('--limit'))
  .option('--json', 'one JSON object per line')
  .action(async (flags: EventsFlags) => {
    const { app } = await appFromFlags(globals())
    const stop = new AbortController()
    process.once('SIGINT', () => stop.abort())
    await showEvents(app, flags, stop.signal)
    await app.close()
  })

program
  .command('stats')
  .description('waiting, delayed, active and dead jobs per queue, throughput and pause state')
  .option('-Q, --queues <list>', 'comma-separated queues (default: all)')
  .action(async (flags: { queues?: string }) => {
    const { app } = await appFromFlags(globals())
    await stats(app, flags.queues)
    await app.close()
  })

for (const [name, pause] of [
  ['pause', true],
  ['resume', false],
] as const) {
  program
    .command(name)
    .description(
      pause ? 'stop deliveries from queues (publishing still works)' : 'let paused queues deliver again',
    )
    .requiredOption('-Q, --queues <list>', 'comma-separated queues')
    .action(async (flags: { queues: string }) => {
      const { app } = await appFromFlags(globals())
      await pauseQueues(app, flags.queues, pause)
      await app.close()
    })
}

program
  .command('purge')
  .description('delete every waiting and delayed job of queues')
  .requiredOption('-Q, --queues <list>', 'comma-separated queues')
  .option('-f, --force', 'really do it')
  .action(async (flags: { queues: string; force?: boolean }) => {
    const { app } = await appFromFlags(globals())
    await purge(app, flags.queues, flags.force === true)
    await app.close()
  })

beatCommands(program, globals)

program
  .command('exporter')
  .description('serve queue counts as Prometheus /metrics and JSON /queues, for dashboards and autoscalers')
  .option('-p, --port <port>', 'port (default 9808)', int('--port'))
  .option('--host <host>', 'address to listen on (default 0.0.0.0)')
  .option('-Q, --queues <list>', 'comma-separated queues (default: all the broker knows)')
  .action(async (flags: ExporterFlags) => {
    const { app } = await appFromFlags(globals())
    await runExporter(app, flags)
  })

program
  .command('dashboard')
  .description('serve the web dashboard (password from $CELERIAC_DASHBOARD_PASSWORD)')
  .option('-p, --port <port>', 'port (default 5555; 0: any free port)', int('--port'))
  .option('--host <host>', 'address to listen on (default 127.0.0.1)')
  .option('--insecure-no-auth', 'no authentication; refused unless --host is a loopback address')
  .option('--base-path <path>', 'serve below this path, such as /jobs (behind a reverse proxy)')
  .action(async (flags: DashboardFlags) => {
    const { app, file } = await appFromFlags(globals())
    await runDashboard(app, flags, file)
  })

const dead = program.command('dead').description('the dead-letter store: messages that could not be run')
dead
  .command('list')
  .description('list dead-lettered messages with the reason, newest first')
  .option('-Q, --queue <name>', 'only this queue')
  .option('--limit <n>', 'how many (default 50)', int('--limit'))
  .option('--json', 'print JSON, bodies included')
  .action(async (flags: { queue?: string; limit?: number; json?: boolean }) => {
    const { app } = await appFromFlags(globals())
    await deadList(app, flags)
    await app.close()
  })
dead
  .command('replay [ids...]')
  .description('send dead-lettered messages back to their queues')
  .option('--all', 'replay every dead-lettered message')
  .action(async (ids: string[], flags: { all?: boolean }) => {
    const { app } = await appFromFlags(globals())
    await deadReplay(app, ids, flags.all === true)
    await app.close()
  })
dead
  .command('delete [ids...]')
  .description('delete dead-lettered messages')
  .option('--all', 'delete every dead-lettered message')
  .action(async (ids: string[], flags: { all?: boolean }) => {
    const { app } = await appFromFlags(globals())
    await deadDelete(app, ids, flags.all === true)
    await app.close()
  })

dead
  .command('prune')
  .description('delete dead-lettered messages older than a duration, or beyond the newest N per queue')
  .option('--older-than <duration>', 'delete entries that failed longer ago than this (e.g. 7d)')
  .option('--keep <n>', 'keep only the newest N entries per queue', int('--keep'))
  .action(async (flags: { olderThan?: string; keep?: number }) => {
    const { app } = await appFromFlags(globals())
    await deadPrune(app, flags)
    await app.close()
  })

registerControlCommands(program, globals)
registerRateLimit(program, globals)

export async function main(argv = process.argv): Promise<void> {
  try {
    await program.parseAsync(argv)
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err))
    process.stderr.write(`celeriac: error: ${e.message}\n`)
    // Our own errors say what to do in one line; anything else (a bug, an error while loading
    // the app module) needs its stack to be found.
    if (!isCeleriacError(err) || process.env.CELERIAC_DEBUG) {
      process.stderr.write(`${e.stack}\n`)
      if (e.cause instanceof Error) process.stderr.write(`caused by: ${e.cause.stack}\n`)
    }
    process.exit(1)
  }
}

/**
 * One command for the whole example: the API, a worker and the SMTP sink, each its own process,
 * their output prefixed with their name. Ctrl-C (SIGINT) or SIGTERM stops them all: each gets
 * SIGTERM once, and this process exits when they have (0 if they all stopped cleanly).
 *
 * Type `smtp off` / `smtp on` and Enter to stop and restart the SMTP sink, to see the welcome
 * mails retried while the mail server is down.
 *
 *   npm run demo      (builds celeriac, then runs this file with tsx)
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { relative, resolve } from 'node:path'
import { config } from './config.js'

const HERE = import.meta.dirname
const ROOT = resolve(HERE, '../..')
const rel = (p: string) => (p.startsWith(ROOT) ? relative(ROOT, p) : p)
const EXAMPLE = rel(HERE)
const tty = process.stdout.isTTY === true
const COLORS: Record<string, number> = { demo: 32, api: 36, worker: 35, smtp: 33 }

function print(name: string, line: string): void {
  const label = name.padEnd(6)
  process.stdout.write(`${tty ? `\x1b[${COLORS[name] ?? 0}m${label}\x1b[0m` : label} | ${line}\n`)
}
const say = (line: string) => print('demo', line)

interface Service {
  readonly name: 'api' | 'worker' | 'smtp'
  readonly args: string[]
  /** A line that says the service is up. */
  readonly ready: RegExp
  child: ChildProcess | null
  exited: Promise<number | null> | null
}

const services: Service[] = [
  {
    name: 'api',
    args: ['--import', 'tsx', `${EXAMPLE}/server.ts`],
    ready: /users-api ready/,
    child: null,
    exited: null,
  },
  {
    name: 'worker',
    args: ['bin/celeriac.js', 'worker', '-A', `${EXAMPLE}/tasks.ts`, '-c', '4', '--log-tasks'],
    ready: /ready\./,
    child: null,
    exited: null,
  },
  {
    name: 'smtp',
    args: ['--import', 'tsx', `${EXAMPLE}/smtp-sink.ts`],
    ready: /SMTP sink ready/,
    child: null,
    exited: null,
  },
]
const byName = (name: Service['name']) => services.find((s) => s.name === name)!

const childEnv: NodeJS.ProcessEnv = {
  ...process.env,
  CELERIAC_BROKER: config.broker,
  CELERIAC_LOG_FORMAT: process.env.CELERIAC_LOG_FORMAT ?? 'pretty',
}

let stopping = false
let failed = false

/** Starts a service; resolves true once it printed its ready line, false if it exited first. */
function start(svc: Service): Promise<boolean> {
  const child = spawn(process.execPath, svc.args, {
    cwd: ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: Ctrl-C reaches only this launcher, which sends one SIGTERM each.
    detached: process.platform !== 'win32',
  })
  svc.child = child
  say(`${svc.name} started (pid ${child.pid}): node ${svc.args.join(' ')}`)
  svc.exited = new Promise((res) => child.once('exit', (code, signal) => res(signal ? null : code)))
  return new Promise((res) => {
    const onLine = (line: string) => {
      print(svc.name, line)
      if (svc.ready.test(line)) res(true)
    }
    createInterface({ input: child.stdout! }).on('line', onLine)
    createInterface({ input: child.stderr! }).on('line', onLine)
    child.once('error', (err) => print(svc.name, `cannot start: ${err.message}`))
    void svc.exited!.then((code) => {
      res(false)
      svc.child = null
      onExit(svc, code)
    })
  })
}

function onExit(svc: Service, code: number | null): void {
  if (stopping) {
    if (code !== 0 && code !== null) failed = true
    say(`${svc.name} stopped${code ? ` (exit code ${code})` : ''}`)
    if (services.every((s) => s.child === null)) {
      say(failed ? 'stopped, with errors' : 'all stopped')
      process.exit(failed ? 1 : 0)
    }
    return
  }
  if (svc.name === 'smtp') {
    say('SMTP sink stopped: welcome mails are retried until a mail server is back ("smtp on" starts it)')
    return
  }
  say(`${svc.name} exited (code ${code}); stopping the others`)
  failed = true
  stop()
}

let firstStop = 0
function stop(signal?: NodeJS.Signals): void {
  if (stopping) {
    // npm forwards Ctrl-C too: a second signal right away is the same request.
    if (Date.now() - firstStop < 1000) return
    say(
      `${signal ?? 'stop'} again: asking the worker for a cold shutdown (running tasks go back to the queue)`,
    )
  } else {
    stopping = true
    firstStop = Date.now()
    say(`${signal ? `${signal}: ` : ''}stopping api, worker and smtp (the worker finishes its running tasks)`)
  }
  const running = services.filter((s) => s.child !== null)
  if (running.length === 0) process.exit(failed ? 1 : 0)
  for (const s of running) s.child!.kill('SIGTERM')
  setTimeout(() => {
    for (const s of services) {
      if (!s.child) continue
      say(`${s.name} did not stop in 45s; killing it`)
      s.child.kill('SIGKILL')
      failed = true
    }
  }, 45_000).unref()
}

process.on('SIGINT', stop)
process.on('SIGTERM', stop)
// If this process dies of an error, do not leave the services behind.
process.on('exit', () => {
  for (const s of services) s.child?.kill('SIGTERM')
})

function commands(): void {
  const rl = createInterface({ input: process.stdin, terminal: false })
  rl.on('line', (raw) => {
    const line = raw.trim().toLowerCase()
    if (!line || stopping) return
    const smtp = byName('smtp')
    if (line === 'smtp off' || line === 'smtp stop') {
      if (!smtp.child) say('the SMTP sink is not running')
      else smtp.child.kill('SIGTERM')
    } else if (line === 'smtp on' || line === 'smtp start') {
      if (smtp.child) say('the SMTP sink is running already')
      else void start(smtp)
    } else say('commands: "smtp off", "smtp on" (stop or start the SMTP sink); Ctrl-C stops everything')
  })
}

const broker = config.broker.startsWith('sqlite://')
  ? `sqlite://${rel(config.broker.slice('sqlite://'.length))}`
  : config.broker.replace(/\/\/[^@/]*@/, '//***@')
const usersAt = config.usersPostgres
  ? `the broker's database, schema ${config.usersPostgres.schema}`
  : rel(config.usersDb)
say(`broker ${broker}, users ${usersAt}`)
// Past a minute, say where to look anyway; the slow service's own lines tell why.
const slow = new Promise<false>((res) => setTimeout(() => res(false), 60_000).unref())
const ready = await Promise.all(services.map((svc) => Promise.race([start(svc), slow])))
if (!stopping) {
  const api = `http://${config.host}:${config.port}`
  const lines = [
    '',
    `users-api is running${ready.every(Boolean) ? '' : ' (not every service started; see above)'}`,
    `  API          ${api}`,
    `  create       curl -s -X POST ${api}/users -H 'content-type: application/json' -d '{"email":"ada@example.com","name":"Ada"}'`,
    `  task state   curl -s ${api}/tasks/<welcomeTask from the answer>`,
    `  mail folder  ${rel(config.mailDir)}  (one .eml file per mail received on smtp://${config.smtpHost}:${config.smtpPort})`,
    `  retries      type "smtp off" + Enter, create a user, watch its task go RETRY, then "smtp on"`,
    `  stop         Ctrl-C`,
    '',
  ]
  for (const line of lines) say(line)
  commands()
}

/**
 * Roles on a real network: the broker (redis-server), the API and the workers each in their own
 * network namespace, joined by veth pairs to a bridge in a fourth, reachable only over their own
 * addresses. Shows a request to the API completing through a worker in another namespace; the
 * workers' link taken down for 10 s and brought back losing nothing, the same workers resuming;
 * the workers' namespace SIGKILLed mid-task, its tasks redelivered to new workers; and a worker
 * behind a proxy that adds latency and cuts connections still finishing everything.
 *
 * Needs root (`ip netns`); skips with the reason where namespaces are refused.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { BIN, FIXTURE, journal, ROOT, tempDir, until } from './helpers.js'

const tag = `cel${process.pid % 100000}`
const NS = { router: `${tag}-r`, broker: `${tag}-b`, api: `${tag}-a`, workers: `${tag}-w` }
const SUBNET = '10.213.7'
const ADDR = { broker: `${SUBNET}.1`, api: `${SUBNET}.2`, workers: `${SUBNET}.3` }
const BROKER = `redis://${ADDR.broker}:6379/0`

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr || r.error?.message}`)
}

function refused(): string | null {
  if (process.getuid?.() !== 0) return 'network namespaces need root'
  const probe = `${tag}-probe`
  const r = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' })
  if (r.status !== 0) return `ip netns add is refused here: ${(r.stderr || r.error?.message || '').trim()}`
  spawnSync('ip', ['netns', 'del', probe])
  if (spawnSync('redis-server', ['--version']).status !== 0) return 'redis-server is not installed'
  return null
}

const skip = refused()

interface Proc {
  child: ChildProcess
  out: () => string
  waitFor: (re: RegExp, ms?: number) => Promise<void>
}

const procs: Proc[] = []

/** Starts a command inside a namespace, from the repository root. */
function inNs(ns: string, cmd: string[], env: Record<string, string> = {}): Proc {
  const child = spawn('ip', ['netns', 'exec', ns, ...cmd], {
    cwd: ROOT,
    env: { ...process.env, CELERIAC_LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()))
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()))
  const p: Proc = {
    child,
    out: () => out,
    waitFor: (re, ms = 30_000) => until(() => re.test(out), ms, `${re} in:\n${out}`),
  }
  procs.push(p)
  return p
}

/** Runs a node script inside a namespace to completion and gives its stdout. */
async function nodeIn(ns: string, args: string[]): Promise<string> {
  const p = inNs(ns, [process.execPath, '--import', 'tsx', ...args], { CELERIAC_BROKER: BROKER })
  const code = await new Promise<number | null>((r) => p.child.on('exit', r))
  assert.equal(code, 0, p.out())
  return p.out()
}

function startWorker(jfile: string, extra: string[] = [], broker = BROKER): Proc {
  return inNs(
    NS.workers,
    [process.execPath, BIN, '-A', FIXTURE, 'worker', '--no-banner', '-c', '4', ...extra],
    { CELERIAC_BROKER: broker, JOURNAL: jfile },
  )
}

async function send(n: number, ms: number): Promise<string[]> {
  const out = await nodeIn(NS.api, [join(ROOT, 'test/fixtures/netns-send.ts'), String(n), String(ms)])
  return JSON.parse(out.trim().split('\n').pop()!) as string[]
}

const doneIds = (jfile: string) => new Set(journal(jfile).flatMap((l) => (l.event === 'done' ? [l.id] : [])))

describe('roles in separate network namespaces', { skip: skip ?? false }, () => {
  before(async () => {
    for (const ns of Object.values(NS)) ip('netns', 'add', ns)
    ip('-n', NS.router, 'link', 'add', 'br0', 'type', 'bridge')
    ip('-n', NS.router, 'link', 'set', 'br0', 'up')
    for (const role of ['broker', 'api', 'workers'] as const) {
      const ns = NS[role]
      const port = `v${role[0]}`
      ip('-n', NS.router, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
      ip('-n', NS.router, 'link', 'set', port, 'master', 'br0', 'up')
      ip('-n', ns, 'addr', 'add', `${ADDR[role]}/24`, 'dev', 'eth0')
      ip('-n', ns, 'link', 'set', 'eth0', 'up')
      ip('-n', ns, 'link', 'set', 'lo', 'up')
    }
    const redis = inNs(NS.broker, [
      'redis-server',
      '--bind',
      ADDR.broker,
      '--port',
      '6379',
      '--save',
      '',
      '--appendonly',
      'no',
      '--protected-mode',
      'no',
    ])
    await redis.waitFor(/Ready to accept connections/)
  })

  after(() => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL')
    for (const ns of Object.values(NS)) {
      const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' })
        .stdout.split(/\s+/)
        .filter(Boolean)
      for (const pid of pids) spawnSync('kill', ['-9', pid])
      spawnSync('ip', ['netns', 'del', ns])
    }
  })

  it('the API and the workers reach the broker over their own addresses', async () => {
    const probe = `const s = require('node:net').connect(6379, '${ADDR.broker}');
      s.setTimeout(2000, () => { console.log('timeout'); process.exit(0) });
      s.on('connect', () => { console.log('connected'); s.end() });
      s.on('error', (e) => console.log(e.code))`
    for (const ns of [NS.workers, NS.api])
      assert.match(await nodeIn(ns, ['-e', probe]), /connected/, `${ns} reaches the broker`)
  })

  it('a request to the API completes through a worker in another namespace', async () => {
    const jfile = join(tempDir(), 'journal.log')
    const w = startWorker(jfile)
    await w.waitFor(/ready/)
    const api = inNs(
      NS.api,
      [process.execPath, '--import', 'tsx', join(ROOT, 'test/fixtures/netns-api.ts')],
      {
        CELERIAC_BROKER: BROKER,
        HOST: ADDR.api,
        PORT: '3000',
      },
    )
    await api.waitFor(/netns api ready/)
    const out = await nodeIn(NS.workers, [
      '-e',
      `const r = await fetch('http://${ADDR.api}:3000/add?a=20&b=22'); console.log(r.status, await r.text())`,
    ])
    assert.match(out, /^200 \{"id":"[^"]+","value":42\}/m)
    w.child.kill('SIGTERM')
    api.child.kill('SIGTERM')
  })

  it("the workers' link down for 10 s and back: nothing lost, the same workers resume", async () => {
    const jfile = join(tempDir(), 'journal.log')
    const workers = [startWorker(jfile), startWorker(jfile)]
    await Promise.all(workers.map((w) => w.waitFor(/ready/)))
    const ids = await send(300, 30)
    await until(() => doneIds(jfile).size >= 40, 30_000, 'some done before the cut')
    ip('-n', NS.router, 'link', 'set', 'vw', 'down')
    const atCut = doneIds(jfile).size
    await new Promise((r) => setTimeout(r, 10_000))
    ip('-n', NS.router, 'link', 'set', 'vw', 'up')
    await until(
      () => ids.every((id) => doneIds(jfile).has(id)),
      90_000,
      'every task done after the link is back',
    )
    assert.ok(doneIds(jfile).size > atCut, 'work went on after the link came back')
    for (const w of workers) assert.equal(w.child.exitCode, null, 'the same worker processes resumed')
    const pids = new Set(workers.map((w) => w.child.pid))
    // `ip netns exec` runs the worker as its own child: compare by the journal's pids being few.
    const ran = new Set(journal(jfile).map((l) => l.pid))
    assert.equal(ran.size, pids.size, 'run by those two worker processes only')
    for (const w of workers) w.child.kill('SIGTERM')
  })

  it("the workers' namespace SIGKILLed mid-task: its tasks are redelivered to new workers", async () => {
    const jfile = join(tempDir(), 'journal.log')
    const first = [startWorker(jfile, ['--lease', '2s']), startWorker(jfile, ['--lease', '2s'])]
    await Promise.all(first.map((w) => w.waitFor(/ready/)))
    const ids = await send(60, 400)
    await until(() => journal(jfile).some((l) => l.event === 'start'), 30_000, 'tasks running')
    const pids = spawnSync('ip', ['netns', 'pids', NS.workers], { encoding: 'utf8' })
      .stdout.split(/\s+/)
      .filter(Boolean)
    for (const pid of pids) spawnSync('kill', ['-9', pid])
    const startedBeforeKill = new Set(journal(jfile).flatMap((l) => (l.event === 'start' ? [l.id] : [])))
    const unfinished = [...startedBeforeKill].filter((id) => !doneIds(jfile).has(id))
    assert.ok(unfinished.length > 0, 'some tasks were cut off mid-run')
    const second = [startWorker(jfile, ['--lease', '2s']), startWorker(jfile, ['--lease', '2s'])]
    await Promise.all(second.map((w) => w.waitFor(/ready/)))
    await until(() => ids.every((id) => doneIds(jfile).has(id)), 90_000, 'every task done')
    for (const id of unfinished) assert.ok(doneIds(jfile).has(id), `${id}, cut off, ran again to the end`)
    for (const w of second) w.child.kill('SIGTERM')
  })

  it('a worker behind a proxy that adds latency and cuts connections finishes everything', async () => {
    const jfile = join(tempDir(), 'journal.log')
    const proxy = inNs(NS.workers, [
      process.execPath,
      '--import',
      'tsx',
      join(ROOT, 'test/support/fault-proxy.ts'),
      '127.0.0.1:7000',
      `${ADDR.broker}:6379`,
      '15',
      '1500',
    ])
    await proxy.waitFor(/fault proxy ready/)
    const w = startWorker(jfile, ['--lease', '5s'], 'redis://127.0.0.1:7000/0')
    await w.waitFor(/ready/)
    const ids = await send(200, 10)
    await until(() => ids.every((id) => doneIds(jfile).has(id)), 90_000, 'every task done through the proxy')
    assert.match(proxy.out(), /cut \d+/, 'the proxy did cut connections')
    assert.equal(w.child.exitCode, null, 'the worker kept running')
    w.child.kill('SIGTERM')
  })
})

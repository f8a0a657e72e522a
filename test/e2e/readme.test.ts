/**
 * The README's tour, typed in as written: its files are written out, its commands run in a
 * shell from the repository root, and the output it promises is checked.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { after, describe, it } from 'node:test'
import { ROOT, tempDir, until } from './helpers.js'

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')

function blocks(info: RegExp): { info: string; body: string }[] {
  const out: { info: string; body: string }[] = []
  const re = /```([^\n]*)\n([\s\S]*?)```/g
  for (let m = re.exec(readme); m; m = re.exec(readme))
    if (info.test(m[1]!)) out.push({ info: m[1]!, body: m[2]! })
  return out
}

describe('README', () => {
  const here = `.tmp/readme-${process.pid}`
  const db = join(tempDir(), 'celeriac.db')
  const env = { ...process.env, CELERIAC_BROKER: `sqlite://${db}`, CELERIAC_LOG_FORMAT: 'json' }
  const tour = (s: string) => s.replaceAll('tour/', `${here}/`)
  const sh = (line: string) =>
    spawnSync('bash', ['-c', tour(line)], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 })
  const kill: (() => void)[] = []
  after(() => {
    for (const k of kill) k()
    rmSync(join(ROOT, here), { recursive: true, force: true })
  })

  it('gives the two commands: the demo and the tests, and CI runs the test command', () => {
    assert.match(readme, /^npm install && npm run demo\b/m)
    assert.match(readme, /^npm test\b/m)
    assert.match(readFileSync(join(ROOT, '.ci/run'), 'utf8'), /^npm test$/m)
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>
    }
    assert.ok(pkg.scripts.demo, 'package.json has the demo script')
  })

  it('ships the tour files identical to the README blocks', () => {
    const files = blocks(/^ts file=/)
    assert.ok(files.length >= 2)
    for (const f of files) {
      const path = f.info.replace(/^ts file=/, '').trim()
      assert.equal(readFileSync(join(ROOT, path), 'utf8'), f.body, `${path} matches its README block`)
    }
  })

  it('accepts every URL scheme the README lists as supported, and nothing it calls planned', async () => {
    const { createBroker } = await import('../../src/index.js')
    const table = /Broker URLs:\n\n([\s\S]*?)\n\n/.exec(readme)
    assert.ok(table, 'the README has a broker URL table')
    const schemes = [...table[1]!.matchAll(/`([a-z][a-z0-9+.-]*):\/\//g)].map((m) => m[1]!)
    assert.ok(schemes.length >= 4, `found ${schemes.join(', ')}`)
    for (const scheme of new Set(schemes)) {
      const url = scheme.startsWith('sqlite')
        ? `sqlite://${join(tempDir(), 'x.db')}`
        : scheme.includes('sentinel')
          ? `${scheme}://127.0.0.1:1/mymaster`
          : `${scheme}://127.0.0.1:1/`
      const broker = await createBroker(url)
      assert.equal(typeof broker.publish, 'function', `${scheme}:// builds a broker`)
    }
    for (const planned of ['amqp', 'postgres']) {
      if (!new RegExp(`${planned === 'amqp' ? 'RabbitMQ' : 'PostgreSQL'}[^.]*planned`).test(readme)) {
        await createBroker(`${planned}://127.0.0.1/`)
      }
    }
  })

  it('the five-minute tour works as written', async () => {
    const files = blocks(/^ts file=/)
    assert.ok(files.length >= 2)
    for (const f of files) {
      const path = join(ROOT, tour(f.info.replace(/^ts file=/, '').trim()))
      mkdirSync(dirname(path), { recursive: true })
      writeFileSync(path, f.body)
    }
    const [start, ops] = blocks(/^sh tour$/).map((b) => b.body.split('\n').filter((l) => l.trim()))
    assert.ok(start && ops)

    // Terminal 1: the worker.
    const workerLine = start.find((l) => / worker /.test(l))!
    const w = spawn('bash', ['-c', `exec ${tour(workerLine.replace(/#.*$/, ''))}`], { cwd: ROOT, env })
    kill.push(() => w.kill('SIGKILL'))
    let wout = ''
    w.stdout.on('data', (b: Buffer) => (wout += b.toString()))
    w.stderr.on('data', (b: Buffer) => (wout += b.toString()))
    await until(() => /ready/.test(wout), 30_000, 'worker ready')
    assert.match(wout, /\[tasks\]\n {2}\. images\.resize\n {2}\. math\.add/, 'the banner lists the tasks')

    // Terminal 2: the sender; its output is what the README shows.
    const send = sh(start.find((l) => /send\.ts/.test(l))!)
    assert.equal(send.status, 0, send.stderr)
    const expected = blocks(/^text$/)[0]!
      .body.split('\n')
      .filter(Boolean)
    assert.match(send.stdout, /^sent [0-9a-f-]{36}$/m)
    for (const line of expected.slice(1))
      assert.ok(send.stdout.includes(line), `output has "${line}":\n${send.stdout}`)

    // The operator commands.
    const call = sh(ops[0]!)
    assert.equal(call.status, 0, call.stderr)
    assert.match(call.stdout, /"state":"SUCCESS","task":"math.add".*"result":42/)
    const stats = sh(ops[1]!)
    assert.match(
      stats.stdout,
      /queue\s+waiting\s+delayed\s+active\s+dead\s+jobs\/s \(1 min\)\s+state\n[- ]+\ndefault .* consuming/,
    )
    const ghost = sh(ops[2]!)
    assert.equal(ghost.status, 0)
    await until(() => /no\.such\.task/.test(sh(ops[3]!).stdout), 20_000, 'dead letter listed')
    assert.match(sh(ops[3]!).stdout, /unknown task "no\.such\.task"/)

    // Ctrl-C: exit 0.
    w.kill('SIGINT')
    const code = await new Promise((r) => w.on('exit', r))
    assert.equal(code, 0)
  })
})

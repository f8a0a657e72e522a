/**
 * What the CLI prints, as a user reads it: codec values shown readably, a timed-out wait that
 * says so and exits 3, an empty id refused, one line for a broken app module, `-b` winning over
 * the module's own broker, and thrown non-Errors rendered as JSON.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { cli, FIXTURE, ROOT, tempDir, worker, type Proc } from './helpers.js'

describe('CLI output', () => {
  const dir = tempDir()
  const db = join(dir, 'q.db')
  const env = { CELERIAC_BROKER: `sqlite://${db}` }
  const procs: Proc[] = []
  after(async () => {
    for (const p of procs) {
      p.kill('SIGKILL')
      await p.exited()
    }
  })

  it('prints Map, Set, Buffer, Error and BigInt results readably', async () => {
    const w = worker(db)
    procs.push(w)
    await w.waitFor(/ready/)
    const r = await cli(['-A', FIXTURE, 'call', 'rich', '--wait', '10s'], env)
    assert.equal(r.code, 0, r.out)
    const line = r.out.trim().split('\n').at(-1)!
    const body = JSON.parse(line) as { state: string; result: Record<string, unknown> }
    assert.equal(body.state, 'SUCCESS')
    assert.deepEqual(body.result, {
      m: [['k', 1]],
      s: ['a'],
      b: Buffer.from('hi').toString('base64'),
      e: { name: 'TypeError', message: 'inside' },
      n: '12',
    })
  })

  it('renders a thrown non-Error as JSON, not [object Object]', async () => {
    const r = await cli(['-A', FIXTURE, 'call', 'throws.object', '--wait', '10s'], env)
    assert.equal(r.code, 1, r.out)
    assert.match(r.out, /\{\\?"code\\?":42/)
    assert.doesNotMatch(r.out, /object Object/)
  })

  it('says when a wait timed out and exits 3; refuses an empty id', async () => {
    const r = await cli(['result', '0190b7e0-0000-7000-8000-000000000000', '-w', '0.3s'], env)
    assert.equal(r.code, 3, r.out)
    assert.match(r.out, /timed out after 300 ms/)
    assert.match(r.out, /"state":"PENDING"/)
    const empty = await cli(['result', ''], env)
    assert.equal(empty.code, 1)
    assert.match(empty.out, /a task id is required/)
  })

  it('prints one line naming file, line and column for a broken app module', async () => {
    for (const [file, pattern] of [
      ['syntax.ts', /syntax\.ts:3:\d+: Unexpected/],
      ['throws.ts', /throws\.ts:3:\d+: Error: configuration missing: SMTP_URL/],
    ] as const) {
      const r = await cli(['-A', join(ROOT, 'test/fixtures/broken', file), 'stats'], env)
      assert.equal(r.code, 1)
      assert.match(r.out, pattern)
      assert.equal(r.out.trim().split('\n').length, 1, `one line, got:\n${r.out}`)
    }
    const md = await cli(['-A', join(ROOT, 'README.md'), 'stats'], env)
    assert.match(md.out, /not a JavaScript or TypeScript module/)
    assert.equal(md.out.trim().split('\n').length, 1, md.out)
    const debug = await cli(['-A', join(ROOT, 'test/fixtures/broken/throws.ts'), 'stats'], {
      ...env,
      CELERIAC_DEBUG: '1',
    })
    assert.match(debug.out, /\n\s+at /, 'the stack with CELERIAC_DEBUG=1')
  })

  it('-b wins over the broker the app module names in code', async () => {
    const other = join(dir, 'other.db')
    const r = await cli([
      '-A',
      join(ROOT, 'test/fixtures/own-broker.ts'),
      '-b',
      `sqlite://${other}`,
      'call',
      'add',
      '--args',
      '[1,2]',
    ])
    assert.equal(r.code, 0, r.out)
    const s = await cli(['-b', `sqlite://${other}`, 'stats'])
    assert.match(s.out, /default\s+\S*\s*1\b/, s.out)
  })

  it('worker -E writes events that celeriac events prints, as lines or JSON', async () => {
    const edb = join(dir, 'events.db')
    const eenv = { CELERIAC_BROKER: `sqlite://${edb}` }
    const w = worker(edb, ['-E'])
    procs.push(w)
    await w.waitFor(/ready/)
    const r = await cli(['-A', FIXTURE, 'call', 'add', '--args', '[2,3]', '--wait', '10s'], eenv)
    assert.equal(r.code, 0, r.out)
    const id = r.out.trim().split('\n')[0]!
    const text = await cli(['events'], eenv)
    assert.match(text.out, /worker-online/)
    assert.match(text.out, new RegExp(`task-succeeded\\s+add\\[${id}\\]\\s+\\d+ ms`))
    const json = await cli(['events', '--json', '--limit', '100'], eenv)
    const types = json.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; id?: string })
      .filter((e) => e.id === id)
      .map((e) => e.type)
    assert.deepEqual(types, ['task-received', 'task-started', 'task-succeeded'])
  })

  it('logs one line per succeeded task with --log-tasks; not by default off a terminal', async () => {
    const ldb = join(dir, 'log.db')
    const lenv = { CELERIAC_BROKER: `sqlite://${ldb}` }
    for (const [args, expected] of [
      [['--log-tasks'], true],
      [[], false],
    ] as const) {
      const w = worker(ldb, [...args])
      procs.push(w)
      await w.waitFor(/ready/)
      const r = await cli(['-A', FIXTURE, 'call', 'add', '--args', '[1,1]', '--wait', '10s'], lenv)
      assert.equal(r.code, 0, r.out)
      const id = r.out.trim().split('\n')[0]!
      w.kill('SIGTERM')
      await w.exited()
      const line = w
        .output()
        .split('\n')
        .find((l) => l.includes('task succeeded') && l.includes(id))
      assert.equal(line !== undefined, expected, w.output())
      if (line) assert.match(line, /"task":"add".*"state":"SUCCESS".*"ms":\d+/)
    }
  })
})

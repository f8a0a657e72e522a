/**
 * Workflows and durable steps across real worker processes, some SIGKILLed mid-run; run
 * unchanged on every engine that has coordination and idempotent publish, and on RabbitMQ with a
 * Redis result backend, where run claims stand in for idempotent publish (canvas-*.test.ts).
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { it } from 'node:test'
import { chain, chord, group } from 'celeriac'
import { app, boom, fiveSteps, report, slowAdd, sum } from '../fixtures/canvas-tasks.js'
import { cli, journal, run, tempDir, until, type Proc } from './helpers.js'

const CANVAS_FIXTURE = join(import.meta.dirname, '../fixtures/canvas-tasks.ts')
const WORKER_ARGS = ['-c', '1', '--prefetch', '0', '--lease', '1s', '--max-deliveries', '20']

export function canvasScenarios(
  brokerUrl: string,
  /** A result backend of its own (a broker that stores no results); default: the broker's. */
  resultUrl?: string,
): { app: typeof app; procs: Proc[] } {
  app.configure({ broker: brokerUrl, ...(resultUrl ? { resultBackend: resultUrl } : {}) })
  const urls: Record<string, string> = {
    CELERIAC_BROKER: brokerUrl,
    ...(resultUrl ? { CELERIAC_RESULT_BACKEND: resultUrl } : {}),
  }
  const procs: Proc[] = []
  const start = (jfile: string, n: number): Promise<Proc[]> => {
    // Workers of an earlier scenario would journal into its file: one scenario's workers at a time.
    for (const p of procs) p.kill('SIGKILL')
    const ps = Array.from({ length: n }, () =>
      run(['-A', CANVAS_FIXTURE, 'worker', '--no-banner', ...WORKER_ARGS], { ...urls, JOURNAL: jfile }),
    )
    procs.push(...ps)
    return Promise.all(ps.map((p) => p.waitFor(/ready/))).then(() => ps)
  }
  const events = (jfile: string, event: string, id?: string) =>
    journal(jfile).filter((l) => l.event === event && (id === undefined || l.id === id))
  const killRunner = (ps: Proc[], pid: number) => {
    const victim = ps.find((p) => p.child.pid === pid)
    assert.ok(victim, `the worker ${pid} is one of ours`)
    victim.kill('SIGKILL')
    return victim
  }

  it('a chain completes once when the worker running a step is SIGKILLed', async () => {
    const jfile = join(tempDir(), 'journal.log')
    const ps = await start(jfile, 2)
    const r = await chain(slowAdd.s(0, 1), slowAdd.s(1), slowAdd.s(1), slowAdd.s(1), slowAdd.s(1)).apply()
    const third = `${r.id}.2`
    await until(() => events(jfile, 'start', third).length > 0, 20_000, 'the third step started')
    killRunner(ps, events(jfile, 'start', third)[0]!.pid)
    assert.equal(await r.get({ timeout: 30_000 }), 5)
    const ids = [0, 1, 2, 3].map((k) => `${r.id}.${k}`).concat(r.id)
    for (const id of ids) assert.equal(events(jfile, 'done', id).length, 1, `step ${id} ran to the end once`)
    assert.equal(events(jfile, 'start', third).length, 2, 'the killed step started again')
    const shown = await cli(['-A', CANVAS_FIXTURE, 'result', third], urls)
    const printed = JSON.parse(shown.out.trim().split('\n').at(-1)!) as {
      state: string
      workflow: { kind: string; children: { id: string; state: string }[] }
    }
    assert.equal(printed.state, 'SUCCESS')
    assert.equal(printed.workflow.kind, 'chain')
    assert.deepEqual(
      printed.workflow.children.map((c) => [c.id, c.state]),
      ids.map((id) => [id, 'SUCCESS']),
    )
  })

  it('a chord completes once when a worker is SIGKILLed while members run', async () => {
    const jfile = join(tempDir(), 'journal.log')
    const ps = await start(jfile, 3)
    const n = 12
    const r = await chord(group(Array.from({ length: n }, (_, i) => slowAdd.s(i, 0))), sum.s()).apply()
    await until(() => events(jfile, 'done').length >= 3, 20_000, 'three members done')
    const running = journal(jfile)
      .filter((l) => l.event === 'start')
      .at(-1)!
    killRunner(ps, running.pid)
    assert.equal(await r.get({ timeout: 40_000 }), (n * (n - 1)) / 2)
    assert.equal(events(jfile, 'done', r.id).length, 1, 'the body ran once')
    for (let i = 0; i < n; i++)
      assert.ok(events(jfile, 'done', `${r.id}.${i}`).length >= 1, `member ${i} ran to the end`)
    const tree = await import('celeriac').then((m) => m.workflowTree(app, `${r.id}.3`))
    assert.equal(tree?.kind, 'chord')
    assert.deepEqual(tree?.children?.[0]?.counts, { SUCCESS: n })
  })

  it('a chord with a failing member fails naming it; the body never runs; linkError runs once', async () => {
    const jfile = join(tempDir(), 'journal.log')
    await start(jfile, 2)
    const members = [slowAdd.s(1, 1), boom.s(7), slowAdd.s(2, 2), boom.s(8), slowAdd.s(3, 3)]
    const r = await chord(group(members), sum.s().linkError(report.s())).apply()
    await assert.rejects(r.get({ timeout: 30_000 }), (err: Error) => {
      assert.equal(err.name, 'WorkflowFailedError')
      assert.match(err.message, new RegExp(`member [13], cv.boom \\(${r.id}\\.[13]\\)`))
      return true
    })
    // Every member ends (the other members still run), and then nothing more happens.
    await until(() => events(jfile, 'done').length >= members.length, 20_000, 'all members ran')
    await until(() => events(jfile, 'report').length >= 1, 20_000, 'linkError ran')
    await new Promise((res) => setTimeout(res, 1500))
    assert.equal(events(jfile, 'done', r.id).length, 0, 'the body did not run')
    assert.equal(events(jfile, 'report').length, 1, 'linkError ran once')
  })

  it('a group inside a chain: the step after it gets the list once, when a worker is SIGKILLed in the group', async () => {
    const jfile = join(tempDir(), 'journal.log')
    const ps = await start(jfile, 2)
    const r = await chain(
      slowAdd.s(0, 1),
      group([slowAdd.s(1), slowAdd.s(2), slowAdd.s(3), slowAdd.s(4)]),
      sum.s(),
      slowAdd.s(10),
    ).apply()
    const member = `${r.id}.1.2`
    await until(() => events(jfile, 'start', member).length > 0, 20_000, 'a group member started')
    killRunner(ps, events(jfile, 'start', member)[0]!.pid)
    // 1 → [2, 3, 4, 5] → 14 → 24; a fresh worker joins the survivor.
    procs.push(
      run(['-A', CANVAS_FIXTURE, 'worker', '--no-banner', ...WORKER_ARGS], { ...urls, JOURNAL: jfile }),
    )
    assert.equal(await r.get({ timeout: 40_000 }), 24)
    assert.equal(events(jfile, 'done', `${r.id}.2`).length, 1, 'the step after the group ran once')
    assert.equal(events(jfile, 'done', r.id).length, 1, 'the last step ran once')
    for (let i = 0; i < 4; i++)
      assert.equal(events(jfile, 'done', `${r.id}.1.${i}`).length, 1, `member ${i} ran to the end once`)
  })

  it('a chord whose header holds chains completes once when a worker is SIGKILLed mid-chain', async () => {
    const jfile = join(tempDir(), 'journal.log')
    const ps = await start(jfile, 2)
    const n = 4
    const r = await chord(
      group(Array.from({ length: n }, (_, i) => chain(slowAdd.s(i, 0), slowAdd.s(1), slowAdd.s(1)))),
      sum.s(),
    ).apply()
    const step = `${r.id}.1.1`
    await until(
      () => events(jfile, 'start', step).length > 0,
      20_000,
      'a member chain reached its second step',
    )
    killRunner(ps, events(jfile, 'start', step)[0]!.pid)
    procs.push(
      run(['-A', CANVAS_FIXTURE, 'worker', '--no-banner', ...WORKER_ARGS], { ...urls, JOURNAL: jfile }),
    )
    // Each member i gives i + 2.
    assert.equal(await r.get({ timeout: 40_000 }), (n * (n - 1)) / 2 + 2 * n)
    assert.equal(events(jfile, 'done', r.id).length, 1, 'the body ran once')
    for (let i = 0; i < n; i++)
      for (const id of [`${r.id}.${i}.0`, `${r.id}.${i}.1`, `${r.id}.${i}`])
        assert.equal(events(jfile, 'done', id).length, 1, `${id} ran to the end once`)
  })

  it('a 5-step durable task SIGKILLed mid-run completes with each step run once', async () => {
    const jfile = join(tempDir(), 'journal.log')
    const ps = await start(jfile, 2)
    const r = await fiveSteps.delay('order-1')
    await until(() => events(jfile, 'step3', r.id).length > 0, 20_000, 'step 3 ran')
    // The step is recorded right after its side effect; the task then pauses before step 4.
    await new Promise((res) => setTimeout(res, 80))
    killRunner(ps, events(jfile, 'step3', r.id)[0]!.pid)
    assert.equal(await r.get({ timeout: 30_000 }), 'order-1:15')
    for (let i = 1; i <= 5; i++) assert.equal(events(jfile, `step${i}`, r.id).length, 1, `step ${i} ran once`)
    const pids = new Set(
      journal(jfile)
        .filter((l) => l.id === r.id)
        .map((l) => l.pid),
    )
    assert.equal(pids.size, 2, 'the task finished in another worker')
  })

  return { app, procs }
}

import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, describe, it } from 'node:test'
import { pino } from 'pino'
import { chain, chord, createApp, group, Signature, workflowTree, type TaskFailure } from '../index.js'
import { Worker } from '../worker/worker.js'
import { decodeMessage, encodeMessage } from '../core/message.js'
import { MalformedMessageError } from '../core/errors.js'
import { toJob } from './publish.js'

const silent = pino({ level: 'silent' })

function setup() {
  const app = createApp({ broker: `memory://${randomUUID()}` })
  const calls: string[] = []
  const add = app.task('add', (_ctx, a: number, b: number) => a + b)
  const mul = app.task('mul', (_ctx, a: number, b: number) => a * b)
  const sum = app.task('sum', (_ctx, xs: number[]) => xs.reduce((a, b) => a + b, 0))
  const boom = app.task('boom', (_ctx, x: number): number => {
    throw new Error(`boom ${x}`)
  })
  const report = app.task('report', (ctx, f: TaskFailure) => {
    calls.push(`report ${f.id} ${f.error.message}`)
    return f.id
  })
  const note = app.task('note', (_ctx, v: unknown) => {
    calls.push(`note ${JSON.stringify(v)}`)
  })
  return { app, calls, add, mul, sum, boom, report, note }
}

describe('canvas (in process, memory broker)', () => {
  const stops: (() => Promise<void>)[] = []
  after(async () => {
    for (const s of stops) await s()
  })
  async function start(app: ReturnType<typeof setup>['app']) {
    const w = new Worker(app, { concurrency: 4, logger: silent, shutdownGrace: 1000 })
    await w.start()
    stops.push(() => w.stop())
    return w
  }

  it('chains results into the next step and exposes parents and children', async () => {
    const { app, add, mul } = setup()
    await start(app)
    const r = await chain(add.s(2, 2), mul.s(4), add.s(1)).apply()
    assert.equal(await r.get({ timeout: 5000 }), 17)
    assert.equal(r.parent?.id, `${r.id}.1`)
    const second = r.parent as typeof r
    const first = second.parent as typeof r
    assert.equal(await first.get({ timeout: 1000 }), 4)
    assert.deepEqual(
      first.children.map((c) => c.id),
      [`${r.id}.1`],
    )
    const tree = await workflowTree(app, `${r.id}.0`)
    assert.equal(tree?.kind, 'chain')
    assert.deepEqual(
      tree?.children?.map((c) => c.state),
      ['SUCCESS', 'SUCCESS', 'SUCCESS'],
    )
  })

  it('runs a group and gives its results in order', async () => {
    const { app, add } = setup()
    await start(app)
    const g = await group([1, 2, 3].map((x) => add.s(x, 10))).apply()
    assert.deepEqual(await g.get({ timeout: 5000 }), [11, 12, 13])
    assert.equal(g.results.length, 3)
  })

  it('runs a chord body with the members results, once', async () => {
    const { app, add, sum } = setup()
    await start(app)
    const r = await chord(group([1, 2, 3, 4].map((x) => add.s(x, x))), sum.s()).apply()
    assert.equal(await r.get({ timeout: 5000 }), 20)
    const tree = await workflowTree(app, r.id)
    assert.equal(tree?.kind, 'chord')
    assert.deepEqual(tree?.children?.[0]?.counts, { SUCCESS: 4 })
  })

  it('ends a chord when a member fails: FAILURE naming it, body not run, linkError once', async () => {
    const { app, add, sum, boom, report, calls } = setup()
    await start(app)
    const r = await chord(group([add.s(1, 1), boom.s(7), boom.s(8)]), sum.s().linkError(report.s())).apply()
    await assert.rejects(r.get({ timeout: 5000 }), (err: Error) => {
      assert.equal(err.name, 'WorkflowFailedError')
      assert.match(err.message, /member [12], boom/)
      return true
    })
    await new Promise((res) => setTimeout(res, 300))
    assert.equal(calls.filter((c) => c.startsWith('report')).length, 1)
  })

  it('ends a chord when a member is dead-lettered before it runs (a task no worker knows)', async () => {
    const { app, add, sum } = setup()
    await start(app)
    const ghost = new Signature<number, []>('ghost', [], false, {}, [], [], app)
    const r = await chord(group([add.s(1, 1), ghost]), sum.s()).apply()
    await assert.rejects(r.get({ timeout: 5000 }), /member 1, ghost/)
  })

  it('stops a chain at a failed step and fails the steps after it', async () => {
    const { app, add, boom, report, calls } = setup()
    await start(app)
    const r = await chain(add.s(1, 1), boom.s().linkError(report.s()), add.s(1)).apply()
    await assert.rejects(r.get({ timeout: 5000 }), /not run: an earlier step of the chain, boom/)
    await new Promise((res) => setTimeout(res, 200))
    assert.deepEqual(calls, [`report ${r.id}.1 boom 2`])
  })

  it('sends link callbacks with the result', async () => {
    const { app, add, note, calls } = setup()
    await start(app)
    const r = await add.applyAsync([20, 22], { link: note.s() })
    assert.equal(await r.get({ timeout: 5000 }), 42)
    await app.asyncResult(`${r.id}.link.0`).get({ timeout: 5000 })
    assert.deepEqual(calls, ['note 42'])
  })

  it('a workflow message sent again after its task finished does not run again', async () => {
    const app = createApp({ broker: `memory://${randomUUID()}` })
    const runs = new Map<string, number>()
    const inc = app.task('inc', (ctx, x: number) => {
      runs.set(ctx.id, (runs.get(ctx.id) ?? 0) + 1)
      return x + 1
    })
    await start(app)
    const r = await chain(inc.s(0), inc.s(), inc.s()).apply()
    assert.equal(await r.get({ timeout: 5000 }), 3)
    // What a parent redelivered after its acknowledgement was lost would send: the first step
    // again, under its id. Its follow-ups are done again; no step runs twice.
    const job = toJob(app, {
      wire: inc.s(0).toWire(`${r.id}.0`),
      rootId: r.id,
      parentId: null,
      flow: { once: true, chain: [inc.s().toWire(`${r.id}.1`), inc.s().toWire(r.id)] },
    })
    await (await app.broker()).publish([job])
    await new Promise((res) => setTimeout(res, 400))
    assert.deepEqual([...runs.values()], [1, 1, 1])
    assert.equal(await r.get({ timeout: 1000 }), 3)
  })

  it('a step whose result was written but whose sends were lost sends them when delivered again', async () => {
    const app = createApp({ broker: `memory://${randomUUID()}` })
    const runs: string[] = []
    const inc = app.task('inc', (ctx, x: number) => {
      runs.push(ctx.id)
      return x + 1
    })
    await start(app)
    // A worker wrote step 0's result (41) and died before sending step 1: its redelivery finds
    // the result, does not run step 0 again, and sends step 1 with that result.
    const root = 'lost-sends'
    const now = Date.now()
    await (await app.resultStore())!.set([
      {
        id: `${root}.0`,
        state: 'SUCCESS',
        task: 'inc',
        result: '41',
        error: null,
        retries: 0,
        worker: 'w',
        startedAt: now,
        doneAt: now,
        updatedAt: now,
        expiresAt: null,
        fence: 1,
      },
    ])
    const job = toJob(app, {
      wire: inc.s(0).toWire(`${root}.0`),
      rootId: root,
      parentId: null,
      flow: { once: true, chain: [inc.s().toWire(root)] },
    })
    await (await app.broker()).publish([job])
    assert.equal(await app.asyncResult<number>(root).get({ timeout: 5000 }), 42)
    assert.deepEqual(runs, [root])
  })

  it('records durable steps and replays them on a retry', async () => {
    const app = createApp({ broker: `memory://${randomUUID()}` })
    const ran: string[] = []
    const t = app.task(
      'stepped',
      async (ctx) => {
        const a = await ctx.step('a', () => (ran.push('a'), 1))
        const b = await ctx.step('b', () => (ran.push('b'), 2))
        if (ctx.retries === 0) ctx.retry({ countdown: 10 })
        const c = await ctx.step('c', () => (ran.push('c'), 3))
        return a + b + c
      },
      { retries: 2 },
    )
    await start(app)
    const r = await t.delay()
    assert.equal(await r.get({ timeout: 5000 }), 6)
    assert.deepEqual(ran, ['a', 'b', 'c'])
  })

  it('runs a long chain stored in segments, and fails the stored steps after a failed one', async () => {
    const { app, add, boom } = setup()
    await start(app)
    const steps = Array.from({ length: 39 }, () => add.s(1))
    const r = await chain(add.s(0, 0), ...(steps as [ReturnType<typeof add.s>])).apply()
    assert.equal(await r.get({ timeout: 10_000 }), 39)
    const bad = await chain(add.s(0, 0), boom.s(), ...(steps as [ReturnType<typeof add.s>])).apply()
    await assert.rejects(bad.get({ timeout: 10_000 }), /not run: an earlier step of the chain, boom/)
  })

  it('nests: a group inside a chain, chains inside a group and inside a chord header', async () => {
    const { app, add, mul, sum } = setup()
    await start(app)
    const c = await chain(add.s(1, 1), group([mul.s(2), mul.s(3)]), sum.s(), add.s(1)).apply()
    assert.equal(await c.get({ timeout: 5000 }), 2 * 2 + 2 * 3 + 1)
    const g = await group([chain(add.s(1, 2), mul.s(3)), add.s(5, 5)]).apply()
    assert.deepEqual(await g.get({ timeout: 5000 }), [9, 10])
    const h = await chord(group([chain(add.s(1, 2), mul.s(3), add.s(1)), add.s(1, 1)]), sum.s()).apply()
    assert.equal(await h.get({ timeout: 5000 }), 12)
    const first = await chain(group([add.s(1, 1), chain(add.s(2, 2), mul.s(2))]), sum.s()).apply()
    assert.equal(await first.get({ timeout: 5000 }), 10)
    const tree = await workflowTree(app, c.id)
    assert.equal(tree?.kind, 'chain')
    assert.deepEqual(tree?.children?.[1]?.counts, { SUCCESS: 2 })
  })

  it('a failed member of a group inside a chain fails the steps after it, once', async () => {
    const { app, add, mul, sum, boom, report, calls } = setup()
    await start(app)
    const r = await chain(
      add.s(1, 1),
      group([mul.s(2), boom.s()]),
      sum.s().linkError(report.s()),
      add.s(1),
    ).apply()
    await assert.rejects(r.get({ timeout: 5000 }), /not run|chord .* failed: member 1, boom/)
    await assert.rejects(app.asyncResult(`${r.id}.2`).get({ timeout: 5000 }), /member 1, boom/)
    await new Promise((res) => setTimeout(res, 200))
    assert.equal(calls.filter((c) => c.startsWith('report')).length, 1)
  })

  it('keeps the decoder strict for workflow fields and reads old messages', () => {
    const base = { v: 1, id: 'x', task: 't', queue: 'q', sent_at: new Date().toISOString() }
    assert.equal(decodeMessage(JSON.stringify(base)).chain, undefined)
    for (const [field, value, why] of [
      ['chain', [], /"chain" must be a non-empty array/],
      ['chain', [{ id: 'a', task: 't' }], /"chain\[0\].args" must be an array/],
      ['chain', [{ id: 'a', task: 't', args: [], eval: 'x' }], /unknown field/],
      ['callbacks', [{ id: 'a', task: 't', args: [], callbacks: [] }], /unknown field/],
      ['chord', { id: 'c', size: 0, body: { id: 'c', task: 't', args: [] } }, /"chord.size"/],
      ['once', 1, /"once" must be true/],
      ['rest', 3, /"rest" must be a non-empty string/],
      [
        'chain',
        [{ id: 'g', group: [{ steps: [{ id: 'a', task: 't', args: [] }] }] }],
        /not followed by a signature/,
      ],
      [
        'chain',
        [
          { id: 'g', group: [{ steps: [{ id: 'a', task: 't', args: [] }], x: 1 }] },
          { id: 'b', task: 't', args: [] },
        ],
        /unknown field/,
      ],
      ['chord', { id: 'c', size: 1, body: { id: 'c', task: 't', args: [] }, chain: 'x' }, /"chord.chain"/],
    ] as const) {
      assert.throws(
        () => decodeMessage(JSON.stringify({ ...base, [field]: value })),
        (err: Error) => err instanceof MalformedMessageError && why.test(err.message),
      )
    }
    const m = decodeMessage(
      JSON.stringify({ ...base, chain: [{ id: 'x.1', task: 'u', args: [1] }], once: true }),
    )
    assert.equal(decodeMessage(encodeMessage(m)).chain?.[0]?.id, 'x.1')
  })
})

/**
 * Task events: a delivery received, started and done within one announce interval is one stored
 * entry that readers expand back into its three events; one that waits or runs longer is
 * announced as it goes, and its outcome carries only what was not announced.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import { MemoryCoordination } from '../brokers/memory/coordination.js'
import type { Delivery } from '../contracts/broker.js'
import { EVENTS_STREAM, parseEvents } from '../core/events.js'
import { decodeMessage, encodeMessage } from '../core/message.js'
import { EventSink, held, TaskEvents, type Held } from './events.js'
import type { PreparedJob } from './prepare.js'
import type { TrackedRun } from './run.js'

const silent = pino({ level: 'silent' })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function delivery(id: string, fence = 1): Delivery {
  const body = encodeMessage({
    v: 1,
    id,
    task: 'add',
    args: [1, 2],
    kwargs: {},
    queue: 'q',
    priority: 0,
    eta: null,
    expires: null,
    retries: 0,
    timelimit: [null, null],
    root_id: id,
    parent_id: null,
    group: null,
    ignore_result: false,
    sent_at: new Date().toISOString(),
  } as never)
  return { id, token: `t-${id}-${fence}`, fence, queue: 'q', body, priority: 0, deliveries: 1 }
}

function job(d: Delivery): PreparedJob {
  const msg = decodeMessage(d.body)
  return { delivery: d, msg, task: null as never, args: msg.args, storeResult: true }
}

/** TaskEvents over a map of held deliveries, kept as the worker keeps it. */
function taskEvents(sink: EventSink, announceMs: number) {
  const map = new Map<string, Held>()
  const events = new TaskEvents(sink, 'w@h:1', map, announceMs)
  return {
    events,
    receive: (d: Delivery, at = Date.now()) => void map.set(d.token, held(d, at)),
    settle: (o: Parameters<TaskEvents['settled']>[0], live: boolean) => {
      events.settled(o, live)
      map.delete(o.delivery.token)
    },
  }
}

async function stored(c: MemoryCoordination) {
  return (await c.read(EVENTS_STREAM, null, 1000)).map((e) => e.data)
}

/** A run of `j` as the worker's run tracking reports it, begun now. */
function began(j: PreparedJob): TrackedRun {
  return { job: j, startedAt: Date.now(), stop: { abort() {}, kill() {} } }
}

describe('task events', () => {
  it('a short task is one entry; readers get received, started and its outcome back', async () => {
    const c = new MemoryCoordination()
    const sink = new EventSink(c, 100, silent, 60_000)
    const { events, receive, settle } = taskEvents(sink, 60_000)
    const d = delivery('a')
    receive(d)
    events.started(began(job(d)))
    settle({ kind: 'ack', delivery: d }, true)
    await sink.flush()
    const raw = await stored(c)
    assert.equal(raw.length, 1)
    const all = raw.flatMap(parseEvents)
    assert.deepEqual(
      all.map((e) => e.type),
      ['task-received', 'task-started', 'task-succeeded'],
    )
    assert.ok(all.every((e) => e.id === 'a' && e.fence === 1 && e.worker === 'w@h:1' && e.queue === 'q'))
    assert.equal(all[1]!.task, 'add')
    assert.equal(all[1]!.args, '[[1,2],{}]')
    assert.equal(all[2]!.task, 'add')
    assert.equal(all[2]!.args, undefined)
    assert.ok(all[0]!.at <= all[1]!.at && all[1]!.at <= all[2]!.at)
    assert.equal(typeof all[2]!.runtimeMs, 'number')
  })

  it('announces a task that waits, then one that runs, past the interval; the outcome carries the rest', async () => {
    const c = new MemoryCoordination()
    const sink = new EventSink(c, 100, silent, 5)
    const { events, receive, settle } = taskEvents(sink, 20)
    events.start()
    const d = delivery('b')
    receive(d)
    await sleep(60)
    events.started(began(job(d)))
    await sleep(60)
    settle({ kind: 'dead', delivery: d, reason: 'failed: boom' }, true)
    events.stop()
    await sink.flush()
    const raw = await stored(c)
    assert.equal(raw.length, 3)
    const all = raw.flatMap(parseEvents)
    assert.deepEqual(
      all.map((e) => e.type),
      ['task-received', 'task-started', 'task-failed'],
    )
    assert.equal(all[2]!.reason, 'failed: boom')
    assert.equal(all[2]!.task, 'add')
  })

  it('a progress event comes after the start it belongs to; stale and deferred outcomes have none', async () => {
    const c = new MemoryCoordination()
    const sink = new EventSink(c, 100, silent, 60_000)
    const { events, receive, settle } = taskEvents(sink, 60_000)
    const d = delivery('c')
    receive(d)
    const j = job(d)
    events.started(began(j))
    events.progressOf(j)
    sink.emit({ type: 'task-progress', at: Date.now(), worker: 'w@h:1', id: 'c', fence: 1, progress: 0.5 })
    settle({ kind: 'ack', delivery: d }, true)
    const e = delivery('e')
    receive(e)
    settle({ kind: 'ack', delivery: e }, false)
    const f = delivery('f')
    receive(f)
    settle({ kind: 'defer', delivery: f, delayMs: 10 } as never, true)
    await sink.flush()
    assert.deepEqual(
      (await stored(c)).flatMap(parseEvents).map((x) => `${x.id} ${x.type}`),
      ['c task-received', 'c task-started', 'c task-progress', 'c task-succeeded'],
    )
  })
})

describe('outcome events riding on result writes', () => {
  it('gives the settler one line per record and writes none itself; announcements go first', async () => {
    const c = new MemoryCoordination()
    const sink = new EventSink(c, 100, silent, 60_000)
    const { events, receive, settle } = taskEvents(sink, 20)
    events.rideOnResults(50)
    events.start()
    const [a, b] = [delivery('a'), delivery('b')]
    receive(a, 1000)
    receive(b, 1000)
    events.started(began(job(a)))
    await sleep(60) // b waits past the interval: announced as received (buffered in the sink)
    const result = { state: 'SUCCESS' } as never
    const outcomes = [
      { kind: 'ack' as const, delivery: a, result },
      { kind: 'dead' as const, delivery: b, reason: 'failed: x', result },
    ]
    const rec = events.recordEvents(outcomes)!
    events.stop()
    assert.equal(rec.maxLen, 50)
    assert.equal(rec.stream, EVENTS_STREAM)
    // a was started and announced (60 ms > 20 ms): only its outcome is left; b was announced as
    // received and never started.
    const [ha, hb] = rec.hints as [string, string]
    assert.equal(ha.split('\t')[0], '2')
    assert.equal(hb.split('\t')[0], '1')
    assert.equal(hb.split('\t')[4], '"failed: x"')
    // The announcements were sent before the hints were handed out.
    assert.equal(sink.pending, false)
    outcomes.forEach((o) => settle(o, true))
    await sink.flush()
    // Per task in order; a and b may be announced at different ticks of the interval.
    assert.deepEqual(
      (await stored(c))
        .flatMap(parseEvents)
        .map((x) => `${x.id} ${x.type}`)
        .sort(),
      ['a task-received', 'a task-started', 'b task-received'],
    )
  })

  it('a hint made again from the same values is the same text; any other value makes a new one', async () => {
    const { recordEventHint } = await import('../core/events.js')
    const a = recordEventHint(0, 1000, 'q', '[[],null]', undefined)
    assert.equal(recordEventHint(0, 1000, 'q', '[[],null]', undefined), a)
    for (const [other, field] of [
      [recordEventHint(1, 1000, 'q', '[[],null]', undefined), 'shown'],
      [recordEventHint(0, 1001, 'q', '[[],null]', undefined), 'receivedAt'],
      [recordEventHint(0, 1000, 'r', '[[],null]', undefined), 'queue'],
      [recordEventHint(0, 1000, 'q', '[[1],null]', undefined), 'args'],
      [recordEventHint(0, 1000, 'q', '[[],null]', 'failed: x'), 'reason'],
    ] as const)
      assert.notEqual(other, a, field)
    assert.equal(recordEventHint(0, 1000, 'q', '[[],null]', 'failed: x').split('\t')[4], '"failed: x"')
    assert.equal(recordEventHint(0, 1000, 'q', '[[],null]', undefined), a)
  })

  it('readers skip a malformed record entry', () => {
    for (const bad of [
      'R',
      'R0\t\t"q"\t\t',
      'R0\t\t"q"\t\t\t{',
      'R0\t\t"q"\t\t\t{"state":"STARTED","id":"x","worker":"w","updatedAt":1}',
    ])
      assert.deepEqual(parseEvents(bad), [])
  })
})

describe('eventText', () => {
  it('reads back as JSON.stringify would write it, for every field and for odd strings', async () => {
    const { eventText } = await import('../core/events.js')
    const samples = [
      { type: 'worker-heartbeat', at: 1, worker: 'w@h:1', running: 3, processed: 10 },
      {
        type: 'task-failed',
        at: 5,
        worker: 'w"@h\n:1',
        id: 'a\u2028b',
        task: 't\\x',
        queue: 'q',
        fence: 7,
        retries: 2,
        runtimeMs: 1.5,
        reason: '<script>"boom"</script>',
        args: '[[1],{}]',
        receivedAt: 2,
        startedAt: 3,
      },
      { type: 'task-succeeded', at: 5, worker: 'w', id: 'x', runtimeMs: Number.NaN, task: undefined },
      { type: 'task-progress', at: 6, worker: 'w', id: 'x', progress: { done: 1, total: 2 } },
    ] as const
    for (const e of samples) assert.deepEqual(JSON.parse(eventText(e)), JSON.parse(JSON.stringify(e)))
  })
})

/**
 * The event sink folds the events of one delivery that wait in its buffer into one stored entry,
 * and readers get every event back (expandEvent), with the times each happened.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import { MemoryCoordination } from '../brokers/memory/coordination.js'
import { EVENTS_STREAM, parseEvents, type CeleriacEvent } from '../core/events.js'
import { EventSink } from './events.js'

const silent = pino({ level: 'silent' })
const base = { worker: 'w@h:1', queue: 'q' }

async function stored(c: MemoryCoordination): Promise<string[]> {
  return (await c.read(EVENTS_STREAM, null, 1000)).map((e) => e.data)
}

describe('event sink', () => {
  it('folds received, started and succeeded of one delivery into one entry; readers expand it', async () => {
    const c = new MemoryCoordination()
    const sink = new EventSink(c, 100, silent, 60_000)
    const ev = (e: Partial<CeleriacEvent> & Pick<CeleriacEvent, 'type' | 'at'>): CeleriacEvent => ({
      ...base,
      ...e,
    })
    sink.emit(ev({ type: 'task-received', at: 1, id: 'a', fence: 1 }))
    sink.emit(ev({ type: 'task-received', at: 2, id: 'b', fence: 1 }))
    sink.emit(ev({ type: 'task-started', at: 3, id: 'a', fence: 1, task: 'add', args: '[[1,2],{}]' }))
    sink.emit(ev({ type: 'task-succeeded', at: 5, id: 'a', fence: 1, task: undefined, runtimeMs: 2 }))
    // Another delivery of b (a later fence) is not folded into the first.
    sink.emit(ev({ type: 'task-received', at: 6, id: 'b', fence: 2 }))
    sink.emit(ev({ type: 'worker-heartbeat', at: 7 }))
    await sink.flush()
    const raw = await stored(c)
    assert.equal(raw.length, 4)
    const events = raw.flatMap(parseEvents)
    assert.deepEqual(
      events.map((e) => [e.type, e.id, e.at]),
      [
        ['task-received', 'a', 1],
        ['task-started', 'a', 3],
        ['task-succeeded', 'a', 5],
        ['task-received', 'b', 2],
        ['task-received', 'b', 6],
        ['worker-heartbeat', undefined, 7],
      ],
    )
    const started = events[1]!
    assert.equal(started.task, 'add')
    assert.equal(started.args, '[[1,2],{}]')
    const done = events[2]!
    assert.equal(done.task, 'add', 'a field the later event leaves out keeps the earlier value')
    assert.equal(done.runtimeMs, 2)
    assert.equal(done.args, undefined)
    assert.equal(done.receivedAt, undefined)
  })

  it('progress in between keeps the order: events after it are new entries', async () => {
    const c = new MemoryCoordination()
    const sink = new EventSink(c, 100, silent, 60_000)
    sink.emit({ ...base, type: 'task-started', at: 1, id: 'a', fence: 1, task: 't' })
    sink.emit({ ...base, type: 'task-progress', at: 2, id: 'a', fence: 1, progress: 0.5 })
    sink.emit({ ...base, type: 'task-succeeded', at: 3, id: 'a', fence: 1, task: 't' })
    await sink.flush()
    const events = (await stored(c)).flatMap(parseEvents)
    assert.deepEqual(
      events.map((e) => e.type),
      ['task-started', 'task-progress', 'task-succeeded'],
    )
  })

  it('writes on its own after flushMs, and what was written is not folded into again', async () => {
    const c = new MemoryCoordination()
    const sink = new EventSink(c, 100, silent, 20)
    sink.emit({ ...base, type: 'task-started', at: 1, id: 'a', fence: 1, task: 't' })
    for (let i = 0; i < 100 && (await stored(c)).length === 0; i++)
      await new Promise((r) => setTimeout(r, 10))
    sink.emit({ ...base, type: 'task-succeeded', at: 2, id: 'a', fence: 1, task: 't' })
    await sink.flush()
    assert.deepEqual(
      (await stored(c)).flatMap(parseEvents).map((e) => e.type),
      ['task-started', 'task-succeeded'],
    )
  })
})

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BackgroundRunner, type BackgroundLogger } from './background.js'
import { checkTaskId, InvalidTaskIdError, normalizePrefix, toJsonSafe } from './status.js'
import { parseIdSegment, rawPath } from './task-id.js'

const quiet: BackgroundLogger = { warn: () => {}, error: () => {} }

test('nothing runs before start(); functions added after start() still run, in order', async () => {
  const runner = new BackgroundRunner({ logger: quiet })
  const tasks = runner.create()
  const seen: number[] = []
  tasks.add((n: number) => void seen.push(n), 1)
  await new Promise((r) => setTimeout(r, 5))
  assert.equal(seen.length, 0)
  tasks.start()
  tasks.start()
  tasks.add(async (n: number) => void seen.push(n), 2)
  assert.equal(await runner.drain(1000), true)
  tasks.add((n: number) => void seen.push(n), 3)
  assert.equal(await runner.drain(1000), true)
  assert.deepEqual(seen, [1, 2, 3])
})

test('a logger that throws does not stop the queue', async () => {
  const runner = new BackgroundRunner({
    logger: {
      warn: () => {},
      error: () => {
        throw new Error('logger down')
      },
    },
  })
  const tasks = runner.create()
  let ran = false
  tasks.add(() => {
    throw new Error('first')
  })
  tasks.add(() => (ran = true))
  tasks.start()
  assert.equal(await runner.drain(1000), true)
  assert.equal(ran, true)
})

test('drain() also waits for work that starts while it waits', async () => {
  const runner = new BackgroundRunner({ logger: quiet })
  const seen: string[] = []
  const first = runner.create()
  first.add(() => new Promise((r) => setTimeout(r, 30)))
  first.start()
  setTimeout(() => {
    const second = runner.create()
    second.add(async () => {
      await new Promise((r) => setTimeout(r, 30))
      seen.push('second')
    })
    second.start()
  }, 10)
  assert.equal(await runner.drain(1000), true)
  assert.deepEqual(seen, ['second'])
})

test('add() rejects what is not a function; options are checked', () => {
  const tasks = new BackgroundRunner({ logger: quiet }).create()
  assert.throws(() => tasks.add('nope' as unknown as () => void), TypeError)
  assert.equal(new BackgroundRunner({ shutdownTimeout: '2s' }).shutdownTimeoutMs, 2000)
  assert.throws(() => new BackgroundRunner({ shutdownTimeout: 'soon' }), /not a duration/)
})

test('toJsonSafe turns what JSON cannot show into JSON-friendly values', () => {
  const value = {
    big: 10n,
    d: new Date(0),
    bad: new Date(NaN),
    b: Buffer.from('hi'),
    m: new Map<unknown, unknown>([[1, new Set([2n])]]),
    e: new RangeError('x'),
    u: undefined,
    a: [undefined, Infinity],
  }
  assert.deepEqual(toJsonSafe(value), {
    big: '10',
    d: '1970-01-01T00:00:00.000Z',
    bad: null,
    b: 'aGk=',
    m: [[1, ['2']]],
    e: { name: 'RangeError', message: 'x' },
    a: [null, null],
  })
})

test('task ids and prefixes are checked and normalized', () => {
  assert.throws(() => checkTaskId(''), InvalidTaskIdError)
  assert.throws(
    () => checkTaskId('x'.repeat(201)),
    (e: unknown) => e instanceof InvalidTaskIdError && e.code === 'INVALID_TASK_ID',
  )
  checkTaskId('x'.repeat(200))
  checkTaskId('😀'.repeat(200)) // 400 UTF-16 units, 200 characters
  assert.throws(() => checkTaskId('😀'.repeat(201)), /it is 201 characters long/)
  assert.equal(normalizePrefix(), '/tasks')
  assert.equal(normalizePrefix('jobs/'), '/jobs')
  assert.equal(normalizePrefix('/'), '')
})

test('raw path segments become ids as a URL parser would read them', () => {
  assert.equal(rawPath('/tasks/a%2Fb?x=/y'), '/tasks/a%2Fb')
  assert.equal(rawPath('http://h:1/tasks/x#f'), '/tasks/x')
  assert.equal(rawPath('http://h:1'), '/')
  assert.deepEqual(parseIdSegment('a%2Fb'), { kind: 'id', id: 'a/b' })
  assert.deepEqual(parseIdSegment('..'), { kind: 'not-ours' })
  assert.deepEqual(parseIdSegment('%2E%2e'), { kind: 'not-ours' })
  assert.deepEqual(parseIdSegment('', true), { kind: 'not-ours' })
  assert.deepEqual(parseIdSegment('.', true), { kind: 'not-ours' })
  const empty = parseIdSegment('.')
  assert.ok(empty.kind === 'invalid' && /empty/.test(empty.error.message))
  const malformed = parseIdSegment('%E0%A4%A')
  assert.ok(malformed.kind === 'invalid' && /percent-encoding/.test(malformed.error.message))
})

test('drain(ms) outside a shutdown logs its own limit; a shutdown drain logs the shutdown limit', async () => {
  const logs: { obj: Record<string, unknown>; msg?: string }[] = []
  const logger: BackgroundLogger = {
    warn: (obj, msg) => logs.push({ obj: obj as never, msg }),
    error: () => {},
  }
  const runner = new BackgroundRunner({ logger, shutdownTimeout: 80 })
  const tasks = runner.create()
  let release!: () => void
  tasks.add(() => new Promise<void>((r) => (release = r)))
  tasks.start()
  assert.equal(await runner.drain(30), false)
  assert.equal(logs[0]?.obj.timeoutMs, 30)
  assert.equal(runner.shutdown.closing, false, 'drain(ms) is not a shutdown')
  const clock = runner.beginShutdown()
  await new Promise((r) => setTimeout(r, 50))
  assert.equal(await runner.drain(), false)
  assert.equal(logs[1]?.obj.timeoutMs, 80, 'the limit, not the 30 ms that were left')
  assert.ok(Date.now() >= clock.deadline)
  release()
})

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BackgroundRunner, type BackgroundLogger } from './background.js'
import { checkTaskId, InvalidTaskIdError, normalizePrefix, toJsonSafe } from './status.js'

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
  assert.equal(normalizePrefix(), '/tasks')
  assert.equal(normalizePrefix('jobs/'), '/jobs')
  assert.equal(normalizePrefix('/'), '')
})

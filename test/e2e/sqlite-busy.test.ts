/**
 * Another process holding the SQLite write lock must not freeze this one: calls wait for the lock
 * asynchronously, so timers (heartbeats, HTTP) keep running meanwhile.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { SqliteBroker, SqliteResultStore } from '../../src/brokers/sqlite/index.js'
import { ROOT, tempDir } from './helpers.js'

const HOLD_MS = 1200

function holdLock(file: string, ms: number) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'test/e2e/sqlite-lock-holder.ts'), file, String(ms)],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  let out = ''
  const seen = (word: string) =>
    new Promise<number>((resolve, reject) => {
      const check = () => out.includes(word) && resolve(Date.now())
      child.stdout.on('data', (b: Buffer) => ((out += b.toString()), check()))
      child.on('exit', (code) => reject(new Error(`lock holder exited (${code}) before "${word}": ${out}`)))
    })
  return {
    locked: seen('locked'),
    released: seen('released'),
    exited: new Promise((r) => child.on('exit', r)),
  }
}

describe('SQLite: a write lock held by another process', () => {
  const closers: (() => Promise<void>)[] = []
  after(async () => {
    for (const c of closers) await c()
  })

  it('keeps the event loop ticking while publish and set wait for the lock', async () => {
    const file = join(tempDir('celeriac-busy-'), 'queue.db')
    const broker = new SqliteBroker(file)
    const results = new SqliteResultStore(file)
    await broker.connect()
    await results.connect()
    closers.push(
      () => broker.close(),
      () => results.close(),
    )

    const holder = holdLock(file, HOLD_MS)
    await holder.locked
    let last = Date.now()
    let longestGap = 0
    let ticks = 0
    const timer = setInterval(() => {
      const now = Date.now()
      longestGap = Math.max(longestGap, now - last)
      last = now
      ticks++
    }, 5)
    const t0 = Date.now()
    const id = randomUUID()
    await Promise.all([
      broker.publish([{ id, queue: 'busy', body: 'b', priority: 0 }]),
      results.set([
        {
          id,
          state: 'SUCCESS',
          task: 't',
          result: '1',
          error: null,
          retries: 0,
          worker: null,
          startedAt: null,
          doneAt: 1,
          updatedAt: 1,
          expiresAt: null,
          fence: null,
        },
      ]),
    ])
    const done = Date.now()
    clearInterval(timer)
    longestGap = Math.max(longestGap, done - last)
    const released = await holder.released
    await holder.exited

    assert.ok(done >= released - 50, 'the writes waited for the other process to commit')
    assert.ok(done - t0 >= HOLD_MS / 2, `they were locked out for a while (${done - t0} ms)`)
    assert.ok(longestGap < 250, `timers kept running: longest gap ${longestGap} ms over ${done - t0} ms`)
    assert.ok(ticks >= (done - t0) / 50, `${ticks} ticks`)
    const [got] = await broker.reserve(['busy'], 1, { leaseMs: 30_000 })
    assert.equal(got!.id, id)
    assert.equal((await results.get([id]))[0]!.state, 'SUCCESS')
  })
})

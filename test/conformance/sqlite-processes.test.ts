/**
 * Two processes consuming one SQLite file at once, each on its own connection: no job is handed
 * to both while its lease lives.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { describe, it } from 'node:test'
import { SqliteBroker } from '../../src/brokers/sqlite/index.js'

const ROOT = resolve(import.meta.dirname, '../..')

function consumer(file: string, queue: string) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'test/e2e/sqlite-consumer-child.ts'), file, queue],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  )
  let out = ''
  child.stdout.on('data', (b: Buffer) => (out += b.toString()))
  const ready = new Promise<void>((r) => child.stdout.on('data', () => out.includes('ready') && r()))
  const ids = new Promise<string[]>((res, rej) =>
    child.on('exit', (code) => {
      if (code !== 0) return rej(new Error(`consumer exited with ${code}: ${out}`))
      res(JSON.parse(out.trim().split('\n').at(-1)!) as string[])
    }),
  )
  return { ready, ids }
}

describe('SQLite: consumers in separate processes', () => {
  it('never hand the same job to two processes while its lease lives', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'celeriac-procs-')), 'queue.db')
    const queue = `p-${randomUUID().slice(0, 8)}`
    const producer = new SqliteBroker(file)
    await producer.connect()
    const children = [consumer(file, queue), consumer(file, queue)]
    await Promise.all(children.map((c) => c.ready))
    const sent: string[] = []
    // Published while both consume, so they compete for every batch.
    for (let i = 0; i < 40; i++) {
      const batch = Array.from({ length: 25 }, () => ({ id: randomUUID(), queue, body: 'x', priority: 0 }))
      await producer.publish(batch)
      sent.push(...batch.map((j) => j.id))
      await new Promise((r) => setTimeout(r, 5))
    }
    const [a, b] = await Promise.all(children.map((c) => c.ids))
    const all = [...a!, ...b!]
    assert.equal(new Set(all).size, all.length, 'no job delivered twice')
    assert.deepEqual(new Set(all), new Set(sent), 'every job delivered')
    assert.ok(a!.length > 0 && b!.length > 0, `both processes took work (${a!.length} and ${b!.length})`)
    const [s] = await producer.stats([queue])
    assert.deepEqual([s!.waiting, s!.active], [0, 0])
    await producer.close()
  })
})

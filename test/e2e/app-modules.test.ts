/**
 * `-A` loads app modules the way users write them: TypeScript in a CommonJS package (no
 * "type": "module"), TypeScript in an ESM package, plain JavaScript, and `file:export`.
 */
import assert from 'node:assert/strict'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { createApp, type App } from 'celeriac'
import { ROOT, run, tempDir, type Proc } from './helpers.js'

function project(type: 'commonjs' | 'module'): string {
  const dir = tempDir('celeriac-project-')
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'user-project', private: true, type }))
  mkdirSync(join(dir, 'node_modules'))
  symlinkSync(ROOT, join(dir, 'node_modules', 'celeriac'))
  return dir
}

const TASKS = `import { createApp } from 'celeriac'
import { double } from './helper'
export const jobs = createApp({ name: 'user' })
export const twice = jobs.task('twice', (_ctx, n: number): number => double(n))
`

describe('app modules given with -A', () => {
  const procs: Proc[] = []
  const apps: App[] = []
  after(async () => {
    for (const p of procs) p.kill('SIGKILL')
    for (const a of apps) await a.close()
  })

  for (const [label, type, file, helper, spec] of [
    ['TypeScript in a CommonJS package', 'commonjs', 'tasks.ts', 'helper.ts', 'tasks.ts'],
    ['TypeScript in an ESM package, named export', 'module', 'tasks.ts', 'helper.ts', 'tasks.ts:jobs'],
    ['JavaScript in an ESM package', 'module', 'tasks.js', 'helper.js', 'tasks.js'],
  ] as const) {
    it(label, async () => {
      const dir = project(type)
      const js = file.endsWith('.js')
      writeFileSync(
        join(dir, file),
        js ? TASKS.replace(': number): number', ')').replace("'./helper'", "'./helper.js'") : TASKS,
      )
      writeFileSync(
        join(dir, helper),
        js ? 'export const double = (n) => n * 2\n' : 'export const double = (n: number): number => n * 2\n',
      )
      const db = join(dir, 'queue.db')
      const w = run(['-A', join(dir, spec), 'worker', '--no-banner'], { CELERIAC_BROKER: `sqlite://${db}` })
      procs.push(w)
      await w.waitFor(/ready/)
      const app = createApp({ broker: `sqlite://${db}` })
      apps.push(app)
      const r = await app.sendTask<number>('twice', [21])
      assert.equal(await r.get({ timeout: 10_000 }), 42)
      w.kill('SIGTERM')
      assert.equal(await w.exited(), 0)
    })
  }

  it('names what is missing when the module exports no app', async () => {
    const dir = project('module')
    writeFileSync(join(dir, 'empty.ts'), 'export const nothing = 1\n')
    const w = run(['-A', join(dir, 'empty.ts'), 'worker'])
    assert.equal(await w.exited(), 1)
    assert.match(w.output(), /exports no celeriac app; export one as "app"/)
  })
})

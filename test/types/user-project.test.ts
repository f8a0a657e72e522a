/**
 * The README's tsconfig for a user's project compiles a tasks module and a producer laid out as
 * a user writes them, importing `celeriac` by name (the built package), and rejects wrong
 * arguments (each @ts-expect-error must be an error).
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'

const ROOT = join(import.meta.dirname, '../..')
const DIR = join(ROOT, 'test/types/user-project')

describe('type-checking a user project', () => {
  it('uses the tsconfig the README gives', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    const block = /### Type-checking your tasks[\s\S]*?```json\n([\s\S]*?)```/.exec(readme)
    assert.ok(block, 'the README shows a tsconfig.json')
    assert.deepEqual(JSON.parse(block[1]!), JSON.parse(readFileSync(join(DIR, 'tsconfig.json'), 'utf8')))
  })

  it('compiles with tsc --noEmit', () => {
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc')
    const r = spawnSync(process.execPath, [tsc, '--noEmit', '-p', DIR], { encoding: 'utf8' })
    assert.equal(r.status, 0, r.stdout + r.stderr)
  })
})

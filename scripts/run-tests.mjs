#!/usr/bin/env node
// Collects the test files (units beside the code, conformance and e2e under test/) and runs them
// with Node's own test runner, TypeScript loaded through tsx. Extra arguments filter by path.
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue
    const p = join(dir, name)
    if (statSync(p).isDirectory()) walk(p, out)
    else if (name.endsWith('.test.ts')) out.push(p)
  }
  return out
}

const filters = process.argv.slice(2)
const files = [...walk('src'), ...walk('test')]
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort()
if (files.length === 0) {
  console.error('no test files matched', filters)
  process.exit(1)
}
const concurrency = process.env.TEST_CONCURRENCY ?? '1'
// A test that fails before it closes its servers would otherwise keep the run open for ever.
const r = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-timeout=180000',
    '--test-reporter=spec',
    ...files,
  ],
  { stdio: 'inherit' },
)
process.exit(r.status ?? 1)

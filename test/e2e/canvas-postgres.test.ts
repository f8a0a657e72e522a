/** Workflows and durable steps on PostgreSQL, worker processes SIGKILLed mid-run. */
import { after, describe } from 'node:test'
import type { Proc } from './helpers.js'
import { postgresTestSchema, postgresUrl } from '../conformance/postgres-env.js'
import { canvasScenarios } from './canvas-scenarios.js'

describe('workflows and durable steps on PostgreSQL (real worker processes)', () => {
  // Registered first, so the workers are gone before the schema is dropped.
  let procs: Proc[] = []
  after(() => {
    for (const p of procs) p.kill('SIGKILL')
  })
  const setup = canvasScenarios(postgresUrl(postgresTestSchema(), 4))
  procs = setup.procs
  after(() => setup.app.close())
})

/** Workflows and durable steps on Redis, worker processes SIGKILLed mid-run. */
import { after, describe } from 'node:test'
import { canvasScenarios } from './canvas-scenarios.js'
import { deletePrefix, REDIS_BASE, withPrefix } from './redis-helpers.js'

describe('workflows and durable steps on Redis (real worker processes)', () => {
  const { url, prefix } = withPrefix(REDIS_BASE, 'canvas')
  const { app, procs } = canvasScenarios(url)
  after(async () => {
    for (const p of procs) p.kill('SIGKILL')
    await app.close()
    await deletePrefix(REDIS_BASE, prefix)
  })
})

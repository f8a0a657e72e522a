/** Workflows and durable steps on SQLite, worker processes SIGKILLed mid-run. */
import { join } from 'node:path'
import { after, describe } from 'node:test'
import { canvasScenarios } from './canvas-scenarios.js'
import { tempDir } from './helpers.js'

describe('workflows and durable steps on SQLite (real worker processes)', () => {
  const { app, procs } = canvasScenarios(`sqlite://${join(tempDir(), 'canvas.db')}`)
  after(async () => {
    for (const p of procs) p.kill('SIGKILL')
    await app.close()
  })
})

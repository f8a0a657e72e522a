/**
 * Workflows and durable steps on RabbitMQ with a Redis result backend (which is also the
 * coordination part), worker processes SIGKILLed mid-run. RabbitMQ has no idempotent publish:
 * a step or a chord body sent twice is stored twice, and the workers' run claims (src/dedup)
 * let one copy run.
 */
import { after, describe } from 'node:test'
import { amqpUrls } from '../conformance/amqp-env.js'
import { canvasScenarios } from './canvas-scenarios.js'
import { deletePrefix, REDIS_BASE, withPrefix } from './redis-helpers.js'

describe('workflows and durable steps on RabbitMQ + Redis results (real worker processes)', () => {
  const amqp = amqpUrls()
  const { url: resultUrl, prefix } = withPrefix(REDIS_BASE, 'canvas-amqp')
  const { app, procs } = canvasScenarios(amqp.url(), resultUrl)
  after(async () => {
    for (const p of procs) p.kill('SIGKILL')
    await Promise.all(procs.map((p) => p.exited()))
    await app.close()
    await amqp.cleanup(['default'])
    await deletePrefix(REDIS_BASE, prefix)
  })
})

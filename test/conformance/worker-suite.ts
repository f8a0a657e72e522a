/**
 * The worker conformance suite: the real in-process Worker and App on every broker, each test on
 * a URL of its own.
 *   workerConformance({ name: 'sqlite', url: () => 'sqlite:///tmp/…' })
 * Apps on the same URL are separate connections to one engine (separate processes would be no
 * different to the engine). The parts live in worker/.
 */
import { describe } from 'node:test'
import { lostReplyTests } from './worker/lost-replies.js'
import { runningTests } from './worker/running.js'
import { sharingTests } from './worker/sharing.js'
import type { WorkerTarget } from './worker/harness.js'

export type { WorkerTarget } from './worker/harness.js'

export function workerConformance(target: WorkerTarget): void {
  describe(`worker conformance: ${target.name}`, () => {
    describe('running tasks', () => runningTests(target))
    describe('several workers, faults and shutdown', () => sharingTests(target))
    describe('replies lost after a call applied', () => lostReplyTests(target))
  })
}

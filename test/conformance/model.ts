/**
 * The randomized model test: the memory broker is the reference, and an engine under test must
 * answer every operation of a random sequence as it does. Sequences come from a seeded PRNG;
 * a failure prints the seed and the operations that led to it. Replay one with
 *   MODEL_SEED=<seed> MODEL_SEQUENCES=1 node scripts/run-tests.mjs model-<engine>
 * and run the long mode with MODEL_LONG=1 (or MODEL_SEQUENCES / MODEL_STEPS).
 *
 * What is compared is what a caller can observe: per-entry booleans, the deliveries (ids,
 * bodies, priorities, delivery counts, in order), counts returned, dead letters and stats. One
 * queue (so cross-queue order plays no part), leases far longer than a sequence (no expiry
 * races), and no reserve or stats while a delayed job is about to come due.
 */
import { it } from 'node:test'
import { MemoryBroker } from '../../src/brokers/memory/index.js'
import type { PullBroker } from '../../src/contracts/broker.js'
import { Prng } from '../support/prng.js'
import { operations, type Sequence, type Step } from './model-ops.js'

export interface ModelTarget {
  readonly name: string
  /** A fresh, empty, connected engine; `close` disconnects and deletes it. */
  open(): Promise<{ broker: PullBroker; close(): Promise<void> }>
  /** Set while the engine is known to disagree: the test then runs as `todo`, with this reason. */
  readonly known?: string
}

const env = (name: string) => (process.env[name] ? Number(process.env[name]) : undefined)

export function modelTest(target: ModelTarget): void {
  const long = process.env.MODEL_LONG === '1'
  const sequences = env('MODEL_SEQUENCES') ?? (long ? 3000 : 200)
  const steps = env('MODEL_STEPS') ?? (long ? 80 : 25)
  const seed = env('MODEL_SEED') ?? Math.floor(Math.random() * 2 ** 31)
  const title = `${target.name} answers as the memory broker on ${sequences} random sequences of ${steps} steps (seed ${seed})`
  it(title, target.known ? { todo: target.known } : {}, async () => {
    for (let i = 0; i < sequences; i++) await runSequence(target, seed + i, steps)
  })
}

async function runSequence(target: ModelTarget, seed: number, steps: number): Promise<void> {
  const engine = await target.open()
  const s: Sequence = {
    rng: new Prng(seed),
    queue: `mq-${seed}`,
    ref: new MemoryBroker(),
    eng: engine.broker,
    handles: [],
    due: [],
    fences: new Map(),
    trace: [],
  }
  try {
    for (let i = 0; i < steps; i++) {
      const step = pickStep(s.rng)
      await step(s)
    }
    await operations.finish(s)
  } catch (err) {
    const trace = s.trace.slice(-60).join('\n  ')
    throw new Error(
      `model disagreement, seed ${seed} (replay: MODEL_SEED=${seed} MODEL_SEQUENCES=1):\n  ${trace}\n${(err as Error).message}`,
      { cause: err },
    )
  } finally {
    await engine.close()
  }
}

const WEIGHTS: [keyof typeof operations, number][] = [
  ['publish', 20],
  ['reserve', 20],
  ['ack', 12],
  ['extend', 5],
  ['release', 8],
  ['retry', 10],
  ['deadLetter', 8],
  ['replayDead', 6],
  ['purge', 2],
  ['pruneDead', 3],
  ['stats', 4],
]
const TOTAL = WEIGHTS.reduce((n, [, w]) => n + w, 0)

function pickStep(rng: Prng): Step {
  let r = rng.int(0, TOTAL - 1)
  for (const [name, w] of WEIGHTS) {
    if (r < w) return operations[name]
    r -= w
  }
  throw new Error('unreachable')
}

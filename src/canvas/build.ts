/**
 * Wire forms of workflows, built by producers: ids for every task, groups inside chains, chains
 * inside groups, and long chains cut into segments. A message carries its chain's next steps
 * (up to `INLINE_STEPS`); the others are stored once, in segments of that size, as coordination
 * records that the worker running the last inline step reads. A step then costs the same
 * whatever the chain's length, where carrying the whole rest in every message made a chain of n
 * steps cost O(n²) to encode, decode and store.
 */
import type { RecordWrite } from '../contracts/coordination.js'
import { isGroupStep, memberId, type MemberWire, type StepWire } from '../core/flow.js'
import { encode } from '../core/codec.js'
import { ConfigError } from '../core/errors.js'
import type { AnySignature } from '../core/signature.js'
import { segmentKey } from './keys.js'

/** Steps a message carries before the rest of its chain is stored. */
export const INLINE_STEPS = 16

/** What a group's member or a chain's step can be, as builders see them. */
export interface ChainLike {
  readonly steps: readonly Part[]
}
export interface GroupLike {
  readonly members: readonly Part[]
}
type Part = AnySignature | ChainLike | GroupLike

export function isGroupLike(x: unknown): x is GroupLike {
  return typeof x === 'object' && x !== null && Array.isArray((x as GroupLike).members)
}

export function isChainLike(x: unknown): x is ChainLike {
  return typeof x === 'object' && x !== null && Array.isArray((x as ChainLike).steps)
}

/** Collects the segments of the chains it builds; the producer stores them before sending. */
export class Packer {
  readonly segments: RecordWrite[] = []

  constructor(
    /** Steps per message and per segment; Infinity keeps whole chains in messages (Celery's wire). */
    private readonly inline: number,
    private readonly ttlMs: number | null,
  ) {}

  /** A chain's steps under the result id `chainId`: step k is `<chainId>.k`, the last `chainId`. */
  chain(steps: readonly Part[], chainId: string): MemberWire {
    checkChain(steps)
    const n = steps.length
    const wires = steps.map((s, k) => this.step(s, k === n - 1 ? chainId : `${chainId}.${k}`))
    return this.pack(wires, chainId)
  }

  /** A group member: a signature, or a chain whose result id is the member's id. */
  member(m: Part, id: string): MemberWire {
    if (isGroupLike(m))
      throw new ConfigError('a group cannot be a member of a group: list its members in the outer group')
    if (!isChainLike(m)) return { steps: [m.toWire(id)] }
    if (isGroupLike(m.steps[0]))
      throw new ConfigError('a chain inside a group must start with a task, not a group')
    return this.chain(m.steps, id)
  }

  private step(s: Part, id: string): StepWire {
    if (isChainLike(s))
      throw new ConfigError('a chain cannot be a step of a chain: list its steps in the outer chain')
    if (!isGroupLike(s)) return s.toWire(id)
    if (!s.members.length) throw new ConfigError('a group inside a chain needs at least one member')
    return { id, group: s.members.map((m, i) => this.member(m, memberId(id, i))) }
  }

  /** The first `inline` steps, and the others stored in linked segments. */
  private pack(steps: StepWire[], chainId: string): MemberWire {
    const chunks: StepWire[][] = []
    for (let i = 0; i < steps.length;) {
      let end = Math.min(i + this.inline, steps.length)
      // A group and the step that receives its results stay together.
      if (isGroupStep(steps[end - 1]!) && end < steps.length) end++
      chunks.push(steps.slice(i, end))
      i = end
    }
    for (let j = 1; j < chunks.length; j++) {
      const value = encode({
        steps: chunks[j],
        ...(j + 1 < chunks.length ? { rest: segmentKey(chainId, j + 1) } : {}),
      })
      this.segments.push({ key: segmentKey(chainId, j), value, ttlMs: this.ttlMs })
    }
    return chunks.length > 1 ? { steps: chunks[0]!, rest: segmentKey(chainId, 1) } : { steps: chunks[0]! }
  }
}

function checkChain(steps: readonly Part[]): void {
  steps.forEach((s, k) => {
    if (!isGroupLike(s)) return
    const next = steps[k + 1]
    if (next === undefined)
      throw new ConfigError(
        'a chain cannot end with a group: add a task after it to receive the list of its results (or use chord())',
      )
    if (isGroupLike(next))
      throw new ConfigError('a group in a chain must be followed by a task, not by another group')
  })
}

/**
 * The worker's side of workflows. After a task's result is written and before its delivery is
 * acknowledged, the Settler hands the batch's follow-ups here: the next chain step, `link` and
 * `linkError` callbacks, a chord member's join and, for the member that completes the join, the
 * chord's body. Every write is idempotent (publish by a chosen id, set-based joins, result
 * upserts), so a worker killed at any point leaves a redelivery that does the same again.
 *
 * A message a workflow sent (`once`) whose id already has a finished result is not run again:
 * its follow-ups are done again from the stored result, in case the run that finished died
 * before doing them.
 */
import type { OutgoingJob } from '../contracts/broker.js'
import type { Coordination } from '../contracts/coordination.js'
import type { ResultRecord, ResultStore } from '../contracts/result-store.js'
import type { App } from '../core/app.js'
import { decode, encode } from '../core/codec.js'
import { WorkflowFailedError } from '../core/errors.js'
import {
  decodeSegment,
  isGroupStep,
  memberId,
  type ChainSegment,
  type ChordWire,
  type StepWire,
  type TaskFailure,
} from '../core/flow.js'
import type { Message } from '../core/message.js'
import { decodeError } from '../core/result.js'
import { isReady } from '../core/states.js'
import { continueWith, toJob, type Continuation, type Send } from './publish.js'
import { chainOfSegment, chordFailedKey, chordJoinKey, SEGMENTS } from './keys.js'

/** What a finished task leaves for the workflow, carried on its outcome to the Settler. */
export type FollowUp =
  | { readonly kind: 'success'; readonly msg: Message; readonly value: unknown }
  | { readonly kind: 'failure'; readonly msg: Message; readonly error: TaskFailure['error'] }

export interface FlowLog {
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export interface FlowDeps {
  readonly app: App
  /** The result store (null: results are off, and workflows cannot run). */
  readonly store: ResultStore | null
  readonly worker: string
  readonly log: FlowLog
}

export function errorInfo(err: unknown): TaskFailure['error'] {
  return err instanceof Error
    ? { name: err.name, message: err.message }
    : { name: 'Error', message: String(err) }
}

export class FlowRuntime {
  /** Ids asked for in the same tick (the deliveries of one reserve), read in one call. */
  private reads: { ids: string[]; done: Promise<(ResultRecord | null)[]> } | null = null

  constructor(private readonly deps: FlowDeps) {}

  private async read(id: string): Promise<ResultRecord | null> {
    let batch = this.reads
    if (!batch) {
      const ids: string[] = []
      const store = this.deps.store!
      batch = this.reads = {
        ids,
        done: Promise.resolve().then(() => {
          this.reads = null
          return store.get(ids)
        }),
      }
    }
    const i = batch.ids.push(id) - 1
    return (await batch.done)[i] ?? null
  }

  /**
   * For a message a workflow sent: the follow-up of an earlier run that finished, or null when
   * it must run. One read, only for such messages.
   */
  async finished(msg: Message): Promise<FollowUp | null> {
    if (!msg.once || !this.deps.store) return null
    const rec = await this.read(msg.id)
    if (!rec || !isReady(rec.state)) return null
    if (rec.state === 'SUCCESS')
      return { kind: 'success', msg, value: rec.result === null ? null : decode(rec.result) }
    return { kind: 'failure', msg, error: errorInfo(decodeError(rec.error, rec.state)) }
  }

  /**
   * Carries out the follow-ups of one batch of outcomes, while the batch's results are being
   * written (`written`): sends that need no result read go out alongside the write; a chord join
   * waits for it, since the member that completes the join reads every member's result. Throws
   * to have the batch tried again.
   */
  async run(items: readonly FollowUp[], written: Promise<void> = Promise.resolve()): Promise<void> {
    // Without a result store or a coordination part no follow-up can be done; trying again would
    // hold the batch for ever. The producer refuses such workflows; this is a worker set up
    // otherwise than its producers.
    if (!this.deps.store || !(await this.deps.app.coordination())) {
      this.deps.log.error(
        { ids: items.map((f) => f.msg.id).slice(0, 10) },
        'workflow steps not carried on: this worker has no result backend or no coordination part',
      )
      return
    }
    const sends: Send[] = []
    const records: ResultRecord[] = []
    const joins = new Map<string, { chord: ChordWire; rootId: string; ids: Set<string> }>()
    // Chains whose inline steps ran out: their next segments, read in one call for the batch.
    const segments = await this.segments(
      items.flatMap((f) => (f.kind === 'success' && !f.msg.chain && f.msg.rest ? [f.msg.rest] : [])),
    )
    for (const f of items) {
      const { msg } = f
      const base = { rootId: msg.root_id ?? msg.id, parentId: msg.id }
      if (f.kind === 'success') {
        const input = [f.value] as const
        for (const cb of msg.callbacks ?? []) sends.push({ wire: cb, input, ...base, flow: { once: true } })
        let next: Continuation = { steps: msg.chain ?? [], rest: msg.rest, chord: msg.chord }
        if (!msg.chain && msg.rest) {
          const seg = segments.get(msg.rest)
          if (!seg) {
            records.push(...this.lostSegment(msg.rest))
            continue
          }
          next = { steps: seg.steps, rest: seg.rest, chord: msg.chord }
        }
        if (next.steps.length) continueWith(next, input, base, sends)
        else if (msg.chord) {
          const j = joins.get(msg.chord.id) ?? { chord: msg.chord, rootId: base.rootId, ids: new Set() }
          j.ids.add(msg.id)
          joins.set(msg.chord.id, j)
        }
      } else {
        const failure: TaskFailure = { id: msg.id, task: msg.task, error: f.error }
        for (const eb of msg.errbacks ?? [])
          sends.push({
            wire: eb,
            input: [eb.failureAs === 'id' ? msg.id : failure],
            ...base,
            flow: { once: true },
          })
        const why = new WorkflowFailedError(
          `not run: an earlier step of the chain, ${msg.task} (${msg.id}), failed: ${f.error.name}: ${f.error.message}`,
          msg.id,
          msg.task,
        )
        await this.failSteps(msg.chain ?? [], msg.rest, why, records)
        if (msg.chord) await this.chordFailed(msg, msg.chord, failure, base.rootId, sends, records)
      }
    }
    if (joins.size) await written
    for (const j of joins.values()) await this.joined(j.chord, [...j.ids], j.rootId, sends)
    if (records.length && this.deps.store) await this.deps.store.set(records)
    await this.publish(sends)
  }

  /** Stored chain segments by key; a key with no segment (lapsed) is absent. */
  private async segments(keys: string[]): Promise<Map<string, ChainSegment>> {
    const found = new Map<string, ChainSegment>()
    if (!keys.length) return found
    const unique = [...new Set(keys)]
    const values = await (await this.coordination()).get(SEGMENTS, unique)
    unique.forEach((k, i) => {
      const v = values[i]
      if (v === null || v === undefined) return
      try {
        found.set(k, decodeSegment(decode(v)))
      } catch (err) {
        this.deps.log.error({ key: k, err: (err as Error).message }, 'stored chain segment is malformed')
      }
    })
    return found
  }

  /** The chain's result fails when the rest of it cannot be read (lapsed or malformed). */
  private lostSegment(key: string): ResultRecord[] {
    const chainId = chainOfSegment(key)
    this.deps.log.error({ key, chain: chainId }, 'the rest of a chain is not stored any more')
    return [
      this.failedRecord(
        chainId,
        null,
        new WorkflowFailedError(
          `chain ${chainId} failed: the rest of its steps (${key}) is not stored any more (kept for resultExpires)`,
          chainId,
          '',
        ),
      ),
    ]
  }

  /** FAILURE for every task of these steps and of the stored segments after them. */
  private async failSteps(
    steps: readonly StepWire[],
    rest: string | undefined,
    why: Error,
    records: ResultRecord[],
  ): Promise<void> {
    for (const step of steps) {
      if (!isGroupStep(step)) records.push(this.failedRecord(step.id, step.task, why))
      else for (const m of step.group) await this.failSteps(m.steps, m.rest, why, records)
    }
    if (rest === undefined) return
    const seg = (await this.segments([rest])).get(rest)
    if (seg) await this.failSteps(seg.steps, seg.rest, why, records)
    else records.push(this.failedRecord(chainOfSegment(rest), null, why))
  }

  private keepMs(task: string): number {
    return this.deps.app.getTask(task)?.settings.resultExpiresMs ?? this.deps.app.resultExpiresMs
  }

  /** How long a FAILURE record is kept: failureResultExpires when set (task's, then app's). */
  private failureKeepMs(task: string | null): number {
    const settings = task === null ? undefined : this.deps.app.getTask(task)?.settings
    const keep = settings?.resultExpiresMs ?? this.deps.app.resultExpiresMs
    return settings?.failureResultExpiresMs ?? this.deps.app.failureResultExpiresMs ?? keep
  }

  private failedRecord(id: string, task: string | null, error: Error): ResultRecord {
    const now = Date.now()
    const keep = this.failureKeepMs(task)
    return {
      id,
      state: 'FAILURE',
      task,
      result: null,
      error: encode(error),
      retries: 0,
      worker: this.deps.worker,
      startedAt: null,
      doneAt: now,
      updatedAt: now,
      expiresAt: keep > 0 ? now + keep : null,
      fence: null,
    }
  }

  private async coordination(): Promise<Coordination> {
    const c = await this.deps.app.coordination()
    if (!c) throw new Error('chords need a coordination part (sqlite, redis, postgres or memory)')
    return c
  }

  /**
   * Members joined: when every member has, and every member's result is SUCCESS, the body is
   * sent with the results in member order. A member whose result is not written yet (a run that
   * took over from one whose lease lapsed) sends it itself when it finishes.
   */
  private async joined(chord: ChordWire, ids: string[], rootId: string, sends: Send[]): Promise<void> {
    const { size } = await (
      await this.coordination()
    ).join(chordJoinKey(chord.id), ids, this.keepMs(chord.body.task))
    if (size < chord.size) return
    const memberIds = Array.from({ length: chord.size }, (_, i) => memberId(chord.id, i))
    const recs = await this.deps.store!.get(memberIds)
    if (!recs.every((r) => r?.state === 'SUCCESS')) return
    const results = recs.map((r) => (r!.result === null ? null : decode(r!.result)))
    sends.push({
      wire: chord.body,
      input: [results],
      rootId,
      parentId: chord.id,
      flow: {
        once: true,
        ...(chord.chain ? { chain: [...chord.chain] } : {}),
        ...(chord.rest !== undefined ? { rest: chord.rest } : {}),
        ...(chord.chord ? { chord: chord.chord } : {}),
      },
    })
  }

  /**
   * A member failed for good: the first member to claim the chord's failure (a lock that its own
   * redelivery claims again) records FAILURE as the body's result and for the steps after it,
   * sends the chord's errbacks, and fails the chord this one is part of, if any.
   */
  private async chordFailed(
    msg: Message,
    chord: ChordWire,
    failure: TaskFailure,
    rootId: string,
    sends: Send[],
    records: ResultRecord[],
  ): Promise<void> {
    const lock = await (
      await this.coordination()
    ).acquire(chordFailedKey(chord.id), msg.id, Math.max(this.keepMs(chord.body.task), 60_000))
    if (!lock) return
    // A member's own id, or a step of a member's chain: `<chord>.<i>[.<k>…]`.
    const index = msg.id.startsWith(`${chord.id}.`) ? msg.id.slice(chord.id.length + 1).split('.')[0] : '?'
    const why = new WorkflowFailedError(
      `chord ${chord.id} failed: member ${index}, ${msg.task} (${msg.id}), failed: ${failure.error.name}: ${failure.error.message}`,
      msg.id,
      msg.task,
    )
    records.push(this.failedRecord(chord.body.id, chord.body.task, why))
    await this.failSteps(chord.chain ?? [], chord.rest, why, records)
    for (const eb of chord.errbacks ?? [])
      sends.push({ wire: eb, input: [failure], rootId, parentId: chord.id, flow: { once: true } })
    if (chord.chord) await this.chordFailed(msg, chord.chord, failure, rootId, sends, records)
  }

  private async publish(sends: Send[]): Promise<void> {
    if (!sends.length) return
    const jobs = new Map<string, OutgoingJob>()
    const refused: ResultRecord[] = []
    const now = Date.now()
    for (const s of sends) {
      if (jobs.has(s.wire.id)) continue
      try {
        jobs.set(s.wire.id, toJob(this.deps.app, s, now))
      } catch (err) {
        // A step that cannot be sent (too large, not encodable) fails; sending again cannot help.
        this.deps.log.error(
          { id: s.wire.id, task: s.wire.task, err: (err as Error).message },
          'workflow step not sent',
        )
        refused.push(this.failedRecord(s.wire.id, s.wire.task, err as Error))
      }
    }
    if (refused.length && this.deps.store) await this.deps.store.set(refused)
    if (jobs.size) await (await this.deps.app.broker()).publish([...jobs.values()])
  }
}

/** The follow-up of a concluded run: success with its value, or a final failure. */
export function followUpOf(msg: Message, ok: boolean, valueOrError: unknown): FollowUp {
  return ok
    ? { kind: 'success', msg, value: valueOrError }
    : { kind: 'failure', msg, error: errorInfo(valueOrError) }
}

/**
 * Task progress as data: what `ctx.progress(value)` accepts, how it is stored, and the broadcast
 * that tells followers to look again.
 *
 * A progress value is a number or a small JSON object (an array counts), encoded with the codec
 * (so a Date or a Map inside comes back as one) and at most `MAX_PROGRESS_BYTES` once encoded.
 * It is stored in the result store as the `result` of a record that is not ready (STARTED),
 * written with the delivery's fence like every result write: a stale delivery cannot overwrite
 * what a later one wrote, and a late progress write never hides a finished task's result.
 */
import { decode, encode } from './codec.js'
import { CeleriacError } from './errors.js'
import { isReady } from './states.js'
import type { ResultRecord } from '../contracts/result-store.js'

/** Largest encoded progress value, in bytes. */
export const MAX_PROGRESS_BYTES = 4096

/** The coordination channel on which a task's progress writes are announced. */
export function progressChannel(id: string): string {
  return `progress:${id}`
}

/**
 * A value `ctx.progress()` cannot take: not a finite number or an object, one the codec cannot
 * write, or larger than MAX_PROGRESS_BYTES once encoded.
 *
 * @example
 * try { ctx.progress(() => 1) } catch (e) { if (e instanceof InvalidProgressError) … }
 */
export class InvalidProgressError extends CeleriacError {
  override readonly code = 'INVALID_PROGRESS'
  constructor(reason: string, options?: { cause?: unknown }) {
    super(
      `invalid progress: ${reason}; pass a number (such as 0.42) or a small JSON object (such as { done: 3, total: 10 }) of at most ${MAX_PROGRESS_BYTES} bytes encoded`,
      options,
    )
  }
}

/** Checks and encodes a progress value. Throws InvalidProgressError. */
export function encodeProgress(value: unknown): string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new InvalidProgressError(`${value} is not a finite number`)
  } else if (value === null || typeof value !== 'object') {
    throw new InvalidProgressError(`got ${value === null ? 'null' : typeof value}`)
  }
  let text: string
  try {
    text = encode(value)
  } catch (cause) {
    throw new InvalidProgressError((cause as Error).message, { cause })
  }
  if (text.length > MAX_PROGRESS_BYTES || Buffer.byteLength(text) > MAX_PROGRESS_BYTES)
    throw new InvalidProgressError(`it is ${Buffer.byteLength(text)} bytes encoded`)
  return text
}

/** The progress a stored record holds: that of a task still running, else null. */
export function progressOf<P = unknown>(record: ResultRecord | null): P | null {
  if (!record || isReady(record.state) || record.result === null) return null
  return decode<P>(record.result)
}

/** What is broadcast after a progress write: which task, and the fence of the delivery that wrote. */
export interface ProgressNotice {
  readonly id: string
  readonly fence: number | null
}

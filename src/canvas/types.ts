/**
 * Compile-time checks of workflows: each chain step must take the result of the step before it,
 * the first step and group members must be complete, a chord's body must take the list of its
 * members' results. A step that does not fit is shown as `TakesResult<X>` in the error.
 */
import type { AnySignature, InputOf, SignatureResult, TakesResult } from '../core/signature.js'

/** Shown in a compile error: a signature with all its arguments was expected. */
export interface CompleteSignature {
  readonly 'expected a signature with all its arguments': true
}

/** The steps of a chain, each replaced by what was expected where it does not fit. */
export type ChainCheck<S, Prev extends unknown[] = []> = S extends readonly [infer H, ...infer T]
  ? [
      Prev extends InputOf<H> ? H : Prev extends [] ? CompleteSignature : TakesResult<Prev[0]>,
      ...ChainCheck<T, [SignatureResult<H>]>,
    ]
  : []

/** The result of a chain: its last step's. */
export type ChainResultOf<S> = S extends readonly [...unknown[], infer L] ? SignatureResult<L> : never

/** The results of a group's members, as a tuple for a tuple of members. */
export type GroupResults<S> = { -readonly [K in keyof S]: SignatureResult<S[K]> }

export type { AnySignature }

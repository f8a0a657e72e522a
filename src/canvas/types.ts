/**
 * Compile-time checks of workflows: each chain step must take the result of the step before it,
 * the first step and group members must be complete, a chord's body must take the list of its
 * members' results. A step that does not fit is shown as `TakesResult<X>` in the error.
 */
import type { AnySignature, InputOf, Signature, SignatureResult, TakesResult } from '../core/signature.js'
import type { Chain, Group } from './workflows.js'

/** What a chain's step may be: a signature or a group. */
export type StepSig = Signature<unknown, never> | Group<unknown[], unknown>

/** Shown in a compile error: a group in a chain needs a task after it. */
export interface TaskAfterGroup {
  readonly 'a group in a chain must be followed by a task': true
}

/** Shown in a compile error: `apply()` or `chord()` on a group whose members take an input. */
export interface CompleteMembers {
  readonly 'expected a group whose members have all their arguments': true
}

/**
 * What a group member takes from a step before it: `[]` for a complete signature or a chain,
 * `[X]` for a signature that takes a result; nothing (never) for one that takes anything (si).
 */
type MemberIn<M> =
  M extends Chain<unknown>
    ? []
    : M extends Signature<unknown, infer I>
      ? [number] extends I
        ? [] extends I
          ? never
          : I
        : I
      : never

/** The inputs a group's members take, as a union (one member each). */
export type GroupIn<M> = M extends unknown ? MemberIn<M> : never

/** Whether every input in the union `Ins` accepts `Prev`. */
type Accepts<Prev, Ins> = [Ins extends unknown ? (Prev extends Ins ? never : Ins) : never] extends [never]
  ? true
  : false

type StepIns<H> = H extends Group<unknown[], infer I> ? I : InputOf<H>

/** What a step gives the next one. */
type StepResult<H> = H extends Group<infer T, unknown> ? T : SignatureResult<H>

/** A member's result: a signature's, or a chain's last step's. */
type MemberResult<M> = M extends Chain<infer R> ? R : SignatureResult<M>

/** A group step needs a task after it. */
type GroupFollowed<H, T> =
  H extends Group<unknown[], unknown>
    ? T extends readonly [infer N, ...unknown[]]
      ? N extends Group<unknown[], unknown>
        ? TaskAfterGroup
        : H
      : TaskAfterGroup
    : H

/** Shown in a compile error: a signature with all its arguments was expected. */
export interface CompleteSignature {
  readonly 'expected a signature with all its arguments': true
}

/** The steps of a chain, each replaced by what was expected where it does not fit. */
export type ChainCheck<S, Prev extends unknown[] = []> = S extends readonly [infer H, ...infer T]
  ? [
      Accepts<Prev, StepIns<H>> extends true
        ? GroupFollowed<H, T>
        : Prev extends []
          ? CompleteSignature
          : TakesResult<Prev[0]>,
      ...ChainCheck<T, [StepResult<H>]>,
    ]
  : []

/** The result of a chain: its last step's. */
export type ChainResultOf<S> = S extends readonly [...unknown[], infer L] ? SignatureResult<L> : never

/** The results of a group's members, as a tuple for a tuple of members. */
export type GroupResults<S> = { -readonly [K in keyof S]: MemberResult<S[K]> }

export type { AnySignature }

/**
 * Compile-time tests of workflows: `npm run typecheck` fails when a chain accepts a step that
 * does not take the previous result, or when result types stop flowing. Each @ts-expect-error
 * must be an error.
 */
import {
  chain,
  chord,
  createApp,
  group,
  type FlowResult,
  type GroupResult,
  type TaskFailure,
} from '../../src/index.js'

const app = createApp({ broker: 'memory://canvas-types' })
const add = app.task('add', (_ctx, a: number, b: number) => a + b)
const mul = app.task('mul', (_ctx, a: number, b: number) => a * b)
const shout = app.task('shout', (_ctx, s: string) => s.toUpperCase())
const len = app.task('len', (_ctx, s: string) => s.length)
const sum = app.task('sum', (_ctx, xs: number[]) => xs.reduce((a, b) => a + b, 0))
const pair = app.task('pair', (_ctx, xs: [number, string]) => `${xs[0]}${xs[1]}`)
const report = app.task('report', (_ctx, f: TaskFailure) => f.id)
const tick = app.task('tick', () => 1)
const pair2 = app.task('pair2', (_ctx, xs: number[]) => xs.join(','))

export async function typeFlow(): Promise<void> {
  const r: FlowResult<number> = await chain(add.s(2, 2), mul.s(4)).apply()
  const n: number = await r.get()
  void n
  const s: FlowResult<number> = await chain(shout.s('a'), len.s()).apply()
  void s
  // an immutable step ignores the previous result
  const i: FlowResult<number> = await chain(shout.s('a'), tick.si()).apply()
  void i

  // @ts-expect-error mul takes a number first, shout gives a string
  chain(shout.s('a'), mul.s(4))
  // @ts-expect-error the first step must have all its arguments
  chain(mul.s(4), add.s(1))
  // @ts-expect-error a later step given all its arguments would get one too many
  chain(add.s(1, 2), mul.s(3, 4))
  // @ts-expect-error wrong argument type in a signature
  add.s('1', 2)

  const g: GroupResult<[number, string]> = await group([add.s(1, 2), shout.s('x')]).apply()
  const [a, b] = await g.get()
  const na: number = a
  const sb: string = b
  void na
  void sb
  const many: GroupResult<number[]> = await group([1, 2, 3].map((x) => add.s(x, x))).apply()
  void many
  // @ts-expect-error a group sent by itself needs members with all their arguments
  await group([mul.s(4)]).apply()
  // @ts-expect-error a chord's header too
  chord(group([mul.s(4)]), sum.s())

  // Nesting: a group inside a chain gets the previous result; the next step gets their list.
  const nested: FlowResult<number> = await chain(add.s(1, 1), group([mul.s(2), mul.s(3)]), sum.s()).apply()
  void nested
  const first: FlowResult<string> = await chain(group([add.s(1, 1), add.s(2, 2)]), pair2.s()).apply()
  void first
  await chain(add.s(1, 1), group([mul.s(2), tick.si()]), sum.s()).apply()
  // @ts-expect-error the members must take the previous result (a number, not a string)
  chain(add.s(1, 1), group([len.s()]), sum.s())
  // @ts-expect-error a complete member would get the previous result as one argument too many
  chain(add.s(1, 1), group([mul.s(2), add.s(1, 2)]), sum.s())
  // @ts-expect-error the step after the group takes the list of results (numbers, not strings)
  chain(add.s(1, 1), group([mul.s(2)]), len.s())
  // @ts-expect-error a group cannot end a chain
  chain(add.s(1, 1), group([mul.s(2)]))
  // Chains inside groups and chord headers.
  const gc: GroupResult<[number, string]> = await group([chain(add.s(1, 2), mul.s(3)), shout.s('x')]).apply()
  void gc
  const cc: FlowResult<number> = await chord(
    group([chain(add.s(1, 2), mul.s(3)), add.s(1, 1)]),
    sum.s(),
  ).apply()
  void cc
  // @ts-expect-error the chord body takes numbers; the chain member gives a string
  chord(group([chain(shout.s('a'), shout.s()), add.s(1, 1)]), sum.s())

  const c: FlowResult<number> = await chord(group([1, 2].map((x) => add.s(x, 1))), sum.s()).apply()
  void c
  await chord(group([add.s(1, 2), shout.s('x')]), pair.s()).apply()
  // @ts-expect-error the body must take the members' results (numbers, not strings)
  chord(group([add.s(1, 2)]), len.s())

  add.s(1, 2).link(mul.s(3)).linkError(report.s())
  // @ts-expect-error a link callback takes the result: a number, not a string
  add.s(1, 2).link(len.s())
  // @ts-expect-error a linkError callback takes a TaskFailure
  add.s(1, 2).linkError(mul.s(3))
  await add.applyAsync([1, 2], { link: mul.s(2), linkError: report.s() })
}

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
  // @ts-expect-error group members must have all their arguments
  group([mul.s(4)])

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

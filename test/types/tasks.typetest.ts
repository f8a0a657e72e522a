/**
 * Compile-time tests: `npm run typecheck` fails if types stop flowing from a task's definition
 * to `delay`, `applyAsync`, `sendMany` and `get`. Each @ts-expect-error must be an error.
 */
import { createApp, type AsyncResult, type TaskArgs, type TaskResult } from '../../src/index.js'

const app = createApp({ broker: 'memory://types' })

const add = app.task('add', (_ctx, a: number, b: number) => a + b)
const greet = app.task('greet', async (_ctx, name: string, opts?: { loud: boolean }) => ({
  text: `hi ${name}`,
  loud: opts?.loud ?? false,
}))

export async function typeFlow(): Promise<void> {
  const r: AsyncResult<number> = await add.delay(1, 2)
  const sum: number = await r.get()
  void sum

  // @ts-expect-error a string is not a number
  await add.delay('1', 2)
  // @ts-expect-error too few arguments
  await add.delay(1)
  // @ts-expect-error too many arguments
  await add.delay(1, 2, 3)
  // @ts-expect-error applyAsync takes the argument tuple
  await add.applyAsync([1, '2'], { countdown: '5s' })
  const badBatch: [number, number][] = [[1, 2]]
  // @ts-expect-error sendMany takes argument tuples of the task's types
  badBatch.push(['x', 2])
  await add.sendMany(badBatch)
  // @ts-expect-error a batch item's args are checked too
  await add.sendMany([{ args: ['x', 2] }])

  const g = await greet.delay('Ada')
  const value = await g.get({ timeout: '5s' })
  const text: string = value.text
  const loud: boolean = value.loud
  void text
  void loud
  // @ts-expect-error the result has no such field
  void value.missing

  await greet.applyAsync(['Ada', { loud: true }], { priority: 5, queue: 'email', eta: new Date() })
  await greet.sendMany([['a'], { args: ['b', { loud: false }], options: { countdown: 1000 } }])

  const args: TaskArgs<typeof add> = [1, 2]
  const res: TaskResult<typeof greet> = { text: 'x', loud: true }
  void args
  void res
  // @ts-expect-error TaskArgs keeps the element types
  const wrong: TaskArgs<typeof add> = ['1', 2]
  void wrong
}

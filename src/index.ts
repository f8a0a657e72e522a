/**
 * celeriac: background jobs for TypeScript.
 *
 * @example
 * import { createApp } from 'celeriac'
 * export const app = createApp()
 * export const add = app.task('math.add', (_ctx, a: number, b: number) => a + b)
 */
export {
  App,
  createApp,
  isApp,
  DEFAULT_BROKER_URL,
  type AppOptions,
  type AppConnections,
} from './core/app.js'
export {
  Task,
  type TaskContext,
  type TaskFn,
  type TaskOptions,
  type SendOptions,
  type BatchCall,
  type TaskArgs,
  type TaskResult,
  type TaskLogger,
  type ArgsValidator,
} from './core/task.js'
export { type FlowTaskOptions, type FlowKey } from './core/flow-options.js'
export { parseRate, formatRate, type Rate } from './core/rate.js'
export { setRateLimit, listRateLimits, type LimitTarget } from './flow/overrides.js'
export { AsyncResult, type GetOptions } from './core/result.js'
export { States, READY_STATES, isReady, type TaskState } from './core/states.js'
export { encode, decode } from './core/codec.js'
export { type Message, ENVELOPE_VERSION, encodeMessage, decodeMessage } from './core/message.js'
export { type RetryPolicy, type ErrorClass } from './core/retry.js'
export { type Duration, toMs } from './core/duration.js'
export {
  BackendRegistry,
  createBroker,
  createResultStore,
  supportedSchemes,
  type BackendLoaders,
} from './core/backends.js'
export * from './core/errors.js'
export type * from './contracts/index.js'
export { composeBackend } from './contracts/backend.js'
export { isPullBroker } from './contracts/broker.js'
export { pullConsume } from './contracts/pull-consumer.js'

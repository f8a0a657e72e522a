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
  type AppRevokeOptions,
} from './core/app.js'
export {
  listWorkers,
  request as controlRequest,
  ControlCommands,
  ControlCommandError,
  type ControlHandler,
  type CommandContext,
  type WorkerEntry,
  type WorkerInfo,
  type ControlReply,
  type RequestOptions,
  type Terminator,
} from './control/index.js'
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
export { RemoteTask } from './core/remote-task.js'
export { type TaskUpdate, type FollowOptions } from './core/follow.js'
export { InvalidProgressError, MAX_PROGRESS_BYTES } from './core/progress.js'
export {
  Signature,
  type AnySignature,
  type SignatureOptions,
  type SignatureResult,
} from './core/signature.js'
export type { TaskFailure } from './core/flow.js'
export * from './canvas/index.js'
export { States, READY_STATES, isReady, type TaskState } from './core/states.js'
export { type CeleriacEvent, EVENTS_STREAM, parseEvent, parseEvents, expandEvent } from './core/events.js'
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
export * from './beat/index.js'

/** What every HTTP integration (`celeriac/fastify`, `/hono`, `/express`) exports besides its own adapters. */
export {
  BackgroundRunner,
  BackgroundTasks,
  consoleLogger,
  type BackgroundLogger,
  type BackgroundOptions,
} from './background.js'
export type { ShutdownReport } from './shutdown.js'
export {
  openTaskEventStreams,
  TASK_EVENTS_HEADERS,
  taskEvents,
  TaskEventStream,
  type TaskEventsAnswer,
  type TaskEventsOptions,
} from './events.js'
export {
  InvalidTaskIdError,
  MAX_TASK_ID_LENGTH,
  taskStatus,
  toJsonSafe,
  type TaskStatusAnswer,
  type TaskStatusBody,
  type TaskStatusOptions,
  type TaskStatusProblem,
} from './status.js'

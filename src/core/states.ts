/** Task states, as Celery names them. */
export const States = {
  PENDING: 'PENDING',
  RECEIVED: 'RECEIVED',
  STARTED: 'STARTED',
  RETRY: 'RETRY',
  SUCCESS: 'SUCCESS',
  FAILURE: 'FAILURE',
  REVOKED: 'REVOKED',
} as const

export type TaskState = (typeof States)[keyof typeof States]

/** States after which nothing more happens to a task. */
export const READY_STATES: ReadonlySet<TaskState> = new Set<TaskState>(['SUCCESS', 'FAILURE', 'REVOKED'])

export function isReady(state: TaskState): boolean {
  return READY_STATES.has(state)
}

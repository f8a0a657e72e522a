/** Span names and OpenTelemetry messaging semantic-convention attributes of a task message. */
import type { Attributes } from '@opentelemetry/api'
import type { Message } from '../core/message.js'

/** `messaging.system`: the task queue itself, as Celery's instrumentation names `celery`. */
export const MESSAGING_SYSTEM = 'celeriac'

export function messageAttributes(msg: Message, operation: 'send' | 'process'): Attributes {
  return {
    'messaging.system': MESSAGING_SYSTEM,
    'messaging.destination.name': msg.queue,
    'messaging.message.id': msg.id,
    // The older and the current spellings of the operation, for back ends of either age.
    'messaging.operation': operation === 'send' ? 'publish' : 'process',
    'messaging.operation.type': operation,
    'messaging.operation.name': operation === 'send' ? 'send' : 'run',
    'celeriac.task.name': msg.task,
    'celeriac.task.retries': msg.retries,
  }
}

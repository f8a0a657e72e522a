/** `celeriac worker --pool threads|processes`: the worker's flags → a pool, or none for async. */
import { availableParallelism } from 'node:os'
import { ConfigError } from '../core/errors.js'
import type { Logger } from '../worker/logger.js'
import { createPool, type Pool } from './pool.js'

export interface PoolFlags {
  readonly pool?: 'async' | 'threads' | 'processes'
  readonly maxTasksPerChild?: number
  /** MB. */
  readonly maxMemoryPerChild?: number
  readonly concurrency?: number
  readonly logFormat?: 'json' | 'pretty'
  /** `-A` as given, `path[:export]`: each child loads it. */
  readonly appSpec?: string
  readonly broker?: string
  readonly resultBackend?: string
}

export function poolFromFlags(flags: PoolFlags, log: Logger): Pool | undefined {
  const kind = flags.pool ?? 'async'
  if (kind === 'async') {
    if (flags.maxTasksPerChild !== undefined || flags.maxMemoryPerChild !== undefined)
      throw new ConfigError(
        '--max-tasks-per-child and --max-memory-per-child need a pool of children: add --pool threads or --pool processes',
      )
    return undefined
  }
  if (!flags.appSpec)
    throw new ConfigError(`--pool ${kind} needs the app module (-A) for its children to load`)
  return createPool({
    kind,
    size: flags.concurrency ?? availableParallelism(),
    app: flags.appSpec,
    connections: { broker: flags.broker, resultBackend: flags.resultBackend },
    maxTasksPerChild: flags.maxTasksPerChild,
    maxMemoryPerChildMb: flags.maxMemoryPerChild,
    log,
    childLogFormat: flags.logFormat,
  })
}

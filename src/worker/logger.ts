/** Worker logs: pino, JSON by default, readable lines when printing to a terminal. */
import { pino, type Logger, type LevelWithSilent } from 'pino'

export type { Logger }

export interface LoggerOptions {
  readonly level?: LevelWithSilent
  /** 'json' (one object a line), 'pretty' (for a terminal); default pretty on a TTY, else json. */
  readonly format?: 'json' | 'pretty'
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? (process.env.CELERIAC_LOG_LEVEL as LevelWithSilent | undefined) ?? 'info'
  const format =
    options.format ??
    (process.env.CELERIAC_LOG_FORMAT as 'json' | 'pretty' | undefined) ??
    (process.stdout.isTTY ? 'pretty' : 'json')
  if (format === 'pretty') {
    return pino({
      level,
      transport: {
        target: 'pino-pretty',
        options: {
          colorize: process.stdout.isTTY,
          translateTime: 'SYS:HH:MM:ss.l',
          ignore: 'pid,hostname',
          singleLine: true,
        },
      },
    })
  }
  return pino({ level, base: { pid: process.pid } })
}

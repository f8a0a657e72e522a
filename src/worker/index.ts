export { Worker, type WorkerOptions, type WorkerStats } from './worker.js'
export { createLogger, type LoggerOptions } from './logger.js'

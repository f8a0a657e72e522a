/** Thread and process pools for task bodies: `new Worker(app, { pool: createPool(...) })`. */
export { Pool, createPool, type PoolOptions, type PoolChildInfo } from './pool.js'
export type { PoolKind } from './handle.js'
export { poolFromFlags, type PoolFlags } from './flags.js'

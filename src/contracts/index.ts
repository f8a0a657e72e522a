export type * from './broker.js'
export type * from './result-store.js'

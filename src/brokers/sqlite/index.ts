/**
 * `sqlite://path`: the embedded default broker and result store. `sqlite://./celeriac.db` is a
 * file relative to the working directory, `sqlite:///var/lib/app/queue.db` an absolute path.
 */
import { composeBackend, type BackendFactory } from '../../contracts/backend.js'
import { SqliteBroker } from './broker.js'
import { sqlitePath } from './database.js'
import { SqliteResultStore } from './results.js'

export { SqliteBroker } from './broker.js'
export { SqliteResultStore } from './results.js'
export { sqlitePath } from './database.js'

export const backend: BackendFactory = (url) =>
  composeBackend('sqlite', {
    broker: new SqliteBroker(sqlitePath(url)),
    results: new SqliteResultStore(sqlitePath(url)),
  })

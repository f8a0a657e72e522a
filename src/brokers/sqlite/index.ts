/**
 * `sqlite://path`: the embedded default broker, result store and coordination. `sqlite://./celeriac.db` is a
 * file relative to the working directory, `sqlite:///var/lib/app/queue.db` an absolute path.
 */
import { composeBackend, type BackendFactory } from '../../contracts/backend.js'
import { SqliteBroker } from './broker.js'
import { SqliteCoordination } from './coordination.js'
import { SqliteDatabase, sqlitePath } from './database.js'
import { SqliteResultStore } from './results.js'

export { SqliteBroker } from './broker.js'
export { SqliteResultStore } from './results.js'
export { SqliteCoordination } from './coordination.js'
export { SqliteDatabase, sqlitePath } from './database.js'

/** One connection for the URL, shared by every part; the backend opens and closes it. */
export const backend: BackendFactory = (url) => {
  const database = new SqliteDatabase(sqlitePath(url))
  return composeBackend(
    'sqlite',
    {
      broker: new SqliteBroker(database),
      results: new SqliteResultStore(database),
      coordination: new SqliteCoordination(database),
    },
    database,
  )
}

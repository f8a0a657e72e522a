/**
 * `postgres://user:password@host:5432/database?schema=celeriac` (or `postgresql://`): broker,
 * result store and coordination in one PostgreSQL schema, through pg (an optional peer
 * dependency, imported on connect). See README.md beside this file.
 */
import { composeBackend, type BackendFactory } from '../../contracts/backend.js'
import { PostgresBroker } from './broker.js'
import { PostgresCoordination } from './coordination.js'
import { PgDatabase } from './database.js'
import { PostgresResultStore } from './results.js'

export { PostgresBroker } from './broker.js'
export { PostgresCoordination } from './coordination.js'
export { PgDatabase, type Queryable } from './database.js'
export { PostgresResultStore } from './results.js'
export { SCHEMA_VERSION } from './migrations/index.js'

/** One pool for the URL, shared by every part; the backend opens and closes it. */
export const backend: BackendFactory = (url) => {
  const database = new PgDatabase(url)
  return composeBackend(
    'postgres',
    {
      broker: new PostgresBroker(database),
      results: new PostgresResultStore(database),
      coordination: new PostgresCoordination(database),
    },
    database,
  )
}
export { parsePgUrl, type PgTarget } from './url.js'

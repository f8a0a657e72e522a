/**
 * The numbered migrations of the PostgreSQL schema: entry n takes a schema at version n-1 to n.
 * Each runs once, in the transaction that records the new version (see ../migrate.ts). A released
 * migration is never edited; a change is a new file.
 */
import { SQL as SCHEMA_1 } from './0001-schema.js'
import { SQL as RECORDS_2 } from './0002-records.js'
import { SQL as RESERVE_PLAN_3 } from './0003-reserve-plan.js'

export const MIGRATIONS: readonly string[] = [SCHEMA_1, RECORDS_2, RESERVE_PLAN_3]

/** The schema version this library writes and reads. */
export const SCHEMA_VERSION = MIGRATIONS.length

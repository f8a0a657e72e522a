/**
 * Settings of the users-api example, from the environment, shared by the API, the worker, the
 * SMTP sink and the launcher. Default paths are inside this folder, whatever the working
 * directory, so `npm run demo` and `celeriac worker -A examples/users-api/tasks.ts` agree.
 */
import { join, resolve } from 'node:path'
import { sqlitePath } from 'celeriac/sqlite'

const here = import.meta.dirname

function env(name: string): string | undefined {
  const v = process.env[name]
  return v === undefined || v === '' ? undefined : v
}

function port(name: string, fallback: number): number {
  const raw = env(name)
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 0 || n > 65_535)
    throw new Error(`${name} must be a port number (0 to 65535), got "${raw}"`)
  return n
}

/** Where the SQLite files of the example live unless told otherwise. */
export const DATA_DIR = resolve(env('DATA_DIR') ?? join(here, 'data'))

const isPostgres = (url: string) => /^postgres(ql)?:\/\//i.test(url)

/**
 * The broker: $CELERIAC_BROKER, else an embedded SQLite file. Never $DATABASE_URL by itself: a
 * shell that has one for another project must not turn the demo into writes to that database.
 */
const broker = env('CELERIAC_BROKER') ?? `sqlite://${join(DATA_DIR, 'celeriac.db')}`
/** The broker's file when it is SQLite: the users live there too unless $USERS_DB says otherwise. */
const brokerFile = /^sqlite:\/\//i.test(broker) ? sqlitePath(broker) : undefined
const usersDb = resolve(env('USERS_DB') ?? brokerFile ?? join(DATA_DIR, 'users.db'))
/** With a PostgreSQL broker the users live in its database, in their own schema. */
const usersPg = isPostgres(broker) && !env('USERS_DB')
const usersSchema = env('USERS_SCHEMA') ?? 'users_api'
if (!/^[a-z_][a-z0-9_]{0,62}$/.test(usersSchema))
  throw new Error(`USERS_SCHEMA must be lower-case letters, digits and underscores, got "${usersSchema}"`)

export const config = {
  /** API host and port ($HOST, $PORT). */
  host: env('HOST') ?? '127.0.0.1',
  port: port('PORT', 3000),
  /** The users database ($USERS_DB): the broker's file when it is SQLite, else data/users.db. */
  usersDb,
  /** The users share the broker's file, so the welcome task is sent inside the insert's transaction. */
  usersInBrokerFile: usersDb === brokerFile,
  /**
   * The users live in the PostgreSQL broker's database, schema $USERS_SCHEMA (default users_api),
   * and the welcome task is sent inside the insert's transaction. Undefined otherwise.
   */
  usersPostgres: usersPg ? { url: broker, schema: usersSchema } : undefined,
  /** One JSON line per audited event, written by the in-request background task ($AUDIT_LOG). */
  auditLog: resolve(env('AUDIT_LOG') ?? join(DATA_DIR, 'audit.log')),
  broker,
  /** The SMTP sink listens here ($SMTP_HOST, $SMTP_PORT) and stores mails in $MAIL_DIR. */
  smtpHost: env('SMTP_HOST') ?? '127.0.0.1',
  smtpPort: port('SMTP_PORT', 2525),
  mailDir: resolve(env('MAIL_DIR') ?? join(here, 'mail')),
  /** Where the worker sends mail ($SMTP_URL; default: the sink). */
  get smtpUrl(): string {
    return env('SMTP_URL') ?? `smtp://${this.smtpHost}:${this.smtpPort}`
  },
  /** Sender of the welcome mails ($MAIL_FROM). */
  mailFrom: env('MAIL_FROM') ?? 'Celeriac Demo <hello@celeriac.test>',
}

/**
 * The users table. With a sqlite:// broker it lives in the broker's own file, and the welcome
 * task is sent inside the insert's transaction: a user exists if and only if their mail is
 * queued. Otherwise (Redis, or USERS_DB set apart) the insert commits first, then the task is sent.
 * On PostgreSQL, see db-postgres.ts.
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'

export interface User {
  readonly id: number
  readonly email: string
  readonly name: string
  readonly createdAt: string
}

/** A user with this email exists already. */
export class DuplicateEmailError extends Error {
  override readonly name = 'DuplicateEmailError'
  constructor(readonly email: string) {
    super(`a user with email ${email} exists already`)
  }
}

interface Row {
  id: number
  email: string
  name: string
  created_at: string
}

const toUser = (r: Row): User => ({ id: r.id, email: r.email, name: r.name, createdAt: r.created_at })

/**
 * The connection to pass as `{ transaction }` when sending (a better-sqlite3 Database, a pg
 * client), or undefined to send after the commit.
 */
export type SendWith<T> = (user: User, transaction: unknown) => Promise<T>

export interface UsersDb {
  /** Inserts the user and runs `send`; in one transaction when the db is transactional. */
  create<T>(input: { email: string; name: string }, send: SendWith<T>): Promise<{ user: User; sent: T }>
  get(id: number): Promise<User | undefined>
  close(): void
}

export interface UsersDbOptions {
  /** The file is the broker's: send inside the insert's transaction. */
  readonly transactional?: boolean
}

export function openUsersDb(path: string, options: UsersDbOptions = {}): UsersDb {
  mkdirSync(dirname(path), { recursive: true })
  const db = new Database(path, { timeout: 5_000 })
  db.pragma('journal_mode = WAL')
  db.exec(`CREATE TABLE IF NOT EXISTS users (
    id         INTEGER PRIMARY KEY,
    email      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL
  )`)
  const insert = db.prepare<[string, string, string], Row>(
    'INSERT INTO users (email, name, created_at) VALUES (?, ?, ?) RETURNING *',
  )
  const byId = db.prepare<[number], Row>('SELECT * FROM users WHERE id = ?')
  const add = (email: string, name: string): User => {
    try {
      return toUser(insert.get(email, name, new Date().toISOString())!)
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new DuplicateEmailError(email)
      throw err
    }
  }
  // `db.transaction(fn)` cannot hold the await of a send, so the transaction is an explicit
  // BEGIN IMMEDIATE ... COMMIT. One connection holds one transaction at a time: creates take
  // turns, and reads wait for the open one so they never see a user that may yet roll back.
  let turn: Promise<unknown> = Promise.resolve()
  const inTurn = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = turn.then(fn, fn)
    turn = run.catch(() => {})
    return run
  }
  return {
    async create({ email, name }, send) {
      if (!options.transactional) {
        const user = add(email, name)
        return { user, sent: await send(user, undefined) }
      }
      return inTurn(async () => {
        db.exec('BEGIN IMMEDIATE')
        try {
          const user = add(email, name)
          const sent = await send(user, db)
          db.exec('COMMIT')
          return { user, sent }
        } catch (err) {
          if (db.inTransaction) db.exec('ROLLBACK')
          throw err
        }
      })
    },
    get: (id) =>
      inTurn(async () => {
        const row = byId.get(id)
        return row && toUser(row)
      }),
    close: () => db.close(),
  }
}

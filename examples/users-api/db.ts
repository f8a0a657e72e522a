/** The users table, in its own SQLite file (not the queue's). */
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

export interface UsersDb {
  create(input: { email: string; name: string }): User
  get(id: number): User | undefined
  close(): void
}

export function openUsersDb(path: string): UsersDb {
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
  return {
    create({ email, name }) {
      try {
        return toUser(insert.get(email, name, new Date().toISOString())!)
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE')
          throw new DuplicateEmailError(email)
        throw err
      }
    },
    get: (id) => {
      const row = byId.get(id)
      return row && toUser(row)
    },
    close: () => db.close(),
  }
}

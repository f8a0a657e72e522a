/**
 * The users table on PostgreSQL, in the broker's database (schema $USERS_SCHEMA). Each create is
 * one transaction on a pooled client: INSERT, then the welcome task sent with
 * `{ transaction: client }`, then COMMIT. A user row exists if and only if its task was queued.
 */
import pg from 'pg'
import { parsePgUrl } from 'celeriac/postgres'
import { DuplicateEmailError, type User, type UsersDb } from './db.js'

interface Row {
  id: string | number
  email: string
  name: string
  created_at: Date
}

const toUser = (r: Row): User => ({
  id: Number(r.id),
  email: r.email,
  name: r.name,
  createdAt: r.created_at.toISOString(),
})

/** Opens the pool and creates the schema and table if missing. */
export async function openPostgresUsersDb(brokerUrl: string, schema: string): Promise<UsersDb> {
  const pool = new pg.Pool({ connectionString: parsePgUrl(brokerUrl).connectionString, max: 5 })
  const table = `"${schema}".users`
  await pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`)
  await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (
    id         bigserial PRIMARY KEY,
    email      text NOT NULL,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
  )`)
  await pool.query(`CREATE UNIQUE INDEX IF NOT EXISTS users_email_ci ON ${table} (lower(email))`)
  return {
    async create({ email, name }, send) {
      const client = await pool.connect()
      try {
        await client.query('BEGIN')
        const inserted = await client
          .query<Row>(`INSERT INTO ${table} (email, name) VALUES ($1, $2) RETURNING *`, [email, name])
          .catch((err: unknown) => {
            throw (err as { code?: string }).code === '23505' ? new DuplicateEmailError(email) : err
          })
        const user = toUser(inserted.rows[0]!)
        const sent = await send(user, client)
        await client.query('COMMIT')
        return { user, sent }
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {})
        throw err
      } finally {
        client.release()
      }
    },
    async get(id) {
      const { rows } = await pool.query<Row>(`SELECT * FROM ${table} WHERE id = $1`, [id])
      return rows[0] && toUser(rows[0])
    },
    close: () => void pool.end(),
  }
}

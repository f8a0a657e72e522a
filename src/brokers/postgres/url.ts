/**
 * `postgres://user:password@host:port/database?schema=name&pool=10` (or `postgresql://`): the
 * address pg connects to, the PostgreSQL schema that holds celeriac's tables (default `celeriac`)
 * and the most connections the URL's pool opens (default 10; one more listens for notifications).
 */
import { BadUrlError } from '../../core/errors.js'

export interface PgTarget {
  /** The URL pg connects with, without celeriac's own parameters. */
  readonly connectionString: string
  /** The schema name, validated: lower-case letters, digits and underscores. */
  readonly schema: string
  readonly poolSize: number
}

const SCHEMES = ['postgres', 'postgresql']
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/

export function parsePgUrl(url: string): PgTarget {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch (cause) {
    throw new BadUrlError(url, SCHEMES, `it is not a URL (${(cause as Error).message})`)
  }
  const scheme = parsed.protocol.replace(/:$/, '').toLowerCase()
  if (!SCHEMES.includes(scheme)) throw new BadUrlError(url, SCHEMES)
  const schema = parsed.searchParams.get('schema') ?? 'celeriac'
  // A name that needs no quoting, so it reads the same in psql, in errors and in channel names.
  if (!SCHEMA_NAME.test(schema))
    throw new BadUrlError(
      url,
      SCHEMES,
      `schema "${schema}" must be lower-case letters, digits and underscores (at most 63), starting with a letter`,
    )
  const pool = parsed.searchParams.get('pool')
  const poolSize = pool === null ? 10 : Number(pool)
  if (!Number.isSafeInteger(poolSize) || poolSize < 1)
    throw new BadUrlError(url, SCHEMES, `pool=${pool} must be a whole number of connections, at least 1`)
  parsed.searchParams.delete('schema')
  parsed.searchParams.delete('pool')
  return { connectionString: parsed.toString(), schema, poolSize }
}

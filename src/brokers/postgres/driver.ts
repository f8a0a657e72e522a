/**
 * The pg driver, imported on first connect so that users of other backends never install it (an
 * optional peer dependency), and the one pool setting every part relies on: int8 columns (seqs,
 * fences, epoch ms) read as numbers, not strings. They stay far below 2^53.
 */
import type { Client, ClientConfig, Pool, PoolConfig } from 'pg'
import { ConfigError } from '../../core/errors.js'

type Pg = typeof import('pg')

let loaded: Pg | null = null

async function pg(): Promise<Pg> {
  if (loaded) return loaded
  try {
    const mod = (await import('pg')) as Pg & { default?: Pg }
    loaded = mod.default ?? mod
    return loaded
  } catch (cause) {
    throw new ConfigError('the postgres:// backend needs the pg package: npm install pg@8', { cause })
  }
}

const INT8 = 20

function types(driver: Pg): NonNullable<ClientConfig['types']> {
  return {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
      oid === INT8 ? Number : driver.types.getTypeParser(oid, format as 'text')) as never,
  }
}

export async function openPool(config: PoolConfig): Promise<Pool> {
  const driver = await pg()
  return new driver.Pool({ ...config, types: types(driver) })
}

export async function openClient(config: ClientConfig): Promise<Client> {
  const driver = await pg()
  const client = new driver.Client({ ...config, types: types(driver) })
  await client.connect()
  return client
}

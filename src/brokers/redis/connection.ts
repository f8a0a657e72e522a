/**
 * Opening ioredis clients and running Lua scripts by SHA. ioredis is imported here, lazily, so
 * that users of other brokers never need it installed.
 *
 * Connection policy (see README.md): no offline queue and no resending after a reconnect, so a
 * command issued while Redis is away fails at once with a BrokerError instead of waiting for ever;
 * ioredis keeps reconnecting in the background with capped exponential backoff.
 */
import type { Redis, RedisOptions } from 'ioredis'
import { BrokerError, ConfigError, redactUrl } from '../../core/errors.js'
import type { LuaScript } from './scripts.generated.js'
import type { RedisTarget } from './keys.js'

export type RedisClient = Redis

export const CLIENT_OPTIONS: RedisOptions = {
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  connectTimeout: 5_000,
  retryStrategy: (attempt: number) => Math.min(100 * 2 ** Math.min(attempt, 5), 3_000),
}

/** Opens one connected client; `role` names it in CLIENT LIST (`celeriac:<role>`). */
export async function openClient(
  target: RedisTarget,
  role: string,
  options: RedisOptions = {},
): Promise<RedisClient> {
  let RedisCtor: typeof import('ioredis').Redis
  try {
    RedisCtor = (await import('ioredis')).Redis
  } catch (cause) {
    throw new ConfigError(`the redis:// backend needs the ioredis package: npm install ioredis`, { cause })
  }
  const client = new RedisCtor(target.clientUrl, {
    ...CLIENT_OPTIONS,
    connectionName: `celeriac:${role}`,
    ...options,
  })
  // Errors surface through the commands that fail; without a listener ioredis would print them.
  client.on('error', () => {})
  try {
    await client.connect()
  } catch (cause) {
    client.disconnect()
    throw brokerError(target, `cannot connect (${role})`, cause)
  }
  return client
}

/** A BrokerError naming the server (password hidden) and what failed. */
export function brokerError(target: RedisTarget, what: string, cause: unknown): BrokerError {
  if (cause instanceof BrokerError) return cause
  const reason = describeCause(cause)
  return new BrokerError(
    `redis at ${redactUrl(target.url)}: ${what} failed: ${reason}. Check that Redis is running and reachable; the client keeps reconnecting.`,
    { cause },
  )
}

/**
 * ioredis' wording names its options (maxRetriesPerRequest, enableOfflineQueue); say what happened
 * instead, and whether the command may have run (the caller decides whether to send it again).
 */
function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause)
  if (cause.name === 'MaxRetriesPerRequestError')
    return 'the connection was lost before the reply came (the command may have run)'
  if (cause.message.includes('enableOfflineQueue')) return 'not connected (the command was not sent)'
  return cause.message.replace(/\.+$/, '')
}

/** One script call: the script, its KEYS and its ARGV. */
export interface ScriptCall {
  readonly script: LuaScript
  readonly keys: readonly string[]
  readonly args: readonly (string | number)[]
}

function evalArgs(c: ScriptCall, first: string): (string | number)[] {
  const out: (string | number)[] = [first, c.keys.length]
  for (const k of c.keys) out.push(k)
  for (const a of c.args) out.push(a)
  return out
}

function isNoScript(e: unknown): boolean {
  return e instanceof Error && e.message.startsWith('NOSCRIPT')
}

/**
 * Runs script calls in one round trip (a pipeline when there are several), by SHA. A call the
 * server answers NOSCRIPT (its script cache was flushed or it restarted) did not run; it is sent
 * again with EVAL, which also caches the script for the next EVALSHA.
 */
export async function runScripts(client: RedisClient, calls: readonly ScriptCall[]): Promise<unknown[]> {
  if (calls.length === 1) {
    const c = calls[0]!
    try {
      return [await client.call('EVALSHA', evalArgs(c, c.script.sha))]
    } catch (e) {
      if (!isNoScript(e)) throw e
      return [await client.call('EVAL', evalArgs(c, c.script.source))]
    }
  }
  const pipeline = client.pipeline()
  for (const c of calls) pipeline.call('EVALSHA', evalArgs(c, c.script.sha))
  const replies = (await pipeline.exec()) ?? []
  const out: unknown[] = []
  for (let i = 0; i < calls.length; i++) {
    const [err, value] = replies[i] ?? [new Error('no reply'), null]
    if (!err) out.push(value)
    else if (isNoScript(err))
      out.push(await client.call('EVAL', evalArgs(calls[i]!, calls[i]!.script.source)))
    else throw err
  }
  return out
}

/** Runs calls inside MULTI/EXEC (all or nothing on one server); EVAL, so NOSCRIPT cannot split it. */
export async function runScriptsAtomically(
  client: RedisClient,
  calls: readonly ScriptCall[],
): Promise<unknown[]> {
  const multi = client.multi()
  for (const c of calls) multi.call('EVAL', evalArgs(c, c.script.source))
  const replies = await multi.exec()
  if (!replies) throw new Error('transaction aborted')
  return replies.map(([err, value]) => {
    if (err) throw err
    return value
  })
}

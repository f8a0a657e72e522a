/**
 * Opening ioredis clients and running Lua scripts by SHA. ioredis is imported here, lazily, so
 * that users of other brokers never need it installed.
 *
 * Connection policy (see README.md): no offline queue and no resending after a reconnect, so a
 * command issued while Redis is away fails at once with a BrokerError instead of waiting for ever;
 * ioredis keeps reconnecting in the background with capped exponential backoff.
 */
import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis'
import { BrokerError, ConfigError } from '../../core/errors.js'
import type { LuaScript } from './scripts.generated.js'
import type { RedisAuth, RedisNode, RedisTarget } from './keys.js'

/** One server or a Sentinel-managed primary (`Redis`), or a Cluster (`Cluster`, `isCluster` true). */
export type RedisClient = Redis | Cluster

export const CLIENT_OPTIONS: RedisOptions = {
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  connectTimeout: 5_000,
  retryStrategy: (attempt: number) => Math.min(100 * 2 ** Math.min(attempt, 5), 3_000),
}

/** ioredis' Command, once ioredis is loaded (see send). */
let commandClass: typeof import('ioredis').Command | null = null

async function ioredis(): Promise<Pick<typeof import('ioredis'), 'Redis' | 'Cluster'>> {
  try {
    const { Redis, Cluster, Command } = await import('ioredis')
    commandClass = Command
    return { Redis, Cluster }
  } catch (cause) {
    throw new ConfigError(`the redis:// backend needs the ioredis package: npm install ioredis`, { cause })
  }
}

function authOptions(auth: RedisAuth): RedisOptions {
  return {
    ...(auth.username ? { username: auth.username } : {}),
    ...(auth.password ? { password: auth.password } : {}),
    ...(auth.tls ? { tls: {} } : {}),
  }
}

/**
 * Opens one connected client; `role` names it in CLIENT LIST (`celeriac:<role>`). A Cluster
 * client pipelines the commands issued in one tick per node (auto-pipelining), so per-slot calls
 * made together still cost about one round trip per node.
 */
export async function openClient(
  target: RedisTarget,
  role: string,
  options: RedisOptions = {},
): Promise<RedisClient> {
  const io = await ioredis()
  const named: RedisOptions = { ...CLIENT_OPTIONS, connectionName: `celeriac:${role}`, ...options }
  const t = target.topology
  let client: RedisClient
  if (t.kind === 'server') client = new io.Redis(t.clientUrl, named)
  else if (t.kind === 'sentinel')
    client = new io.Redis({
      ...named,
      ...authOptions(t.auth),
      sentinels: t.sentinels.map((n) => ({ host: n.host, port: n.port })),
      name: t.name,
      db: t.db,
      ...(t.auth.tls ? { enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
    })
  else
    client = new io.Cluster(
      t.nodes.map((n) => ({ host: n.host, port: n.port })),
      clusterOptions(t.auth, named),
    )
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

function clusterOptions(auth: RedisAuth, named: RedisOptions): ClusterOptions {
  // Options the Cluster sets itself per node (offline queue, retry) are given at its level.
  const { enableOfflineQueue, retryStrategy, lazyConnect, ...node } = named
  return {
    lazyConnect,
    enableOfflineQueue,
    enableAutoPipelining: true,
    clusterRetryStrategy: (attempt: number) => retryStrategy?.(attempt) ?? null,
    redisOptions: { ...node, ...authOptions(auth) },
  }
}

/** A plain connection to one node of a Cluster (blocking waits must not share the Cluster's). */
export async function openNode(
  target: RedisTarget,
  node: RedisNode,
  role: string,
  options: RedisOptions = {},
): Promise<Redis> {
  const io = await ioredis()
  const auth = target.topology.kind === 'server' ? { tls: false } : target.topology.auth
  const client = new io.Redis({
    ...CLIENT_OPTIONS,
    connectionName: `celeriac:${role}`,
    ...options,
    ...authOptions(auth),
    host: node.host,
    port: node.port,
  })
  client.on('error', () => {})
  try {
    await client.connect()
  } catch (cause) {
    client.disconnect()
    throw brokerError(target, `cannot connect to ${node.host}:${node.port} (${role})`, cause)
  }
  return client
}

/** A BrokerError naming the server (password hidden) and what failed. */
export function brokerError(target: RedisTarget, what: string, cause: unknown): BrokerError {
  if (cause instanceof BrokerError) return cause
  const reason = describeCause(cause)
  return new BrokerError(
    `redis at ${target.safeUrl}: ${what} failed: ${reason}. Check that Redis is running and reachable; the client keeps reconnecting.`,
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
 * `client.call(name, args)`, without the copy ioredis makes of the arguments: its Command
 * flattens them with Array.prototype.flat, about 0.2 µs an argument on Node 20, and a settle
 * batch of 200 results sends 1,000. The arguments are made strings here, as ioredis would.
 * Only on a single server with none of the options that change a command (key prefix, friendly
 * error stacks, auto-pipelining); elsewhere through `call` as before.
 */
function send(client: RedisClient, name: string, args: (string | number)[]): Promise<unknown> {
  const C = commandClass
  const o = client.options as {
    keyPrefix?: string
    showFriendlyErrorStack?: boolean
    enableAutoPipelining?: boolean
  }
  if (!C || client.isCluster || o.keyPrefix || o.showFriendlyErrorStack || o.enableAutoPipelining)
    return client.call(name, args)
  for (let i = 0; i < args.length; i++) if (typeof args[i] !== 'string') args[i] = String(args[i])
  const cmd = new C(name, [], { replyEncoding: 'utf8' })
  cmd.args = args as string[]
  return client.sendCommand(cmd) as Promise<unknown>
}

/** Runs one call by SHA, falling back to EVAL on NOSCRIPT (the call did not run). */
async function runScript(client: RedisClient, c: ScriptCall): Promise<unknown> {
  try {
    return await send(client, 'EVALSHA', evalArgs(c, c.script.sha))
  } catch (e) {
    if (!isNoScript(e)) throw e
    return await send(client, 'EVAL', evalArgs(c, c.script.source))
  }
}

/**
 * Runs script calls in one round trip, by SHA: a pipeline when there are several. A call the
 * server answers NOSCRIPT (its script cache was flushed or it restarted) did not run; it is sent
 * again with EVAL, which also caches the script for the next EVALSHA.
 *
 * On a Cluster the calls may live in different slots, so each is its own command (sent together;
 * the client pipelines them per node). Each call is atomic in its slot; together they are not.
 */
export async function runScripts(client: RedisClient, calls: readonly ScriptCall[]): Promise<unknown[]> {
  if (calls.length === 1) return [await runScript(client, calls[0]!)]
  if (client.isCluster) return Promise.all(calls.map((c) => runScript(client, c)))
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

/**
 * Runs calls inside MULTI/EXEC (all or nothing on one server); EVAL, so NOSCRIPT cannot split it.
 * A Cluster cannot run a transaction across slots: there each call is atomic on its own.
 */
export async function runScriptsAtomically(
  client: RedisClient,
  calls: readonly ScriptCall[],
): Promise<unknown[]> {
  if (client.isCluster) return runScripts(client, calls)
  const multi = client.multi()
  for (const c of calls) multi.call('EVAL', evalArgs(c, c.script.source))
  const replies = await multi.exec()
  if (!replies) throw new Error('transaction aborted')
  return replies.map(([err, value]) => {
    if (err) throw err
    return value
  })
}

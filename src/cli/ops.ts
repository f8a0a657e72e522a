/** Operator commands: call, result, stats, purge, dead list/replay/delete. */
import { workflowTree } from '../canvas/tree.js'
import type { App } from '../core/app.js'
import { decode } from '../core/codec.js'
import { toMs } from '../core/duration.js'
import { ConfigError } from '../core/errors.js'
import { decodeError } from '../core/result.js'
import { isReady } from '../core/states.js'
import { toJsonSafe } from '../core/render.js'
import { table } from './format.js'

function parseJson(text: string | undefined, what: string, shape: 'array' | 'object'): unknown {
  if (text === undefined) return shape === 'array' ? [] : {}
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch (err) {
    throw new ConfigError(`${what} is not valid JSON: ${(err as Error).message} (got ${text})`)
  }
  const ok = shape === 'array' ? Array.isArray(v) : v !== null && typeof v === 'object' && !Array.isArray(v)
  if (!ok) throw new ConfigError(`${what} must be a JSON ${shape}, got ${text}`)
  return v
}

export interface CallFlags {
  readonly args?: string
  readonly kwargs?: string
  readonly queue?: string
  readonly countdown?: string
  readonly eta?: string
  readonly expires?: string
  readonly priority?: number
  readonly id?: string
  readonly wait?: string | boolean
}

const out = (s: string): void => {
  process.stdout.write(s + '\n')
}

export async function call(app: App, name: string, flags: CallFlags): Promise<void> {
  const args = parseJson(flags.args, '--args', 'array') as unknown[]
  const kwargs = parseJson(flags.kwargs, '--kwargs', 'object') as Record<string, unknown>
  const r = await app.sendTask(name, args, {
    kwargs,
    queue: flags.queue,
    countdown: flags.countdown,
    eta: flags.eta,
    expires: flags.expires,
    priority: flags.priority,
    id: flags.id,
  })
  out(r.id)
  if (flags.wait !== undefined && flags.wait !== false)
    await showResult(app, r.id, flags.wait === true ? '60s' : flags.wait)
}

/** Exit code of `celeriac result --wait` and `call --wait` when the wait ran out before a ready state. */
export const EXIT_TIMED_OUT = 3

export async function showResult(app: App, id: string, wait?: string | boolean): Promise<void> {
  if (!id.trim()) throw new ConfigError('a task id is required (got an empty string)')
  const r = app.asyncResult(id)
  let waitedMs: number | null = null
  if (wait !== undefined && wait !== false) {
    const store = await app.resultStore()
    if (!store) throw new ConfigError('this app has no result backend; there is nothing to wait for')
    waitedMs = wait === true ? 60_000 : toMs(/^\d+(\.\d+)?$/.test(wait) ? `${wait}s` : wait, '--wait')
    await store.wait(id, { timeoutMs: waitedMs })
  }
  const rec = await r.record()
  const timedOut = waitedMs !== null && (!rec || !isReady(rec.state))
  if (timedOut) {
    process.stderr.write(
      `timed out after ${waitedMs} ms waiting for task ${id}; it is ${rec?.state ?? 'PENDING'}\n`,
    )
    process.exitCode = EXIT_TIMED_OUT
  }
  // A task of a workflow (or a group's id) also shows the workflow's tree with every state.
  const workflow = await workflowTree(app, id).catch(() => null)
  if (!rec) {
    out(JSON.stringify({ id, state: 'PENDING', ...(workflow ? { workflow } : {}) }))
    return
  }
  const body: Record<string, unknown> = {
    id,
    state: rec.state,
    task: rec.task,
    retries: rec.retries,
    worker: rec.worker,
  }
  // A task still running holds the progress it last reported where a finished one holds its result.
  if (rec.result !== null) body[isReady(rec.state) ? 'result' : 'progress'] = toJsonSafe(decode(rec.result))
  if (rec.error !== null) {
    const e = decodeError(rec.error, rec.state)
    body.error = { name: e.name, message: e.message }
  }
  if (workflow) body.workflow = workflow
  out(JSON.stringify(body))
  if (rec.state === 'FAILURE' || rec.state === 'REVOKED') process.exitCode = 1
}

export async function stats(app: App, queues?: string): Promise<void> {
  const broker = await app.broker()
  const rows = await broker.stats(queues ? splitList(queues) : undefined)
  if (!rows.length) return out('no queues yet')
  out(
    table(
      ['queue', 'waiting', 'delayed', 'active', 'dead', 'jobs/s (1 min)', 'state'],
      rows.map((r) => [
        r.queue,
        r.waiting,
        r.delayed,
        r.active,
        r.dead,
        r.throughput,
        r.paused ? 'paused' : 'consuming',
      ]),
    ),
  )
}

export async function pauseQueues(app: App, queues: string, pause: boolean): Promise<void> {
  const broker = await app.broker()
  for (const q of splitList(queues)) {
    await (pause ? broker.pause(q) : broker.resume(q))
    out(`${pause ? 'paused' : 'resumed'} ${q}`)
  }
}

function splitList(list: string): string[] {
  return list
    .split(',')
    .map((q) => q.trim())
    .filter(Boolean)
}

export async function purge(app: App, queues: string, force: boolean): Promise<void> {
  const names = queues
    .split(',')
    .map((q) => q.trim())
    .filter(Boolean)
  if (!force)
    throw new ConfigError(
      `purge deletes every waiting and delayed job of ${names.join(', ')}; add --force to do it`,
    )
  const broker = await app.broker()
  for (const q of names) out(`purged ${await broker.purge(q)} jobs from ${q}`)
}

export async function deadList(
  app: App,
  flags: { queue?: string; limit?: number; json?: boolean },
): Promise<void> {
  const broker = await app.broker()
  const dead = await broker.listDead({ queue: flags.queue, limit: flags.limit ?? 50 })
  if (flags.json) return out(JSON.stringify(dead, null, 2))
  if (!dead.length) return out('the dead-letter store is empty')
  const taskOf = (body: string) => {
    try {
      return String((JSON.parse(body) as { task?: unknown }).task ?? '?')
    } catch {
      return '(undecodable)'
    }
  }
  out(
    table(
      ['id', 'queue', 'task', 'failed at', 'deliveries', 'reason'],
      dead.map((d) => [
        d.id,
        d.queue,
        taskOf(d.body),
        new Date(d.failedAt).toISOString(),
        d.deliveries,
        d.reason,
      ]),
    ),
  )
}

export async function deadReplay(app: App, ids: string[], all: boolean): Promise<void> {
  if (!ids.length && !all) throw new ConfigError('name the ids to replay, or pass --all')
  out(`replayed ${await app.replayDead(all ? undefined : ids)} jobs`)
}

export async function deadDelete(app: App, ids: string[], all: boolean): Promise<void> {
  if (!ids.length && !all) throw new ConfigError('name the ids to delete, or pass --all')
  const broker = await app.broker()
  out(`deleted ${await broker.deleteDead(all ? undefined : ids)} dead-letter entries`)
}

export async function deadPrune(app: App, flags: { olderThan?: string; keep?: number }): Promise<void> {
  if (flags.olderThan === undefined && flags.keep === undefined)
    throw new ConfigError('say what to prune: --older-than <duration> and/or --keep <n>')
  const broker = await app.broker()
  const n = await broker.pruneDead({
    before: flags.olderThan === undefined ? undefined : Date.now() - toMs(flags.olderThan, '--older-than'),
    keep: flags.keep,
  })
  out(`pruned ${n} dead-letter entries`)
}

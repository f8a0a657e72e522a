/**
 * How jobs look inside Redis and in script replies (see scripts/includes/entry.lua): building
 * publish arguments, reading reserve and list-dead replies, and fencing tokens.
 *
 * A token is "<n>:<queue>": n is the queue's delivery counter, and the queue tells ack, extend and
 * the others which queue's keys to touch, since a LeaseRef carries only id and token.
 */
import type { DeadJob, Delivery, OutgoingJob } from '../../contracts/broker.js'

export const PRIORITIES = 10

export function clampPriority(p: number): number {
  return Math.max(0, Math.min(PRIORITIES - 1, Math.trunc(p || 0)))
}

/** Longest id an entry may hold (scripts/includes/entry.lua dead-letters longer ones). */
export const MAX_ID_BYTES = 9999

/** "<deliveries>:<bytes of id>:<id><body>"; throws for an id the scripts would refuse. */
export function entry(deliveries: number, id: string, body: string): string {
  const bytes = Buffer.byteLength(id)
  if (bytes === 0 || bytes > MAX_ID_BYTES)
    throw new RangeError(`job id must be 1 to ${MAX_ID_BYTES} bytes, got ${bytes}`)
  return `${deliveries}:${bytes}:${id}${body}`
}

/**
 * ARGV of publish-14.lua (jobs of one queue): ten counts, ready entries grouped by priority, then
 * delayed pairs. An id repeated in the batch is sent once, the first: the script takes the ready
 * entries priority by priority, so a later copy at another priority would otherwise win.
 */
export function publishArgs(jobs: readonly OutgoingJob[], now: number): (string | number)[] {
  const ready: string[][] = Array.from({ length: PRIORITIES }, () => [])
  const readyFlags: string[][] = Array.from({ length: PRIORITIES }, () => [])
  const delayed: (string | number)[] = []
  let delayedFlags = ''
  const seen = new Set<string>()
  for (const j of jobs) {
    if (seen.has(j.id)) continue
    seen.add(j.id)
    const p = clampPriority(j.priority)
    const e = entry(0, j.id, j.body)
    const flag = j.generatedId ? '1' : '0'
    if (j.availableAt !== undefined && j.availableAt > now) {
      delayed.push(Math.ceil(j.availableAt), `${p}:${e}`)
      delayedFlags += flag
    } else {
      ready[p]!.push(e)
      readyFlags[p]!.push(flag)
    }
  }
  const args: (string | number)[] = ready.map((r) => r.length)
  args.push(readyFlags.map((f) => f.join('')).join('') + delayedFlags)
  for (const r of ready) for (const e of r) args.push(e)
  for (const d of delayed) args.push(d)
  return args
}

export interface ReserveReply {
  readonly deliveries: Delivery[]
  /** Server epoch ms when the script ran. */
  readonly now: number
  /** Epoch ms of the next delayed job or lease expiry; -1 for none, 0 when jobs were taken. */
  readonly nextDue: number
}

export function parseReserve(reply: unknown, queue: string): ReserveReply {
  const r = reply as (string | number)[]
  const deliveries: Delivery[] = []
  // Per job: "<token>:<priority>:<deliveries>:<id>" (the id may hold ':'), then the body.
  for (let i = 2; i + 1 < r.length; i += 2) {
    const head = String(r[i])
    const c1 = head.indexOf(':')
    const c2 = head.indexOf(':', c1 + 1)
    const c3 = head.indexOf(':', c2 + 1)
    const token = head.slice(0, c1)
    deliveries.push({
      id: head.slice(c3 + 1),
      token: `${token}:${queue}`,
      // The queue's delivery counter: every delivery of a job (a redelivery after a lease
      // expired, a retry, a release, a replay) draws a new, higher value.
      fence: Number(token),
      queue,
      priority: Number(head.slice(c1 + 1, c2)),
      deliveries: Number(head.slice(c2 + 1, c3)),
      body: String(r[i + 1]),
    })
  }
  return { deliveries, now: Number(r[0]), nextDue: Number(r[1]) }
}

export function parseDead(reply: unknown, queue: string): DeadJob[] {
  const r = reply as (string | number)[]
  const out: DeadJob[] = []
  for (let i = 0; i + 5 < r.length; i += 6) {
    out.push({
      id: String(r[i]),
      failedAt: Number(r[i + 1]),
      queue,
      priority: Number(r[i + 2]),
      deliveries: Number(r[i + 3]),
      reason: String(r[i + 4]),
      body: String(r[i + 5]),
    })
  }
  return out
}

/** The queue of a token and the leases-zset member "<n>:<id>" of a delivery; null if malformed. */
export function leaseOf(id: string, token: string): { queue: string; member: string } | null {
  const i = token.indexOf(':')
  if (i <= 0) return null
  return { queue: token.slice(i + 1), member: `${token.slice(0, i)}:${id}` }
}

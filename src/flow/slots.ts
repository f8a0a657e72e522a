/**
 * Per-key concurrency: at most N deliveries of a key running at once across every worker, as N
 * fenced locks of the coordination part (`<task>:<key>#<i>`), each held by the delivery's token
 * with a TTL of the worker's lease and renewed while the task runs. A worker that dies (SIGKILL)
 * stops renewing, so its slots come back within one lease, as its jobs do.
 *
 * Taking a slot tries the N locks one by one from a random start (so workers spread over them):
 * one round trip when a slot is free early, N when all are taken. Meant for small N.
 */
import { randomUUID } from 'node:crypto'
import type { Coordination, Lock } from '../contracts/coordination.js'

export class Slots {
  /** Held slots, by delivery token. */
  private readonly held = new Map<string, Lock>()
  private timer: NodeJS.Timeout | null = null
  /**
   * This process, in every lock owner: a delivery token is unique in its process only (RabbitMQ's
   * are a session number and a delivery tag, which another worker process can repeat), and a
   * lock taken by the "same" owner would be a renewal, not a second slot.
   */
  private readonly self = randomUUID()

  constructor(
    private readonly coordination: Coordination,
    private readonly ttlMs: number,
    private readonly warn: (msg: string, err: unknown) => void,
  ) {}

  /** Takes one of `n` slots of `name` for `owner`; false when all are taken. */
  async take(name: string, n: number, owner: string): Promise<boolean> {
    const start = Math.floor(Math.random() * n)
    for (let i = 0; i < n; i++) {
      const slot = `flow:${name}#${(start + i) % n}`
      const lock = await this.coordination.acquire(slot, `${this.self}:${owner}`, this.ttlMs)
      if (lock) {
        this.held.set(owner, lock)
        this.renewals()
        return true
      }
    }
    return false
  }

  /** Gives the slot of `owner` back (nothing when it holds none). */
  async give(owner: string): Promise<void> {
    const lock = this.held.get(owner)
    if (!lock) return
    this.held.delete(owner)
    await this.coordination
      .release(lock)
      .catch((err: unknown) => this.warn('could not give a slot back', err))
  }

  private renewals(): void {
    if (this.timer) return
    this.timer = setInterval(() => void this.renew(), Math.max(50, Math.floor(this.ttlMs / 3)))
    this.timer.unref()
  }

  private async renew(): Promise<void> {
    if (!this.held.size) return
    await Promise.all(
      [...this.held.values()].map((lock) =>
        this.coordination
          .renew(lock, this.ttlMs)
          .then((ok) => {
            if (!ok) this.warn(`slot ${lock.name} lapsed while its task ran`, null)
          })
          .catch((err: unknown) => this.warn('could not renew a slot', err)),
      ),
    )
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }
}

/**
 * Logs a failing dependency once when it starts failing and once when it recovers, however many
 * calls fail in between (a broker outage must not flood the log).
 */
import type { Logger } from './logger.js'

export class OutageLog {
  private readonly down = new Map<string, { since: number; failures: number }>()

  constructor(private readonly log: Logger) {}

  /** Records a failure of `what`; logs only the first of a run. */
  failed(what: string, err: unknown, fields: object = {}): void {
    const d = this.down.get(what)
    if (d) {
      d.failures++
      return
    }
    this.down.set(what, { since: Date.now(), failures: 1 })
    this.log.error(
      { ...fields, err: err instanceof Error ? err.message : String(err) },
      `${what} failed; retrying with backoff`,
    )
  }

  /** Records a success of `what`; logs the recovery if it had been failing. */
  ok(what: string): void {
    const d = this.down.get(what)
    if (!d) return
    this.down.delete(what)
    this.log.info({ downMs: Date.now() - d.since, failures: d.failures }, `${what} works again`)
  }

  /** What is failing now, and since when (epoch ms). */
  failing(): { what: string; since: number }[] {
    return [...this.down].map(([what, d]) => ({ what, since: d.since }))
  }

  isDown(what: string): boolean {
    return this.down.has(what)
  }
}

/**
 * The credit-based consumer of a pull engine: a loop that reserves exactly the credit it holds,
 * waits in the engine (`waitMs`) while idle, and parks while it has no credit. One reserve fills
 * many slots; nothing is buffered here beyond the credit the caller granted.
 */
import type { PullConsumer } from './broker.js'
import type { ConsumeOptions, Consumption } from './consumer.js'

/** How long one reserve waits in the engine before the loop looks at its state again. */
const WAIT_MS = 1000

export function pullConsume(broker: PullConsumer, options: ConsumeOptions): Consumption {
  let credit = options.credit
  let running = true
  const stopReserving = new AbortController()
  let wake: (() => void) | null = null
  const nudge = () => {
    const w = wake
    wake = null
    w?.()
  }

  const loop = (async () => {
    let errorDelay = 0
    let failing = false
    while (running) {
      // Let timers and settle batches run: with a synchronous engine every await below resolves
      // as a microtask, and the loop would otherwise starve the event loop.
      await new Promise<void>((r) => setImmediate(r))
      // Stopped during that turn: its nudge found no one parked, so do not park now.
      if (!running) break
      if (credit <= 0) {
        await new Promise<void>((r) => (wake = r))
        continue
      }
      let got
      try {
        got = await broker.reserve(options.queues, credit, {
          leaseMs: options.leaseMs,
          waitMs: WAIT_MS,
          signal: stopReserving.signal,
        })
        if (failing) options.onRecovered?.()
        failing = false
        errorDelay = 0
      } catch (err) {
        failing = true
        options.onError?.(err)
        // Short and capped: consuming resumes within a second or two of the engine's return.
        errorDelay = Math.min(Math.max(errorDelay * 2, 100), 2000)
        await new Promise<void>((r) => {
          const done = () => {
            clearTimeout(t)
            stopReserving.signal.removeEventListener('abort', done)
            r()
          }
          const t = setTimeout(done, errorDelay)
          stopReserving.signal.addEventListener('abort', done, { once: true })
        })
        continue
      }
      if (!got.length) continue
      if (!running) {
        // Stopped while the reserve was in flight: hand these straight back.
        await broker.release(got).catch(() => {})
        break
      }
      credit -= got.length
      options.onDeliveries(got)
    }
  })()

  return {
    grant(n) {
      credit += n
      if (credit > 0) nudge()
    },
    async stop() {
      running = false
      stopReserving.abort()
      nudge()
      await loop
    },
  }
}

/** What the parts of the coordination suite share: the client opener and a few helpers. */
import { randomUUID } from 'node:crypto'
import type { Coordination } from '../../../src/contracts/coordination.js'

/** A new connected client of the engine under test; closed by the suite at the end. */
export type OpenClient = () => Promise<Coordination>

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A fresh key, lock, stream or channel name, so tests never share state. */
export function name(kind: string): string {
  return `conf-${kind}-${randomUUID().slice(0, 8)}`
}

/** Waits until `check` holds, polling, for at most `ms`; returns whether it did. */
export async function eventually(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() >= deadline) return false
    await sleep(10)
  }
  return true
}

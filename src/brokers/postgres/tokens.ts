/**
 * A delivery's token is "<seq>:<fence>": the job's place in line when it was leased (unique per
 * row) and the fence of the reserve that leased it. Settle calls match both and the ref's id, so a
 * token is good for exactly one delivery of one job.
 */
import type { LeaseRef } from '../../contracts/broker.js'

export function tokenOf(seq: number, fence: number): string {
  return `${seq}:${fence}`
}

/** The refs as statement arrays, skipping malformed tokens (those are stale by definition). */
export function refArrays<T extends LeaseRef>(refs: readonly T[]) {
  const ids: string[] = []
  const seqs: number[] = []
  const fences: number[] = []
  const items: T[] = []
  for (const r of refs) {
    const i = r.token.indexOf(':')
    const seq = Number(r.token.slice(0, i))
    const fence = Number(r.token.slice(i + 1))
    if (i <= 0 || !Number.isSafeInteger(seq) || !Number.isSafeInteger(fence)) continue
    ids.push(r.id)
    seqs.push(seq)
    fences.push(fence)
    items.push(r)
  }
  return { ids, seqs, fences, items }
}

/**
 * Answers per ref: true for the first occurrence of each ref that matched a row, or for every
 * occurrence with `repeatable` (an extension leaves the lease live, so a repeat extends it again).
 */
export function matched(
  refs: readonly LeaseRef[],
  rows: readonly { id: string; seq: number; token: number }[],
  repeatable = false,
): boolean[] {
  const key = (id: string, token: string) => {
    const i = token.indexOf(':')
    return `${id}\u0000${Number(token.slice(0, i))}:${Number(token.slice(i + 1))}`
  }
  const hit = new Set(rows.map((r) => key(r.id, tokenOf(r.seq, r.token))))
  return refs.map((r) => (repeatable ? hit.has(key(r.id, r.token)) : hit.delete(key(r.id, r.token))))
}

/** Coordination keys of workflows, in one place. */

/** The join of a chord's finished members. */
export function chordJoinKey(chordId: string): string {
  return `canvas:chord:${chordId}`
}

/** The lock the first failed member of a chord takes. */
export function chordFailedKey(chordId: string): string {
  return `canvas:chord-failed:${chordId}`
}

/** The description of a workflow, for `celeriac result` and `workflowTree`. */
export function flowKey(rootId: string): string {
  return `canvas:flow:${rootId}`
}

/** The coordination namespace of stored chain segments (the parts of a long chain). */
export const SEGMENTS = 'canvas:chain'

/** The key of the `n`-th stored segment of the chain whose result id is `chainId`. */
export function segmentKey(chainId: string, n: number): string {
  return `${chainId}#${n}`
}

/** The result id of the chain a segment key belongs to. */
export function chainOfSegment(key: string): string {
  const hash = key.lastIndexOf('#')
  return hash > 0 ? key.slice(0, hash) : key
}

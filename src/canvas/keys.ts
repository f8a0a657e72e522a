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

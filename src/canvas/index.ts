/** Workflows (chain, group, chord, callbacks) and durable steps. */
export { chain, group, chord, Chain, Group, Chord, type ApplyOptions } from './workflows.js'
export { FlowResult, GroupResult } from './results.js'
export { workflowTree, type TreeNode } from './tree.js'
export { stepRecordId } from './steps.js'
export type { ChainCheck, ChainResultOf, GroupResults, CompleteSignature } from './types.js'

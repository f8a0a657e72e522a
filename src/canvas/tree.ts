/**
 * A workflow's shape and its tasks' states, for `celeriac result <id>` and `workflowTree()`.
 * The shape is written once when the workflow is sent (coordination key `canvas:flow:<root>`);
 * states are read from the result store in one batch.
 */
import type { App } from '../core/app.js'
import { memberId } from '../core/flow.js'
import type { TaskState } from '../core/states.js'
import { flowKey } from './keys.js'

/** A workflow's shape. */
export interface FlowNode {
  kind: 'task' | 'chain' | 'group' | 'chord'
  id: string
  task?: string
  links?: string[]
  errbacks?: string[]
  steps?: FlowNode[]
  size?: number
  /** A group's task names, or one name when all members run the same task. */
  tasks?: string | string[]
  header?: FlowNode
  body?: FlowNode
}

/** A node with states. Large groups list their first members and count the states of all. */
export interface TreeNode {
  kind: FlowNode['kind'] | 'link' | 'errback'
  id: string
  task?: string
  state?: TaskState
  counts?: Partial<Record<TaskState, number>>
  children?: TreeNode[]
}

const SHOWN_MEMBERS = 20

/** The root id a task id belongs to (ids of a workflow's tasks start with `<root>.`). */
function rootsOf(id: string): string[] {
  const dot = id.indexOf('.')
  return dot > 0 ? [id, id.slice(0, dot)] : [id]
}

/** The workflow the task `id` belongs to, with states; null when it is not part of one. */
export async function workflowTree(app: App, id: string): Promise<TreeNode | null> {
  const coordination = await app.coordination()
  if (!coordination) return null
  let shape: FlowNode | null = null
  for (const root of rootsOf(id)) {
    const [json] = await coordination.members(flowKey(root))
    if (json) {
      shape = JSON.parse(json) as FlowNode
      break
    }
  }
  if (!shape) return null
  const ids = new Set<string>()
  collect(shape, ids)
  const store = await app.resultStore()
  const list = [...ids]
  const recs = store ? await store.get(list) : []
  const states = new Map<string, TaskState>()
  list.forEach((k, i) => states.set(k, recs[i]?.state ?? 'PENDING'))
  return render(shape, states)
}

function memberIds(node: FlowNode): string[] {
  return Array.from({ length: node.size ?? 0 }, (_, i) => memberId(node.id, i))
}

function collect(node: FlowNode, ids: Set<string>): void {
  if (node.kind === 'task') ids.add(node.id)
  for (const l of [...(node.links ?? []), ...(node.errbacks ?? [])]) ids.add(l)
  for (const s of node.steps ?? []) collect(s, ids)
  if (node.kind === 'group') for (const m of memberIds(node)) ids.add(m)
  if (node.header) collect(node.header, ids)
  if (node.body) collect(node.body, ids)
}

function render(node: FlowNode, states: Map<string, TaskState>): TreeNode {
  const extra = [
    ...(node.links ?? []).map((id) => ({ kind: 'link' as const, id, state: states.get(id) })),
    ...(node.errbacks ?? []).map((id) => ({ kind: 'errback' as const, id, state: states.get(id) })),
  ]
  switch (node.kind) {
    case 'task':
      return {
        kind: 'task',
        id: node.id,
        task: node.task,
        state: states.get(node.id),
        ...(extra.length ? { children: extra } : {}),
      }
    case 'chain':
      return { kind: 'chain', id: node.id, children: (node.steps ?? []).map((s) => render(s, states)) }
    case 'group': {
      const ids = memberIds(node)
      const counts: Partial<Record<TaskState, number>> = {}
      for (const m of ids) {
        const s = states.get(m) ?? 'PENDING'
        counts[s] = (counts[s] ?? 0) + 1
      }
      const tasks = node.tasks
      return {
        kind: 'group',
        id: node.id,
        counts,
        children: ids.slice(0, SHOWN_MEMBERS).map((m, i) => ({
          kind: 'task' as const,
          id: m,
          task: typeof tasks === 'string' ? tasks : tasks?.[i],
          state: states.get(m),
        })),
      }
    }
    case 'chord':
      return {
        kind: 'chord',
        id: node.id,
        state: states.get(node.id),
        children: [render(node.header!, states), render(node.body!, states)],
      }
  }
}

// A task's workflow on its detail page: the tree `celeriac result` prints (src/canvas/tree.ts),
// as nested lists. Every task in it links to its own detail page, with its state.
import { badge, h } from './dom.js'

const enc = encodeURIComponent
const shortId = (id) => (id.length > 14 ? `…${id.slice(-12)}` : id)
const CALLBACK = { link: 'on success → ', errback: 'on failure → ' }

/** "4 SUCCESS · 1 FAILURE" for a group's members. */
function counts(c) {
  return Object.entries(c ?? {})
    .map(([state, n]) => `${n} ${state}`)
    .join(' · ')
}

function label(node, size) {
  if (node.kind === 'chain') return h('span', { class: 'flow-kind' }, `chain of ${node.children.length}`)
  if (node.kind === 'group')
    return h(
      'span',
      { class: 'flow-kind' },
      `group of ${size}`,
      size > node.children.length ? ` (first ${node.children.length} shown)` : '',
      h('span', { class: 'muted' }, ` ${counts(node.counts)}`),
    )
  if (node.kind === 'chord')
    return h('span', { class: 'flow-kind' }, 'chord ', badge(node.state ?? 'PENDING'))
  return null
}

function item(node, current) {
  const size = node.kind === 'group' ? Object.values(node.counts ?? {}).reduce((a, b) => a + b, 0) : 0
  const task = node.kind === 'task' || node.kind === 'link' || node.kind === 'errback'
  const here = task && node.id === current
  return h(
    'li',
    { 'data-id': node.id, 'data-kind': node.kind, class: here ? 'here' : null },
    task
      ? [
          CALLBACK[node.kind] ?? '',
          h(
            'a',
            { href: `tasks/${enc(node.id)}`, 'aria-current': here ? 'true' : null, title: node.id },
            h('span', { class: 'mono' }, node.task ?? (node.kind === 'task' ? 'task' : 'callback')),
            ' ',
            h('span', { class: 'mono muted' }, shortId(node.id)),
          ),
          ' ',
          badge(node.state ?? 'PENDING'),
          here ? h('span', { class: 'muted' }, ' (this task)') : null,
        ]
      : label(node, size),
    node.children?.length ? list(node.children, current) : null,
  )
}

function list(nodes, current) {
  return h(
    'ul',
    {},
    nodes.map((n) => item(n, current)),
  )
}

/** The Workflow section of a task page; null when the task is in no workflow. */
export function workflow(reply, current) {
  if (!reply) return null
  if (reply.error)
    return [h('h2', {}, 'Workflow'), h('p', { class: 'muted' }, `could not load: ${reply.error}`)]
  if (!reply.tree) return null
  return [
    h('h2', {}, 'Workflow'),
    h(
      'div',
      { class: 'flow-tree card', role: 'group', 'aria-label': 'workflow' },
      list([reply.tree], current),
    ),
  ]
}

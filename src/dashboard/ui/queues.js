// The Queues page's job lists: one queue's jobs in one state (waiting, delayed, active, dead), a
// page at a time. Counts come from the broker's stats; a page is one listing call, never all rows.
import { api } from './app.js'
import { ago, h, table, time, until } from './dom.js'

const STATES = ['waiting', 'delayed', 'active', 'dead']
const PAGE = 20
const enc = encodeURIComponent

const link = (queue, state, offset) =>
  `queues?queue=${enc(queue)}&state=${state}${offset ? `&offset=${offset}` : ''}`

/** The section for `?queue=<name>&state=<state>&offset=<n>`, below the queue table. */
export async function queueJobs(q, stats) {
  const queue = q.get('queue')
  if (!queue) return null
  const state = STATES.includes(q.get('state')) ? q.get('state') : 'waiting'
  const offset = Math.max(0, Number(q.get('offset')) || 0)
  const data = await api(`/api/queues/${enc(queue)}/jobs?state=${state}&offset=${offset}&limit=${PAGE}`)
  const counts = stats.find((s) => s.queue === queue) ?? {}
  const tabs = h(
    'nav',
    { class: 'tabs', 'aria-label': `States of ${queue}` },
    STATES.map((s) =>
      h(
        'a',
        { class: 'button', href: link(queue, s, 0), 'aria-current': s === state ? 'true' : null },
        `${s} (${(counts[s] ?? 0).toLocaleString()})`,
      ),
    ),
  )
  const last = Math.min(data.total, offset + data.jobs.length)
  const pager = h(
    'div',
    { class: 'pager' },
    offset > 0
      ? h('a', { class: 'button', href: link(queue, state, Math.max(0, offset - PAGE)) }, '← Previous')
      : null,
    h(
      'span',
      { class: 'muted', 'data-range': '' },
      data.jobs.length
        ? `${offset + 1}–${last} of ${data.total.toLocaleString()}`
        : `0 of ${data.total.toLocaleString()}`,
    ),
    offset + PAGE < data.total
      ? h('a', { class: 'button', href: link(queue, state, offset + PAGE) }, 'Next →')
      : null,
  )
  const when = (j) =>
    j.at === null || j.at === undefined
      ? ''
      : state === 'dead'
        ? ago(j.at)
        : state === 'delayed'
          ? `${until(j.at)} (${time(j.at)})`
          : `lease ${until(j.at)}`
  return h(
    'section',
    { class: 'queue-jobs', 'aria-live': 'polite' },
    h('h2', {}, 'Jobs of ', h('span', { class: 'mono' }, queue)),
    tabs,
    data.listable
      ? [
          pager,
          table(
            [
              'Id',
              'Task',
              h('th', { class: 'num' }, 'Priority'),
              h('th', { class: 'num hide-narrow' }, 'Deliveries'),
              state === 'waiting' ? null : h('th', {}, state === 'dead' ? 'Failed' : 'When'),
              h('th', { class: 'hide-narrow' }, state === 'dead' ? 'Reason' : 'Arguments'),
            ].filter(Boolean),
            data.jobs.map((j) =>
              h(
                'tr',
                {},
                h('td', { class: 'mono' }, h('a', { href: `tasks/${enc(j.id)}` }, j.id.slice(0, 13) + '…')),
                h('td', { class: 'mono' }, j.task ?? '?'),
                h('td', { class: 'num' }, String(j.priority)),
                h('td', { class: 'num hide-narrow' }, String(j.deliveries)),
                state === 'waiting' ? null : h('td', {}, when(j)),
                h(
                  'td',
                  { class: 'hide-narrow wrap' },
                  state === 'dead'
                    ? (j.reason ?? '')
                    : h('code', { class: 'mono args' }, JSON.stringify(j.args)),
                ),
              ),
            ),
            `no ${state} job in ${queue}`,
          ),
        ]
      : h('p', { class: 'alert', role: 'status' }, data.note),
  )
}

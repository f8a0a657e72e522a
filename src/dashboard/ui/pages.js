// One function per page: fetch what the page shows from the API, return its DOM.
import { act, api, go } from './app.js'
import { chartFigure } from './chart.js'
import { ago, badge, h, json, table, time, until } from './dom.js'
import { workflow } from './flow.js'
import { rateLimits } from './limits.js'
import { queueJobs } from './queues.js'

const num = (n) => h('td', { class: 'num' }, typeof n === 'number' ? n.toLocaleString() : String(n ?? ''))
const rate = (n) => `${(n ?? 0).toFixed(n >= 10 ? 0 : 2)}/s`
const card = (n, label) =>
  h('div', { class: 'card' }, h('div', { class: 'n' }, String(n)), h('div', { class: 'l' }, label))
const confirmAct = (question, label, path, body) => () => {
  if (confirm(question)) act(label, path, body)
}
const enc = encodeURIComponent
const TASKS_PAGE = 50

function queueTable(queues, withActions) {
  return table(
    [
      'Queue',
      h('th', { class: 'num' }, 'Waiting'),
      h('th', { class: 'num' }, 'Delayed'),
      h('th', { class: 'num' }, 'Active'),
      h('th', { class: 'num' }, 'Dead'),
      h('th', { class: 'num' }, 'Throughput'),
      'State',
      ...(withActions ? ['Actions'] : []),
    ],
    queues.map((q) =>
      h(
        'tr',
        {},
        h(
          'td',
          { class: 'mono' },
          withActions ? h('a', { href: `queues?queue=${enc(q.queue)}&state=waiting` }, q.queue) : q.queue,
        ),
        num(q.waiting),
        num(q.delayed),
        num(q.active),
        num(q.dead),
        h('td', { class: 'num' }, rate(q.throughput)),
        h('td', {}, badge(q.paused ? 'paused' : 'online')),
        withActions
          ? h(
              'td',
              {},
              h(
                'div',
                { class: 'actions' },
                q.paused
                  ? h(
                      'button',
                      {
                        type: 'button',
                        onclick: () => act(`resume ${q.queue}`, `/api/queues/${enc(q.queue)}/resume`),
                      },
                      'Resume',
                    )
                  : h(
                      'button',
                      {
                        type: 'button',
                        onclick: () => act(`pause ${q.queue}`, `/api/queues/${enc(q.queue)}/pause`),
                      },
                      'Pause',
                    ),
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'danger',
                    onclick: confirmAct(
                      `Delete all ${q.waiting + q.delayed} waiting and delayed jobs of "${q.queue}"? This cannot be undone.`,
                      `purge ${q.queue}`,
                      `/api/queues/${enc(q.queue)}/purge`,
                    ),
                  },
                  'Purge…',
                ),
              ),
            )
          : null,
      ),
    ),
    'no queue yet: send a task',
  )
}

/** An error as its name and message, then its stack, all as text. */
function errorView(e) {
  if (!e || typeof e !== 'object' || typeof e.message !== 'string') return json(e)
  const head = `${e.name ?? 'Error'}: ${e.message}`
  const stack = typeof e.stack === 'string' ? e.stack.split('\n') : []
  const rest = (stack[0] === head ? stack.slice(1) : stack).join('\n')
  return h(
    'div',
    { class: 'error-box' },
    h('pre', { class: 'mono err-head' }, head),
    rest ? h('pre', { class: 'mono err-stack' }, rest) : null,
  )
}

export const pages = {
  async overview() {
    const o = await api('/api/overview')
    const sum = (f) => o.queues.reduce((n, q) => n + q[f], 0)
    return h(
      'section',
      {},
      h('h1', {}, 'Overview'),
      h(
        'div',
        { class: 'cards' },
        card(sum('waiting').toLocaleString(), 'waiting'),
        card(sum('delayed').toLocaleString(), 'delayed'),
        card(sum('active').toLocaleString(), 'active'),
        card(sum('dead').toLocaleString(), 'dead'),
        card(rate(sum('throughput')), 'throughput'),
        card(`${o.workersOnline} / ${o.workers}`, 'workers online'),
        card(o.finishedLast5m, 'finished, last 5 min'),
        card(o.failedLast5m, 'failed, last 5 min'),
      ),
      o.events
        ? null
        : h('p', { class: 'muted' }, 'This broker has no event log: tasks and workers are not shown.'),
      h('h2', {}, 'Queues'),
      queueTable(o.queues, false),
      o.events
        ? [
            h('h2', {}, 'Last hour, per minute'),
            o.series.length
              ? h(
                  'div',
                  { class: 'charts' },
                  o.series.map((x) => chartFigure(x, h)),
                )
              : h('p', { class: 'muted' }, 'no task finished in the last hour'),
          ]
        : null,
    )
  },

  async queues(_r, q) {
    const { queues, listJobs } = await api('/api/queues')
    return h(
      'section',
      {},
      h('h1', {}, 'Queues'),
      queueTable(queues, true),
      q.get('queue')
        ? await queueJobs(q, queues)
        : h(
            'p',
            { class: 'muted' },
            listJobs
              ? 'Choose a queue to list its jobs by state.'
              : 'Choose a queue to see its dead letters; this broker cannot list its other jobs without taking them.',
          ),
    )
  },

  async workers() {
    const [{ workers, note }, limits] = await Promise.all([api('/api/workers'), api('/api/rate-limits')])
    return h(
      'section',
      {},
      h('h1', {}, 'Workers'),
      note ? h('p', { class: 'muted' }, note) : null,
      table(
        [
          'Worker',
          'State',
          'Pool',
          h('th', { class: 'num' }, 'Concurrency'),
          h('th', { class: 'num' }, 'Active'),
          h('th', { class: 'num hide-narrow' }, 'Processed'),
          h('th', { class: 'num hide-narrow' }, 'Failed'),
          h('th', { class: 'hide-narrow' }, 'Queues'),
          'Heartbeat',
          'Actions',
        ],
        workers.map((w) =>
          h(
            'tr',
            {},
            h('td', { class: 'mono' }, w.name),
            h('td', {}, badge(w.online ? 'online' : 'offline')),
            h('td', {}, w.pool),
            num(w.concurrency),
            num(w.active),
            h('td', { class: 'num hide-narrow' }, String(w.processed)),
            h('td', { class: 'num hide-narrow' }, String(w.failed)),
            h('td', { class: 'hide-narrow mono' }, w.queues.join(', ')),
            h('td', {}, ago(w.heartbeatAt)),
            h(
              'td',
              {},
              w.online
                ? h(
                    'div',
                    { class: 'actions' },
                    h(
                      'button',
                      {
                        type: 'button',
                        onclick: () =>
                          act(`grow ${w.name}`, `/api/workers/${enc(w.name)}/pool-grow`, { n: 1 }),
                      },
                      '+1',
                    ),
                    h(
                      'button',
                      {
                        type: 'button',
                        onclick: () =>
                          act(`shrink ${w.name}`, `/api/workers/${enc(w.name)}/pool-shrink`, { n: 1 }),
                      },
                      '−1',
                    ),
                    h(
                      'button',
                      {
                        type: 'button',
                        class: 'danger',
                        onclick: confirmAct(
                          `Shut down ${w.name}? It finishes running tasks first.`,
                          `shutdown ${w.name}`,
                          `/api/workers/${enc(w.name)}/shutdown`,
                        ),
                      },
                      'Shut down…',
                    ),
                  )
                : '',
            ),
          ),
        ),
        'no worker has registered in the last hour',
      ),
      rateLimits(limits),
    )
  },

  async tasks(_r, q) {
    // Times are picked in the browser's zone and sent as epoch ms.
    const sent = new URLSearchParams(q)
    for (const k of ['from', 'to']) if (q.get(k)) sent.set(k, String(new Date(q.get(k)).getTime()))
    sent.set('limit', String(TASKS_PAGE))
    const data = await api(`/api/tasks?${sent}`)
    const offset = data.offset
    const pageLink = (o) => {
      const p = new URLSearchParams(q)
      if (o) p.set('offset', String(o))
      else p.delete('offset')
      return `tasks?${p}`
    }
    const select = (name, label, options) =>
      h(
        'select',
        { name, 'aria-label': label },
        h('option', { value: '' }, `any ${label}`),
        options.map((o) => h('option', { value: o, selected: q.get(name) === o }, o)),
      )
    const form = h(
      'form',
      {
        class: 'filters',
        role: 'search',
        onsubmit: (e) => {
          e.preventDefault()
          const p = new URLSearchParams()
          for (const [k, v] of new FormData(e.target)) if (v) p.set(k, v)
          go(`/tasks${p.size ? `?${p}` : ''}`)
        },
      },
      h('input', {
        name: 'id',
        placeholder: 'task id',
        'aria-label': 'task id',
        value: q.get('id') ?? '',
        class: 'mono',
      }),
      select('state', 'state', ['RECEIVED', 'STARTED', 'RETRY', 'SUCCESS', 'FAILURE', 'REVOKED']),
      select('task', 'task', data.names),
      select('queue', 'queue', data.queues),
      select('worker', 'worker', data.workers),
      h(
        'label',
        { class: 'muted' },
        'from ',
        h('input', {
          type: 'datetime-local',
          name: 'from',
          value: q.get('from') ?? '',
          'aria-label': 'updated from',
        }),
      ),
      h(
        'label',
        { class: 'muted' },
        'to ',
        h('input', {
          type: 'datetime-local',
          name: 'to',
          value: q.get('to') ?? '',
          'aria-label': 'updated until',
        }),
      ),
      h('button', { type: 'submit' }, 'Filter'),
    )
    for (const s of form.querySelectorAll('select')) s.addEventListener('change', () => form.requestSubmit())
    return h(
      'section',
      {},
      h('h1', {}, 'Tasks'),
      form,
      table(
        [
          'Id',
          'Task',
          'State',
          h('th', { class: 'hide-narrow' }, 'Worker'),
          'Updated',
          h('th', { class: 'num hide-narrow' }, 'Runtime'),
          h('th', { class: 'hide-narrow' }, 'Reason'),
        ],
        data.tasks.map((t) =>
          h(
            'tr',
            {},
            h('td', { class: 'mono' }, h('a', { href: `tasks/${enc(t.id)}` }, t.id.slice(0, 13) + '…')),
            h('td', { class: 'mono' }, t.task ?? '?'),
            h('td', {}, badge(t.state)),
            h('td', { class: 'hide-narrow mono' }, t.worker),
            h('td', {}, ago(t.updatedAt)),
            h('td', { class: 'num hide-narrow' }, t.runtimeMs === null ? '' : `${t.runtimeMs} ms`),
            h('td', { class: 'hide-narrow wrap reason' }, t.reason ?? ''),
          ),
        ),
        'no task in the event log matches (workers send events with --events)',
      ),
      h(
        'div',
        { class: 'pager' },
        offset > 0
          ? h('a', { class: 'button', href: pageLink(Math.max(0, offset - TASKS_PAGE)) }, '← Newer')
          : null,
        h(
          'span',
          { class: 'muted', 'data-range': '' },
          data.tasks.length
            ? `${offset + 1}–${offset + data.tasks.length} of ${data.total}`
            : `0 of ${data.total}`,
        ),
        offset + TASKS_PAGE < data.total
          ? h('a', { class: 'button', href: pageLink(offset + TASKS_PAGE) }, 'Older →')
          : null,
      ),
    )
  },

  async task(r) {
    const [t, flow] = await Promise.all([
      api(`/api/tasks/${enc(r.id)}`),
      api(`/api/tasks/${enc(r.id)}/tree`).catch((err) => ({ error: err.message })),
    ])
    const ready = ['SUCCESS', 'FAILURE', 'REVOKED'].includes(t.state)
    return h(
      'section',
      {},
      h('p', {}, h('a', { href: 'tasks' }, '← Tasks')),
      h('h1', { class: 'mono' }, t.task ?? 'task', ' ', badge(t.state)),
      t.seen
        ? null
        : h(
            'p',
            { class: 'muted' },
            'No worker has reported this task yet: it is waiting in a queue (revoking it now means it never runs), or the id is unknown.',
          ),
      h(
        'div',
        { class: 'card' },
        h(
          'dl',
          { class: 'kv' },
          h('dt', {}, 'Id'),
          h('dd', { class: 'mono' }, t.id),
          h('dt', {}, 'Worker'),
          h('dd', { class: 'mono' }, t.worker ?? ''),
          h('dt', {}, 'Retries'),
          h('dd', {}, String(t.retries)),
          h('dt', {}, 'Started'),
          h('dd', {}, time(t.startedAt)),
          h('dt', {}, 'Done'),
          h('dd', {}, time(t.doneAt)),
        ),
        t.state === 'FAILURE'
          ? h(
              'div',
              { class: 'actions' },
              h(
                'button',
                {
                  type: 'button',
                  onclick: confirmAct(
                    `Run ${t.id} again now, with the arguments it failed with?`,
                    'retry now',
                    `/api/tasks/${enc(t.id)}/retry`,
                    {},
                  ),
                },
                'Retry now…',
              ),
            )
          : null,
        ready
          ? null
          : h(
              'div',
              { class: 'actions', style: null },
              h(
                'button',
                {
                  type: 'button',
                  class: 'danger',
                  onclick: confirmAct(`Revoke ${t.id}?`, 'revoke', `/api/tasks/${enc(t.id)}/revoke`, {}),
                },
                'Revoke…',
              ),
              h(
                'button',
                {
                  type: 'button',
                  class: 'danger',
                  onclick: confirmAct(
                    `Revoke and terminate ${t.id}?`,
                    'terminate',
                    `/api/tasks/${enc(t.id)}/revoke`,
                    { terminate: true },
                  ),
                },
                'Terminate…',
              ),
            ),
      ),
      workflow(flow, t.id),
      h('h2', {}, 'Arguments'),
      t.args === null ? h('p', { class: 'muted' }, 'not in the event log') : json(t.args),
      t.progress !== null ? [h('h2', {}, 'Progress'), json(t.progress)] : null,
      t.state === 'SUCCESS' ? [h('h2', {}, 'Result'), json(t.result)] : null,
      t.error ? [h('h2', {}, 'Error'), errorView(t.error)] : null,
      h('h2', {}, 'Events'),
      table(
        ['Time', 'Event', 'Worker', 'Detail'],
        t.events.map((e) =>
          h(
            'tr',
            {},
            h('td', {}, time(e.at)),
            h('td', {}, e.type),
            h('td', { class: 'mono' }, e.worker),
            h('td', { class: 'wrap' }, e.reason ?? (e.runtimeMs !== undefined ? `${e.runtimeMs} ms` : '')),
          ),
        ),
        'no events (the log keeps the newest only)',
      ),
    )
  },

  async dead(_r, q) {
    const offset = Number(q.get('offset') ?? 0) || 0
    const data = await api(`/api/dead?limit=50&offset=${offset}`)
    return h(
      'section',
      {},
      h('h1', {}, 'Dead letters'),
      h(
        'div',
        { class: 'actions' },
        offset > 0
          ? h('a', { class: 'button', href: `dead?offset=${Math.max(0, offset - 50)}` }, '← Newer')
          : null,
        data.dead.length === 50
          ? h('a', { class: 'button', href: `dead?offset=${offset + 50}` }, 'Older →')
          : null,
      ),
      table(
        ['Id', 'Task', 'Queue', 'Failed', 'Reason', 'Arguments', 'Actions'],
        data.dead.map((d) =>
          h(
            'tr',
            {},
            h('td', { class: 'mono' }, h('a', { href: `tasks/${enc(d.id)}` }, d.id.slice(0, 13) + '…')),
            h('td', { class: 'mono' }, d.task ?? '?'),
            h('td', { class: 'mono' }, d.queue),
            h('td', {}, ago(d.failedAt)),
            h('td', { class: 'wrap' }, d.reason),
            h('td', { class: 'wrap mono' }, JSON.stringify(d.args)),
            h(
              'td',
              {},
              h(
                'div',
                { class: 'actions' },
                h(
                  'button',
                  { type: 'button', onclick: () => act('replay', '/api/dead/replay', { ids: [d.id] }) },
                  'Replay',
                ),
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'danger',
                    onclick: confirmAct(`Delete dead letter ${d.id}?`, 'delete', '/api/dead/delete', {
                      ids: [d.id],
                    }),
                  },
                  'Delete…',
                ),
              ),
            ),
          ),
        ),
        'no dead letters',
      ),
    )
  },

  async schedules() {
    const { entries, note, key } = await api('/api/schedules')
    const when = (ms, soon) =>
      ms === null ? h('span', { class: 'muted' }, '—') : h('span', { title: time(ms) }, soon(ms))
    return h(
      'section',
      {},
      h('h1', {}, 'Schedules'),
      h('p', { class: 'muted' }, note ?? `Beat entries stored under the key "${key}".`),
      table(
        [
          'Entry',
          'Task',
          'Schedule',
          'Next fire',
          h('th', { class: 'hide-narrow' }, 'Last fire'),
          h('th', { class: 'hide-narrow' }, 'Arguments'),
          'State',
          'Actions',
        ],
        entries.map((e) =>
          h(
            'tr',
            {},
            h('td', { class: 'mono' }, e.name),
            h('td', { class: 'mono' }, e.task),
            h('td', {}, e.description),
            h('td', {}, when(e.next, until)),
            h('td', { class: 'hide-narrow' }, when(e.last, ago)),
            h('td', { class: 'hide-narrow wrap mono' }, JSON.stringify(e.args)),
            h('td', {}, badge(e.paused ? 'paused' : e.stored ? 'active' : 'not stored')),
            h(
              'td',
              {},
              e.stored
                ? h(
                    'button',
                    {
                      type: 'button',
                      onclick: () =>
                        act(
                          `${e.paused ? 'resume' : 'pause'} ${e.name}`,
                          `/api/schedules/${enc(e.name)}/${e.paused ? 'resume' : 'pause'}`,
                        ),
                    },
                    e.paused ? 'Resume' : 'Pause',
                  )
                : h('span', { class: 'muted' }, 'once beat runs'),
            ),
          ),
        ),
        'no beat entry: declare them with createBeat(app, { entries }) or celeriac beat add',
      ),
    )
  },
}

// The Workers page's rate limits: the run-time limits every worker applies (coordination records,
// re-read about once a second), and a form to set, turn off or reset one.
import { act } from './app.js'
import { h, table } from './dom.js'

export /** Run-time rate limits (every worker applies them within about a second), and a form to change one. */
function rateLimits({ limits, note }) {
  const form = h(
    'form',
    {
      class: 'filters',
      'aria-label': 'Change a rate limit',
      onsubmit: (e) => {
        e.preventDefault()
        const f = new FormData(e.target)
        const target = { [f.get('kind')]: String(f.get('name') ?? '').trim() }
        const rate = String(f.get('rate') ?? '').trim()
        act(
          `rate limit ${Object.values(target)[0]}`,
          '/api/rate-limits',
          rate === 'reset' ? { ...target, reset: true } : { ...target, rate },
        )
      },
    },
    h(
      'select',
      { name: 'kind', 'aria-label': 'limit a task or a queue' },
      h('option', { value: 'task' }, 'task'),
      h('option', { value: 'queue' }, 'queue'),
    ),
    h('input', {
      name: 'name',
      placeholder: 'task or queue name',
      'aria-label': 'task or queue name',
      required: true,
      class: 'mono',
    }),
    h('input', {
      name: 'rate',
      placeholder: '50/s, 20/m, off or reset',
      'aria-label': 'rate',
      required: true,
      class: 'mono',
    }),
    h('button', { type: 'submit' }, 'Set rate limit'),
  )
  return [
    h('h2', {}, 'Rate limits'),
    note
      ? h('p', { class: 'muted' }, note)
      : [
          table(
            ['Target', 'Rate', 'Actions'],
            limits.map((l) => {
              const [kind, ...rest] = l.key.split(':')
              const name = rest.join(':')
              return h(
                'tr',
                {},
                h('td', { class: 'mono' }, l.key),
                h('td', { class: 'mono' }, l.rate),
                h(
                  'td',
                  {},
                  h(
                    'button',
                    {
                      type: 'button',
                      onclick: () => act(`reset ${l.key}`, '/api/rate-limits', { [kind]: name, reset: true }),
                    },
                    'Reset',
                  ),
                ),
              )
            }),
            'no run-time rate limit: tasks use their own rateLimit',
          ),
          form,
        ],
  ]
}

// DOM building for the dashboard. Text goes in with textContent only: nothing from a task, a
// queue name or an error is ever parsed as HTML. No file in ui/ uses an HTML-parsing property or
// call: eslint.config.js forbids them here, and test/e2e/dashboard.test.ts checks the files.

/**
 * h('td', { class: 'num' }, 'text', child): an element with attributes and children; strings
 * become text nodes. Attributes starting with "on" are listeners (functions only).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v)
    else el.setAttribute(k, v === true ? '' : String(v))
  }
  append(el, children)
  return el
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue
    el.append(c instanceof Node ? c : document.createTextNode(String(c)))
  }
}

export function table(headers, rows, empty = 'nothing yet') {
  if (!rows.length) return h('div', { class: 'table-wrap' }, h('div', { class: 'empty' }, empty))
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          headers.map((x) => (typeof x === 'string' ? h('th', { scope: 'col' }, x) : x)),
        ),
      ),
      h('tbody', {}, rows),
    ),
  )
}

export const badge = (state) => h('span', { class: `badge s-${state}` }, state)

export function ago(ms) {
  if (ms === null || ms === undefined) return ''
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000))
  if (s < 60) return `${s}s ago`
  if (s < 3600) return `${Math.floor(s / 60)}m ago`
  return `${Math.floor(s / 3600)}h ago`
}

/** A moment to come, as "in 5s", "in 3m", "in 2h", "in 4d". */
export function until(ms) {
  const s = Math.max(0, Math.round((ms - Date.now()) / 1000))
  if (s < 60) return `in ${s}s`
  if (s < 3600) return `in ${Math.floor(s / 60)}m`
  if (s < 86400) return `in ${Math.floor(s / 3600)}h`
  return `in ${Math.floor(s / 86400)}d`
}

export const time = (ms) => (ms ? new Date(ms).toLocaleString() : '')

/** JSON shown as text, pretty-printed. */
export function json(value) {
  return h('pre', { class: 'mono' }, typeof value === 'string' ? value : JSON.stringify(value, null, 2))
}

export function toast(message) {
  const el = document.getElementById('toast')
  el.textContent = message
  el.classList.add('show')
  clearTimeout(toast.timer)
  toast.timer = setTimeout(() => el.classList.remove('show'), 4000)
}

// The dashboard's front end: plain ES modules, no build step. A tiny router draws the page the
// URL names; one server-sent-events stream (/api/live) keeps the page current.
import { toast } from './dom.js'
import { pages } from './pages.js'

const main = document.getElementById('main')
const liveEl = document.getElementById('live')
let current = null
let redrawTimer = null
// The path the dashboard is mounted under, from the <base> the server writes ('/' at the root).
const BASE = new URL(document.baseURI).pathname
/** A dashboard path ('/api/x', '/tasks') as a URL below the base. */
const below = (path) => path.replace(/^\//, '') || './'

export async function api(path, options = {}) {
  const init = { credentials: 'same-origin', headers: {} }
  if (options.body !== undefined) {
    init.method = 'POST'
    init.headers['content-type'] = 'application/json'
    init.headers['x-celeriac-csrf'] = '1'
    init.body = JSON.stringify(options.body)
  }
  const res = await fetch(below(path), init)
  if (res.status === 401) {
    location.assign(below('/login'))
    throw new Error('signed out')
  }
  const data = await res.json().catch(() => ({}))
  if (!res.ok) throw new Error(data.error ?? `${res.status} ${res.statusText}`)
  return data
}

/** Runs an action and reports its outcome, then redraws. */
export async function act(label, path, body = {}) {
  try {
    await api(path, { body })
    toast(`${label}: done`)
  } catch (err) {
    toast(`${label}: ${err.message}`)
  }
  draw()
}

export function go(url) {
  history.pushState(null, '', new URL(below(url), document.baseURI))
  draw()
}

function route() {
  const path = location.pathname.startsWith(BASE) ? `/${location.pathname.slice(BASE.length)}` : '/'
  if (path === '/' || path === '') return { page: 'overview' }
  if (path === '/queues') return { page: 'queues' }
  if (path === '/workers') return { page: 'workers' }
  if (path === '/dead') return { page: 'dead' }
  if (path === '/schedules') return { page: 'schedules' }
  if (path === '/tasks') return { page: 'tasks' }
  const m = /^\/tasks\/([^/]+)$/.exec(path)
  if (m) return { page: 'task', id: decodeURIComponent(m[1]) }
  return { page: 'overview' }
}

async function draw(live = false) {
  const r = route()
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === (r.page === 'task' ? 'tasks' : r.page)) a.setAttribute('aria-current', 'page')
    else a.removeAttribute('aria-current')
  }
  const token = (current = {})
  try {
    const view = await pages[r.page](r, new URLSearchParams(location.search))
    // A slower earlier draw must not replace a newer one.
    if (token !== current) return
    // Keep focus and filter inputs while the page redraws live.
    if (live && main.contains(document.activeElement) && document.activeElement.matches('input, select'))
      return
    main.replaceChildren(view)
  } catch (err) {
    if (token === current) main.replaceChildren(document.createTextNode(`Could not load: ${err.message}`))
  }
}

/** Live updates: redraw on news, at most every second. */
function connect() {
  const es = new EventSource(below('/api/live'))
  es.addEventListener('open', () => {
    liveEl.textContent = 'live'
    liveEl.className = 'live on'
  })
  es.addEventListener('error', () => {
    liveEl.textContent = 'reconnecting'
    liveEl.className = 'live off'
  })
  let lastQueues = ''
  es.addEventListener('tick', (e) => {
    const data = JSON.parse(e.data)
    const queues = JSON.stringify(data.queues)
    const changed = data.events.length > 0 || queues !== lastQueues
    lastQueues = queues
    const r = route()
    // Heartbeat ages and next fires tick on these pages even when nothing else happens.
    if ((changed || r.page === 'workers' || r.page === 'schedules') && !redrawTimer)
      redrawTimer = setTimeout(() => {
        redrawTimer = null
        draw(true)
      }, 250)
  })
}

document.addEventListener('click', (e) => {
  const a = e.target.closest('a[href]')
  if (!a || a.origin !== location.origin || e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return
  e.preventDefault()
  go(a.getAttribute('href'))
})
window.addEventListener('popstate', () => draw())
document.getElementById('logout').addEventListener('click', async () => {
  await api('/logout', { body: {} }).catch(() => {})
  location.assign(below('/login'))
})

draw()
connect()

// Per-queue charts of the last hour, drawn by hand as inline SVG (no chart library): one bar per
// minute of tasks finished, failures drawn over them. Built with createElementNS and text nodes
// only, like every other view here.
const SVG = 'http://www.w3.org/2000/svg'

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v))
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)))
  return el
}

const W = 240
const H = 48

/** One queue's minutes as an SVG: `done` bars, `failed` bars over them, the peak as a label. */
export function minuteChart(series) {
  const n = series.done.length
  const peak = Math.max(1, ...series.done)
  const bar = W / n
  const total = series.done.reduce((a, b) => a + b, 0)
  const failed = series.failed.reduce((a, b) => a + b, 0)
  const label = `${series.queue}: ${total} finished, ${failed} failed in the last hour (peak ${peak} a minute)`
  const bars = []
  series.done.forEach((v, i) => {
    if (!v) return
    const hgt = Math.max(1, (v / peak) * (H - 2))
    bars.push(
      s('rect', { class: 'bar-done', x: i * bar, y: H - hgt, width: Math.max(1, bar - 1), height: hgt }),
    )
    const f = series.failed[i]
    if (f) {
      const fh = Math.max(1, (f / peak) * (H - 2))
      bars.push(
        s('rect', { class: 'bar-failed', x: i * bar, y: H - fh, width: Math.max(1, bar - 1), height: fh }),
      )
    }
  })
  return s(
    'svg',
    {
      class: 'chart',
      viewBox: `0 0 ${W} ${H}`,
      role: 'img',
      'aria-label': label,
      preserveAspectRatio: 'none',
    },
    s('title', {}, label),
    s('line', { class: 'axis', x1: 0, y1: H - 0.5, x2: W, y2: H - 0.5 }),
    ...bars,
  )
}

/** A figure per queue: its name, the chart, totals in words. */
export function chartFigure(series, h) {
  const total = series.done.reduce((a, b) => a + b, 0)
  const failed = series.failed.reduce((a, b) => a + b, 0)
  const peak = Math.max(...series.done)
  return h(
    'figure',
    { class: 'card chart-card', 'data-queue': series.queue },
    h(
      'figcaption',
      {},
      h('span', { class: 'mono' }, series.queue),
      ' ',
      h('span', { class: 'muted' }, 'last hour'),
    ),
    minuteChart(series),
    h(
      'div',
      { class: 'chart-legend' },
      h('span', { class: 'key-done' }, `${total} finished`),
      ' · ',
      h('span', { class: 'key-failed' }, `${failed} failed`),
      ' · ',
      h('span', { class: 'muted' }, `peak ${peak}/min`),
    ),
  )
}

/** `celeriac events`: the event log, as lines a person reads or as JSON, once or following it. */
import type { App } from '../core/app.js'
import { ConfigError } from '../core/errors.js'
import { EVENTS_STREAM, parseEvents, type CeleriacEvent } from '../core/events.js'

export interface EventsFlags {
  readonly follow?: boolean
  readonly limit?: number
  readonly json?: boolean
}

const COLOURS: Record<string, string> = {
  'task-received': '36',
  'task-started': '34',
  'task-succeeded': '32',
  'task-failed': '31',
  'task-retried': '33',
  'task-revoked': '35',
  'task-progress': '34;2',
  'worker-online': '32;1',
  'worker-heartbeat': '2',
  'worker-offline': '31;1',
}

/** A progress value as it reads on one line: JSON, cut short past 120 characters. */
function progressText(value: unknown): string {
  const text = JSON.stringify(value) ?? 'null'
  return `progress ${text.length > 120 ? `${text.slice(0, 119)}…` : text}`
}

/** One compact line per event; coloured by type when `colour` (a terminal). */
export function line(e: CeleriacEvent, colour = false): string {
  const paint = (code: string | undefined, text: string) =>
    colour && code ? `\x1b[${code}m${text}\x1b[0m` : text
  const when = new Date(e.at).toISOString().slice(11, 23)
  const what = e.id ? `${e.task ?? '?'}[${e.id}]` : ''
  const extra = [
    e.runtimeMs !== undefined ? `${e.runtimeMs} ms` : '',
    e.type === 'task-progress' ? progressText(e.progress) : '',
    e.type.startsWith('worker-') ? `running ${e.running ?? 0}, processed ${e.processed ?? 0}` : '',
    e.reason ? `— ${e.reason}` : '',
  ].filter(Boolean)
  return [paint('2', when), paint(COLOURS[e.type], e.type.padEnd(16)), what, ...extra, paint('2', e.worker)]
    .filter(Boolean)
    .join('  ')
}

/** Prints the newest `limit` events (default 50), then new ones as they come with --follow. */
export async function showEvents(app: App, flags: EventsFlags, signal?: AbortSignal): Promise<void> {
  const c = await app.coordination()
  if (!c)
    throw new ConfigError(
      'this app has no coordination part to read events from (sqlite:// and redis:// have one)',
    )
  const limit = flags.limit ?? 50
  // The newest `limit`: read forward in pages, keeping the tail.
  let tail: { id: string; data: string }[] = []
  let cursor: string | null = null
  for (;;) {
    const page = await c.read(EVENTS_STREAM, cursor, 1000)
    if (!page.length) break
    tail = tail.concat(page).slice(-limit)
    cursor = page[page.length - 1]!.id
  }
  const colour = process.stdout.isTTY === true && !process.env.NO_COLOR
  const print = (data: string) => {
    for (const e of parseEvents(data))
      process.stdout.write((flags.json ? JSON.stringify(e) : line(e, colour)) + '\n')
  }
  for (const e of tail) print(e.data)
  while (flags.follow && !signal?.aborted) {
    await new Promise((r) => setTimeout(r, 250))
    const page = await c.read(EVENTS_STREAM, cursor, 1000)
    for (const e of page) print(e.data)
    if (page.length) cursor = page[page.length - 1]!.id
  }
}

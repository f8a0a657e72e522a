/**
 * Fuzzing the message decoder: valid envelopes mutated at random (fields replaced by values of
 * every JSON type, removed, renamed; text truncated, spliced with random bytes). Each case must
 * either decode to a Message whose fields have the types the worker relies on, or throw
 * MalformedMessageError: never another error, never a Message the worker cannot use.
 *
 * `node --import tsx bench/decoder-fuzz.ts [--cases 1000000] [--seed n]` runs the long fuzz and
 * prints the count; test/fuzz/decoder.test.ts runs a few thousand cases in CI.
 */
import { parseArgs } from 'node:util'
import { MalformedMessageError } from '../src/core/errors.js'
import { decodeMessage, encodeMessage, type Message } from '../src/core/message.js'

import { rng } from './prng.js'

export { rng }

const FIELDS = [
  'v',
  'id',
  'task',
  'args',
  'kwargs',
  'queue',
  'priority',
  'eta',
  'expires',
  'retries',
  'timelimit',
  'root_id',
  'parent_id',
  'group',
  'ignore_result',
  'sent_at',
  'headers',
]

function randomValue(r: () => number, depth = 0): unknown {
  switch (Math.floor(r() * (depth > 2 ? 7 : 10))) {
    case 0:
      return null
    case 1:
      return r() < 0.5
    case 2:
      return [0, -1, 1.5, 1e308, -0, 10, 2 ** 53, NaN][Math.floor(r() * 8)]
    case 3:
      return ['', 'x', '2024-01-01T00:00:00Z', 'not a date', '\u0000', '{"$t":"big","v":"1"}', '💥'][
        Math.floor(r() * 7)
      ]
    case 4:
      return Math.floor(r() * 20) - 5
    case 5:
      return String.fromCharCode(
        ...Array.from({ length: Math.floor(r() * 8) }, () => Math.floor(r() * 0xffff)),
      )
    case 6:
      return undefined
    case 7:
      return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1))
    case 8:
      return Object.fromEntries(
        Array.from({ length: Math.floor(r() * 3) }, (_, i) => [`k${i}`, randomValue(r, depth + 1)]),
      )
    default:
      return {
        $t: ['big', 'date', 'map', 'set', 'err', 'bin', 'u', 'zz'][Math.floor(r() * 8)],
        v: randomValue(r, depth + 1),
      }
  }
}

function baseMessage(r: () => number): Message {
  return {
    v: 1,
    id: `id-${Math.floor(r() * 1e9)}`,
    task: 'fuzz.task',
    args: [1, 'a'],
    kwargs: {},
    queue: 'q',
    priority: Math.floor(r() * 10),
    eta: null,
    expires: null,
    retries: 0,
    timelimit: [null, null],
    root_id: null,
    parent_id: null,
    group: null,
    ignore_result: false,
    sent_at: '2024-01-01T00:00:00Z',
    headers: {},
  }
}

/** One fuzz case: returns 'ok' or 'malformed'; throws when the decoder misbehaves. */
export function fuzzCase(r: () => number): 'ok' | 'malformed' {
  const msg = baseMessage(r) as unknown as Record<string, unknown>
  for (let k = Math.floor(r() * 4); k >= 0; k--) {
    const f = FIELDS[Math.floor(r() * FIELDS.length)]!
    if (r() < 0.2) delete msg[f]
    else msg[f] = randomValue(r)
  }
  let text: string
  try {
    text = encodeMessage(msg as unknown as Message, Number.MAX_SAFE_INTEGER)
  } catch {
    text = JSON.stringify(msg) ?? 'null'
  }
  const roll = r()
  if (roll < 0.1) text = text.slice(0, Math.floor(r() * text.length))
  else if (roll < 0.2) {
    const at = Math.floor(r() * text.length)
    text = text.slice(0, at) + String.fromCharCode(Math.floor(r() * 0xffff)) + text.slice(at + 1)
  }
  let m: Message
  try {
    m = decodeMessage(text)
  } catch (err) {
    if (err instanceof MalformedMessageError) return 'malformed'
    throw new Error(
      `decoder threw ${(err as Error)?.name}: ${(err as Error)?.message} for ${JSON.stringify(text)}`,
      { cause: err },
    )
  }
  const bad = (why: string) => new Error(`decoded into an unusable message (${why}): ${JSON.stringify(text)}`)
  if (typeof m.id !== 'string' || !m.id || typeof m.task !== 'string' || !m.task) throw bad('id/task')
  if (!Array.isArray(m.args) || typeof m.kwargs !== 'object' || m.kwargs === null) throw bad('args/kwargs')
  if (!Number.isInteger(m.retries) || m.retries < 0) throw bad('retries')
  if (!Number.isInteger(m.priority) || m.priority < 0 || m.priority > 9) throw bad('priority')
  for (const t of m.timelimit)
    if (t !== null && !(typeof t === 'number' && t > 0 && Number.isFinite(t))) throw bad('timelimit')
  for (const t of [m.eta, m.expires]) if (t !== null && Number.isNaN(Date.parse(t))) throw bad('eta/expires')
  return 'ok'
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { cases: { type: 'string', default: '1000000' }, seed: { type: 'string' } },
  })
  const cases = Number(values.cases)
  const seed = Number(values.seed ?? Date.now() % 1e9)
  const r = rng(seed)
  const started = performance.now()
  const counts = { ok: 0, malformed: 0 }
  for (let i = 0; i < cases; i++) counts[fuzzCase(r)]++
  const s = ((performance.now() - started) / 1000).toFixed(1)
  console.log(
    `decoder fuzz: ${cases.toLocaleString('en-US')} cases (seed ${seed}) in ${s} s: ${counts.ok} decoded, ${counts.malformed} malformed, no other outcome`,
  )
}

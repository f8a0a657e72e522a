/**
 * Task ids as the status route reads them from a URL. Every framework decodes path parameters its
 * own way (Fastify rejects a `%2F`, Express throws an HTML error on a malformed escape, Hono keeps
 * it raw), so the integrations hand over the raw, still percent-encoded last segment and this
 * module alone decides: the three answer the same for the same URL.
 */
import { CeleriacError } from '../core/errors.js'

/** Longest task id the route accepts, in characters (Unicode code points, as users count them). */
export const MAX_TASK_ID_LENGTH = 200

/** Where the status route is mounted unless told otherwise. */
export const DEFAULT_STATUS_PREFIX = '/tasks'

/**
 * A task id the status route cannot look up: empty, too long, or not valid percent-encoding.
 *
 * @example
 * try { checkTaskId('') } catch (e) { if (e instanceof InvalidTaskIdError) console.log(e.message) }
 */
export class InvalidTaskIdError extends CeleriacError {
  override readonly code = 'INVALID_TASK_ID'
  constructor(
    readonly id: string,
    reason: string,
  ) {
    super(
      `invalid task id: ${reason}; a task id is 1 to ${MAX_TASK_ID_LENGTH} characters, as returned by delay() (result.id)`,
    )
  }
}

/** Length in code points: an emoji is one character to a user, two UTF-16 units to `length`. */
function characters(text: string): number {
  let n = 0
  for (const _ of text) n++
  return n
}

/**
 * Throws InvalidTaskIdError unless `id` is a usable task id.
 *
 * @example
 * checkTaskId(result.id)
 */
export function checkTaskId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0) throw new InvalidTaskIdError('', 'it is empty')
  // Cheap first: fewer UTF-16 units than the limit is always within it.
  if (id.length > MAX_TASK_ID_LENGTH) {
    const n = characters(id)
    if (n > MAX_TASK_ID_LENGTH)
      throw new InvalidTaskIdError([...id].slice(0, 40).join(''), `it is ${n} characters long`)
  }
}

/**
 * Normalizes a route prefix: a leading slash, no trailing one ('' mounts at the root).
 *
 * @example
 * normalizePrefix('jobs/') // '/jobs'
 */
export function normalizePrefix(prefix: string = DEFAULT_STATUS_PREFIX): string {
  const trimmed = prefix.replace(/\/+$/, '')
  return trimmed === '' || trimmed.startsWith('/') ? trimmed : `/${trimmed}`
}

/**
 * The raw path of a request target: what comes before `?`, without scheme and host when the
 * target is a full URL.
 *
 * @example
 * rawPath('/tasks/a%2Fb?x=1') // '/tasks/a%2Fb'
 */
export function rawPath(target: string): string {
  const q = target.search(/[?#]/)
  const path = q === -1 ? target : target.slice(0, q)
  const scheme = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(path)
  return scheme ? path.slice(scheme[0].length) || '/' : path
}

/** What a raw last path segment means to the status route. */
export type ParsedSegment =
  | { readonly kind: 'id'; readonly id: string }
  /** Not a task id: the route answers 400 (the error says why). */
  | { readonly kind: 'invalid'; readonly error: InvalidTaskIdError }
  /** Not this route's URL at all (`..` goes up a level): the framework's 404. */
  | { readonly kind: 'not-ours' }

/**
 * Reads the raw (percent-encoded) last path segment. Dot segments mean what a URL parser makes of
 * them, since some servers (Hono's) resolve them before routing: `.` (or `%2E`) is the empty id,
 * `..` is another path. `%2F` is a slash inside the id. At the root (`atRoot`) an empty id is
 * some other URL too.
 *
 * @example
 * parseIdSegment('a%2Fb') // { kind: 'id', id: 'a/b' }
 * parseIdSegment('%zz')   // { kind: 'invalid', error: InvalidTaskIdError }
 */
export function parseIdSegment(raw: string, atRoot = false): ParsedSegment {
  if (/^(?:\.|%2e){2}$/i.test(raw)) return { kind: 'not-ours' }
  const segment = /^(?:\.|%2e)$/i.test(raw) ? '' : raw
  if (segment === '' && atRoot) return { kind: 'not-ours' }
  let id: string
  try {
    id = decodeURIComponent(segment)
  } catch {
    return {
      kind: 'invalid',
      error: new InvalidTaskIdError('', 'it is not valid percent-encoding (escapes must be UTF-8)'),
    }
  }
  try {
    checkTaskId(id)
  } catch (err) {
    if (err instanceof InvalidTaskIdError) return { kind: 'invalid', error: err }
    throw err
  }
  return { kind: 'id', id }
}

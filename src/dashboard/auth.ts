/**
 * Who may use the dashboard, and which requests may change something.
 *
 * - Authentication: HTTP basic auth with the configured user and password, or the session
 *   cookie the login form sets (HttpOnly, SameSite=Strict). The cookie's value is an HMAC of the
 *   user keyed by the password: nothing is kept in memory, a restarted dashboard accepts it, and
 *   changing the password signs everyone out.
 * - Actions (POST): need the `x-celeriac-csrf` header, which a cross-site form cannot send and a
 *   cross-site script cannot send without a CORS preflight this server never grants; and an
 *   Origin, when the browser sends one, equal to the dashboard's own.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

export const SESSION_COOKIE = 'celeriac_session'
export const CSRF_HEADER = 'x-celeriac-csrf'

export interface Credentials {
  readonly user: string
  readonly password: string
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest()
/** Compares secrets in constant time whatever their lengths. */
export const same = (a: string, b: string): boolean => timingSafeEqual(digest(a), digest(b))

export function sessionToken(c: Credentials): string {
  return createHmac('sha256', c.password)
    .update(`celeriac-dashboard-session\u0000${c.user}`)
    .digest('base64url')
}

export function cookies(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>()
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=')
    if (i > 0) out.set(part.slice(0, i).trim(), part.slice(i + 1).trim())
  }
  return out
}

/** Whether the request carries valid credentials (always true without credentials configured). */
export function authenticated(req: IncomingMessage, c: Credentials | null): boolean {
  if (!c) return true
  const auth = req.headers.authorization
  if (auth?.startsWith('Basic ')) {
    const text = Buffer.from(auth.slice(6), 'base64').toString('utf8')
    const i = text.indexOf(':')
    if (i >= 0 && same(text.slice(0, i), c.user) && same(text.slice(i + 1), c.password)) return true
  }
  const session = cookies(req).get(SESSION_COOKIE)
  return session !== undefined && same(session, sessionToken(c))
}

/** The Set-Cookie value of a session (or of its removal). */
export function sessionCookie(c: Credentials | null, secure: boolean, basePath = ''): string {
  const flags = `Path=${basePath || '/'}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`
  return c
    ? `${SESSION_COOKIE}=${sessionToken(c)}; ${flags}; Max-Age=43200`
    : `${SESSION_COOKIE}=; ${flags}; Max-Age=0`
}

/** Why a state-changing request is refused, or null when it may go ahead. */
export function csrfProblem(req: IncomingMessage, requireHeader = true): string | null {
  if (requireHeader && req.headers[CSRF_HEADER] !== '1')
    return `actions need the ${CSRF_HEADER}: 1 header (the dashboard's own pages send it)`
  const origin = req.headers.origin
  if (origin !== undefined && origin !== 'null') {
    let host: string
    try {
      host = new URL(origin).host
    } catch {
      return `bad Origin "${origin}"`
    }
    if (host !== req.headers.host) return `cross-origin request from ${origin} refused`
  } else if (origin === 'null') return 'requests from an opaque origin are refused'
  return null
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost', '[::1]'])

/** Whether a listen address only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host)
}

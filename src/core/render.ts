/** Readable renderings of values for messages and logs. */

/**
 * A thrown value that is not an Error, as people read it: a string as is, anything else as its
 * JSON (cut to `max` characters), else `String(value)`. Never `[object Object]`.
 */
export function renderThrown(value: unknown, max = 500): string {
  if (typeof value === 'string') return value
  try {
    const json = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))
    if (json !== undefined) return json.length > max ? `${json.slice(0, max)}…` : json
  } catch {
    // circular or otherwise unwritable: fall back below
  }
  return String(value)
}

/** An Error for anything thrown: Errors as they are, other values wrapped with a readable message. */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value
  const err = new Error(`non-Error thrown: ${renderThrown(value)}`)
  err.name = 'NonErrorThrown'
  return err
}

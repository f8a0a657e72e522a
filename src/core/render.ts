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

/**
 * Turns a decoded value into one JSON shows faithfully: BigInt → decimal string, Date → ISO
 * string (invalid → null), Buffer/Uint8Array → base64 string, Map → array of [key, value] pairs,
 * Set → array, Error → {name, message}, undefined in arrays → null. Plain data is copied as is,
 * own `__proto__` keys included.
 *
 * @example
 * toJsonSafe(new Map([['a', 1n]])) // [['a', '1']]
 */
export function toJsonSafe(value: unknown): unknown {
  switch (typeof value) {
    case 'bigint':
      return value.toString()
    case 'undefined':
    case 'function':
    case 'symbol':
      return null
    case 'number':
      return Number.isFinite(value) ? value : null
    case 'object': {
      if (value === null) return null
      if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString()
      if (value instanceof Uint8Array)
        return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')
      if (value instanceof Map) return [...value.entries()].map(([k, v]) => [toJsonSafe(k), toJsonSafe(v)])
      if (value instanceof Set) return [...value.values()].map(toJsonSafe)
      if (value instanceof Error) return { name: value.name, message: value.message }
      if (Array.isArray(value)) return value.map(toJsonSafe)
      const out: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(value)) {
        if (v === undefined) continue
        // `out.__proto__ = v` would set the prototype and drop the key from the JSON.
        if (k === '__proto__')
          Object.defineProperty(out, k, {
            value: toJsonSafe(v),
            enumerable: true,
            writable: true,
            configurable: true,
          })
        else out[k] = toJsonSafe(v)
      }
      return out
    }
    default:
      return value
  }
}

/**
 * The codec: JSON that round-trips what TypeScript code passes around, and nothing that could run.
 *
 * Plain JSON values are written as they are. Values JSON cannot carry are written as a tagged
 * object `{"$t": tag, "v": value}`:
 *
 * | value              | tag     | v                                           |
 * | ------------------ | ------- | ------------------------------------------- |
 * | Date               | `date`  | ISO-8601 string (an invalid Date is `null`) |
 * | BigInt             | `big`   | decimal string                              |
 * | Buffer, Uint8Array | `bin`   | base64 string                               |
 * | Map                | `map`   | array of `[key, value]` pairs               |
 * | Set                | `set`   | array of values                             |
 * | Error              | `err`   | `{name, message, stack, code?, cause?, …}`  |
 * | undefined (in arrays) | `u`  | absent                                      |
 * | object with a `$t` key | `obj` | array of `[key, value]` pairs (an escape) |
 *
 * Decoding builds plain data only: an error comes back as an `Error` whose `name`, `message`,
 * `stack` and own fields are copied, never as an instance of a class named in the message.
 */
import { EncodeError } from './errors.js'

const TAG = '$t'
const UNDEFINED = `{"${TAG}":"u"}`

export interface ErrorShape {
  name: string
  message: string
  stack?: string
  code?: string
  cause?: unknown
  [key: string]: unknown
}

function errorToShape(err: Error): ErrorShape {
  const shape: ErrorShape = { name: err.name, message: err.message }
  if (err.stack) shape.stack = err.stack
  for (const key of Object.keys(err)) {
    if (key === 'name' || key === 'message' || key === 'stack') continue
    shape[key] = (err as unknown as Record<string, unknown>)[key]
  }
  if (err.cause !== undefined) shape.cause = err.cause
  return shape
}

/** Rebuilds an Error from its encoded shape (plain fields only). */
export function shapeToError(shape: ErrorShape): Error {
  const err = new Error(
    String(shape.message ?? ''),
    shape.cause !== undefined ? { cause: shape.cause } : undefined,
  )
  for (const [k, v] of Object.entries(shape)) {
    if (k === 'cause' || k === 'message') continue
    Object.defineProperty(err, k, {
      value: v,
      enumerable: k !== 'stack' && k !== 'name',
      writable: true,
      configurable: true,
    })
  }
  return err
}

function replacer(this: unknown, key: string, value: unknown): unknown {
  // JSON.stringify has already called toJSON (Date, Buffer); look at the original value.
  const raw = (this as Record<string, unknown>)[key]
  switch (typeof raw) {
    case 'bigint':
      return { [TAG]: 'big', v: raw.toString() }
    case 'undefined':
      return Array.isArray(this) ? { [TAG]: 'u' } : undefined
    case 'object': {
      if (raw === null) return null
      if (raw instanceof Date)
        return { [TAG]: 'date', v: Number.isNaN(raw.getTime()) ? null : raw.toISOString() }
      if (raw instanceof Uint8Array)
        return { [TAG]: 'bin', v: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') }
      if (raw instanceof Map) return { [TAG]: 'map', v: [...raw.entries()] }
      if (raw instanceof Set) return { [TAG]: 'set', v: [...raw.values()] }
      if (raw instanceof Error) return { [TAG]: 'err', v: errorToShape(raw) }
      if (!Array.isArray(raw) && Object.prototype.hasOwnProperty.call(raw, TAG)) {
        return { [TAG]: 'obj', v: Object.entries(raw) }
      }
      return value
    }
    case 'function':
    case 'symbol':
      throw new EncodeError(`${key ? `"${key}" is ` : ''}a ${typeof raw}, which the codec cannot write`)
    default:
      return value
  }
}

function reviver(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value
  const tag = (value as Record<string, unknown>)[TAG]
  if (tag === undefined) return value
  const v = (value as Record<string, unknown>).v
  switch (tag) {
    case 'date':
      return v === null ? new Date(Number.NaN) : new Date(v as string)
    case 'big':
      return BigInt(v as string)
    case 'bin':
      return Buffer.from(v as string, 'base64')
    case 'map':
      return new Map(v as [unknown, unknown][])
    case 'set':
      return new Set(v as unknown[])
    case 'err':
      return shapeToError(v as ErrorShape)
    case 'obj':
      return Object.fromEntries(v as [string, unknown][])
    case 'u':
      return undefined
    default:
      return value
  }
}

/**
 * Encodes a value to a JSON string with the tags above. Throws EncodeError for what it cannot
 * write without losing it silently: functions, symbols, circular references.
 */
export function encode(value: unknown): string {
  // A replacer makes JSON.stringify several times slower; most payloads are plain JSON already.
  if (isPlain(value, 0)) return JSON.stringify(value)
  if (value === undefined) return UNDEFINED
  let text: string
  try {
    text = JSON.stringify(value, replacer)
  } catch (err) {
    if (err instanceof EncodeError) throw err
    throw new EncodeError(`${(err as Error).message.split('\n')[0]}`, { cause: err })
  }
  return text
}

/** Decodes what `encode` wrote. Throws SyntaxError on text that is not JSON. */
export function decode<T = unknown>(text: string): T {
  // Without a tag in the text there is nothing to revive; the native parse is much faster.
  return (text.includes('"$t"') ? JSON.parse(text, reviver) : JSON.parse(text)) as T
}

/**
 * Whether JSON.stringify alone writes `value` exactly as `encode` would: only strings, finite
 * numbers, booleans, null, plain arrays and plain objects without the tag key or undefined
 * members. Deep or unusual values take the replacer path.
 */
function isPlain(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true
    case 'number':
      return true
    case 'object': {
      if (value === null) return true
      if (depth > 32) return false
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++)
          if (value[i] === undefined || !isPlain(value[i], depth + 1)) return false
        return true
      }
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) return false
      for (const key in value) {
        if (key === TAG) return false
        const v = (value as Record<string, unknown>)[key]
        if (v !== undefined && !isPlain(v, depth + 1)) return false
      }
      return true
    }
    default:
      return false
  }
}

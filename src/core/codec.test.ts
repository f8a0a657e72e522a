import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { decode, encode } from './codec.js'
import { decodeMessage, encodeMessage, type Message } from './message.js'
import { MalformedMessageError, MessageTooLargeError } from './errors.js'

describe('codec', () => {
  it('round-trips Date, BigInt, Buffer, Uint8Array, Map, Set and nested values', () => {
    const v = {
      d: new Date('2024-02-29T12:00:00.123Z'),
      big: -(2n ** 70n),
      buf: Buffer.from([0, 1, 2, 255]),
      u8: new Uint8Array([9, 8, 7]),
      map: new Map<unknown, unknown>([
        ['k', new Set([1, 2])],
        [3, { deep: new Date(0) }],
      ]),
      list: [1, 'two', null, true, { x: 1n }],
    }
    const back = decode<typeof v>(encode(v))
    assert.deepEqual(back.d, v.d)
    assert.equal(back.big, v.big)
    assert.deepEqual(back.buf, v.buf)
    assert.deepEqual([...back.u8], [9, 8, 7])
    assert.deepEqual(back.map, v.map)
    assert.deepEqual(back.list, v.list)
  })

  it('round-trips errors with name, message, stack, code, cause and own fields', () => {
    const cause = new RangeError('inner')
    const err = Object.assign(new TypeError('outer', { cause }), { code: 'E_OUTER', status: 502 })
    const back = decode<Error & { code: string; status: number }>(encode(err))
    assert.ok(back instanceof Error)
    assert.equal(back.name, 'TypeError')
    assert.equal(back.message, 'outer')
    assert.equal(back.stack, err.stack)
    assert.equal(back.code, 'E_OUTER')
    assert.equal(back.status, 502)
    assert.equal((back.cause as Error).name, 'RangeError')
    assert.equal((back.cause as Error).message, 'inner')
  })

  it('escapes user objects that happen to use the tag key, and keeps undefined in arrays', () => {
    const v = { $t: 'date', v: 'not a date', n: [1, undefined, 3] }
    const back = decode<typeof v>(encode(v))
    assert.deepEqual(back.$t, 'date')
    assert.deepEqual(back.v, 'not a date')
    assert.equal(back.n.length, 3)
    assert.equal(back.n[1], undefined)
  })

  it('never evaluates anything: an error tag names no class to construct', () => {
    const text = JSON.stringify({
      $t: 'err',
      v: { name: 'constructor', message: 'x', __proto__: { polluted: true } },
    })
    const back = decode<Error>(text)
    assert.ok(back instanceof Error)
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
  })
})

describe('message envelope', () => {
  const msg: Message = {
    v: 1,
    id: 'abc',
    task: 't',
    args: [1],
    kwargs: {},
    queue: 'default',
    priority: 0,
    eta: null,
    expires: null,
    retries: 0,
    timelimit: [null, null],
    root_id: 'abc',
    parent_id: null,
    group: null,
    ignore_result: false,
    sent_at: new Date().toISOString(),
    headers: {},
  }

  it('encodes and decodes', () => {
    assert.deepEqual(decodeMessage(encodeMessage(msg)), msg)
  })

  it('rejects a message over the size limit with a clear error', () => {
    assert.throws(
      () => encodeMessage({ ...msg, args: ['x'.repeat(2000)] }, 1000),
      (e: Error) => e instanceof MessageTooLargeError && /over the limit of 1000 bytes/.test(e.message),
    )
  })

  it('names what is wrong with a malformed message', () => {
    const cases: [string, RegExp][] = [
      ['{', /not valid JSON/],
      ['[1]', /not a JSON object/],
      [JSON.stringify({ ...msg, v: 7 }), /unsupported envelope version 7/],
      [JSON.stringify({ ...msg, task: '' }), /"task" must be a non-empty string/],
      [JSON.stringify({ ...msg, kwargs: [] }), /"kwargs" must be an object/],
      [JSON.stringify({ ...msg, retries: -1 }), /"retries"/],
    ]
    for (const [body, re] of cases)
      assert.throws(
        () => decodeMessage(body),
        (e: Error) => e instanceof MalformedMessageError && re.test(e.message),
      )
  })
})

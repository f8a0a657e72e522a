import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { describe, it } from 'node:test'
import type { ConfirmChannel } from 'amqplib'
import { PublishFrames } from './frames.js'
import type { Confirm } from './message.js'

// amqplib's own encoders (not exported by its package map): what sendToQueue would write.
const require = createRequire(import.meta.url)
const lib = dirname(require.resolve('amqplib'))
const defs = require(join(lib, 'lib/defs.js')) as {
  BasicPublish: number
  BasicProperties: number
  encodeMethod(id: number, channel: number, fields: object): Buffer
  encodeProperties(id: number, channel: number, size: number, fields: object): Buffer
}
const frame = require(join(lib, 'lib/frame.js')) as { makeBodyFrame(channel: number, body: Buffer): Buffer }

function amqplibFrames(ch: number, queue: string, id: string, priority: number, body: string): Buffer {
  const content = Buffer.from(body, 'utf8')
  const method = defs.encodeMethod(defs.BasicPublish, ch, {
    exchange: '',
    routingKey: queue,
    mandatory: false,
    immediate: false,
  })
  const props = defs.encodeProperties(defs.BasicProperties, ch, content.length, {
    contentType: 'text/plain',
    deliveryMode: 2,
    messageId: id,
    ...(priority ? { priority } : {}),
  })
  return Buffer.concat([method, props, ...(content.length ? [frame.makeBodyFrame(ch, content)] : [])])
}

function fakeChannel(n = 3, frameMax = 131072) {
  const written: Buffer[] = []
  const confirms: (Confirm | false)[] = []
  const channels = []
  channels[n] = { buffer: { write: (b: Buffer) => written.push(Buffer.from(b)) } }
  const ch = {
    ch: n,
    connection: { channels, frameMax, sentSinceLastCheck: false },
    pushConfirmCallback: (cb: Confirm | false) => confirms.push(cb),
  }
  return { ch: ch as unknown as ConfirmChannel, raw: ch, written, confirms }
}

describe('PublishFrames', () => {
  it('writes the bytes amqplib writes for a persistent publish without headers', () => {
    const { ch, written, confirms, raw } = fakeChannel()
    const f = PublishFrames.of(ch)!
    const cases: [string, string, number, string][] = [
      ['q.default', '0192a1b2-0000-7000-8000-000000000001', 0, '{"v":1,"task":"noop"}'],
      ['q.default', 'id-2', 9, 'é€😀 unicode body'],
      ['other', 'x', 5, ''],
      ['q.default', 'ünï', 0, 'x'.repeat(1000)],
    ]
    const cb = () => {}
    for (const [q, id, p, body] of cases) assert.equal(f.add(q, id, p, body, cb), true)
    f.flush()
    assert.equal(written.length, 1, 'one chunk for the batch')
    assert.deepEqual(
      written[0],
      Buffer.concat(cases.map(([q, id, p, body]) => amqplibFrames(3, q, id, p, body))),
    )
    assert.equal(confirms.length, cases.length)
    assert.equal(raw.connection.sentSinceLastCheck, true)
    f.flush()
    assert.equal(written.length, 1, 'nothing more to write')
  })

  it('spreads a large batch over chunks, in order', () => {
    const { ch, written, confirms } = fakeChannel(1)
    const f = PublishFrames.of(ch)!
    const body = 'b'.repeat(300)
    for (let i = 0; i < 1000; i++) assert.equal(f.add('q', `id-${i}`, i % 10, body), true)
    f.flush()
    assert.ok(written.length > 1)
    const expected = Buffer.concat(
      Array.from({ length: 1000 }, (_, i) => amqplibFrames(1, 'q', `id-${i}`, i % 10, body)),
    )
    assert.deepEqual(Buffer.concat(written), expected)
    assert.equal(confirms.length, 1000)
    assert.ok(confirms.every((c) => c === false))
  })

  it('leaves to amqplib what it does not write: large bodies, long names, odd priorities, a closed channel', () => {
    const { ch, written, confirms } = fakeChannel(2, 4096)
    const f = PublishFrames.of(ch)!
    assert.equal(f.add('q', 'a', 0, 'x'.repeat(4089)), false)
    assert.equal(f.add('q', 'a', 0, 'x'.repeat(4088)), true)
    assert.equal(f.add('q'.repeat(256), 'a', 0, 'x'), false)
    assert.equal(f.add('q', 'i'.repeat(86), 0, 'x'), false)
    assert.equal(f.add('q', 'a', 1.5, 'x'), false)
    assert.equal(f.add('q', 'a', -1, 'x'), false)
    Object.assign(ch, { sendMessage: () => assert.fail('closed') })
    assert.equal(f.add('q', 'a', 0, 'x'), false)
    f.flush()
    assert.equal(confirms.length, 1)
    assert.deepEqual(written[0], amqplibFrames(2, 'q', 'a', 0, 'x'.repeat(4088)))
  })

  it('is not used with an amqplib whose internals differ', () => {
    assert.equal(PublishFrames.of({ ch: 1 } as unknown as ConfirmChannel), null)
  })
})

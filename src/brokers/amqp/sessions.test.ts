import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Channel, Message } from 'amqplib'
import { Session, type Held } from './sessions.js'

/** A session on a channel that records its acks as [tag, multiple]. */
function session(tags: number[]): { s: Session; acks: [number, boolean][] } {
  const acks: [number, boolean][] = []
  const channel = {
    ack: (m: Message, multiple?: boolean) => acks.push([m.fields.deliveryTag, multiple === true]),
  } as unknown as Channel
  const s = new Session(1, channel)
  for (const tag of tags)
    s.held.set(tag, { msg: { fields: { deliveryTag: tag } } as unknown as Message, queue: 'q', at: 0 })
  return { s, acks }
}

const take = (s: Session, tags: number[]): Held[] => tags.map((t) => s.take(t)!)

describe('Session.ack', () => {
  it('acknowledges the tags below the oldest still held with one multiple ack', () => {
    const { s, acks } = session([1, 2, 3, 4, 5, 6])
    s.ack(take(s, [3, 1, 2, 5]))
    // 4 is still held: 1–3 go as one multiple ack, 5 alone.
    assert.deepEqual(acks, [
      [5, false],
      [3, true],
    ])
  })

  it('sends a plain ack for a single tag and for everything once nothing older is held', () => {
    const { s, acks } = session([7, 8, 9])
    s.ack(take(s, [7]))
    s.ack(take(s, [9, 8]))
    assert.deepEqual(acks, [
      [7, false],
      [9, true],
    ])
  })

  it('acknowledges one by one when the oldest held tag is older than all of them', () => {
    const { s, acks } = session([1, 2, 3])
    s.ack(take(s, [2, 3]))
    assert.deepEqual(acks, [
      [2, false],
      [3, false],
    ])
  })
})

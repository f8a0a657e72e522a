/**
 * Broadcast: every current subscriber of a channel receives each message, in order; nothing is
 * kept for later subscribers. Engines that find messages by polling get about a second.
 */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import type { Coordination } from '../../../src/contracts/coordination.js'
import { eventually, name, sleep, type OpenClient } from './support.js'

/** How long a message may take to arrive, and how long silence is awaited to show none came. */
function latency(c: Coordination): { arrive: number; quiet: number } {
  return c.capabilities.broadcast === 'poll' ? { arrive: 1500, quiet: 1200 } : { arrive: 1000, quiet: 300 }
}

/** Subscribes and collects what arrives. */
async function collect(c: Coordination, channel: string) {
  const got: string[] = []
  const unsubscribe = await c.subscribe(channel, (m) => got.push(m))
  return { got, unsubscribe }
}

export function broadcastTests(open: OpenClient): void {
  it('reaches every subscriber of the channel on other clients, in order, and no other channel', async () => {
    const [sender, c1, c2] = [await open(), await open(), await open()]
    const { arrive, quiet } = latency(sender)
    const [channel, other] = [name('chan'), name('chan')]
    const subs = [await collect(c1, channel), await collect(c2, channel), await collect(c2, channel)]
    const elsewhere = await collect(c1, other)
    await sender.broadcast(channel, 'm1')
    await sender.broadcast(channel, 'm2')
    assert.ok(
      await eventually(() => subs.every((s) => s.got.length >= 2), arrive),
      'every subscriber received both',
    )
    await sleep(quiet)
    for (const s of subs) assert.deepEqual(s.got, ['m1', 'm2'])
    assert.deepEqual(elsewhere.got, [], 'another channel hears nothing')
  })

  it('the sender’s own client receives it too when subscribed', async () => {
    const c = await open()
    const channel = name('chan')
    const s = await collect(c, channel)
    await c.broadcast(channel, 'self')
    assert.ok(await eventually(() => s.got.length === 1, latency(c).arrive))
    assert.deepEqual(s.got, ['self'])
  })

  it('keeps nothing for a later subscriber', async () => {
    const [sender, late] = [await open(), await open()]
    const channel = name('chan')
    await sender.broadcast(channel, 'before')
    const s = await collect(late, channel)
    await sleep(latency(sender).quiet)
    assert.deepEqual(s.got, [])
    await sender.broadcast(channel, 'after')
    assert.ok(await eventually(() => s.got.length === 1, latency(sender).arrive))
    assert.deepEqual(s.got, ['after'])
  })

  it('unsubscribe stops delivery to that subscriber only', async () => {
    const [sender, c1] = [await open(), await open()]
    const { arrive, quiet } = latency(sender)
    const channel = name('chan')
    const [gone, stays] = [await collect(c1, channel), await collect(c1, channel)]
    await sender.broadcast(channel, 'one')
    assert.ok(await eventually(() => gone.got.length === 1 && stays.got.length === 1, arrive))
    await gone.unsubscribe()
    await sender.broadcast(channel, 'two')
    assert.ok(await eventually(() => stays.got.length === 2, arrive))
    await sleep(quiet)
    assert.deepEqual(gone.got, ['one'])
    assert.deepEqual(stays.got, ['one', 'two'])
    await gone.unsubscribe()
  })

  it('close ends the subscriptions of that client', async () => {
    const [sender, closing, staying] = [await open(), await open(), await open()]
    const { arrive, quiet } = latency(sender)
    const channel = name('chan')
    const [a, b] = [await collect(closing, channel), await collect(staying, channel)]
    await closing.close()
    await closing.close() // idempotent
    await sender.broadcast(channel, 'after close')
    assert.ok(await eventually(() => b.got.length === 1, arrive))
    await sleep(quiet)
    assert.deepEqual(a.got, [], 'a closed client hears nothing')
    await a.unsubscribe() // after close: harmless
  })
}

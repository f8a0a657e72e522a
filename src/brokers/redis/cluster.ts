/**
 * What a Redis Cluster changes: keys of different slots cannot share a command, a script or a
 * transaction, and a blocking command must not hold the connection the Cluster client shares. On
 * one server (or a Sentinel-managed primary) every key is in reach, so these helpers return one
 * group and the calls stay exactly as they are there.
 */
import type { Cluster } from 'ioredis'
import type { RedisClient } from './connection.js'
import type { RedisNode } from './keys.js'

const CRC16 = (() => {
  const t = new Uint16Array(256)
  for (let i = 0; i < 256; i++) {
    let c = i << 8
    for (let j = 0; j < 8; j++) c = c & 0x8000 ? (c << 1) ^ 0x1021 : c << 1
    t[i] = c & 0xffff
  }
  return t
})()

/** The Cluster slot of a key: CRC16 of its hash tag (the text inside the first `{…}`) or of the key. */
export function keySlot(key: string): number {
  const b = Buffer.from(key)
  let from = 0
  let to = b.length
  const open = b.indexOf(0x7b)
  if (open >= 0) {
    const close = b.indexOf(0x7d, open + 1)
    if (close > open + 1) [from, to] = [open + 1, close]
  }
  let crc = 0
  for (let i = from; i < to; i++) crc = ((crc << 8) & 0xffff) ^ CRC16[((crc >> 8) ^ b[i]!) & 0xff]!
  return crc & 16383
}

export function isCluster(client: RedisClient): client is Cluster {
  return client.isCluster
}

/** Indexes of `keys` grouped so that each group may share one command: one group off Cluster. */
export function slotGroups(client: RedisClient, keys: readonly string[]): number[][] {
  if (!client.isCluster) return [keys.map((_, i) => i)]
  const bySlot = new Map<number, number[]>()
  keys.forEach((k, i) => {
    const slot = keySlot(k)
    const g = bySlot.get(slot)
    if (g) g.push(i)
    else bySlot.set(slot, [i])
  })
  return [...bySlot.values()]
}

/** The primary serving a key's slot, as the Cluster client last learnt it; null if not known. */
export function nodeOf(client: RedisClient, key: string): RedisNode | null {
  if (!isCluster(client)) return null
  const nodeKey = client.slots[keySlot(key)]?.[0]
  if (!nodeKey) return null
  const i = nodeKey.lastIndexOf(':')
  return { host: nodeKey.slice(0, i), port: Number(nodeKey.slice(i + 1)) }
}

/** The Cluster client's own connection to a node (for CLIENT UNBLOCK there); null if none. */
export function connectionTo(client: RedisClient, node: RedisNode): RedisClient | null {
  if (!isCluster(client)) return client
  return (
    client.nodes('master').find((n) => n.options.host === node.host && n.options.port === node.port) ?? null
  )
}

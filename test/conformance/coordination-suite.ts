/**
 * The coordination conformance suite. Every engine that supplies the coordination part runs it
 * unchanged:
 *   coordinationConformance({ name: 'redis', open: () => ... })
 * `open()` returns a new, connected client of the same engine (for networked engines, a new
 * connection), so locks, joins, buckets and broadcasts are exercised between real clients. Each
 * test uses fresh names, so the engine need not be emptied between tests.
 */
import { after, describe } from 'node:test'
import type { Coordination } from '../../src/contracts/coordination.js'
import { broadcastTests } from './coordination/broadcast.js'
import { bucketTests } from './coordination/buckets.js'
import { eventLogTests } from './coordination/events.js'
import { joinTests } from './coordination/joins.js'
import { lockTests } from './coordination/locks.js'
import { recordTests } from './coordination/records.js'

export interface CoordinationTarget {
  readonly name: string
  open(): Promise<Coordination>
}

export function coordinationConformance(target: CoordinationTarget): void {
  describe(`coordination conformance: ${target.name}`, () => {
    const opened: Coordination[] = []
    const open = async () => {
      const c = await target.open()
      opened.push(c)
      return c
    }
    after(async () => {
      await Promise.all(opened.map((c) => c.close()))
    })
    describe('fenced locks', () => lockTests(open))
    describe('joins', () => joinTests(open))
    describe('token buckets', () => bucketTests(open))
    describe('event log', () => eventLogTests(open))
    describe('broadcast', () => broadcastTests(open))
    describe('records', () => recordTests(open))
  })
}

/**
 * Beat across daylight-saving changes, on a fake clock: a daily 02:30 entry fires once per local
 * day (at 03:00, the first instant after the gap, on the day clocks jump over 02:30; at the first
 * 02:30 on the day clocks fall back), an hourly cron and a fixed interval keep one fire per real
 * hour, and nothing stops after the change. Three zones, both changes each: Europe/Berlin,
 * America/New_York, and Australia/Sydney (southern hemisphere: clocks fall back in April).
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { describe, it } from 'node:test'
import { isPullBroker } from '../contracts/broker.js'
import { createApp } from '../core/app.js'
import { createBeat, type Fire } from './beat.js'
import { cron, every } from './entries.js'

const HOUR = 3_600_000
const DAY = 24 * HOUR

function local(tz: string, t: number): { date: string; time: string } {
  const s = new Date(t).toLocaleString('sv-SE', { timeZone: tz, hour12: false })
  const [date, time] = s.split(' ')
  return { date: date!, time: time! }
}

/** Runs a beat on a fake clock from `from` for `days`, a round every `stepMs`; returns its fires. */
async function runAcross(tz: string, from: number, days: number, stepMs: number): Promise<Fire[]> {
  const app = createApp({ broker: `memory://${randomUUID()}`, resultBackend: false })
  const task = app.task('report', (_ctx, kind: string) => kind)
  let t = from
  const beat = createBeat(app, {
    entries: [
      cron('daily', '0 30 2 * * *', task, ['daily'], { timezone: tz }),
      cron('hourly', '0 0 * * * *', task, ['hourly'], { timezone: tz }),
      every('every-hour', '1h', task, ['every']),
    ],
    now: () => t,
    grace: '10m',
  })
  const fires: Fire[] = []
  for (; t <= from + days * DAY; t += stepMs) fires.push(...(await beat.runOnce()))
  // Every fire reached the broker, once.
  const broker = await app.broker()
  assert.ok(isPullBroker(broker))
  const queued = await broker.reserve(['default'], 10_000, { leaseMs: 60_000 })
  assert.deepEqual(queued.map((d) => d.id).sort(), fires.map((f) => f.id).sort())
  await beat.stop()
  await app.close()
  return fires
}

interface Change {
  readonly tz: string
  readonly kind: 'spring forward' | 'fall back'
  /** The local date of the change. */
  readonly date: string
  /** The instant the daily entry must fire on that date. */
  readonly expected: string
}

const CHANGES: Change[] = [
  { tz: 'Europe/Berlin', kind: 'spring forward', date: '2025-03-30', expected: '2025-03-30T01:00:00.000Z' },
  { tz: 'Europe/Berlin', kind: 'fall back', date: '2025-10-26', expected: '2025-10-26T00:30:00.000Z' },
  {
    tz: 'America/New_York',
    kind: 'spring forward',
    date: '2025-03-09',
    expected: '2025-03-09T07:00:00.000Z',
  },
  // New York falls back from 02:00 to 01:00: 02:30 comes once, in standard time.
  { tz: 'America/New_York', kind: 'fall back', date: '2025-11-02', expected: '2025-11-02T07:30:00.000Z' },
  { tz: 'Australia/Sydney', kind: 'fall back', date: '2025-04-06', expected: '2025-04-05T15:30:00.000Z' },
  {
    tz: 'Australia/Sydney',
    kind: 'spring forward',
    date: '2025-10-05',
    expected: '2025-10-04T16:00:00.000Z',
  },
]

describe('beat across daylight-saving changes (fake clock)', () => {
  for (const c of CHANGES) {
    it(`${c.tz}, ${c.kind} on ${c.date}: daily 02:30 fires once per local day; hourly ones every real hour`, async () => {
      const from = Date.parse(`${c.date}T12:00:00Z`) - 3 * DAY
      const fires = await runAcross(c.tz, from, 6, 5 * 60_000)
      const daily = fires.filter((f) => f.entry === 'daily')
      // Once per local day: six days, six fires, six different local dates.
      const dates = daily.map((f) => local(c.tz, f.tick).date)
      assert.equal(
        daily.length,
        6,
        `daily fires: ${daily.map((f) => new Date(f.tick).toISOString()).join(', ')}`,
      )
      assert.equal(new Set(dates).size, 6, `one per local date: ${dates.join(', ')}`)
      for (const f of daily) {
        const l = local(c.tz, f.tick)
        if (l.date === c.date) {
          assert.equal(new Date(f.tick).toISOString(), c.expected, `the fire on the day of the change`)
          assert.equal(l.time, c.kind === 'spring forward' ? '03:00:00' : '02:30:00')
        } else assert.equal(l.time, '02:30:00', `02:30 local on ${l.date}`)
      }
      assert.ok(dates.includes(c.date), 'fires on the day of the change')
      // Never stops sending after the change: the days after it fired too.
      assert.ok(dates.filter((d) => d > c.date).length >= 2, 'fires on the days after the change')
      // Hourly cron and the 1h interval: one fire per real hour, none doubled, none skipped.
      for (const name of ['hourly', 'every-hour']) {
        const ticks = fires.filter((f) => f.entry === name).map((f) => f.tick)
        assert.ok(ticks.length >= 6 * 24 - 1, `${name}: ${ticks.length} fires`)
        for (let i = 1; i < ticks.length; i++)
          assert.equal(ticks[i]! - ticks[i - 1]!, HOUR, `${name} spacing`)
      }
      // Task ids are the entry and the tick: no two fires share one.
      assert.equal(new Set(fires.map((f) => f.id)).size, fires.length)
    })
  }

  it('fires the same ticks whatever the round spacing, and on time rounds or late ones alike', async () => {
    const c = CHANGES[0]!
    const from = Date.parse(`${c.date}T12:00:00Z`) - 1.5 * DAY
    const fine = (await runAcross(c.tz, from, 2, 2 * 60_000)).filter((f) => f.entry === 'daily')
    const coarse = (await runAcross(c.tz, from, 2, 7 * 60_000 + 13_000)).filter((f) => f.entry === 'daily')
    assert.equal(fine.length, 2)
    assert.deepEqual(
      coarse.map((f) => f.id),
      fine.map((f) => f.id),
    )
  })
})

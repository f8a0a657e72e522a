/** Periodic tasks: entries declared in code or added at run time, fired once per tick by one leader. */
export { Beat, createBeat, isBeat, type BeatOptions, type BeatLogger, type Fire } from './beat.js'
export {
  cron,
  every,
  once,
  checkEntry,
  describeSchedule,
  type EntrySpec,
  type ScheduleSpec,
  type MissedPolicy,
  type EntryOptions,
  type CronEntryOptions,
  type EveryEntryOptions,
} from './entries.js'
export type { EntryInfo } from './manage.js'
export { tickerFor, dueTicks, type Ticker, type Due } from './ticks.js'

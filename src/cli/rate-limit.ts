/**
 * `celeriac rate-limit`: sets, clears or lists the rate limits workers apply at run time (records
 * in the coordination part, re-read by every worker about once a second; see src/flow/).
 *
 *   celeriac rate-limit                       list the limits set at run time
 *   celeriac rate-limit email.send 50/s       limit a task across all workers
 *   celeriac rate-limit email.send off        no limit, whatever the task's code says
 *   celeriac rate-limit email.send --reset    back to the task's own rateLimit
 *   celeriac rate-limit -Q emails 100/s       limit everything taken from a queue
 */
import type { Command } from 'commander'
import type { App } from '../core/app.js'
import { ConfigError } from '../core/errors.js'
import { listRateLimits, setRateLimit, type LimitTarget } from '../flow/overrides.js'
import { table } from './format.js'
import { appFromFlags, type AppFlags } from './load.js'

export interface RateLimitFlags {
  readonly queue?: string
  readonly reset?: boolean
}

export async function rateLimit(app: App, words: readonly string[], flags: RateLimitFlags): Promise<void> {
  const coordination = await app.coordination()
  if (!coordination)
    throw new ConfigError(
      'rate limits live in the coordination part: use a sqlite, redis or postgres broker or result backend',
    )
  const [first, second] = words
  const target: LimitTarget | null = flags.queue ? { queue: flags.queue } : first ? { task: first } : null
  const rate = flags.queue ? first : second
  if (!target) {
    const rows = await listRateLimits(coordination)
    if (!rows.length) process.stdout.write('no rate limits set at run time\n')
    else
      process.stdout.write(
        table(
          ['target', 'rate'],
          rows.map((r) => [r.key, r.rate]),
        ) + '\n',
      )
    return
  }
  const name = 'task' in target ? `task ${target.task}` : `queue ${target.queue}`
  if (flags.reset) {
    if (rate !== undefined) throw new ConfigError('--reset takes no rate')
    await setRateLimit(coordination, target, null)
    process.stdout.write(`${name}: run-time rate limit cleared (the task's own rateLimit applies)\n`)
    return
  }
  if (rate === undefined)
    throw new ConfigError(`give a rate for ${name} (such as 50/s, 20/m, '100/s burst 20' or off) or --reset`)
  await setRateLimit(coordination, target, rate === 'off' ? 'off' : rate)
  process.stdout.write(`${name}: rate limit ${rate}; workers apply it within about a second\n`)
}

export function registerRateLimit(program: Command, globals: () => AppFlags): void {
  program
    .command('rate-limit [words...]')
    .description(
      'set a task or queue rate limit for every worker at run time (rate-limit <task> 50/s | off | --reset; -Q <queue> <rate>); alone, list them',
    )
    .option('-Q, --queue <name>', 'limit a queue rather than a task')
    .option('--reset', "clear the run-time limit (the task's own rateLimit applies again)")
    .action(async (words: string[], flags: RateLimitFlags) => {
      const { app } = await appFromFlags(globals())
      try {
        await rateLimit(app, words, flags)
      } finally {
        await app.close()
      }
    })
}

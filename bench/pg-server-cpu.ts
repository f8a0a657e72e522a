/**
 * CPU used so far by a PostgreSQL server and all its backends, in ms: the postmaster's own and
 * its reaped children's time, plus each live child's, read from /proc on the server's host.
 * `pidFile` is the cluster's postmaster.pid; null without one.
 */
import { readdirSync, readFileSync } from 'node:fs'

const TICK = 100 // clock ticks per second on Linux

export function serverCpuMs(pidFile: string | undefined): number | null {
  if (!pidFile) return null
  const root = Number(readFileSync(pidFile, 'utf8').split('\n')[0])
  let ticks = 0
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    let stat: string
    try {
      stat = readFileSync(`/proc/${d}/stat`, 'utf8')
    } catch {
      continue
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // f[1] ppid, f[11] utime, f[12] stime, f[13] cutime, f[14] cstime
    if (Number(d) === root) ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])
    else if (Number(f[1]) === root) ticks += Number(f[11]) + Number(f[12])
  }
  return (ticks * 1000) / TICK
}

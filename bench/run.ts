/** Runs a bench child process and parses the JSON line it prints. */
import { spawn } from 'node:child_process'
import { join } from 'node:path'

export const BENCH_DIR = import.meta.dirname

export function child<T>(
  script: string,
  args: (string | number)[],
  env: Record<string, string> = {},
): Promise<T> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(BENCH_DIR, script), ...args.map(String)], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    p.stdout.on('data', (b: Buffer) => (out += b.toString()))
    p.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? ''
      if (code !== 0) return reject(new Error(`${script} exited ${code}: ${out}`))
      try {
        resolve(JSON.parse(line) as T)
      } catch {
        reject(new Error(`${script} printed no result: ${out}`))
      }
    })
  })
}

export function rate(n: number, ms: number): number {
  return Math.round((n / ms) * 1000)
}

export function printTable(title: string, headers: string[], rows: (string | number)[][]): void {
  const cells = [
    headers,
    ...rows.map((r) => r.map((c) => (typeof c === 'number' ? c.toLocaleString('en-US') : c))),
  ]
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)))
  const line = (r: (string | number)[]) =>
    '| ' + r.map((c, i) => String(c).padEnd(widths[i]!)).join(' | ') + ' |'
  console.log(`\n${title}\n`)
  console.log(line(cells[0]!))
  console.log('| ' + widths.map((w) => '-'.repeat(w)).join(' | ') + ' |')
  for (const r of cells.slice(1)) console.log(line(r))
}

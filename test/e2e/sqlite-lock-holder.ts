/**
 * A second process that takes the write lock of a SQLite file and holds it: `node --import tsx
 * sqlite-lock-holder.ts <file> <ms>`. Prints "locked" once it holds the lock, commits after <ms>.
 */
import { createRequire } from 'node:module'
import type BetterSqlite3 from 'better-sqlite3'

const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3
const [file, ms] = process.argv.slice(2)
const db = new Database(file!)
db.exec('BEGIN IMMEDIATE')
db.prepare("INSERT OR REPLACE INTO celeriac_meta (key, value) VALUES ('lock-holder', ?)").run(
  String(process.pid),
)
process.stdout.write('locked\n')
setTimeout(() => {
  db.exec('COMMIT')
  db.close()
  process.stdout.write('released\n')
}, Number(ms))

/** The model test on SQLite: a new database file per sequence, deleted afterwards. */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import { SqliteBroker } from '../../src/brokers/sqlite/index.js'
import { modelTest } from './model.js'

const dir = mkdtempSync(join(tmpdir(), 'celeriac-model-'))
after(() => rmSync(dir, { recursive: true, force: true }))

modelTest({
  name: 'sqlite',
  open: async () => {
    const file = join(dir, `${randomUUID().slice(0, 8)}.db`)
    const broker = new SqliteBroker(file)
    await broker.connect()
    return {
      broker,
      close: async () => {
        await broker.close()
        rmSync(file, { force: true })
        rmSync(`${file}-wal`, { force: true })
        rmSync(`${file}-shm`, { force: true })
      },
    }
  },
})

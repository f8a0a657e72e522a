import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SqliteResultStore } from '../../src/brokers/sqlite/index.js'
import { resultStoreConformance } from './results-suite.js'

// Each open() is a separate store object on the same file, as separate processes would be.
const file = join(mkdtempSync(join(tmpdir(), 'celeriac-results-')), 'results.db')
resultStoreConformance({
  name: 'sqlite',
  open: async () => {
    const s = new SqliteResultStore(file)
    await s.connect()
    return s
  },
})

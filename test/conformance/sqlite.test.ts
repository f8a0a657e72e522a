import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SqliteBroker } from '../../src/brokers/sqlite/index.js'
import { brokerConformance } from './suite.js'

// Each open() is a separate broker object on the same file, as separate processes would be.
const file = join(mkdtempSync(join(tmpdir(), 'celeriac-conf-')), 'queue.db')
brokerConformance({
  name: 'sqlite',
  open: async () => {
    const b = new SqliteBroker(file)
    await b.connect()
    return b
  },
})

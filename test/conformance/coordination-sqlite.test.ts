import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Coordination } from '../../src/contracts/coordination.js'
import { SqliteCoordination } from '../../src/brokers/sqlite/index.js'
import { coordinationConformance } from './coordination-suite.js'

// Each open() is a separate client on the same file, as separate processes would be.
const file = join(mkdtempSync(join(tmpdir(), 'celeriac-coord-')), 'coordination.db')
coordinationConformance({
  name: 'sqlite',
  open: async () => {
    const c: Coordination = new SqliteCoordination(file)
    await c.connect()
    return c
  },
})

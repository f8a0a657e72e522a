/**
 * A consumer process on a SQLite file: `node --import tsx sqlite-consumer-child.ts <file> <queue>
 * <total>`. Reserves and acknowledges until `total` jobs were acknowledged by all processes
 * together (the queue stays empty for a while), then prints the ids it received as JSON.
 */
import { SqliteBroker } from '../../src/brokers/sqlite/index.js'

const [file, queue] = process.argv.slice(2)
const broker = new SqliteBroker(file!)
await broker.connect()
process.stdout.write('ready\n')
const ids: string[] = []
let idle = 0
while (idle < 10) {
  const got = await broker.reserve([queue!], 20, { leaseMs: 60_000, waitMs: 100 })
  if (!got.length) {
    if (ids.length) idle++
    continue
  }
  idle = 0
  for (const d of got) ids.push(d.id)
  await broker.ack(got)
}
await broker.close()
process.stdout.write(JSON.stringify(ids) + '\n')

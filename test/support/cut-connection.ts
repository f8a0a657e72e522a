/**
 * Cuts a broker's connection from the server side, as a network cut or a node restart would, for
 * engines whose leases last as long as the connection (`leases: 'connection'`). RabbitMQ: a
 * `rabbitmqctl close_connection` of the connection whose `connection_name` is the broker's; it
 * requeues every delivery that connection held, and the broker's client sees the close and
 * reconnects by itself. Other connections (other tests, other people) are not touched.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { Broker } from '../../src/contracts/broker.js'

const run = promisify(execFile)

export async function cutConnection(broker: Broker): Promise<void> {
  const name = (broker as { connectionName?: unknown }).connectionName
  if (typeof name !== 'string') throw new Error(`cannot cut the connection of a ${broker.scheme} broker`)
  const { stdout } = await run('rabbitmqctl', ['list_connections', '-q', 'pid', 'client_properties'])
  const line = stdout.split('\n').find((l) => l.includes(`{"connection_name","${name}"}`))
  if (!line) throw new Error(`no RabbitMQ connection named ${name}`)
  await run('rabbitmqctl', ['close_connection', line.split('\t')[0]!, 'cut by a test'])
}

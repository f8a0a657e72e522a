/**
 * A TCP proxy that adds latency to every chunk and cuts connections now and then: a bad network
 * between a worker and its broker, without `tc netem` (not available on every kernel). Run as a
 * process: `node --import tsx fault-proxy.ts <listenHost:port> <targetHost:port> <delayMs> <cutEveryMs>`.
 */
import { connect, createServer, type Socket } from 'node:net'

const [listen, target, delayArg, cutArg] = process.argv.slice(2)
if (!listen || !target)
  throw new Error('usage: fault-proxy <listen host:port> <target host:port> [delayMs] [cutEveryMs]')
const split = (hp: string) => {
  const i = hp.lastIndexOf(':')
  return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) }
}
const delayMs = Number(delayArg ?? 20)
const cutEveryMs = Number(cutArg ?? 0)
const open = new Set<Socket>()

/** Copies a → b, each chunk delayed, order kept. */
function pipeDelayed(a: Socket, b: Socket): void {
  let chain = Promise.resolve()
  a.on('data', (chunk) => {
    chain = chain.then(
      () =>
        new Promise<void>((resolve) =>
          setTimeout(() => {
            if (!b.destroyed) b.write(chunk)
            resolve()
          }, delayMs),
        ),
    )
  })
  a.on('close', () => void chain.then(() => b.destroy()))
  a.on('error', () => b.destroy())
}

const server = createServer((client) => {
  const upstream = connect(split(target))
  open.add(client)
  client.on('close', () => open.delete(client))
  pipeDelayed(client, upstream)
  pipeDelayed(upstream, client)
})
server.listen(split(listen).port, split(listen).host, () => console.log(`fault proxy ready on ${listen}`))

let cuts = 0
if (cutEveryMs > 0)
  setInterval(() => {
    const victims = [...open]
    if (!victims.length) return
    victims[Math.floor(Math.random() * victims.length)]!.destroy()
    console.log(`cut ${++cuts}`)
  }, cutEveryMs)

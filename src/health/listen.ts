/**
 * Starts a probe or metrics listener: keep-alive short and the server unref'd, so a scraper's
 * open socket never delays the process's exit; close() drops open connections first.
 */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export async function listen(
  server: Server,
  port: number,
  host: string,
  onClose?: () => void,
): Promise<{ port: number; close(): Promise<void> }> {
  server.keepAliveTimeout = 1000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  server.unref()
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      onClose?.()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

import { once } from 'node:events'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Express } from 'express'

export interface RunningServer {
  server: Server
  port: number
  /** Stops accepting connections, lets in-flight requests finish, then closes idle keep-alive sockets. */
  close(): Promise<void>
}

export async function listen(app: Express, port: number, host?: string): Promise<RunningServer> {
  const server = host === undefined ? app.listen(port) : app.listen(port, host)
  await once(server, 'listening')
  // nginx keeps upstream connections alive; a longer idle timeout than nginx's avoids races on reuse.
  server.keepAliveTimeout = 65_000
  server.headersTimeout = 66_000
  // A response that finishes while closing leaves an idle keep-alive socket behind, which would hold
  // close() open until keepAliveTimeout: close such sockets as soon as their response is done.
  let closing = false
  server.on('request', (_req, res) => {
    if (closing) res.shouldKeepAlive = false
    res.on('finish', () => {
      if (closing) setImmediate(() => server.closeIdleConnections())
    })
  })
  const address = server.address() as AddressInfo
  return {
    server,
    port: address.port,
    close: async () => {
      closing = true
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeIdleConnections()
      await closed
    },
  }
}

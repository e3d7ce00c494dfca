import { once } from 'node:events'
import type { Server, ServerResponse } from 'node:http'
import { type AddressInfo, Server as NetServer } from 'node:net'
import type { Express } from 'express'

export interface RunningServer {
  server: Server
  port: number
  /** Stops accepting connections, lets in-flight requests finish, then closes idle keep-alive sockets. */
  close(): Promise<void>
}

/**
 * How long a closing server keeps its idle keep-alive connections open. nginx reuses its upstream
 * connections and may send a request on one at any moment: closing a connection that looks idle races
 * with such a request, which nginx then answers 502 (a POST is never retried). So a closing server
 * answers every request, those in flight included, with `Connection: close` (nginx then retires that
 * connection itself) and closes the connections still idle only after this grace: with nginx's upstream
 * `keepalive_timeout` below it, nginx has closed those itself by then and nothing is left to race.
 */
export const IDLE_CONNECTION_GRACE_MS = 1000

export async function listen(app: Express, port: number, host?: string): Promise<RunningServer> {
  const server = host === undefined ? app.listen(port) : app.listen(port, host)
  await once(server, 'listening')
  // nginx keeps upstream connections alive; a longer idle timeout than nginx's avoids races on reuse.
  server.keepAliveTimeout = 65_000
  server.headersTimeout = 66_000
  let closing = false
  let graceOver = false
  const inFlight = new Set<ServerResponse>()
  // Before express's own listener: a route that answers synchronously has sent its headers by the next one.
  server.prependListener('request', (_req, res: ServerResponse) => {
    if (closing) res.shouldKeepAlive = false
    inFlight.add(res)
    res.on('close', () => inFlight.delete(res))
    res.on('finish', () => {
      inFlight.delete(res)
      // A response that could not say `Connection: close` (its headers went before close()) leaves an
      // idle socket behind once the grace is over: close it as soon as the response is done.
      if (graceOver) setImmediate(() => server.closeIdleConnections())
    })
  })
  const address = server.address() as AddressInfo
  return {
    server,
    port: address.port,
    close: async () => {
      closing = true
      for (const res of inFlight) if (!res.headersSent) res.shouldKeepAlive = false
      const closed = new Promise<void>((resolve) => server.once('close', () => resolve()))
      // Stop accepting connections with net.Server's close: http.Server's (Node >= 19) also closes the idle
      // keep-alive connections at once, which is the race the grace is there to avoid.
      NetServer.prototype.close.call(server)
      let timer: NodeJS.Timeout | undefined
      await Promise.race([closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, IDLE_CONNECTION_GRACE_MS)))])
      clearTimeout(timer)
      graceOver = true
      server.closeIdleConnections()
      await closed
    },
  }
}

import { Agent, request } from 'node:http'
import t from 'tap'
import { createHttpApp } from '../../../services/shared/http.ts'
import { IDLE_CONNECTION_GRACE_MS, listen } from '../../../services/shared/server.ts'
import { memoryLogger } from '../../helpers/log-sink.ts'

function get(port: number, agent: Agent): Promise<{ status: number; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/ping', agent }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }))
    })
    req.on('error', reject)
    req.end()
  })
}

const app = () => createHttpApp(memoryLogger().logger, (app) => app.get('/ping', (_req, res) => void res.json({ pong: true })))

t.test('when a server with an idle keep-alive connection closes, then a request sent on it meanwhile is still answered, with Connection: close', async (t) => {
  const server = await listen(app(), 0, '127.0.0.1')
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => agent.destroy())
  t.equal((await get(server.port, agent)).status, 200, 'a first request leaves an idle keep-alive connection')
  const started = Date.now()
  const closing = server.close()
  // What nginx does when it reuses a pooled connection just as the service starts stopping.
  const reply = await get(server.port, agent)
  t.same(reply, { status: 200, connection: 'close' }, 'answered, and told to close the connection')
  await closing
  t.ok(Date.now() - started < IDLE_CONNECTION_GRACE_MS + 500, 'close() finished once the connection was retired')
})

t.test('when a server with no connection closes, then it closes at once', async (t) => {
  const server = await listen(app(), 0, '127.0.0.1')
  const started = Date.now()
  await server.close()
  t.ok(Date.now() - started < 200, `closed in ${Date.now() - started} ms`)
})

t.test('when an idle connection is left unused, then it is closed after the grace', async (t) => {
  const server = await listen(app(), 0, '127.0.0.1')
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => agent.destroy())
  await get(server.port, agent)
  const started = Date.now()
  await server.close()
  const took = Date.now() - started
  t.ok(took >= IDLE_CONNECTION_GRACE_MS - 50 && took < IDLE_CONNECTION_GRACE_MS + 1000, `closed after the grace (${took} ms)`)
})

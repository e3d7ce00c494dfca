// The container image's entry (services/start.ts: runs the app the manifest names) and its HEALTHCHECK
// (services/healthcheck.ts), from source. test/container/image.container.ts runs both built, in the image.
import { createServer, type Server } from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { appNamesOf, platform } from '../../services/shared/platform.ts'
import { freePort } from '../helpers/ports.ts'
import { runEntry } from '../helpers/run-entry.ts'

t.test('start: without an app, or with one the manifest does not name, it lists the apps and exits 64', async (t) => {
  const list = `one of ${appNamesOf(platform).join(', ')}`
  const none = await runEntry('services/start.ts', {})
  t.equal(none.code, 64)
  t.equal(none.stderr, `name the app to run: ${list}\n`)
  const unknown = await runEntry('services/start.ts', {}, ['pm2'])
  t.equal(unknown.code, 64)
  t.equal(unknown.stderr, `there is no app "pm2": ${list}\n`)
})

t.test("start: an app's name runs that app's entry in the same process", async (t) => {
  // The Auth API's own start-up check answers: the entry ran (no Redis is needed to get that far).
  const auth = await runEntry('services/start.ts', { REDIS_URL: 'redis://127.0.0.1:1/0' }, ['auth'])
  t.equal(auth.code, 1)
  t.match(auth.stderr, /JWT_SECRET is required/)
  const dashboard = await runEntry('services/start.ts', {}, ['dashboard'])
  t.equal(dashboard.code, 1)
  t.match(dashboard.stderr, /QUEUE_DASHBOARD_PASSWORD is required/)
})

async function serve(status: number): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    res.statusCode = req.url === '/health' ? status : 404
    res.end()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { server, port: (server.address() as AddressInfo).port }
}

t.test('healthcheck: exit 0 when GET /health on HTTP_PORT answers 200, on loopback when HTTP_HOST is every interface', async (t) => {
  const { server, port } = await serve(200)
  t.teardown(() => server.close())
  const check = await runEntry('services/healthcheck.ts', { HTTP_HOST: '0.0.0.0', HTTP_PORT: String(port) })
  t.equal(check.code, 0, check.stdout)
})

t.test('healthcheck: exit 1 with the reason when /health answers anything else, or nothing', async (t) => {
  const { server, port } = await serve(503)
  t.teardown(() => server.close())
  const unhealthy = await runEntry('services/healthcheck.ts', { HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port) })
  t.equal(unhealthy.code, 1)
  t.equal(unhealthy.stdout, 'GET /health answered 503\n')
  const closed = await freePort()
  const down = await runEntry('services/healthcheck.ts', { HTTP_PORT: String(closed) })
  t.equal(down.code, 1)
  t.match(down.stdout, new RegExp(`^GET http://127\\.0\\.0\\.1:${closed}/health: .*ECONNREFUSED`))
})

import { request } from 'node:http'
import t from 'tap'
import { createHttpApp, requireBody } from '../../../services/shared/http.ts'
import { listen } from '../../../services/shared/server.ts'
import { memoryLogger } from '../../helpers/log-sink.ts'

// Raw requests (node:http), so that malformed paths and encodings reach the server as sent.
function send(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = ''
      res.on('data', (chunk: Buffer) => (text += chunk.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

t.test('when express or the body parser refuse a request, then a JSON 4xx, never a 500', async (t) => {
  const { logger, entries } = memoryLogger()
  const app = createHttpApp(logger, (app) => {
    app.get('/things/:id', (req, res) => void res.json({ id: req.params.id }))
    app.post('/things', requireBody, (req, res) => void res.json(req.body))
    app.get('/boom', () => {
      throw new Error('a bug')
    })
  })
  const server = await listen(app, 0, '127.0.0.1')
  t.teardown(() => server.close())

  t.same(await send(server.port, 'GET', '/things/%E0%A4%A'), { status: 400, body: { error: 'Bad Request' } }, 'a malformed %-escape in a path parameter')
  t.same(await send(server.port, 'GET', '/things/%ff'), { status: 400, body: { error: 'Bad Request' } }, 'a %-escape that is not UTF-8')
  for (const encoding of ['gzip', 'deflate', 'br']) {
    const reply = await send(server.port, 'POST', '/things', { 'content-type': 'application/json', 'content-encoding': encoding }, '{"a":1}')
    t.equal(reply.status, 400, `a body that is not the ${encoding} it claims to be: 400`)
    t.match(reply.body, { error: String })
  }
  t.same(await send(server.port, 'GET', '/things/ok'), { status: 200, body: { id: 'ok' } }, 'a good request still works')
  t.same(await send(server.port, 'GET', '/boom'), { status: 500, body: { error: 'Internal server error' } }, 'a bug is still a 500')
  t.equal(entries().filter((e) => e.msg === 'request failed').length, 1, 'and only the bug is logged as a failure')
})

t.test('when requests end, then each has one log line with its request id, method, path, status and ms; a 5xx also its error', async (t) => {
  const { logger, entries } = memoryLogger('info')
  const app = createHttpApp(logger, (app) => {
    app.get('/ok', (req, res) => {
      req.log.info({ step: 1 }, 'inside')
      res.json({ ok: true })
    })
    app.get('/boom', () => {
      throw new Error('a bug')
    })
  })
  const server = await listen(app, 0, '127.0.0.1')
  t.teardown(() => server.close())

  await send(server.port, 'GET', '/ok', { 'x-request-id': 'req-1' })
  await send(server.port, 'GET', '/boom', { 'x-request-id': 'req-2' })
  await send(server.port, 'GET', '/ok', { 'x-request-id': 'not plain {"forged":1}' })
  await new Promise((resolve) => setImmediate(resolve))
  const lines = entries()
  t.match(lines.find((e) => e.msg === 'inside'), { req_id: 'req-1', step: 1 }, "the route's own line carries the request id")
  t.match(lines.find((e) => e.msg === 'request' && e.req_id === 'req-1'), { level: 'info', method: 'GET', path: '/ok', status: 200, ms: Number })
  t.match(lines.find((e) => e.req_id === 'req-2' && e.msg === 'request failed'), { level: 'error', status: 500, err: { type: 'Error', message: 'a bug', stack: /a bug/ } })
  t.match(lines.find((e) => e.req_id === 'req-2' && e.msg === 'request'), { level: 'info', path: '/boom', status: 500 })
  const renamed = lines.filter((e) => e.msg === 'request' && e.req_id !== 'req-1' && e.req_id !== 'req-2')
  t.equal(renamed.length, 1)
  t.match(renamed[0]?.req_id, /^[0-9a-f-]{36}$/, 'an id that is not short and plain is replaced by a new one')
  t.notOk(lines.some((e) => 'req' in e || 'res' in e), 'no request or response object (headers, tokens) in any line')
})

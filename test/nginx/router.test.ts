// The router config, rendered from nginx/routes.ts, served by a REAL nginx in front of tiny node:http
// stubs standing in for the services (the services themselves are tested elsewhere).
import { once } from 'node:events'
import { connect } from 'node:net'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type IncomingHttpHeaders, request, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { createHash } from 'node:crypto'
import { docsIndexHtml } from '../../nginx/docs-site.ts'
import { renderRouterConfig } from '../../nginx/render.ts'
import type { ServiceName } from '../../nginx/routes.ts'
import { startNginx, type NginxServer } from '../helpers/nginx-server.ts'
import { freePort } from '../helpers/ports.ts'

interface Seen {
  service: ServiceName
  method: string
  url: string
  headers: IncomingHttpHeaders
}

interface Stub {
  service: ServiceName
  port: number
  server: Server
  connections: number
}

// Echoes what it received; like the services it sets its own X-Request-Id, and answers /missing with
// its own JSON 404 (which nginx must pass through untouched).
async function startStub(service: ServiceName): Promise<Stub> {
  const stub: Stub = { service, port: 0, server: createServer(), connections: 0 }
  stub.server.on('connection', () => stub.connections++)
  stub.server.on('request', (req, res) => {
    req.resume()
    req.on('end', () => {
      const seen: Seen = { service, method: req.method ?? '', url: req.url ?? '', headers: req.headers }
      res.setHeader('X-Request-Id', 'set-by-the-service')
      // As kue's own express app does: nginx must not pass it on.
      res.setHeader('X-Powered-By', 'Express')
      res.setHeader('Content-Type', 'application/json')
      res.statusCode = req.url === '/missing' ? 404 : 200
      res.end(JSON.stringify(req.url === '/missing' ? { error: 'service says no' } : seen))
    })
  })
  stub.server.listen(0, '127.0.0.1')
  await once(stub.server, 'listening')
  const address = stub.server.address()
  stub.port = typeof address === 'object' && address !== null ? address.port : 0
  return stub
}

// The docs site: a page and a stylesheet, as the provisioner publishes them (nginx/docs-site.ts).
// index.html is the real page: its inline style must be allowed by the CSP nginx sends.
const docsDir = await mkdtemp(join(tmpdir(), 'yoyo-docs-'))
t.teardown(() => rm(docsDir, { recursive: true, force: true }))
await writeFile(join(docsDir, 'index.html'), docsIndexHtml)
await writeFile(join(docsDir, 'swagger-ui.css'), 'body { margin: 0 }')
await writeFile(join(docsDir, 'openapi.json'), '{"openapi":"3.1.0"}')
await writeFile(join(docsDir, 'favicon-32x32.png'), 'png')

async function startRouter(upstreams: Record<ServiceName, string>, rateLimit?: { ratePerSecond: number; burst: number }): Promise<NginxServer> {
  return startNginx((port) => renderRouterConfig({ listen: `127.0.0.1:${port}`, upstreams, staticRoots: { docs: docsDir }, accessLog: 'off', ...(rateLimit ? { rateLimit } : {}) }))
}

const stubs = await Promise.all((['auth', 'transactions', 'loyalty', 'dashboard'] as const).map(startStub))
t.teardown(() => stubs.forEach((stub) => stub.server.close()))
const upstreams = Object.fromEntries(stubs.map((stub) => [stub.service, `127.0.0.1:${stub.port}`])) as Record<ServiceName, string>
const nginx = await startRouter(upstreams)
t.teardown(() => nginx.stop())

async function call(path: string, init: RequestInit = {}, server = nginx) {
  const res = await fetch(`${server.url}${path}`, { redirect: 'manual', ...init })
  const text = await res.text()
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    body = text
  }
  return { status: res.status, headers: res.headers, body: body as Record<string, unknown> & Partial<Seen> }
}

t.test('when a path has a route prefix, then it reaches that service with the prefix stripped', async (t) => {
  const cases: [string, string, ServiceName, string][] = [
    ['GET', '/authentication/health', 'auth', '/health'],
    ['POST', '/authentication/token?grant=password', 'auth', '/token?grant=password'],
    ['GET', '/loyalty/me', 'loyalty', '/me'],
    ['GET', '/loyalty/health', 'loyalty', '/health'],
    ['GET', '/transactions/health', 'transactions', '/health'],
  ]
  for (const [method, path, service, upstreamPath] of cases) {
    const { status, body } = await call(path, { method })
    t.equal(status, 200, `${method} ${path}`)
    t.equal(body.service, service, `${path} reaches ${service}`)
    t.equal(body.url, upstreamPath, `${path} arrives as ${upstreamPath}`)
    t.equal(body.method, method)
  }
})

t.test('when a transaction path is called with or without the doubled prefix, then both reach the Transaction API /transactions', async (t) => {
  const cases: [string, string, string][] = [
    ['POST', '/transactions', '/transactions'],
    ['POST', '/transactions/transactions', '/transactions'],
    ['GET', '/transactions/0d9c8e6a-1b2c-4d5e-8f90-123456789abc', '/transactions/0d9c8e6a-1b2c-4d5e-8f90-123456789abc'],
    ['GET', '/transactions/transactions/0d9c8e6a-1b2c-4d5e-8f90-123456789abc', '/transactions/0d9c8e6a-1b2c-4d5e-8f90-123456789abc'],
    ['GET', '/transactions/transactions?page=2', '/transactions?page=2'],
  ]
  for (const [method, path, upstreamPath] of cases) {
    const { status, body } = await call(path, { method, headers: { 'content-type': 'application/json' }, body: method === 'POST' ? '{}' : null })
    t.equal(status, 200, `${method} ${path}`)
    t.equal(body.service, 'transactions')
    t.equal(body.url, upstreamPath, `${method} ${path} arrives as ${upstreamPath}`)
  }
})

t.test('when a request carries a plain X-Request-Id, then the service gets it and the client gets it back once', async (t) => {
  const res = await fetch(`${nginx.url}/loyalty/me`, { headers: { 'x-request-id': 'client-id-42' } })
  const seen = (await res.json()) as Seen
  t.equal(seen.headers['x-request-id'], 'client-id-42')
  t.equal(res.headers.get('x-request-id'), 'client-id-42', 'the service\'s own header is replaced, not doubled')
})

t.test('when a request has no X-Request-Id, then nginx makes one, sends it to the service and returns it', async (t) => {
  const { headers, body } = await call('/loyalty/me')
  const id = headers.get('x-request-id')
  t.match(id, /^[0-9a-f]{32}$/)
  t.equal(body.headers?.['x-request-id'], id)
})

t.test('when an X-Request-Id is too long or not plain, then nginx replaces it', async (t) => {
  for (const bad of ['x'.repeat(129), 'has spaces in it', 'quote"s']) {
    const { headers, body } = await call('/loyalty/me', { headers: { 'x-request-id': bad } })
    t.match(headers.get('x-request-id'), /^[0-9a-f]{32}$/, JSON.stringify(bad).slice(0, 20))
    t.equal(body.headers?.['x-request-id'], headers.get('x-request-id'))
  }
})

t.test('when a request is proxied, then the service sees the forwarded client, scheme and host', async (t) => {
  // fetch() will not send a custom Host header: use node:http.
  const seen = await new Promise<Seen>((resolve, reject) => {
    const req = request(`${nginx.url}/authentication/health`, { headers: { host: 'yoyo.test:8080' } }, (res) => {
      let text = ''
      res.on('data', (chunk: Buffer) => (text += chunk.toString()))
      res.on('end', () => resolve(JSON.parse(text) as Seen))
    })
    req.on('error', reject)
    req.end()
  })
  t.equal(seen.headers['x-forwarded-for'], '127.0.0.1')
  t.equal(seen.headers['x-forwarded-proto'], 'http')
  t.equal(seen.headers['x-forwarded-host'], 'yoyo.test:8080', 'with the port the client used')
  t.equal(seen.headers.host, 'yoyo.test')
  t.equal(seen.headers.connection, undefined, 'no Connection: close towards the upstream')
})

t.test('when a client sends its own X-Forwarded-For or X-Real-IP, then the service sees only the address nginx saw', async (t) => {
  for (const path of ['/authentication/token', '/queue/stats', '/loyalty/me']) {
    const { body } = await call(path, { method: path.endsWith('token') ? 'POST' : 'GET', headers: { 'x-forwarded-for': '203.0.113.66, 10.0.0.1', 'x-real-ip': '203.0.113.67' } })
    t.equal(body.headers?.['x-forwarded-for'], '127.0.0.1', `${path}: X-Forwarded-For is nginx's peer only`)
    t.equal(body.headers?.['x-real-ip'], '127.0.0.1', `${path}: X-Real-IP too`)
  }
})

t.test('when requests follow each other, then nginx reuses its upstream connection (keepalive)', async (t) => {
  const auth = stubs.find((stub) => stub.service === 'auth')!
  const before = auth.connections
  for (let i = 0; i < 8; i++) await call('/authentication/health')
  t.ok(auth.connections - before <= 1, `8 requests used ${auth.connections - before} new upstream connections`)
})

t.test('when an upstream connection has been idle for over 500 ms, then nginx closes it and opens a new one', async (t) => {
  // So that a service being reloaded (1 s grace for idle connections) never closes one nginx is reusing.
  const loyalty = stubs.find((stub) => stub.service === 'loyalty')!
  await call('/loyalty/health')
  const before = loyalty.connections
  await call('/loyalty/health')
  t.equal(loyalty.connections, before, 'a request right after reuses the connection')
  await new Promise((resolve) => setTimeout(resolve, 900))
  await call('/loyalty/health')
  t.equal(loyalty.connections, before + 1, 'a request after 900 ms idle opens a new one')
})

t.test('when nginx answers, then it does not tell its version', async (t) => {
  const { headers } = await call('/authentication/health')
  t.equal(headers.get('server'), 'nginx')
})

t.test('when no route matches, then nginx answers a JSON 404 with a request id', async (t) => {
  for (const path of ['/', '/nope', '/authenticationx', '/loyaltyx/me', '/.yoyo-error/429']) {
    const { status, headers, body } = await call(path)
    t.equal(status, 404, path)
    t.equal(headers.get('content-type'), 'application/json')
    t.same(body, { error: 'Not found' })
    t.match(headers.get('x-request-id'), /^[0-9a-f]{32}$/)
  }
})

t.test('when a service answers 404 itself, then its own body goes through untouched', async (t) => {
  const { status, body } = await call('/loyalty/missing')
  t.equal(status, 404)
  t.same(body, { error: 'service says no' })
})

t.test('when a body is larger than 16 kB, then nginx answers a JSON 413 without calling the service', async (t) => {
  const transactions = stubs.find((stub) => stub.service === 'transactions')!
  const before = transactions.connections
  const { status, headers, body } = await call('/transactions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ padding: 'x'.repeat(17 * 1024) }),
  })
  t.equal(status, 413)
  t.equal(headers.get('content-type'), 'application/json')
  t.match(body.error, /larger than 16kB/)
  t.ok(headers.get('x-request-id'))
  t.equal(transactions.connections, before)
})

// What nginx answers to bytes fetch() would refuse to send: the raw status line, content type and body.
async function rawExchange(server: NginxServer, bytes: string): Promise<{ status: number; contentType: string; body: string }> {
  const { port } = new URL(server.url)
  const socket = connect({ host: '127.0.0.1', port: Number(port) })
  t.teardown(() => socket.destroy())
  socket.end(bytes)
  let text = ''
  for await (const chunk of socket) text += String(chunk)
  const [head = '', body = ''] = text.split('\r\n\r\n')
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), contentType: /content-type: ([^\r]+)/i.exec(head)?.[1] ?? '', body }
}

t.test('when nginx refuses a request before any route, then its answer is a JSON error too', async (t) => {
  const cases: Array<[string, string, number, RegExp]> = [
    ['a malformed request line', 'GARBAGE\r\n\r\n', 400, /Bad request/],
    ['a %-escape it cannot decode', 'GET /transactions/%E0%A4%A HTTP/1.1\r\nHost: x\r\n\r\n', 400, /Bad request/],
    ['a path escaping the root', 'GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n', 400, /Bad request/],
    ['no Host header in HTTP/1.1', 'GET /loyalty/health HTTP/1.1\r\n\r\n', 400, /Bad request/],
    ['a URI over its buffers', `GET /transactions/${'a'.repeat(9000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414, /URI is too long/],
    ['a header over its buffers', `GET /loyalty/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(9000)}\r\n\r\n`, 431, /headers are too large/],
    ['a POST to a static file', 'POST /docs/index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n', 405, /Method not allowed/],
  ]
  for (const [name, bytes, status, error] of cases) {
    const reply = await rawExchange(nginx, bytes)
    t.equal(reply.status, status, `${name} → ${status}`)
    t.equal(reply.contentType, 'application/json', `${name}: JSON`)
    t.match(JSON.parse(reply.body || '{}').error, error, `${name}: says what is wrong`, { body: reply.body })
  }
})

t.test('when a service is down, then nginx answers a JSON 502', async (t) => {
  const down = await freePort()
  const router = await startRouter({ ...upstreams, loyalty: `127.0.0.1:${down}` })
  t.teardown(() => router.stop())
  const { status, headers, body } = await call('/loyalty/me', {}, router)
  t.equal(status, 502)
  t.equal(headers.get('content-type'), 'application/json')
  t.same(body, { error: 'Service unavailable (bad gateway)' })
  t.ok(headers.get('x-request-id'))
})

t.test('when one client bursts token requests, then the excess gets a JSON 429 and other routes are not limited', async (t) => {
  // A slow rate makes the outcome independent of timing: exactly `burst` + 1 requests pass at once.
  const router = await startRouter(upstreams, { ratePerSecond: 1, burst: 5 })
  t.teardown(() => router.stop())
  const paths = ['/authentication/token', '/authentication/TOKEN', '/authentication/token/']
  const results = await Promise.all(Array.from({ length: 12 }, (_, i) => call(paths[i % paths.length]!, { method: 'POST' }, router)))
  const passed = results.filter((r) => r.status === 200)
  const limited = results.filter((r) => r.status === 429)
  t.equal(passed.length, 6, 'burst + 1 pass, whatever the spelling of the path')
  t.equal(limited.length, 6)
  t.equal(passed[0]!.body.url, '/token')
  t.same(limited[0]!.body, { error: 'Too many requests, slow down' })
  t.equal(limited[0]!.headers.get('content-type'), 'application/json')
  t.equal(limited[0]!.headers.get('retry-after'), '1')
  t.ok(limited[0]!.headers.get('x-request-id'))
  const other = await call('/authentication/health', {}, router)
  t.equal(other.status, 200, 'health is not rate limited')
})

t.test('when /queue/<path> is asked, then the dashboard gets /<path>; /queue alone redirects to /queue/ by path only', async (t) => {
  const cases: [string, string][] = [['/queue/', '/'], ['/queue/active', '/active'], ['/queue/stylesheets/main.css', '/stylesheets/main.css'], ['/queue/jobs/inactive/0..10/asc', '/jobs/inactive/0..10/asc']]
  for (const [path, upstreamPath] of cases) {
    const { status, body } = await call(path)
    t.equal(status, 200, path)
    t.same([body.service, body.url], ['dashboard', upstreamPath], `${path} → dashboard ${upstreamPath}`)
  }
  const redirect = await call('/queue', { headers: { host: 'localhost:8080' } })
  t.equal(redirect.status, 301)
  t.equal(redirect.headers.get('location'), '/queue/', 'a relative Location: the browser keeps its host:port (Vagrant\'s 8080)')
})

t.test('when /docs/ files are served, then each carries a CSP without unsafe-inline that allows the page\'s inline style, and no framing', async (t) => {
  for (const path of ['/docs/', '/docs/swagger-ui.css', '/docs/openapi.json']) {
    const res = await fetch(`${nginx.url}${path}`)
    const body = await res.text()
    const csp = res.headers.get('content-security-policy') ?? ''
    t.match(csp, /(^|; )frame-ancestors 'none'(;|$)/, `${path}: frame-ancestors 'none'`)
    t.match(csp, /(^|; )default-src 'none'(;|$)/, `${path}: default-src 'none'`)
    t.notMatch(csp, /unsafe-inline|unsafe-eval/, `${path}: no unsafe-inline or unsafe-eval`)
    t.equal(res.headers.get('x-frame-options'), 'DENY', `${path}: X-Frame-Options`)
    t.equal(res.headers.get('x-content-type-options'), 'nosniff', `${path}: nosniff`)
    t.equal(res.headers.get('referrer-policy'), 'same-origin', `${path}: Referrer-Policy`)
    if (path !== '/docs/') continue
    const styles = [...body.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((match) => match[1]!)
    t.equal(styles.length, 1, 'the page has one inline style')
    for (const style of styles) t.ok(csp.includes(`'sha256-${createHash('sha256').update(style, 'utf8').digest('base64')}'`), 'its hash is in style-src')
    t.notMatch(body, /<script>|\son[a-z]+=/i, 'and no inline script or event handler')
  }
})

t.test('when a service names its framework (X-Powered-By), then nginx does not pass it on', async (t) => {
  for (const path of ['/queue/', '/loyalty/me', '/queue/missing']) {
    const res = await fetch(`${nginx.url}${path}`)
    await res.arrayBuffer()
    t.equal(res.headers.get('x-powered-by'), null, `${path}: no X-Powered-By`)
  }
})

t.test('when /docs/ is asked, then nginx serves the docs files itself with their types, and a JSON 404 for others', async (t) => {
  const page = await fetch(`${nginx.url}/docs/`)
  t.equal(page.status, 200)
  t.match(page.headers.get('content-type'), /^text\/html/)
  t.ok(page.headers.get('x-request-id'), 'a request id')
  t.equal(await page.text(), docsIndexHtml)
  const css = await fetch(`${nginx.url}/docs/swagger-ui.css`)
  t.match(css.headers.get('content-type'), /^text\/css/, 'a stylesheet as text/css')
  await css.text()
  const json = await fetch(`${nginx.url}/docs/openapi.json`)
  t.match(json.headers.get('content-type'), /^application\/json/)
  t.same(await json.json(), { openapi: '3.1.0' })
  const missing = await call('/docs/nothing-here.js')
  t.equal(missing.status, 404)
  t.same(missing.body, { error: 'Not found' })
  const redirect = await call('/docs')
  t.equal(redirect.status, 301)
  t.equal(redirect.headers.get('location'), '/docs/')
  const icon = await fetch(`${nginx.url}/favicon.ico`)
  t.equal(icon.status, 200, 'the platform\'s favicon is the docs\' icon (every page asks for one)')
  t.equal(icon.headers.get('content-type'), 'image/png')
  t.equal(await icon.text(), 'png')
})

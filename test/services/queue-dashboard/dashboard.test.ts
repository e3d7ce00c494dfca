// The queue dashboard in-process against a real Redis: kue's UI and JSON API behind basic auth, its
// health without. (Under the /queue/ prefix, through nginx and in a browser: test/browser/.)
import { createHash, randomUUID } from 'node:crypto'
import kue from 'kue'
import t from 'tap'
import { REALM } from '../../../services/queue-dashboard/basic-auth.ts'
import { start } from '../../../services/queue-dashboard/index.ts'
import { type Queue } from '../../../services/shared/queue/index.ts'
import { enqueueTransaction } from '../../helpers/kue-save.ts'
import { memoryLogger } from '../../helpers/log-sink.ts'
import { startRedis } from '../../helpers/redis-server.ts'

const USER = 'admin'
const PASSWORD = `dashboard-${randomUUID()}`
const login = (user = USER, password = PASSWORD) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`

const redis = await startRedis()
t.teardown(() => redis.stop())
const log = memoryLogger()
const dashboard = await start(
  { HTTP_PORT: 0, HTTP_HOST: '127.0.0.1', REDIS_URL: redis.urlOf('dashboard'), LOG_LEVEL: 'debug', SHUTDOWN_TIMEOUT_MS: 2000, QUEUE_DASHBOARD_USER: USER, QUEUE_DASHBOARD_PASSWORD: PASSWORD },
  log.logger,
)
t.teardown(() => dashboard.stop())
const url = `http://127.0.0.1:${dashboard.port}`
// kue's singleton: the dashboard's own queue, used here to put jobs on it.
const queue: Queue = kue.createQueue()

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${url}${path}`, { headers: { authorization: login(), ...headers } })

t.test('when /health is asked without a login, then 200 healthy', async (t) => {
  const res = await fetch(`${url}/health`)
  t.equal(res.status, 200)
  t.same(await res.json(), { healthy: true })
})

t.test('when the dashboard is asked without a login or with a wrong one, then 401 with a Basic challenge and a JSON error', async (t) => {
  const attempts: Record<string, string | undefined> = {
    none: undefined,
    'wrong password': login(USER, 'wrong-password'),
    'wrong user': login('root', PASSWORD),
    'a Bearer token': 'Bearer abc.def.ghi',
    'not base64': 'Basic !!!',
    'no colon': `Basic ${Buffer.from('admin').toString('base64')}`,
  }
  for (const [index, [what, authorization]] of Object.entries(attempts).entries()) {
    for (const path of ['/', '/active', '/stats', '/jobs/inactive/0..10/asc', '/job/1', '/stylesheets/main.css']) {
      // Each kind from its own address (as nginx passes it): 12 wrong logins from one would be limited.
      const headers: Record<string, string> = { 'x-forwarded-for': `198.51.100.${index}`, ...(authorization === undefined ? {} : { authorization }) }
      const res = await fetch(`${url}${path}`, { headers })
      t.equal(res.status, 401, `${what}: GET ${path} → 401`)
      t.equal(res.headers.get('www-authenticate'), `Basic realm="${REALM}", charset="UTF-8"`)
      t.match(await res.json(), { error: /Log in/ })
    }
  }
  t.notOk(log.lines.some((line) => line.includes(PASSWORD)), 'the password is never logged')
})

t.test('when logged in, then kue\'s page renders with relative links only (so it works under /queue/)', async (t) => {
  const res = await get('/')
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /^text\/html/)
  const html = await res.text()
  t.match(html, '<title>yoyo-platform queue</title>')
  const links = [...html.matchAll(/(?:href|src)=['"]([^'"]+)['"]/g)].map((match) => match[1]!)
  t.ok(links.length > 5, `links: ${links.join(' ')}`)
  t.same(links.filter((link) => !link.startsWith('./')), [], 'every link is relative to the page')
  for (const asset of ['/stylesheets/main.css', '/javascripts/main.js', '/javascripts/jquery.min.js']) {
    const file = await get(asset)
    t.equal(file.status, 200, `GET ${asset}`)
    await file.arrayBuffer()
  }
})

t.test('when transactions are queued, then the JSON API shows them, by state and one by one', async (t) => {
  const event = { transaction_id: randomUUID(), user_id: 1, amount: 2000, currency: 'GBP', created_at: new Date().toISOString() }
  const id = await enqueueTransaction(queue, event)
  const stats = await (await get('/stats', { accept: 'application/json' })).json() as Record<string, number>
  t.ok(stats.inactiveCount! >= 1, `stats: ${JSON.stringify(stats)}`)
  const jobs = await (await get('/jobs/inactive/0..10/asc', { accept: 'application/json' })).json() as { id: number; type: string; data: unknown }[]
  t.match(jobs.find((job) => String(job.id) === id), { type: 'transaction', data: event }, 'the job is listed with its transaction')
  const job = await (await get(`/job/${id}`, { accept: 'application/json' })).json() as { id: string; state: string; data: unknown }
  t.match(job, { id, state: 'inactive', data: event })
  const types = await (await get('/job/types', { accept: 'application/json' })).json()
  t.same(types, ['transaction'])
})

t.test('when someone tries to create a job through the dashboard, then 405: jobs come from the Transaction API', async (t) => {
  const res = await fetch(`${url}/job`, {
    method: 'POST',
    headers: { authorization: login(), 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'transaction', data: { transaction_id: 'x' } }),
  })
  t.equal(res.status, 405)
  t.match(await res.json(), { error: /Transaction API/ })
  t.equal(res.headers.get('allow'), 'GET, PUT, DELETE')
})

t.test('when any dashboard answer is sent, then it carries the page headers and does not name its framework', async (t) => {
  const answers = {
    'the page': await get('/'),
    'an asset': await get('/javascripts/main.js'),
    'the JSON API': await get('/stats', { accept: 'application/json' }),
    'a 401': await fetch(`${url}/`),
    'a 404': await get('/no/such/page'),
    'the health check': await fetch(`${url}/health`),
  }
  for (const [what, res] of Object.entries(answers)) {
    await res.arrayBuffer()
    t.equal(res.headers.get('x-powered-by'), null, `${what}: no X-Powered-By`)
    t.equal(res.headers.get('x-frame-options'), 'DENY', `${what}: X-Frame-Options`)
    t.equal(res.headers.get('x-content-type-options'), 'nosniff', `${what}: nosniff`)
    t.equal(res.headers.get('referrer-policy'), 'same-origin', `${what}: Referrer-Policy`)
    const csp = res.headers.get('content-security-policy') ?? ''
    t.match(csp, /(^|; )frame-ancestors 'none'(;|$)/, `${what}: frame-ancestors`)
    t.match(csp, /(^|; )default-src 'none'(;|$)/, `${what}: default-src`)
    t.notMatch(csp, /unsafe-inline|unsafe-eval/, `${what}: no unsafe-inline or unsafe-eval`)
  }
})

t.test('when each of kue\'s list pages is served, then its inline scripts are allowed by hash and nothing else inline is', async (t) => {
  for (const state of ['', 'active', 'inactive', 'failed', 'complete', 'delayed']) {
    const res = await get(`/${state}`)
    const html = await res.text()
    const csp = res.headers.get('content-security-policy') ?? ''
    const inline = [...html.matchAll(/<script(\s[^>]*)?>([\s\S]*?)<\/script>/g)].filter((match) => !/\bsrc=|type=['"]text\/template/.test(match[1] ?? ''))
    t.ok(inline.length >= 1, `/${state}: ${inline.length} inline script(s)`)
    for (const [, , script] of inline) {
      const hash = `'sha256-${createHash('sha256').update(script!, 'utf8').digest('base64')}'`
      t.ok(csp.includes(hash), `/${state}: its inline script ${JSON.stringify(script)} is in script-src (${hash})`)
    }
    t.notMatch(html, /\sstyle=|\son[a-z]+=/i, `/${state}: no inline style attribute or event handler`)
  }
})

t.test('cross-site changes', async (t) => {
  const fresh = async (): Promise<string> => {
    const id = await enqueueTransaction(queue, { transaction_id: randomUUID(), user_id: 1, amount: 1, currency: 'GBP', created_at: new Date().toISOString() })
    const failed = await fetch(`${url}/job/${id}/state/failed`, { method: 'PUT', headers: { authorization: login(), accept: 'application/json' } })
    t.equal(failed.status, 200, 'a non-browser client (no Sec-Fetch-Site, no Origin) may change a job')
    await failed.arrayBuffer()
    return id
  }
  const stateOf = async (id: string): Promise<string | undefined> =>
    ((await (await get(`/job/${id}`, { accept: 'application/json' })).json()) as { state?: string }).state
  const restart = (id: string, headers: Record<string, string>) => get(`/inactive/${id}`, { accept: 'application/json', ...headers })
  const host = new URL(url).host

  t.test('when a restart (kue\'s GET /inactive/:id) comes from another site, then 403 and the job is untouched', async (t) => {
    const id = await fresh()
    const attempts: Record<string, Record<string, string>> = {
      'a cross-site fetch': { 'sec-fetch-site': 'cross-site', 'x-requested-with': 'XMLHttpRequest' },
      'a same-site (other port) fetch': { 'sec-fetch-site': 'same-site', 'x-requested-with': 'XMLHttpRequest' },
      'a typed or bookmarked URL': { 'sec-fetch-site': 'none' },
      'an <img> on another site': { 'sec-fetch-site': 'cross-site', 'sec-fetch-dest': 'image' },
      'an old browser\'s <img> (no Sec-Fetch-Site, no Origin)': {},
      'another Origin': { origin: 'http://evil.example', 'x-requested-with': 'XMLHttpRequest' },
      'Origin null': { origin: 'null', 'x-requested-with': 'XMLHttpRequest' },
    }
    for (const [what, headers] of Object.entries(attempts)) {
      const res = await restart(id, headers)
      t.equal(res.status, 403, `${what}: 403`)
      t.match(await res.json(), { error: /Cross-site|dashboard page/ })
    }
    t.equal(await stateOf(id), 'failed', 'the job was not restarted')
  })

  t.test('when the dashboard\'s own page restarts a job, then it is restarted', async (t) => {
    const id = await fresh()
    const res = await restart(id, { 'sec-fetch-site': 'same-origin', 'x-requested-with': 'XMLHttpRequest', referer: `${url}/failed` })
    t.equal(res.status, 200)
    t.match(await res.json(), { message: `job ${id} inactive` })
    t.equal(await stateOf(id), 'inactive')
    const viaNginx = await fresh()
    const proxied = await restart(viaNginx, { 'x-requested-with': 'XMLHttpRequest', origin: 'http://localhost:8080', 'x-forwarded-host': 'localhost:8080' })
    t.equal(proxied.status, 200, 'an Origin that is the host:port the browser used (X-Forwarded-Host from nginx) is this site')
    await proxied.arrayBuffer()
  })

  t.test('when a delete or a state change comes from another site, then 403 and the job is untouched', async (t) => {
    const id = await fresh()
    const attempts: Record<string, string>[] = [{ 'sec-fetch-site': 'cross-site' }, { origin: 'http://evil.example' }, { origin: `http://${host}`, 'sec-fetch-site': 'same-site' }]
    for (const headers of attempts) {
      const del = await fetch(`${url}/job/${id}`, { method: 'DELETE', headers: { authorization: login(), accept: 'application/json', ...headers } })
      t.equal(del.status, 403, `DELETE with ${JSON.stringify(headers)}: 403`)
      t.same(await del.json(), { error: 'Cross-site requests may not change the queue' })
      const put = await fetch(`${url}/job/${id}/state/complete`, { method: 'PUT', headers: { authorization: login(), accept: 'application/json', ...headers } })
      t.equal(put.status, 403, `PUT with ${JSON.stringify(headers)}: 403`)
      await put.arrayBuffer()
    }
    t.equal(await stateOf(id), 'failed', 'the job is still there, failed')
    const own = await fetch(`${url}/job/${id}`, { method: 'DELETE', headers: { authorization: login(), accept: 'application/json', 'sec-fetch-site': 'same-origin', origin: `http://${host}` } })
    t.equal(own.status, 200, 'the page\'s own DELETE passes')
    await own.arrayBuffer()
  })

  t.test('when a read comes from another site, then it is not a change: the login decides', async (t) => {
    const res = await get('/stats', { accept: 'application/json', 'sec-fetch-site': 'cross-site' })
    t.equal(res.status, 200)
    await res.arrayBuffer()
  })
})

t.test('when a path is neither kue\'s nor ours, then a JSON 404', async (t) => {
  const res = await get('/no/such/page')
  t.equal(res.status, 404)
  t.same(await res.json(), { error: 'Not found' })
})

t.test('when Redis is down, then /health says 503 and comes back with Redis', async (t) => {
  await redis.kill()
  const down = await fetch(`${url}/health`)
  t.equal(down.status, 503)
  t.same(await down.json(), { healthy: false, failing: ['queue'] })
  await redis.start()
  let status = 0
  for (let i = 0; i < 50 && status !== 200; i++) {
    status = (await fetch(`${url}/health`)).status
    if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.equal(status, 200, 'healthy again once Redis is back')
})

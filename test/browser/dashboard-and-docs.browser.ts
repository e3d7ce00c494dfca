// `npm run test:browser`: the queue dashboard and the API docs page in a real headless Chromium (the
// machine's /usr/bin/chromium through playwright-core, a fresh profile, no browser download), against
// an isolated platform (test/helpers/isolated-platform.ts: Redis, the four services, nginx rendered from
// the route list). Any console error, page error, failed request or 4xx/5xx asset fails the test.
// Screenshots go to test/browser/screenshots/ (not committed): look at them.
import { once } from 'node:events'
import { mkdir } from 'node:fs/promises'
import { type AddressInfo } from 'node:net'
import { createServer } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { join } from 'node:path'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'
import t from 'tap'
import { openApiDocument } from '../../services/shared/openapi.ts'
import { type IsolatedPlatform, startIsolatedPlatform } from '../helpers/isolated-platform.ts'

const JOBS = 12
const screenshots = join(import.meta.dirname, 'screenshots')
await mkdir(screenshots, { recursive: true })

// The Loyalty Worker starts later: until then the load's jobs wait in the queue, for the dashboard to show.
const stack: IsolatedPlatform = await startIsolatedPlatform({ deferred: ['loyalty'] })
t.teardown(() => stack.stop())

const browser: Browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
})
t.teardown(() => browser.close())

/** A page that records everything that went wrong in it: console errors, script errors, failed or refused requests. */
async function watchedPage(context: BrowserContext): Promise<{ page: Page; problems: string[] }> {
  const page = await context.newPage()
  const problems: string[] = []
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()} (${message.location().url})`)
  })
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
  page.on('requestfailed', (request) => problems.push(`request failed: ${request.method()} ${request.url()} (${request.failure()?.errorText ?? '?'})`))
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.request().method()} ${response.url()}`)
  })
  return { page, problems }
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${stack.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

t.test('when the dashboard is opened without its login, then 401 and a Basic challenge', async (t) => {
  // (A page would show the browser's login prompt, which headless Chromium turns into a navigation error.)
  const context = await browser.newContext()
  t.teardown(() => context.close())
  const response = await context.request.get(`${stack.url}/queue/`)
  t.equal(response.status(), 401)
  t.match(response.headers()['www-authenticate'], /^Basic realm=/)
  t.match(await response.json(), { error: /Log in/ })
})

t.test('when a short load is queued and the dashboard opened with its login, then the jobs show under /queue/ and one opens', async (t) => {
  const token = (await post('/authentication/token', { username: 'alice', password: 'password' })).body.token as string
  const created = await Promise.all(Array.from({ length: JOBS }, (_, i) => post('/transactions', { amount: 1000 + i, currency: 'GBP' }, { authorization: `Bearer ${token}` })))
  t.same(created.map((answer) => answer.status), Array(JOBS).fill(202), `${JOBS} transactions queued`)

  const context = await browser.newContext({ httpCredentials: { username: stack.dashboard.user, password: stack.dashboard.password }, viewport: { width: 1280, height: 900 } })
  t.teardown(() => context.close())
  const { page, problems } = await watchedPage(context)
  // kue's JSON API reports its own failures as 200 {"error": ...} (the page shows them for 4 s): count them too.
  page.on('response', (answer) => {
    if (!answer.headers()['content-type']?.startsWith('application/json')) return
    answer.json().then((body: unknown) => {
      if (typeof body === 'object' && body !== null && 'error' in body) problems.push(`kue error: ${answer.url()}: ${String((body as { error: unknown }).error)}`)
    }, () => {})
  })
  const response = await page.goto(`${stack.url}/queue/`)
  t.equal(response?.status(), 200, 'GET /queue/ with the login')
  t.equal(await page.title(), 'yoyo-platform queue')
  // Locators, not waitForFunction with a string: the page's CSP (rightly) refuses eval, and Playwright's too.
  await page.locator('li.inactive .count', { hasText: new RegExp(`^${JOBS}$`) }).waitFor({ timeout: 30_000 })
  t.pass(`the menu counts ${JOBS} queued jobs (kue's JSON API under /queue/)`)

  await page.click('li.inactive a')
  await page.waitForSelector('#jobs .job', { timeout: 15_000 })
  t.equal(new URL(page.url()).pathname, '/queue/inactive', 'its own links stay under the prefix')
  const shown = await page.locator('#jobs .job').count()
  t.ok(shown >= 10, `${shown} jobs listed`)
  const job = page.locator('#jobs .job').first()
  await job.locator('.contents').click()
  await page.waitForSelector('#jobs .job .details.show', { timeout: 10_000 })
  const details = await job.innerText()
  t.match(details, /transaction_id/, 'the opened job shows its transaction')
  t.match(details, /currency:\s*GBP/)
  t.match(details, /inactive/, 'and its state')
  await page.screenshot({ path: join(screenshots, 'dashboard-queued-job.png'), fullPage: false })

  // Straight to a page under the prefix (not through the menu): its assets and calls are relative too.
  await page.goto(`${stack.url}/queue/inactive`)
  await page.waitForSelector('#jobs .job', { timeout: 15_000 })

  await stack.startService('loyalty')
  await page.locator('li.inactive .count', { hasText: /^0$/ }).waitFor({ timeout: 30_000 })
  t.pass('once the Loyalty Worker runs, the queue drains on the page')
  await page.click('li.complete a')
  await page.waitForTimeout(1500)
  await page.screenshot({ path: join(screenshots, 'dashboard-drained.png'), fullPage: false })
  t.same(problems, [], 'no console error, page error or failed request', { problems })
})

t.test('when another site makes the browser restart a job with its saved dashboard login, then 403; the dashboard\'s own Restart button works', async (t) => {
  const basic = `Basic ${Buffer.from(`${stack.dashboard.user}:${stack.dashboard.password}`).toString('base64')}`
  const api = async (method: string, path: string): Promise<unknown> => {
    const res = await fetch(`${stack.url}/queue${path}`, { method, headers: { authorization: basic, accept: 'application/json' } })
    return res.json()
  }
  // A queued job, failed by hand (curl-like: no browser headers, so allowed), for both to try to restart.
  await stack.stopService('loyalty')
  t.teardown(() => stack.startService('loyalty'))
  const token = (await post('/authentication/token', { username: 'bob', password: 'password' })).body.token as string
  t.equal((await post('/transactions', { amount: 4321, currency: 'GBP' }, { authorization: `Bearer ${token}` })).status, 202)
  const [job] = (await api('GET', '/jobs/inactive/0..0/asc')) as { id: string }[]
  await api('PUT', `/job/${job!.id}/state/failed`)
  const stateOf = async (): Promise<string> => ((await api('GET', `/job/${job!.id}`)) as { state: string }).state
  t.equal(await stateOf(), 'failed')

  // The other site: localhost, while the dashboard is 127.0.0.1 (another site to the browser). Its
  // page asks for kue's restart URL as an image and with a no-cors fetch, with the visitor's login.
  const restartUrl = `${stack.url}/queue/inactive/${job!.id}`
  const evil = createServer((_req, res) => {
    res.setHeader('content-type', 'text/html')
    res.end(`<!doctype html><img src="${restartUrl}"><script>fetch(${JSON.stringify(restartUrl)}, { mode: 'no-cors', credentials: 'include' })</script>`)
  })
  evil.listen(0, '127.0.0.1')
  await once(evil, 'listening')
  t.teardown(() => evil.close())
  // The visitor has the dashboard open (logged in): the browser now sends the login with every request
  // to it, whichever site's page asks.
  const context = await browser.newContext({ httpCredentials: { username: stack.dashboard.user, password: stack.dashboard.password } })
  t.teardown(() => context.close())
  const { page, problems } = await watchedPage(context)
  await page.goto(`${stack.url}/queue/failed`)
  const attacker = await context.newPage()
  // Chromium here does not hand Playwright's login to another site's subresources (a browser whose
  // user typed it into the prompt may): add it to exactly those requests, keeping the browser's own
  // Sec-Fetch-* and Origin headers, which are what the dashboard judges.
  await attacker.route(restartUrl, (route) => route.continue({ headers: { ...route.request().headers(), authorization: basic } }))
  const refused: number[] = []
  attacker.on('response', (response) => {
    if (response.url() === restartUrl) refused.push(response.status())
  })
  await attacker.goto(`http://localhost:${(evil.address() as AddressInfo).port}/`)
  await attacker.waitForLoadState('networkidle')
  t.ok(refused.length >= 1 && refused.every((status) => status === 403), `the other site's requests reached the dashboard with the login and got 403: ${refused.join(', ')}`)
  t.equal(await stateOf(), 'failed', 'the job was not restarted')

  await page.reload()
  const row = page.locator('#jobs .job', { has: page.locator('h2.id', { hasText: new RegExp(`^#?${job!.id}$`) }) })
  await row.locator('a.restart').click()
  for (let i = 0; i < 50 && (await stateOf()) !== 'inactive'; i++) await sleep(100)
  t.equal(await stateOf(), 'inactive', 'the page\'s Restart button restarted it')
  t.same(problems, [], 'no console error, page error or failed request on the dashboard', { problems })
})

t.test('when /docs/ is opened, then Swagger UI renders every operation of the document from local files', async (t) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } })
  t.teardown(() => context.close())
  const { page, problems } = await watchedPage(context)
  const requests: string[] = []
  page.on('request', (request) => requests.push(request.url()))
  const response = await page.goto(`${stack.url}/docs`)
  t.equal(new URL(page.url()).pathname, '/docs/', '/docs redirects to /docs/')
  t.equal(response?.status(), 200)
  const operations = Object.values(openApiDocument.paths).reduce((sum, item) => sum + Object.keys(item).length, 0)
  // Polled from here: a string for waitForFunction is an eval, which the page's CSP refuses.
  for (let waited = 0; (await page.locator('.opblock').count()) !== operations && waited < 20_000; waited += 100) await sleep(100)
  t.equal(await page.locator('.opblock').count(), operations)
  t.pass(`${operations} operations shown`)
  t.match(await page.locator('.info .title').innerText(), /Yoyo Wallet platform/)
  t.equal(await page.locator('.errors-wrapper').count(), 0, 'Swagger UI found no error in the document')
  await page.locator('.opblock-post .opblock-summary-path', { hasText: /^\/transactions$/ }).first().click()
  await page.waitForSelector('.opblock.is-open .opblock-section-request-body', { timeout: 10_000 })
  t.match(await page.locator('.opblock.is-open').first().innerText(), /Idempotency-Key[\s\S]*202/)
  await page.screenshot({ path: join(screenshots, 'docs.png'), fullPage: false })
  t.same(requests.filter((url) => !url.startsWith(stack.url)), [], 'nothing from the network: every file is local')
  t.same(problems, [], 'no console error, page error or failed request')
})

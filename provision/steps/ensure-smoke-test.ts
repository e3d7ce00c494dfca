import { platform, publicHealthPathsOf } from '../../services/shared/platform.ts'
import { randomUUID } from 'node:crypto'
import { smokeTestUser } from '../../services/auth-api/seed.ts'
import type { Step } from '../lib/context.ts'
import { done, notYet, waitUntil } from '../lib/wait.ts'
import { requireSecrets } from './ensure-environment-file.ts'

// Its own development user (services/auth-api/seed.ts): the stamps it earns are nobody's.
const SMOKE_USER = { username: smokeTestUser.username, password: smokeTestUser.password }

async function call(url: string, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) })
  const text = await res.text()
  let body: Record<string, unknown> = {}
  try {
    body = JSON.parse(text) as Record<string, unknown>
  } catch {
    body = { text: text.slice(0, 200) }
  }
  return { status: res.status, body }
}

function expect(what: string, result: { status: number; body: Record<string, unknown> }, status: number): void {
  if (result.status !== status) {
    throw new Error(`${what}: expected HTTP ${status}, got ${result.status} ${JSON.stringify(result.body).slice(0, 300)}`)
  }
}

async function status(url: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string }> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(5000) })
  await res.arrayBuffer()
  return { status: res.status, type: res.headers.get('content-type') ?? '' }
}

/** Every app and site of platform.json answers its health path through nginx (all at once). */
async function checkHealth(base: string): Promise<void> {
  const answers = await Promise.all(publicHealthPathsOf(platform).map(async ({ path }) => [path, await call(`${base}${path}`)] as const))
  for (const [path, answer] of answers) expect(`GET ${path}`, answer, 200)
}

/**
 * The platform end to end, through nginx with real HTTP: each service healthy, the docs page and the
 * queue dashboard (401 without its login, 200 with it), a token, a transaction, and the Loyalty Worker's
 * stamp for it (polled: the award is asynchronous, through the queue). It writes one transaction, for
 * its own user (smoke-test), and changes nothing the provisioner manages: a verification, so it always
 * reports ok and does not run under --check. After a run that changed nothing, the health paths are
 * enough: what they answer is what the last full smoke test saw working.
 */
export const ensureSmokeTest: Step = {
  name: 'ensureSmokeTest',
  verifies: true,
  async run(ctx) {
    const base = `http://127.0.0.1:${ctx.settings.nginxPort}`
    await checkHealth(base)
    if (ctx.nothingChangedEarlier) {
      ctx.detail('nothing changed in this run: the health paths answer, the full smoke test runs after a change')
      return
    }
    const docs = await call(`${base}/docs/openapi.json`)
    if (typeof docs.body.openapi !== 'string') throw new Error('GET /docs/openapi.json: not an OpenAPI document')
    const page = await status(`${base}/docs/`)
    if (page.status !== 200 || !page.type.startsWith('text/html')) throw new Error(`GET /docs/: expected an HTML page, got ${page.status} ${page.type}`)
    expect('GET /queue/ without a login', await call(`${base}/queue/`), 401)
    const login = `Basic ${Buffer.from(`admin:${(await requireSecrets(ctx)).QUEUE_DASHBOARD_PASSWORD}`).toString('base64')}`
    const dashboard = await status(`${base}/queue/`, { authorization: login })
    if (dashboard.status !== 200 || !dashboard.type.startsWith('text/html')) throw new Error(`GET /queue/ with the dashboard login: expected its page, got ${dashboard.status} ${dashboard.type}`)
    const token = await call(`${base}/authentication/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(SMOKE_USER),
    })
    expect('POST /authentication/token', token, 200)
    const authorization = `Bearer ${String(token.body.token)}`
    const before = await call(`${base}/loyalty/me`, { headers: { authorization } })
    expect('GET /loyalty/me', before, 200)
    const created = await call(`${base}/transactions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization, 'idempotency-key': randomUUID() },
      body: JSON.stringify({ amount: 1, currency: 'GBP' }),
    })
    if (created.status !== 201 && created.status !== 202) expect('POST /transactions', created, 202)
    const after = await waitUntil(`transaction ${String(created.body.id)} was not stamped (is the Loyalty Worker consuming the queue?)`, async () => {
      const now = await call(`${base}/loyalty/me`, { headers: { authorization } })
      expect('GET /loyalty/me', now, 200)
      return Number(now.body.transactions) > Number(before.body.transactions) ? done(now) : notYet(`${String(now.body.transactions)} transaction(s)`)
    }, { timeoutMs: 15_000, intervalMs: 200 })
    ctx.detail(`transaction ${String(created.body.id)} stamped: ${String(after.body.stamps)} stamp(s), ${String(after.body.vouchers_total)} voucher(s)`)
  },
}

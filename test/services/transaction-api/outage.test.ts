import t from 'tap'
import { alice, getTransaction, json, postTransaction, startApi, tokenFor } from './harness.ts'

const api = await startApi(t)

async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return true
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return false
}

t.test('when Redis is up, then /health is 200', async (t) => {
  const response = await fetch(`${api.url}/health`)
  t.equal(response.status, 200)
  t.match(await json(response), { healthy: true })
})

t.test('when Redis goes down, then 503s come fast and nothing is answered 2xx; when it returns, the API recovers', async (t) => {
  const stored = await json(await postTransaction(api, { token: tokenFor(alice), amount: 1, currency: 'GBP' }))
  await api.redis.kill()

  await t.test('/health is 503 naming its connection', async (t) => {
    const ok = await eventually(async () => (await fetch(`${api.url}/health`)).status === 503, 3000)
    t.ok(ok)
    const started = Date.now()
    const response = await fetch(`${api.url}/health`)
    t.ok(Date.now() - started < 1000, 'within a second')
    t.equal(response.status, 503)
    t.same(await json(response), { healthy: false, failing: ['redis'] })
  })

  await t.test('POST /transactions is 503 within a second, with Retry-After', async (t) => {
    for (const headers of [{}, { 'idempotency-key': 'outage-1' }] as Record<string, string>[]) {
      const started = Date.now()
      const response = await postTransaction(api, { token: tokenFor(alice), amount: 2000, currency: 'GBP' }, { headers })
      const ms = Date.now() - started
      t.ok(ms < 1000, `within a second (${ms} ms)`)
      t.equal(response.status, 503)
      t.equal(response.headers.get('retry-after'), '1')
      t.same(await json(response), { error: 'Service temporarily unavailable, try again shortly' })
    }
  })

  await t.test('GET /transactions/:id is 503 within a second', async (t) => {
    const started = Date.now()
    const response = await getTransaction(api, String(stored.id), tokenFor(alice))
    t.ok(Date.now() - started < 1000)
    t.equal(response.status, 503)
  })

  await t.test('validation and token errors still answer without Redis', async (t) => {
    t.equal((await postTransaction(api, { amount: 1, currency: 'GBP' })).status, 422)
    t.equal((await postTransaction(api, { token: 'bad', amount: 1, currency: 'GBP' })).status, 401)
  })

  await api.redis.start()

  await t.test('after Redis is back, /health is 200 and transactions are taken again', async (t) => {
    t.ok(await eventually(async () => (await fetch(`${api.url}/health`)).status === 200, 5000), 'healthy again')
    const response = await postTransaction(api, { token: tokenFor(alice), amount: 2000, currency: 'GBP' }, { headers: { 'idempotency-key': 'outage-1' } })
    t.equal(response.status, 202)
    const body = await json(response)
    t.match(await api.redis.client.hgetall(`transaction:${String(body.id)}`), { status: 'queued', job_id: /^\d+$/ })
    t.equal((await getTransaction(api, String(stored.id), tokenFor(alice))).status, 200, 'earlier data survived (AOF)')
  })

  t.notOk(api.log.lines.some((line) => line.includes('"level":"error"') && !line.includes('"status":503')), 'no unexpected errors logged')
})

t.test('when Redis hangs (stopped, not dead), then requests time out into 503 instead of hanging', async (t) => {
  const info = await api.redis.client.info('server')
  const pid = Number(/process_id:(\d+)/.exec(info)?.[1])
  process.kill(pid, 'SIGSTOP')
  let resumed = false
  const resume = (): void => {
    if (!resumed) process.kill(pid, 'SIGCONT')
    resumed = true
  }
  t.teardown(resume)

  const started = Date.now()
  const [post, get, health] = await Promise.all([
    postTransaction(api, { token: tokenFor(alice), amount: 4, currency: 'GBP' }),
    getTransaction(api, '00000000-0000-4000-8000-000000000000', tokenFor(alice)),
    fetch(`${api.url}/health`),
  ])
  const ms = Date.now() - started
  t.same([post.status, get.status, health.status], [503, 503, 503])
  t.ok(ms < 1500, `bounded by the timeouts (${ms} ms)`)

  resume()
  t.ok(await eventually(async () => (await fetch(`${api.url}/health`)).status === 200, 5000), 'healthy again')
  t.equal((await postTransaction(api, { token: tokenFor(alice), amount: 4, currency: 'GBP' })).status, 202)
})

t.test('when the API stops, then in-flight requests finish and it stops listening', async (t) => {
  const inFlight = postTransaction(api, { token: tokenFor(alice), amount: 3, currency: 'GBP' })
  await new Promise((resolve) => setTimeout(resolve, 5))
  await api.stop()
  t.equal((await inFlight).status, 202)
  await t.rejects(fetch(`${api.url}/health`))
})

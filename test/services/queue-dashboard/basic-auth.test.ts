// The dashboard's login and its attempt limit, on a bare app (kue's app is one per process: the
// dashboard itself is tested in dashboard.test.ts).
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { requireLogin } from '../../../services/queue-dashboard/basic-auth.ts'
import { createHttpApp } from '../../../services/shared/http.ts'
import { listen } from '../../../services/shared/server.ts'
import { memoryLogger } from '../../helpers/log-sink.ts'

const USER = 'admin'
const PASSWORD = 'a-dashboard-password-for-tests'
const login = (user = USER, password = PASSWORD) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`

const app = createHttpApp(memoryLogger().logger, (app) => {
  app.use(requireLogin(USER, PASSWORD, { failures: 4, windowMs: 1500 }))
  app.get('/stats', (_req, res) => res.json({ ok: true }))
})
const server = await listen(app, 0, '127.0.0.1')
t.teardown(() => server.close())

// The address as nginx passes it (X-Forwarded-For, trusted from loopback).
const at = (address: string, authorization?: string) =>
  fetch(`http://127.0.0.1:${server.port}/stats`, { headers: { 'x-forwarded-for': address, ...(authorization === undefined ? {} : { authorization }) } })
const status = async (res: Promise<Response>) => {
  const answer = await res
  await answer.arrayBuffer()
  return answer.status
}

t.test('when one address sends too many wrong logins, then 429 for it (the right login too) until the window ends, and not for others', async (t) => {
  for (let i = 0; i < 3; i++) t.equal(await status(at('203.0.113.9')), 401, 'no login at all: the browser\'s first ask, not counted')
  for (let i = 0; i < 4; i++) t.equal(await status(at('203.0.113.9', login(USER, `guess-${i}`))), 401, `wrong login ${i + 1}: 401`)
  const refused = await at('203.0.113.9', login(USER, 'guess-5'))
  t.equal(refused.status, 429, 'the next guess: 429')
  t.same(await refused.json(), { error: 'Too many failed dashboard logins from this address, try again later' })
  t.match(refused.headers.get('retry-after'), /^[12]$/, 'Retry-After: the seconds left')
  t.equal(await status(at('203.0.113.9', login())), 429, 'the right login from that address too, while limited')
  t.equal(await status(at('203.0.113.10', login())), 200, 'another address logs in')
  await sleep(1600)
  t.equal(await status(at('203.0.113.9', login())), 200, 'after the window, the right login works again')
})

t.test('when logins are wrong in other ways (wrong user, not Basic), then only real attempts count', async (t) => {
  for (const authorization of ['Bearer a.b.c', 'Basic !!!']) t.equal(await status(at('203.0.113.20', authorization)), 401)
  for (let i = 0; i < 3; i++) t.equal(await status(at('203.0.113.20', login(`root${i}`, PASSWORD))), 401)
  t.equal(await status(at('203.0.113.20', login())), 200, '3 counted attempts: still under the limit of 4')
})

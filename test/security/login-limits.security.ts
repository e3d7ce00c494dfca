// Failed logins limited by the Auth API itself, through nginx on a real platform (PM2, Redis): per
// username whatever the address, per address whatever the username, and a client's own
// X-Forwarded-For / X-Real-IP do not get it a fresh address. A local process that goes round nginx to
// the service's port is limited per username too. Paced under nginx's 10/s so that nginx does not answer.
//
//   npm run build && npx tap --disable-coverage test/security/login-limits.security.ts
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { request } from '../helpers/http-client.ts'
import { startPlatform } from '../helpers/platform-stack.ts'

const PER_USER = 10 // the service's default
const PER_ADDRESS = 30
const stack = await startPlatform({ loginFailureLimits: { perUser: PER_USER, perAddress: PER_ADDRESS } })
t.teardown(() => stack.stop())

const login = (username: string, password: string, headers: Record<string, string> = {}, base = stack.url + '/authentication') =>
  request(`${base}/token`, { method: 'POST', body: { username, password }, headers })
const spoof = (i: number): Record<string, string> => ({ 'x-forwarded-for': `10.9.${i}.1`, 'x-real-ip': `10.8.${i}.1` })

await t.test('when one username is guessed past its limit from "many addresses", then 429 for it, with or without nginx, and alice still logs in', async (t) => {
  const statuses: number[] = []
  for (let i = 0; i < PER_USER + 5; i++) {
    statuses.push((await login('bob', `guess-${randomUUID()}`, spoof(i))).status)
    await sleep(120)
  }
  const limited = await login('bob', 'password', spoof(99))
  const direct = await login('bob', 'password', spoof(100), `http://127.0.0.1:${stack.ports.auth}`)
  const alice = await login('alice', 'password')
  t.comment(`figures login-limit-user: attempts=${statuses.length} answered_401=${statuses.filter((s) => s === 401).length} answered_429=${statuses.filter((s) => s === 429).length} retry_after=${limited.headers['retry-after']} direct_to_port=${direct.status} other_user=${alice.status}`)
  t.same(statuses, [...Array(PER_USER).fill(401), ...Array(5).fill(429)], `${PER_USER} × 401, then 429`)
  t.equal(limited.status, 429, 'the right password too, while limited')
  t.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After in seconds')
  t.match(limited.json, { error: 'Too many failed logins, try again later' })
  t.equal(direct.status, 429, 'straight to the Auth API\'s port (round nginx): 429 as well')
  t.equal(alice.status, 200, 'alice is not slowed by guesses at bob')
})

await t.test('when one address fails for many usernames, spoofing its X-Forwarded-For, then 429 past the address\'s limit', async (t) => {
  const statuses: number[] = []
  for (let i = 0; i < PER_ADDRESS + 3; i++) {
    statuses.push((await login(`nobody-${randomUUID()}`, 'password', spoof(i))).status)
    await sleep(120)
  }
  const first429 = statuses.indexOf(429)
  t.comment(`figures login-limit-address: attempts=${statuses.length} answered_401=${statuses.filter((s) => s === 401).length} first_429_at=${first429 + 1}`)
  // bob's failures above came from this address too (nginx's peer, 127.0.0.1).
  t.ok(first429 > 0 && first429 <= PER_ADDRESS - PER_USER, `429 from attempt ${first429 + 1}, within the address's ${PER_ADDRESS} (after bob's ${PER_USER})`)
  t.ok(statuses.slice(first429).every((s) => s === 429), 'and every one after')
})

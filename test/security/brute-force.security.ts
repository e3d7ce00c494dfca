// Guessing passwords through nginx, with the provisioned rate limit (10 token requests/s per client
// address, bursts of 20): a rapid series gets 429 whatever the spelling of the path or the forwarded-for
// headers, and the answer for an unknown user takes as long as the one for a wrong password (both pay a
// full scrypt), so timing does not tell which usernames exist.
//
//   npm run build && npx tap --disable-coverage test/security/brute-force.security.ts
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { request } from '../helpers/http-client.ts'
import { startPlatform } from '../helpers/platform-stack.ts'

// The Auth API's own failed-login limits are raised here: this file measures nginx's rate limit and
// the login's timing (44 wrong passwords for alice); login-limits.security.ts tests those limits.
const stack = await startPlatform({ loginFailureLimits: { perUser: 100_000, perAddress: 100_000 } })
t.teardown(() => stack.stop())

const login = (username: string, password: string, path = '/authentication/token', headers: Record<string, string> = {}) =>
  request(`${stack.url}${path}`, { method: 'POST', body: { username, password }, headers })

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}
const quantile = (values: number[], q: number): number => [...values].sort((a, b) => a - b)[Math.floor(q * (values.length - 1))]!

await t.test('when logins are tried for unknown users and with wrong passwords, then the answers take the same time', async (t) => {
  const PAIRS = 40
  // Paced under the rate limit (7/s), interleaved so that any drift in the machine's load hits both alike.
  const pace = 145
  for (let i = 0; i < 4; i++) {
    await login(`nobody-${randomUUID()}`, 'password')
    await login('alice', `wrong-${randomUUID()}`)
    await sleep(pace * 2)
  }
  const unknown: number[] = []
  const wrong: number[] = []
  const statuses = new Set<number>()
  for (let i = 0; i < PAIRS; i++) {
    // Alternate which goes first, so that neither always follows the other.
    const order = i % 2 === 0 ? ['unknown', 'wrong'] : ['wrong', 'unknown']
    for (const kind of order) {
      const reply = kind === 'unknown' ? await login(`nobody-${randomUUID()}`, 'password') : await login('alice', `wrong-${randomUUID()}`)
      statuses.add(reply.status)
      ;(kind === 'unknown' ? unknown : wrong).push(reply.ms)
      await sleep(pace)
    }
  }
  const medianUnknown = median(unknown)
  const medianWrong = median(wrong)
  const difference = Math.abs(medianUnknown - medianWrong)
  // Tolerance: 20 % of the slower median, at least 10 ms. A login that skipped scrypt for unknown users
  // would answer in a few ms against scrypt's tens to hundreds.
  const tolerance = Math.max(10, 0.2 * Math.max(medianUnknown, medianWrong))
  t.comment(`figures login-timing: pairs=${PAIRS} median_unknown_ms=${medianUnknown.toFixed(1)} median_wrong_password_ms=${medianWrong.toFixed(1)} difference_ms=${difference.toFixed(1)} tolerance_ms=${tolerance.toFixed(1)} ` +
    `iqr_unknown_ms=${quantile(unknown, 0.25).toFixed(0)}-${quantile(unknown, 0.75).toFixed(0)} iqr_wrong_ms=${quantile(wrong, 0.25).toFixed(0)}-${quantile(wrong, 0.75).toFixed(0)}`)
  t.same([...statuses], [401], 'both are the same 401')
  t.ok(difference <= tolerance, `medians ${medianUnknown.toFixed(1)} ms (unknown user) and ${medianWrong.toFixed(1)} ms (wrong password) differ by ${difference.toFixed(1)} ms, within ${tolerance.toFixed(1)} ms`)
})

await t.test('when token requests come faster than 10/s from one address, then nginx answers 429 past the burst, however the path is spelled', async (t) => {
  await sleep(2500) // a full bucket
  const paths = ['/authentication/token', '/authentication/token/', '/AUTHENTICATION/TOKEN', '/authentication//token', '/authentication/%74oken', '/authentication/./token']
  const spoofing = (i: number): Record<string, string> => (i % 3 === 0 ? { 'x-forwarded-for': `10.0.${i}.1`, 'x-real-ip': `10.1.${i}.1` } : {})
  const ATTEMPTS = 60
  const started = performance.now()
  const replies = await Promise.all(Array.from({ length: ATTEMPTS }, (_, i) => login('alice', `guess-${i}`, paths[i % paths.length], spoofing(i))))
  const elapsed = (performance.now() - started) / 1000
  const limited = replies.filter((r) => r.status === 429)
  const through = replies.filter((r) => r.status !== 429)
  // nginx decides as each request arrives and answers a 429 at once: the last 429 bounds how long the
  // series took to arrive. The burst (20) plus what the rate (10/s) refills meanwhile may get through.
  const arrival = Math.max(0, ...limited.map((r) => r.ms)) / 1000
  const allowed = 20 + Math.ceil(10 * arrival) + 1
  t.comment(`figures brute-force: attempts=${ATTEMPTS} seconds=${elapsed.toFixed(2)} arrival_s=${arrival.toFixed(2)} answered_429=${limited.length} reached_auth=${through.length} allowed_at_most=${allowed}`)
  t.ok(through.length <= allowed, `at most ${allowed} reached the Auth API (${through.length})`)
  t.ok(limited.length >= ATTEMPTS - allowed, `the rest got 429 (${limited.length})`)
  t.ok(through.every((r) => r.status === 401), 'the ones that got through were refused (401): wrong passwords')
  t.ok(limited.every((r) => r.headers['retry-after'] === '1' && (r.json as { error?: unknown } | undefined)?.error !== undefined), '429s are JSON and say Retry-After: 1')
  t.ok(paths.every((path, i) => replies.filter((_, j) => j % paths.length === i).some((r) => r.status === 429)), 'every spelling of the path is limited')

  await sleep(2500)
  const after = await login('alice', 'password')
  t.equal(after.status, 200, 'once the burst is over, alice logs in (a limit, not a lock-out)')
})

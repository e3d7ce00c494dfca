// Scenario 2: POST /authentication/token. nginx limits it to 10 r/s per client address (burst 20), so the
// benchmark goes through its own nginx with the platform's router config and that limit lifted: the same
// locations and proxying, without the 429s. The limit itself is the fault/e2e suites' business.
import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { currentParameters, scryptHasher } from '../../services/auth-api/passwords.ts'
import { addRow, type Context } from '../lib/context.ts'
import { load, type LoadResult } from '../lib/load.ts'
import { figure } from '../lib/stats.ts'

export async function authScenario(ctx: Context): Promise<void> {
  const { connections, durationSeconds, runs } = ctx.settings
  const url = `${ctx.platformRouter.url}/authentication/token`
  const headers = { 'Content-Type': 'application/json' }
  const stored = await scryptHasher.hash('password')
  const scryptMs: number[] = []
  const known: LoadResult[] = []
  const wrong: LoadResult[] = []
  for (let run = 0; run < runs; run += 1) {
    const started = performance.now()
    await scryptHasher.verify('password', stored)
    scryptMs.push(performance.now() - started)
    known.push(await load({ url, headers, body: JSON.stringify({ username: 'alice', password: 'password' }), connections, durationSeconds }))
    // Every request a different unknown user with a wrong password, each pays one full scrypt (unknown
    // users cost the same as wrong passwords). Straight to the Auth API, each "from" an address of its own
    // (X-Forwarded-For, trusted from loopback): otherwise the failed-login limits would answer 429 after a
    // few, and lock alice, the platform tests' user, out of the provisioned machine for their window.
    wrong.push(await load({
      url: `http://127.0.0.1:${ctx.ports.auth}/token`, headers, connections, durationSeconds,
      makeBody: () => JSON.stringify({ username: `bench-${randomBytes(6).toString('hex')}`, password: randomBytes(9).toString('base64') }),
      makeHeaders: () => ({ 'X-Forwarded-For': `198.18.${randomBytes(1)[0]}.${randomBytes(1)[0]}` }),
    }))
    ctx.log(`  run ${run + 1}/${runs}: known user ${known.at(-1)!.okRps.toFixed(0)} req/s, wrong passwords ${wrong.at(-1)!.rps.toFixed(1)} req/s, scrypt ${scryptMs.at(-1)!.toFixed(0)} ms`)
  }
  const { N, r, p } = currentParameters
  const scrypt = figure(scryptMs)
  addRow(ctx, { scenario: '2 POST /authentication/token', measure: `one scrypt (N=2^${Math.log2(N)}, r=${r}, p=${p}), one core`, unit: 'ms', value: scrypt })
  addRow(ctx, { scenario: '2 POST /authentication/token', measure: 'scrypt-bound ceiling on 2 cores (2000 / scrypt ms)', unit: 'logins/s', value: figure(scryptMs.map((ms) => 2000 / ms)) })
  const knownRps = figure(known.map((x) => x.okRps))
  addRow(ctx, { scenario: '2 POST /authentication/token', measure: `known user, repeated (bench nginx without rate limit, c=${connections})`, unit: 'req/s', value: knownRps, target: '≥ 1200', met: knownRps.median >= 1200, note: `${known.reduce((n, x) => n + x.non2xx + x.errors, 0)} non-2xx/errors` })
  addRow(ctx, { scenario: '2 POST /authentication/token', measure: 'known user p50', unit: 'ms', value: figure(known.map((x) => x.p50)) })
  addRow(ctx, { scenario: '2 POST /authentication/token', measure: 'known user p99', unit: 'ms', value: figure(known.map((x) => x.p99)) })
  addRow(ctx, { scenario: '2 POST /authentication/token', measure: 'distinct unknown users, wrong passwords (uncached, to the Auth API)', unit: 'req/s', value: figure(wrong.map((x) => x.rps)), note: `every one pays a full scrypt; ${wrong.reduce((n, x) => n + x.non2xx, 0)} non-2xx (all should be 401)` })
  addRow(ctx, { scenario: '2 POST /authentication/token', measure: 'distinct wrong passwords p99', unit: 'ms', value: figure(wrong.map((x) => x.p99)) })
}

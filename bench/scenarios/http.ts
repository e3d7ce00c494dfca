// Scenarios 1 and 3: the HTTP ceilings (node:http, express echo) and POST /transactions, measured in the
// same loop so that every ratio compares figures of the same run. All through nginx with the platform's
// own router config: the bench nginx (identical config, access log off) for the ratio, and the
// provisioned nginx on :80 for reference.
import { readFile } from 'node:fs/promises'
import { defaultPaths } from '../../provision/lib/paths.ts'
import { signToken } from '../../services/shared/tokens.ts'
import { BENCH_USER_BASE, deleteBenchData, waitDrained } from '../lib/cleanup.ts'
import { addRow, type Context } from '../lib/context.ts'
import { cpuPer } from '../lib/cpu.ts'
import { load, type LoadResult } from '../lib/load.ts'
import { pm2, pm2List, waitOnline, instances } from '../lib/platform.ts'
import { figure, ratio } from '../lib/stats.ts'

const body = JSON.stringify({ amount: 2000, currency: 'GBP' })

/** A token the Transaction API accepts, for a benchmark user (so no real user gains stamps); lives 30 s. */
export function benchToken(ctx: Context, offset: number): string {
  const secret = ctx.platformEnv.JWT_SECRET
  if (secret === undefined) throw new Error('JWT_SECRET is not in the platform env file')
  return signToken({ user_id: BENCH_USER_BASE + offset, username: `bench${offset}`, can_transact: true }, secret, 30)
}

export async function httpScenario(ctx: Context): Promise<void> {
  const { connections, durationSeconds, runs } = ctx.settings
  const samples: Record<string, LoadResult[]> = { node: [], express: [], tx: [], txFresh: [], tx80: [] }
  // CPU µs per request: of the whole machine and of each process a request goes through: the load
  // generator (autocannon, in this process), nginx, the process serving, Redis, and the PM2 daemon, which
  // writes the API's log lines (its stdout) to files (the echo app is not under PM2 and logs nothing).
  const cpu: Record<'express' | 'tx', Record<string, number>[]> = { express: [], tx: [] }
  const redisPid = Number(/^process_id:(\d+)/m.exec(await ctx.redis.info('server'))?.[1])
  const apiPid = (await pm2List()).find((p) => p.name === 'transactions' && p.status === 'online')?.pid
  if (apiPid === undefined) throw new Error('the Transaction API is not online in PM2')
  const pm2DaemonPid = Number(await readFile(`${defaultPaths().pm2Home}/pm2.pid`, 'utf8'))
  const processesOf = (nginxPid: number, servicePid: number) => ({ loadGenerator: process.pid, nginx: nginxPid, service: servicePid, redis: redisPid, pm2: pm2DaemonPid })
  const loyalty = await instances('loyalty')
  // The API alone is compared with the echo app: the workers would otherwise take CPU from it while they
  // process what it queues. They are stopped meanwhile and drain the backlog after each run (a run
  // queues ~60,000 transactions; three would fill the provisioned Redis, which then refuses writes).
  const drainBacklog = async (): Promise<void> => {
    await pm2('start', 'loyalty')
    await waitOnline('loyalty', loyalty)
    ctx.log('  letting the Loyalty Worker drain what the load queued...')
    const left = await waitDrained(ctx.redis, ctx.settings.smoke ? 60_000 : 300_000)
    if (left > 0) ctx.notes.push(`scenario 3: ${left} jobs were still queued when the benchmark moved on`)
    else await deleteBenchData(ctx.redis)
  }
  try {
    for (let run = 0; run < runs; run += 1) {
      await pm2('stop', 'loyalty')
      const json = { 'Content-Type': 'application/json' }
      samples.node!.push(await load({ url: `${ctx.baselineRouter.url}/loyalty/echo`, headers: json, body, connections, durationSeconds }))
      const served = (r: LoadResult): number => r.total
      const echo = await cpuPer(processesOf(ctx.baselineRouter.pid, ctx.baselinePids.express), () => load({ url: `${ctx.baselineRouter.url}/transactions`, headers: json, body, connections, durationSeconds }), served)
      samples.express!.push(echo.result)
      cpu.express.push(echo.cpuUs)
      const auth = { ...json, Authorization: `Bearer ${benchToken(ctx, 1)}` }
      const tx = await cpuPer(processesOf(ctx.platformRouter.pid, apiPid), () => load({ url: `${ctx.platformRouter.url}/transactions`, headers: auth, body, connections, durationSeconds }), served)
      samples.tx!.push(tx.result)
      cpu.tx.push(tx.cpuUs)
      // The API remembers verified tokens (shared/tokens.ts) and the runs above send one token throughout,
      // as a client does for the token's 30 s. Here every request has a token it has not seen: 3,000
      // distinct ones in turn, more than it remembers.
      const fresh = Array.from({ length: 3000 }, (_, i) => `Bearer ${benchToken(ctx, 10_000 + i)}`)
      let next = 0
      const makeHeaders = () => ({ Authorization: fresh[next++ % fresh.length]! })
      samples.txFresh!.push(await load({ url: `${ctx.platformRouter.url}/transactions`, headers: json, makeHeaders, body, connections, durationSeconds }))
      const auth80 = { ...json, Authorization: `Bearer ${benchToken(ctx, 1)}` }
      samples.tx80!.push(await load({ url: `http://127.0.0.1:${ctx.ports.nginx}/transactions`, headers: auth80, body, connections, durationSeconds }))
      ctx.log(`  run ${run + 1}/${runs}: node ${samples.node!.at(-1)!.okRps.toFixed(0)}, express ${samples.express!.at(-1)!.okRps.toFixed(0)}, ` +
        `POST /transactions ${samples.tx!.at(-1)!.okRps.toFixed(0)} (bench nginx), ${samples.txFresh!.at(-1)!.okRps.toFixed(0)} (a new token each), ${samples.tx80!.at(-1)!.okRps.toFixed(0)} (:80) req/s`)
      await drainBacklog()
    }
  } finally {
    await pm2('start', 'loyalty')
    await waitOnline('loyalty', loyalty)
  }
  const rps = (k: string) => figure(samples[k]!.map((r) => r.okRps))
  const p50 = (k: string) => figure(samples[k]!.map((r) => r.p50))
  const p99 = (k: string) => figure(samples[k]!.map((r) => r.p99))
  const bad = (k: string) => samples[k]!.reduce((n, r) => n + r.non2xx + r.errors, 0)
  const c = `c=${connections}, ${durationSeconds} s`
  addRow(ctx, { scenario: '1 baseline', measure: `node:http JSON, 1 process (${c})`, unit: 'req/s', value: rps('node') })
  addRow(ctx, { scenario: '1 baseline', measure: 'node:http JSON p99', unit: 'ms', value: p99('node') })
  addRow(ctx, { scenario: '1 baseline', measure: `express 5 JSON echo, 1 process (${c})`, unit: 'req/s', value: rps('express') })
  addRow(ctx, { scenario: '1 baseline', measure: 'express 5 JSON echo p99', unit: 'ms', value: p99('express') })
  addRow(ctx, { scenario: '1 baseline', measure: 'express echo / node:http', unit: 'ratio', value: ratio(rps('express'), rps('node')) })
  const tx = rps('tx')
  const vsExpress = ratio(tx, rps('express'))
  addRow(ctx, { scenario: '3 POST /transactions', measure: `req/s (bench nginx, 1 process, ${c})`, unit: 'req/s', value: tx, note: `${bad('tx')} non-2xx/errors` })
  addRow(ctx, { scenario: '3 POST /transactions', measure: 'p50', unit: 'ms', value: p50('tx') })
  const txP99 = p99('tx')
  addRow(ctx, { scenario: '3 POST /transactions', measure: 'p99', unit: 'ms', value: txP99, target: '< 15', met: txP99.median < 15 })
  addRow(ctx, { scenario: '3 POST /transactions', measure: '÷ express echo (same run)', unit: 'ratio', value: vsExpress, target: '≥ 0.65', met: vsExpress.median >= 0.65 })
  addRow(ctx, { scenario: '3 POST /transactions', measure: '÷ node:http (same run)', unit: 'ratio', value: ratio(tx, rps('node')) })
  const txFresh = rps('txFresh')
  addRow(ctx, { scenario: '3 POST /transactions', measure: 'req/s, a token never seen before on every request', unit: 'req/s', value: txFresh, note: `${bad('txFresh')} non-2xx/errors` })
  addRow(ctx, { scenario: '3 POST /transactions', measure: 'p99, a token never seen before on every request', unit: 'ms', value: p99('txFresh') })
  addRow(ctx, { scenario: '3 POST /transactions', measure: '÷ express echo, a token never seen before on every request', unit: 'ratio', value: ratio(txFresh, rps('express')) })
  // Where the CPU of a request goes, the echo's and the API's, through the same bench nginx: with the
  // machine's cores saturated, requests/s is at most cores ÷ CPU per request.
  const cpuOf = (k: 'express' | 'tx', part: string) => figure(cpu[k].map((c) => c[part]!))
  const parts: [string, string][] = [
    ['loadGenerator', 'the load generator (autocannon)'],
    ['nginx', 'nginx'],
    ['service', 'the serving process (echo app / Transaction API)'],
    ['redis', 'Redis'],
    ['pm2', 'the PM2 daemon (writes the log lines)'],
  ]
  for (const [k, name] of [['express', 'express echo'], ['tx', 'POST /transactions']] as const) {
    addRow(ctx, { scenario: '3 POST /transactions', measure: `CPU per request, whole machine: ${name}`, unit: 'µs', value: cpuOf(k, 'machine') })
    for (const [part, label] of parts) addRow(ctx, { scenario: '3 POST /transactions', measure: `CPU per request, ${name}, of which ${label}`, unit: 'µs', value: cpuOf(k, part) })
  }
  const tx80 = rps('tx80')
  addRow(ctx, { scenario: '3 POST /transactions', measure: 'req/s via provisioned nginx :80', unit: 'req/s', value: tx80, target: '≥ 5600 (10× Python)', met: tx80.median >= 5600, note: `${bad('tx80')} non-2xx/errors` })
  addRow(ctx, { scenario: '3 POST /transactions', measure: 'p99 via :80', unit: 'ms', value: p99('tx80'), target: '< 15', met: p99('tx80').median < 15 })
}

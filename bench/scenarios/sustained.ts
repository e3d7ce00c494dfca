// Scenario 8: the whole platform under sustained load, as a user meets it. POST /transactions through the
// provisioned nginx on :80 (its access log on), 32 connections, with the Loyalty Worker running as
// provisioned and processing what the API queues meanwhile; the express echo behind an nginx of the same
// router config and access log, in the same run, interleaved (echo first in odd runs, platform first in
// even ones). A seeded user's token (a real login, straight to the Auth API so nginx's login rate limit is
// not spent; never a wrong password): its stamps and vouchers are put back and its records deleted after.
//
// Per run: accepted (202) req/s, p50/p99, jobs/s the workers processed during the load (the user's
// award counter), the backlog at the end and how it moved over the run's second half (a backlog that
// grows is workers that do not keep up), and how long the workers took to finish it. CPU per accepted
// transaction from /proc, from the load's start until every transaction it made is processed, split by
// process: the load generator (autocannon, this process), nginx (master and workers), the Transaction
// API, the Loyalty Workers, Redis, the PM2 daemon (it copies the services' stdout to their log files),
// and the rest of the machine.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { renderRouterConfig } from '../../nginx/render.ts'
import { defaultPaths } from '../../provision/lib/paths.ts'
import { developmentUsers } from '../../services/auth-api/seed.ts'
import { keys } from '../../services/shared/keys.ts'
import { backlogOf } from '../../services/shared/queue/transaction-job.ts'
import { startNginx } from '../../test/helpers/nginx-server.ts'
import { deleteRecordsOf, waitDrained } from '../lib/cleanup.ts'
import { addRow, type Context } from '../lib/context.ts'
import { machineBusyMs, processCpuMs } from '../lib/cpu.ts'
import { load, type LoadResult } from '../lib/load.ts'
import { mintToken, pm2List } from '../lib/platform.ts'
import { childrenOf, startTarget } from '../lib/processes.ts'
import { figure, ratio } from '../lib/stats.ts'

const body = JSON.stringify({ amount: 2000, currency: 'GBP' })
const json = { 'Content-Type': 'application/json' }
// bob: a seeded user who can transact and whom no platform test counts stamps of (alice is theirs).
const user = developmentUsers.find((u) => u.username === 'bob')!

type Groups = Record<string, number[]>

/** CPU ms of the machine and of each group of processes (a group's pids summed; a gone pid counts 0). */
function sampleCpu(groups: Groups): Record<string, number> {
  const ms = (pid: number): number => {
    try {
      return processCpuMs(pid)
    } catch {
      return 0
    }
  }
  return { machine: machineBusyMs(), ...Object.fromEntries(Object.entries(groups).map(([name, pids]) => [name, pids.reduce((sum, pid) => sum + ms(pid), 0)])) }
}

function cpuUsPer(before: Record<string, number>, after: Record<string, number>, n: number): Record<string, number> {
  const per = Object.fromEntries(Object.keys(after).map((k) => [k, ((after[k]! - before[k]!) * 1000) / Math.max(1, n)]))
  const parts = Object.entries(per).filter(([k]) => k !== 'machine').reduce((sum, [, v]) => sum + v, 0)
  return { ...per, other: per.machine! - parts }
}

/** Calls and CPU µs per command so far (INFO commandstats). */
async function commandStats(ctx: Context): Promise<Map<string, { calls: number; usec: number }>> {
  const stats = new Map<string, { calls: number; usec: number }>()
  for (const match of (await ctx.redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    stats.set(match[1]!, { calls: Number(match[2]), usec: Number(match[3]) })
  }
  return stats
}

/** Redis commands per transaction over a run, most called first: "evalsha 2.0 (31 µs), hset 1.0 (...)". */
function commandsPer(before: Map<string, { calls: number; usec: number }>, after: Map<string, { calls: number; usec: number }>, n: number): { total: number; list: string } {
  const rows = [...after].map(([name, a]) => {
    const b = before.get(name) ?? { calls: 0, usec: 0 }
    return { name, calls: (a.calls - b.calls) / Math.max(1, n), usec: (a.usec - b.usec) / Math.max(1, n) }
  }).filter((r) => r.calls >= 0.05).sort((x, y) => y.calls - x.calls)
  return { total: rows.reduce((sum, r) => sum + r.calls, 0), list: rows.map((r) => `${r.name} ${r.calls.toFixed(2)} (${r.usec.toFixed(1)} µs)`).join(', ') }
}

interface PlatformRun {
  load: LoadResult
  /** Awards the workers made while the load ran, per second of it. */
  processedRate: number
  backlogEnd: number
  backlogMax: number
  /** How the backlog moved over the second half of the load, in jobs/s (> 0: it grew). */
  backlogGrowth: number
  /** From the load's end until the queue was empty. */
  drainSeconds: number
  /** Jobs still queued when the scenario stopped waiting (should be 0). */
  left: number
  /** Accepted transactions not awarded once the queue was empty (must be 0: none may be lost). */
  notAwarded: number
  cpuUs: Record<string, number>
  /** Redis commands per accepted transaction, and which. */
  commands: { total: number; list: string }
}

async function awardsOf(ctx: Context): Promise<number> {
  return Number((await ctx.redis.hget(keys.loyalty(user.id), 'transactions')) ?? 0)
}

async function platformGroups(ctx: Context): Promise<Groups> {
  const list = (await pm2List()).filter((p) => p.status === 'online')
  const pidsOf = (name: string) => list.filter((p) => p.name === name).map((p) => p.pid)
  const redisPid = Number(/^process_id:(\d+)/m.exec(await ctx.redis.info('server'))?.[1])
  const nginxMaster = Number((await readFile('/run/nginx.pid', 'utf8')).trim())
  return {
    loadGenerator: [process.pid],
    nginx: [nginxMaster, ...(await childrenOf(nginxMaster))],
    api: pidsOf('transactions'),
    workers: pidsOf('loyalty'),
    redis: [redisPid],
    pm2: [Number(await readFile(`${defaultPaths().pm2Home}/pm2.pid`, 'utf8'))],
  }
}

async function platformRun(ctx: Context, seconds: number, connections: number): Promise<PlatformRun> {
  const groups = await platformGroups(ctx)
  if (groups.workers!.length === 0) throw new Error('the Loyalty Worker is not online in PM2')
  const token = await mintToken(`http://127.0.0.1:${ctx.ports.auth}`, user.username, user.password)
  const awardsBefore = await awardsOf(ctx)
  const backlog: [number, number][] = []
  const started = performance.now()
  const sampler = setInterval(() => {
    const at = (performance.now() - started) / 1000
    backlogOf(ctx.redis).then((n) => backlog.push([at, n]), () => {})
  }, 500)
  const statsBefore = await commandStats(ctx)
  const cpuBefore = sampleCpu(groups)
  let result: LoadResult
  try {
    result = await load({ url: `http://127.0.0.1:${ctx.ports.nginx}/transactions`, headers: { ...json, Authorization: `Bearer ${token}` }, body, connections, durationSeconds: seconds })
  } finally {
    clearInterval(sampler)
  }
  const loadSeconds = (performance.now() - started) / 1000
  const [backlogEnd, awardsAtEnd] = await Promise.all([backlogOf(ctx.redis), awardsOf(ctx)])
  const left = await waitDrained(ctx.redis, 120_000)
  const drainSeconds = (performance.now() - started) / 1000 - loadSeconds
  const cpuAfter = sampleCpu(groups)
  const statsAfter = await commandStats(ctx)
  const awarded = (await awardsOf(ctx)) - awardsBefore
  const half = backlog.filter(([at]) => at >= seconds / 2)
  const first = half[0]
  const last = half.at(-1)
  const backlogGrowth = first !== undefined && last !== undefined && last[0] > first[0] ? (last[1] - first[1]) / (last[0] - first[0]) : NaN
  return {
    load: result,
    processedRate: (awardsAtEnd - awardsBefore) / loadSeconds,
    backlogEnd,
    backlogMax: Math.max(backlogEnd, ...backlog.map(([, n]) => n)),
    backlogGrowth,
    drainSeconds,
    left,
    // autocannon does not count the answers still in flight when its time is up (up to one per
    // connection): those transactions were made and awarded too, so awards may exceed result.ok.
    notAwarded: left > 0 ? 0 : Math.max(0, result.ok - awarded),
    cpuUs: cpuUsPer(cpuBefore, cpuAfter, result.ok),
    commands: commandsPer(statsBefore, statsAfter, result.ok),
  }
}

interface Loyalty {
  hash: Record<string, string>
  vouchers: number
}

async function saveLoyalty(ctx: Context): Promise<Loyalty> {
  const [hash, vouchers] = await Promise.all([ctx.redis.hgetall(keys.loyalty(user.id)), ctx.redis.llen(keys.vouchers(user.id))])
  return { hash, vouchers }
}

/** Puts the user's stamps, counters and vouchers back as they were before the scenario. */
async function restoreLoyalty(ctx: Context, saved: Loyalty): Promise<void> {
  const multi = ctx.redis.multi().del(keys.loyalty(user.id))
  if (Object.keys(saved.hash).length > 0) multi.hset(keys.loyalty(user.id), saved.hash)
  if (saved.vouchers === 0) multi.del(keys.vouchers(user.id))
  else multi.ltrim(keys.vouchers(user.id), 0, saved.vouchers - 1)
  await multi.exec()
}

export async function sustainedScenario(ctx: Context): Promise<void> {
  const { sustainedSeconds: seconds, sustainedConnections: connections, runs } = ctx.settings
  const ttl = Number(ctx.platformEnv.TOKEN_TTL_SECONDS ?? 30) || 30
  if (seconds > ttl - 3) throw new Error(`scenario 8 runs ${seconds} s on one token, which lives ${ttl} s: use --sustained ${ttl - 5} or less`)
  const logDir = await mkdtemp(join(tmpdir(), 'yoyo-bench-echo-log-'))
  const echo = await startTarget('express-echo.ts')
  const echoPort = (JSON.parse(echo.firstLine) as { port: number }).port
  // The provisioned router's config, access log on as there; only its address and upstreams differ.
  const echoNginx = await startNginx((port) =>
    renderRouterConfig({ listen: `127.0.0.1:${port}`, upstreams: { transactions: `127.0.0.1:${echoPort}` }, accessLog: join(logDir, 'access.log') }),
  )
  const saved = await saveLoyalty(ctx)
  const since = new Date().toISOString()
  const echoRuns: { load: LoadResult; cpuUs: Record<string, number> }[] = []
  const platformRuns: PlatformRun[] = []
  try {
    const echoRun = async (): Promise<void> => {
      const groups: Groups = { loadGenerator: [process.pid], nginx: [echoNginx.pid], api: [echo.child.pid!] }
      const before = sampleCpu(groups)
      const result = await load({ url: `${echoNginx.url}/transactions`, headers: json, body, connections, durationSeconds: seconds })
      echoRuns.push({ load: result, cpuUs: cpuUsPer(before, sampleCpu(groups), result.ok) })
    }
    for (let run = 0; run < runs; run += 1) {
      const order = run % 2 === 0 ? [echoRun, () => platformRun(ctx, seconds, connections).then((r) => void platformRuns.push(r))] : [() => platformRun(ctx, seconds, connections).then((r) => void platformRuns.push(r)), echoRun]
      for (const step of order) await step()
      const p = platformRuns.at(-1)!
      ctx.log(`  run ${run + 1}/${runs}: express echo ${echoRuns.at(-1)!.load.okRps.toFixed(0)} req/s; POST /transactions ${p.load.okRps.toFixed(0)} accepted/s ` +
        `(p99 ${p.load.p99} ms), workers ${p.processedRate.toFixed(0)} jobs/s, backlog at the end ${p.backlogEnd}, drained ${p.drainSeconds.toFixed(1)} s later; ` +
        `CPU per transaction ${p.cpuUs.machine!.toFixed(0)} µs`)
    }
  } finally {
    await waitDrained(ctx.redis, 120_000)
    await restoreLoyalty(ctx, saved)
    const deleted = await deleteRecordsOf(ctx.redis, user.id, since)
    ctx.log(`  deleted ${deleted} transaction records of ${user.username}, restored their stamps and vouchers`)
    await echoNginx.stop()
    await echo.stop()
    await rm(logDir, { recursive: true, force: true })
  }
  const c = `c=${connections}, ${seconds} s`
  const s = '8 sustained'
  const echoRps = figure(echoRuns.map((r) => r.load.okRps))
  const txRps = figure(platformRuns.map((r) => r.load.okRps))
  const bad = platformRuns.reduce((n, r) => n + r.load.non2xx + r.load.errors, 0)
  const vsEcho = ratio(txRps, echoRps)
  const txP99 = figure(platformRuns.map((r) => r.load.p99))
  const growth = figure(platformRuns.map((r) => r.backlogGrowth))
  const lost = platformRuns.reduce((n, r) => n + r.notAwarded, 0)
  const left = platformRuns.reduce((n, r) => n + r.left, 0)
  addRow(ctx, { scenario: s, measure: `express echo behind nginx (router config, access log on) (${c})`, unit: 'req/s', value: echoRps })
  addRow(ctx, { scenario: s, measure: 'express echo p99', unit: 'ms', value: figure(echoRuns.map((r) => r.load.p99)) })
  addRow(ctx, { scenario: s, measure: `POST /transactions via :80, accepted, workers running (${c})`, unit: 'req/s', value: txRps, note: `${bad} non-2xx/errors` })
  addRow(ctx, { scenario: s, measure: 'POST /transactions p50', unit: 'ms', value: figure(platformRuns.map((r) => r.load.p50)) })
  addRow(ctx, { scenario: s, measure: 'POST /transactions p99', unit: 'ms', value: txP99, target: '< 15', met: txP99.median < 15 })
  addRow(ctx, { scenario: s, measure: 'accepted ÷ express echo (same run)', unit: 'ratio', value: vsEcho, target: '≥ 0.35', met: vsEcho.median >= 0.35 })
  addRow(ctx, { scenario: s, measure: 'jobs processed during the load', unit: 'jobs/s', value: figure(platformRuns.map((r) => r.processedRate)) })
  addRow(ctx, { scenario: s, measure: 'jobs processed ÷ accepted during the load', unit: 'ratio', value: figure(platformRuns.map((r) => r.processedRate / r.load.okRps)) })
  addRow(ctx, { scenario: s, measure: 'backlog at the end of the load', unit: 'jobs', value: figure(platformRuns.map((r) => r.backlogEnd)) })
  addRow(ctx, { scenario: s, measure: 'backlog, the most seen during the load', unit: 'jobs', value: figure(platformRuns.map((r) => r.backlogMax)) })
  addRow(ctx, { scenario: s, measure: "backlog growth over the load's second half", unit: 'jobs/s', value: growth, target: '≤ 1% of accepted', met: growth.median <= txRps.median / 100 })
  addRow(ctx, { scenario: s, measure: 'queue empty after the load ended', unit: 's', value: figure(platformRuns.map((r) => r.drainSeconds)), note: `${left} left after 120 s; ${lost} accepted but not awarded` })
  addRow(ctx, { scenario: s, measure: 'Redis commands per accepted and processed transaction (the bench\'s own polling included)', unit: 'commands', value: figure(platformRuns.map((r) => r.commands.total)) })
  ctx.notes.push(`scenario 8: Redis commands per transaction, last run: ${platformRuns.at(-1)!.commands.list}`)
  const parts: [string, string][] = [
    ['loadGenerator', 'the load generator (autocannon)'],
    ['nginx', 'nginx'],
    ['api', 'the Transaction API / echo app'],
    ['workers', 'the Loyalty Workers'],
    ['redis', 'Redis'],
    ['pm2', 'the PM2 daemon (copies stdout to the log files)'],
    ['other', 'the rest of the machine'],
  ]
  for (const [name, list] of [['express echo', echoRuns], ['POST /transactions', platformRuns]] as const) {
    const cpuOf = (part: string) => figure(list.map((r) => r.cpuUs[part] ?? NaN))
    addRow(ctx, { scenario: s, measure: `CPU per ${name === 'express echo' ? 'request' : 'accepted and processed transaction'}, whole machine: ${name}`, unit: 'µs', value: cpuOf('machine') })
    for (const [part, label] of parts) {
      if (list.every((r) => r.cpuUs[part] === undefined)) continue
      addRow(ctx, { scenario: s, measure: `CPU, ${name}, of which ${label}`, unit: 'µs', value: cpuOf(part) })
    }
  }
}

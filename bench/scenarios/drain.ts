// Scenario 4: how fast the Loyalty Worker drains a backlog, with 1, 2 and 4 instances, against kue's own
// ceiling (a consumer that completes jobs without doing anything) with as many processes, same Redis.
// Each drain: the consumers are stopped, N jobs are queued (the worker's with their transaction records),
// the consumers start, and jobs/s is counted from the moment all of them are up until the queue is empty.
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { availableParallelism } from 'node:os'
import type { Redis } from 'ioredis'
import { machineBusyMs } from '../lib/cpu.ts'
import { BENCH_USER_BASE, deleteBenchData, deletePrefix, failedJobs, queueRemaining } from '../lib/cleanup.ts'
import { addRow, type Context } from '../lib/context.ts'
import { instances, pm2, scale } from '../lib/platform.ts'
import { startTarget } from '../lib/processes.ts'
import { figure, ratio, type Figure } from '../lib/stats.ts'

const BENCH_PREFIX = 'qbench'

async function enqueue(ctx: Context, prefix: string, n: number, records: boolean): Promise<void> {
  const args = ['--prefix', prefix, '--n', String(n), '--user-base', String(BENCH_USER_BASE + 100)]
  if (records) args.push('--records')
  // enqueue.ts prints "done <n>" once every job is saved.
  const target = await startTarget('enqueue.ts', args, { REDIS_URL: ctx.redisUrl }, 600_000)
  await target.stop()
}

/** CPU seconds the Redis server has used so far (user + system, all its threads). */
async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu')
  const field = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN)
  return field('used_cpu_user') + field('used_cpu_sys')
}

interface Drain {
  /** jobs/s */
  rate: number
  /** Redis CPU milliseconds per job over the drain: whether more consumers make each job cost Redis more. */
  redisCpuMsPerJob: number
  /** How busy the machine's cores were over the drain, 0-1: whether there was CPU left for more consumers. */
  machineBusy: number
}

/** Polls until the queue is empty; jobs/s and Redis CPU per job from `from` (time, jobs left, Redis CPU then). */
async function drainRate(redis: Redis, prefix: string, from: DrainStart, maxMs: number): Promise<Drain> {
  const deadline = Date.now() + maxMs
  let left = from.left
  while (left > 0) {
    if (Date.now() > deadline) throw new Error(`queue ${prefix} still has ${left} jobs after ${maxMs / 1000} s`)
    await sleep(20)
    left = await queueRemaining(redis, prefix)
  }
  const seconds = (performance.now() - from.at) / 1000
  return {
    rate: from.left / seconds,
    redisCpuMsPerJob: ((await redisCpuSeconds(redis)) - from.cpu) * 1000 / from.left,
    machineBusy: (machineBusyMs() - from.machineMs) / (seconds * 1000 * availableParallelism()),
  }
}

interface DrainStart {
  at: number
  left: number
  /** Redis CPU seconds */
  cpu: number
  /** machine CPU milliseconds */
  machineMs: number
}

/** The drain's start: now, the jobs left, Redis's and the machine's CPU time. */
async function mark(redis: Redis, prefix: string): Promise<DrainStart> {
  const [left, cpu] = await Promise.all([queueRemaining(redis, prefix), redisCpuSeconds(redis)])
  return { at: performance.now(), left, cpu, machineMs: machineBusyMs() }
}

async function noopDrain(ctx: Context, processes: number, n: number, concurrency: number): Promise<Drain> {
  await deletePrefix(ctx.redis, BENCH_PREFIX)
  await enqueue(ctx, BENCH_PREFIX, n, false)
  const consumers = await Promise.all(
    Array.from({ length: processes }, () => startTarget('kue-noop.ts', ['--prefix', BENCH_PREFIX, '--concurrency', String(concurrency)], { REDIS_URL: ctx.redisUrl })),
  )
  try {
    return await drainRate(ctx.redis, BENCH_PREFIX, await mark(ctx.redis, BENCH_PREFIX), 300_000)
  } finally {
    await Promise.all(consumers.map((c) => c.stop()))
    await deletePrefix(ctx.redis, BENCH_PREFIX)
  }
}

async function loyaltyDrain(ctx: Context, count: number, n: number): Promise<Drain & { failed: number }> {
  await scale('loyalty', count)
  await pm2('stop', 'loyalty')
  const failedBefore = await failedJobs(ctx.redis)
  await enqueue(ctx, 'q', n, true)
  // PM2 starts every instance and returns once each has said 'ready' (wait_ready): the rate is counted
  // from then, unless most of the jobs were done by then (small N): then from the start command.
  const command = await mark(ctx.redis, 'q')
  await pm2('start', 'loyalty')
  const ready = await mark(ctx.redis, 'q')
  const from = ready.left >= n / 4 ? ready : command
  if (from === command) ctx.notes.push(`scenario 4: ${count} instance(s) drained ${n - ready.left} of ${n} jobs while starting; rate counted from the start command`)
  const drain = await drainRate(ctx.redis, 'q', from, 600_000)
  return { ...drain, failed: (await failedJobs(ctx.redis)) - failedBefore }
}

export async function drainScenario(ctx: Context): Promise<void> {
  const { runs, drainJobs: n, loyaltyInstances } = ctx.settings
  const concurrency = Number(ctx.platformEnv.LOYALTY_CONCURRENCY ?? 10) || 10
  const original = await instances('loyalty')
  // kue's ceiling for every instance count measured, so each count has a same-run ratio.
  const noopCounts = [...new Set([1, 2, ...loyaltyInstances])].sort((a, b) => a - b)
  const noop: Record<number, Drain[]> = Object.fromEntries(noopCounts.map((c) => [c, []]))
  const loyalty: Record<number, Drain[]> = {}
  let failed = 0
  try {
    for (let run = 0; run < runs; run += 1) {
      for (const processes of noopCounts) noop[processes]!.push(await noopDrain(ctx, processes, n, concurrency))
      for (const count of loyaltyInstances) {
        const { failed: failedNow, ...drain } = await loyaltyDrain(ctx, count, n)
        ;(loyalty[count] ??= []).push(drain)
        failed += failedNow
      }
      await deleteBenchData(ctx.redis)
      ctx.log(`  run ${run + 1}/${runs}: ` + noopCounts.map((c) => `kue no-op×${c} ${noop[c]!.at(-1)!.rate.toFixed(0)}`).join(', ') + '; ' +
        loyaltyInstances.map((c) => `loyalty×${c} ${loyalty[c]!.at(-1)!.rate.toFixed(0)}`).join(', ') + ' jobs/s')
    }
  } finally {
    await pm2('start', 'loyalty').catch(() => {})
    await scale('loyalty', original)
  }
  const rates = (drains: Drain[]): Figure => figure(drains.map((d) => d.rate))
  const redisCpu = (drains: Drain[]): Figure => figure(drains.map((d) => d.redisCpuMsPerJob))
  const busy = (drains: Drain[]): Figure => figure(drains.map((d) => d.machineBusy * 100))
  for (const processes of noopCounts) {
    const measure = processes === 1 ? `kue no-op consumer, 1 process (concurrency ${concurrency}, N=${n})` : `kue no-op consumer, ${processes} processes`
    addRow(ctx, { scenario: '4 loyalty drain', measure, unit: 'jobs/s', value: rates(noop[processes]!) })
    addRow(ctx, { scenario: '4 loyalty drain', measure: `Redis CPU per job, kue no-op × ${processes}`, unit: 'ms', value: redisCpu(noop[processes]!) })
    addRow(ctx, { scenario: '4 loyalty drain', measure: `machine CPU busy, kue no-op × ${processes}`, unit: '%', value: busy(noop[processes]!) })
  }
  let previous: Figure | undefined
  for (const count of loyaltyInstances) {
    const value = rates(loyalty[count]!)
    const notSlower = previous === undefined ? undefined : value.median >= previous.median * 0.95
    addRow(ctx, {
      scenario: '4 loyalty drain',
      measure: `Loyalty Worker × ${count}`,
      unit: 'jobs/s',
      value,
      ...(notSlower === undefined ? {} : { target: 'not slower than fewer', met: notSlower }),
    })
    addRow(ctx, { scenario: '4 loyalty drain', measure: `Redis CPU per job, Loyalty Worker × ${count}`, unit: 'ms', value: redisCpu(loyalty[count]!) })
    addRow(ctx, { scenario: '4 loyalty drain', measure: `machine CPU busy, Loyalty Worker × ${count}`, unit: '%', value: busy(loyalty[count]!) })
    previous = value
    const base = noop[count]
    if (base !== undefined) {
      const r = ratio(value, rates(base))
      addRow(ctx, {
        scenario: '4 loyalty drain',
        measure: `Loyalty Worker × ${count} ÷ kue no-op × ${count} (same run)`,
        unit: 'ratio',
        value: r,
        ...(count === 2 ? { target: '≥ 0.70', met: r.median >= 0.7 } : {}),
      })
    }
  }
  if (failed > 0) ctx.notes.push(`scenario 4: ${failed} jobs failed during the drains`)
}

// Scenario 4: how fast the Loyalty Worker drains a backlog, with 1, 2 and 4 instances, against kue's own
// ceiling (a consumer that completes jobs without doing anything) with 1 and 2 processes, same Redis.
// Each drain: the consumers are stopped, N jobs are queued (the worker's with their transaction records),
// the consumers start, and jobs/s is counted from the moment all of them are up until the queue is empty.
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'
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

/** Polls until the queue is empty; jobs/s from `from` (time, jobs left then) to empty. */
async function drainRate(redis: Redis, prefix: string, from: { at: number; left: number }, maxMs: number): Promise<number> {
  const deadline = Date.now() + maxMs
  let left = from.left
  while (left > 0) {
    if (Date.now() > deadline) throw new Error(`queue ${prefix} still has ${left} jobs after ${maxMs / 1000} s`)
    await sleep(20)
    left = await queueRemaining(redis, prefix)
  }
  return from.left / ((performance.now() - from.at) / 1000)
}

async function noopDrain(ctx: Context, processes: number, n: number, concurrency: number): Promise<number> {
  await deletePrefix(ctx.redis, BENCH_PREFIX)
  await enqueue(ctx, BENCH_PREFIX, n, false)
  const consumers = await Promise.all(
    Array.from({ length: processes }, () => startTarget('kue-noop.ts', ['--prefix', BENCH_PREFIX, '--concurrency', String(concurrency)], { REDIS_URL: ctx.redisUrl })),
  )
  try {
    const from = { at: performance.now(), left: await queueRemaining(ctx.redis, BENCH_PREFIX) }
    return await drainRate(ctx.redis, BENCH_PREFIX, from, 300_000)
  } finally {
    await Promise.all(consumers.map((c) => c.stop()))
    await deletePrefix(ctx.redis, BENCH_PREFIX)
  }
}

async function loyaltyDrain(ctx: Context, count: number, n: number): Promise<{ rate: number; failed: number }> {
  await scale('loyalty', count)
  await pm2('stop', 'loyalty')
  const failedBefore = await failedJobs(ctx.redis)
  await enqueue(ctx, 'q', n, true)
  // PM2 starts every instance and returns once each has said 'ready' (wait_ready): the rate is counted
  // from then, unless most of the jobs were done by then (small N): then from the start command.
  const command = { at: performance.now(), left: await queueRemaining(ctx.redis) }
  await pm2('start', 'loyalty')
  const ready = { at: performance.now(), left: await queueRemaining(ctx.redis) }
  const from = ready.left >= n / 4 ? ready : command
  if (from === command) ctx.notes.push(`scenario 4: ${count} instance(s) drained ${n - ready.left} of ${n} jobs while starting; rate counted from the start command`)
  const rate = await drainRate(ctx.redis, 'q', from, 600_000)
  return { rate, failed: (await failedJobs(ctx.redis)) - failedBefore }
}

export async function drainScenario(ctx: Context): Promise<void> {
  const { runs, drainJobs: n, loyaltyInstances } = ctx.settings
  const concurrency = Number(ctx.platformEnv.LOYALTY_CONCURRENCY ?? 10) || 10
  const original = await instances('loyalty')
  const noop: Record<number, number[]> = { 1: [], 2: [] }
  const loyalty: Record<number, number[]> = {}
  let failed = 0
  try {
    for (let run = 0; run < runs; run += 1) {
      for (const processes of [1, 2]) noop[processes]!.push(await noopDrain(ctx, processes, n, concurrency))
      for (const count of loyaltyInstances) {
        const result = await loyaltyDrain(ctx, count, n)
        ;(loyalty[count] ??= []).push(result.rate)
        failed += result.failed
      }
      await deleteBenchData(ctx.redis)
      ctx.log(`  run ${run + 1}/${runs}: kue no-op 1 ${noop[1]!.at(-1)!.toFixed(0)}, 2 ${noop[2]!.at(-1)!.toFixed(0)}; ` +
        loyaltyInstances.map((c) => `loyalty×${c} ${loyalty[c]!.at(-1)!.toFixed(0)}`).join(', ') + ' jobs/s')
    }
  } finally {
    await pm2('start', 'loyalty').catch(() => {})
    await scale('loyalty', original)
  }
  const noopFigures: Record<number, Figure> = { 1: figure(noop[1]!), 2: figure(noop[2]!) }
  addRow(ctx, { scenario: '4 loyalty drain', measure: `kue no-op consumer, 1 process (concurrency ${concurrency}, N=${n})`, unit: 'jobs/s', value: noopFigures[1]! })
  addRow(ctx, { scenario: '4 loyalty drain', measure: 'kue no-op consumer, 2 processes', unit: 'jobs/s', value: noopFigures[2]! })
  let previous: Figure | undefined
  for (const count of loyaltyInstances) {
    const value = figure(loyalty[count]!)
    const notSlower = previous === undefined ? undefined : value.median >= previous.median * 0.95
    addRow(ctx, {
      scenario: '4 loyalty drain',
      measure: `Loyalty Worker × ${count}`,
      unit: 'jobs/s',
      value,
      ...(notSlower === undefined ? {} : { target: 'not slower than fewer', met: notSlower }),
    })
    previous = value
    const base = noop[Math.min(count, 2)]
    if (base !== undefined && (count === 1 || count === 2)) {
      const r = ratio(value, figure(base))
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

// Scenario 6: memory of each PM2 process, median of three snapshots: its RSS (pm2 jlist monit.memory,
// the target's measure) and its PSS (/proc/<pid>/smaps_rollup). RSS counts in full the pages of the
// node binary and its libraries that every process maps and shares (~48 MB of a service's RSS); PSS
// charges each process its share of those, so it is what one more process costs the machine.
// "Idle" is measured on freshly started processes (pm2 reload, then a settling pause): a process that
// served load earlier keeps the memory it grew to, which is the "after load" figure.
// The footprint: the PSS of the whole platform (every service process, the PM2 daemon, Redis, nginx's
// master and workers) summed, which is what the platform costs the VM (RSS summed would count the node
// binary once per process).
import { readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { defaultPaths } from '../../provision/lib/paths.ts'
import { addRow, type Context } from '../lib/context.ts'
import { pm2, pm2List } from '../lib/platform.ts'
import { childrenOf } from '../lib/processes.ts'
import { figure } from '../lib/stats.ts'

/** Proportional set size in MB, or undefined when the process is gone or not readable. */
async function pssOf(pid: number): Promise<number | undefined> {
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '')
  const kb = /^Pss:\s+(\d+) kB/m.exec(rollup)?.[1]
  return kb === undefined ? undefined : Number(kb) / 1024
}

/** The platform's processes that are not PM2 apps: the PM2 daemon, Redis, nginx's master and workers. */
async function supportProcesses(ctx: Context): Promise<Record<string, number>> {
  const found: Record<string, number> = {}
  const pidFile = async (path: string) => Number((await readFile(path, 'utf8').catch(() => '')).trim()) || undefined
  const daemon = await pidFile(`${defaultPaths().pm2Home}/pm2.pid`)
  if (daemon !== undefined) found['PM2 daemon'] = daemon
  const redisPid = Number(/^process_id:(\d+)/m.exec(await ctx.redis.info('server'))?.[1])
  if (redisPid > 0) found.Redis = redisPid
  const nginx = await pidFile('/run/nginx.pid')
  if (nginx !== undefined) {
    found['nginx master'] = nginx
    for (const [i, pid] of (await childrenOf(nginx)).entries()) found[`nginx worker#${i}`] = pid
  }
  return found
}

export async function memoryScenario(ctx: Context, when: 'idle' | 'after load'): Promise<void> {
  const rss: Map<string, number[]> = new Map()
  const pss: Map<string, number[]> = new Map()
  const add = (map: Map<string, number[]>, key: string, value: number | undefined): void => {
    if (value !== undefined) map.set(key, [...(map.get(key) ?? []), value])
  }
  if (when === 'idle') {
    // wait_ready: the reload returns once every new process has said it is ready.
    await pm2('reload', 'all')
    await sleep(ctx.settings.smoke ? 2000 : 20_000)
  }
  const support = await supportProcesses(ctx)
  const totals: number[] = []
  for (let i = 0; i < 3; i += 1) {
    let total = 0
    for (const p of await pm2List()) {
      const key = `${p.name}#${p.pmId}`
      add(rss, key, p.memory / 1024 / 1024)
      const share = await pssOf(p.pid)
      add(pss, key, share)
      total += share ?? 0
    }
    for (const [name, pid] of Object.entries(support)) {
      const share = await pssOf(pid)
      add(pss, name, share)
      total += share ?? 0
    }
    totals.push(total)
    if (i < 2) await sleep(ctx.settings.smoke ? 200 : 1000)
  }
  for (const [name, values] of [...rss].sort(([a], [b]) => a.localeCompare(b))) {
    const value = figure(values)
    const row = { scenario: '6 memory', measure: `RSS ${name}, ${when}`, unit: 'MB', value }
    addRow(ctx, when === 'idle' ? { ...row, target: '< 80', met: value.median < 80 } : row)
    const shares = pss.get(name)
    if (shares !== undefined) addRow(ctx, { scenario: '6 memory', measure: `PSS ${name}, ${when} (shared pages split between processes)`, unit: 'MB', value: figure(shares) })
  }
  for (const name of Object.keys(support)) {
    const shares = pss.get(name)
    if (shares !== undefined) addRow(ctx, { scenario: '6 memory', measure: `PSS ${name}, ${when}`, unit: 'MB', value: figure(shares) })
  }
  const total = figure(totals)
  const row = { scenario: '6 memory', measure: `PSS of the whole platform, ${when} (services, PM2 daemon, Redis, nginx)`, unit: 'MB', value: total }
  addRow(ctx, when === 'idle' ? { ...row, target: '≤ 250', met: total.median <= 250 } : row)
  // Redis's share grows with what it holds (finished records are kept for TRANSACTION_RETENTION, 24 h by
  // default, and its allocator keeps what deleted keys freed): a machine that ran tests or benchmarks
  // today idles with more than a fresh one. So the rest of the platform is summed on its own too.
  const dataset = Number(/^used_memory_dataset:(\d+)/m.exec(await ctx.redis.info('memory'))?.[1] ?? NaN) / 1024 / 1024
  addRow(ctx, { scenario: '6 memory', measure: `Redis's data (used_memory_dataset), ${when}`, unit: 'MB', value: figure([dataset]), note: `${await ctx.redis.dbsize()} keys` })
  const redisPss = pss.get('Redis') ?? totals.map(() => 0)
  addRow(ctx, { scenario: '6 memory', measure: `PSS of the platform without Redis, ${when} (services, PM2 daemon, nginx)`, unit: 'MB', value: figure(totals.map((t, i) => t - (redisPss[i] ?? 0))) })
}

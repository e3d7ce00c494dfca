// Scenario 6: memory of each PM2 process, median of three snapshots: its RSS (pm2 jlist monit.memory,
// the target's measure) and its PSS (/proc/<pid>/smaps_rollup). RSS counts in full the pages of the
// node binary and its libraries that every process maps and shares (~48 MB of a service's RSS); PSS
// charges each process its share of those, so it is what one more process costs the machine.
// "Idle" is measured on freshly started processes (pm2 reload, then a settling pause): a process that
// served load earlier keeps the memory it grew to, which is the "after load" figure.
import { readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { addRow, type Context } from '../lib/context.ts'
import { pm2, pm2List } from '../lib/platform.ts'
import { figure } from '../lib/stats.ts'

/** Proportional set size in MB, or undefined when the process is gone or not readable. */
async function pssOf(pid: number): Promise<number | undefined> {
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '')
  const kb = /^Pss:\s+(\d+) kB/m.exec(rollup)?.[1]
  return kb === undefined ? undefined : Number(kb) / 1024
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
  for (let i = 0; i < 3; i += 1) {
    for (const p of await pm2List()) {
      const key = `${p.name}#${p.pmId}`
      add(rss, key, p.memory / 1024 / 1024)
      add(pss, key, await pssOf(p.pid))
    }
    if (i < 2) await sleep(ctx.settings.smoke ? 200 : 1000)
  }
  for (const [name, values] of [...rss].sort(([a], [b]) => a.localeCompare(b))) {
    const value = figure(values)
    const row = { scenario: '6 memory', measure: `RSS ${name}, ${when}`, unit: 'MB', value }
    addRow(ctx, when === 'idle' ? { ...row, target: '< 80', met: value.median < 80 } : row)
    const shares = pss.get(name)
    if (shares !== undefined) addRow(ctx, { scenario: '6 memory', measure: `PSS ${name}, ${when} (shared pages split between processes)`, unit: 'MB', value: figure(shares) })
  }
}

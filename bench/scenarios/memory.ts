// Scenario 6: resident memory of each PM2 process (pm2 jlist monit.memory), median of three snapshots.
import { setTimeout as sleep } from 'node:timers/promises'
import { addRow, type Context } from '../lib/context.ts'
import { pm2List } from '../lib/platform.ts'
import { figure } from '../lib/stats.ts'

export async function memoryScenario(ctx: Context, when: 'idle' | 'after load'): Promise<void> {
  const snapshots: Map<string, number[]> = new Map()
  for (let i = 0; i < 3; i += 1) {
    for (const p of await pm2List()) {
      const key = `${p.name}#${p.pmId}`
      snapshots.set(key, [...(snapshots.get(key) ?? []), p.memory / 1024 / 1024])
    }
    if (i < 2) await sleep(ctx.settings.smoke ? 200 : 1000)
  }
  for (const [name, values] of [...snapshots].sort(([a], [b]) => a.localeCompare(b))) {
    const value = figure(values)
    const row = { scenario: '6 memory', measure: `RSS ${name}, ${when}`, unit: 'MB', value }
    addRow(ctx, when === 'idle' ? { ...row, target: '< 80', met: value.median < 80 } : row)
  }
}

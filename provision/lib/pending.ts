import { mkdir, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * A restart or reload that a config change makes necessary ("redis-restart"). Marked on disk when the
 * config is written and cleared once done, so a run that dies in between still restarts next time
 * (the config would then look unchanged). Under --check nothing is written: marks live in memory.
 */
export interface PendingActions {
  add(action: string): Promise<void>
  has(action: string): Promise<boolean>
  done(action: string): Promise<void>
}

export function pendingActions(dir: string, check: boolean): PendingActions {
  const inMemory = new Set<string>()
  const file = (action: string) => join(dir, action)
  return {
    async add(action) {
      inMemory.add(action)
      if (check) return
      await mkdir(dir, { recursive: true, mode: 0o700 })
      await writeFile(file(action), `${new Date().toISOString()}\n`)
    },
    async has(action) {
      if (inMemory.has(action)) return true
      return stat(file(action)).then(() => true, () => false)
    },
    async done(action) {
      inMemory.delete(action)
      if (!check) await rm(file(action), { force: true })
    },
  }
}

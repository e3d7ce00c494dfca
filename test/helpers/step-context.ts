import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import type { Context } from '../../provision/lib/context.ts'
import { factCache } from '../../provision/lib/facts.ts'
import type { Paths } from '../../provision/lib/paths.ts'
import { pendingActions } from '../../provision/lib/pending.ts'
import { resolveSettings } from '../../provision/lib/settings.ts'

/** A temp directory removed when the test ends. */
export async function tempDir(t: Test, prefix = 'yoyo-steps-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/**
 * A step's context on temp paths, as the runner makes it (no systemd, root as the app user, the default
 * settings unless given), keeping the changes it reports in `changes`.
 */
export function stepContext(paths: Paths, check = false, environment: Record<string, string> = {}): Context & { changes: string[] } {
  const changes: string[] = []
  return {
    check,
    verbose: false,
    paths,
    appUser: 'root',
    settings: resolveSettings(environment),
    runtime: { node: process.execPath, systemd: false, loginUsers: [] },
    pending: pendingActions(join(paths.stateDir, 'pending'), check),
    facts: factCache(),
    shared: {},
    changes,
    note: (change) => changes.push(change),
    detail: () => {},
    nothingChangedEarlier: false,
  }
}

/** Whether a program is on PATH (tests that need rsync say so when it is not). */
export function hasProgram(name: string): boolean {
  try {
    execFileSync(name, ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** The four services' sources and built entries in an app dir, each file holding its own path. */
export async function writeAppTree(app: string, extra: string[] = []): Promise<void> {
  const services = ['auth-api', 'transaction-api', 'loyalty-worker', 'queue-dashboard'].flatMap((s) => [`services/${s}/main.ts`, `dist/services/${s}/main.js`])
  for (const file of ['package.json', 'package-lock.json', 'platform.json', ...extra, ...services]) {
    await mkdir(join(app, file, '..'), { recursive: true })
    await writeFile(join(app, file), `${file}\n`)
  }
}

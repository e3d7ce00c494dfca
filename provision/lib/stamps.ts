import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * Stamps remember the hash of what a step last built ("app-dependencies": the lock file's hash), so
 * the next run can tell nothing changed without rebuilding. Written only after the work succeeded.
 */
export async function readStamp(stateDir: string, name: string): Promise<string | undefined> {
  return readFile(join(stateDir, 'stamps', name), 'utf8').then((text) => text.trim(), () => undefined)
}

export async function writeStamp(stateDir: string, name: string, value: string): Promise<void> {
  await mkdir(join(stateDir, 'stamps'), { recursive: true, mode: 0o700 })
  await writeFile(join(stateDir, 'stamps', name), `${value}\n`)
}

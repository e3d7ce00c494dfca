import { createHash } from 'node:crypto'
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * A sha256 over the names and contents of files and directory trees under `root` (entries relative to
 * it; missing ones count as missing). Stable across machines: sorted names, no timestamps, no modes.
 * Decides whether the app must be rebuilt or its dependencies reinstalled.
 */
export async function hashTree(root: string, entries: string[]): Promise<string> {
  const hash = createHash('sha256')
  const visit = async (relative: string): Promise<void> => {
    const path = join(root, relative)
    const stats = await stat(path).catch(() => undefined)
    if (stats === undefined) {
      hash.update(`missing\0${relative}\0`)
    } else if (stats.isDirectory()) {
      const names = (await readdir(path)).filter((name) => name !== 'node_modules').sort()
      for (const name of names) await visit(join(relative, name))
    } else {
      hash.update(`file\0${relative}\0${stats.size}\0`)
      hash.update(await readFile(path))
    }
  }
  for (const entry of [...entries].sort()) await visit(entry)
  return hash.digest('hex')
}

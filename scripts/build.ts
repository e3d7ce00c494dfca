// `npm run build`: the services as JavaScript in dist/ (dist/services/**.js and dist/platform.json), made
// by Node.js's own type stripper (node:module stripTypeScriptTypes): no compiler, no dev dependency, a
// fraction of a second. The provisioner runs the same function on the machine (as root, Node.js 24), and
// the container image's build stage runs this file.
//
// Why not let Node.js strip the types as it loads each .ts file: its stripper (a WebAssembly build of
// swc) then lives in every service process: more memory per process, and each start is slower (measured:
// docs/performance.md, round 2). Stripping replaces each type with spaces, so the JavaScript keeps the
// source's lines and columns (stack traces point into the .ts file as it is); relative imports of `.ts`
// become `.js`, as tsc's rewriteRelativeImportExtensions does.
//
// On a Node.js without the stripper (20), `npm run build` falls back to tsc (a dev dependency).
import { execFileSync } from 'node:child_process'
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import * as nodeModule from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

type Strip = (code: string, options: { mode: 'strip' }) => string
const strip = (nodeModule as unknown as { stripTypeScriptTypes?: Strip }).stripTypeScriptTypes

/** Whether this Node.js can build (it has node:module's stripTypeScriptTypes: >= 22.13). */
export const canStripTypes = typeof strip === 'function'

// A relative specifier of a static import or export (`from './x.ts'`) or of a dynamic `import('./x.ts')`.
const relativeTsSpecifier = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"\n]*?)\.ts\2/g

/** One module's JavaScript: its types stripped (as spaces), its relative .ts imports pointed at .js. */
export function toJavaScript(source: string): string {
  if (strip === undefined) throw new Error(`Node.js ${process.version} has no type stripper (node:module stripTypeScriptTypes): use Node.js >= 22.18`)
  // The stripper warns that it is experimental, once per process: it is the one Node.js runs .ts files with.
  const warn = process.emitWarning
  process.emitWarning = () => {}
  try {
    return strip(source, { mode: 'strip' }).replace(relativeTsSpecifier, (_match, before: string, quote: string, path: string) => `${before}${quote}${path}.js${quote}`)
  } finally {
    process.emitWarning = warn
  }
}

async function typeScriptFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true })
  return entries.filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')).map((entry) => join(entry.parentPath, entry.name)).sort()
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name))
}

/** What dist/ must hold, path (relative to the root) → content: every service module's JavaScript and the manifest. */
export async function buildOutput(root: string): Promise<Map<string, string>> {
  const output = new Map<string, string>()
  for (const file of await typeScriptFiles(join(root, 'services'))) {
    const path = relative(root, file).replace(/\.ts$/, '.js')
    output.set(join('dist', path), toJavaScript(await readFile(file, 'utf8')))
  }
  // services/shared/platform.ts imports ../../platform.json: beside dist/services, as tsc emits it.
  output.set(join('dist', 'platform.json'), await readFile(join(root, 'platform.json'), 'utf8'))
  return output
}

export interface BuildChanges {
  /** Files written (new or different), relative to the root. */
  written: string[]
  /** Files under dist/ that no source makes any more (an older build's, tsc's source maps). */
  removed: string[]
}

/**
 * Makes `root`/dist hold exactly the build of `root`'s services: writes only the files that differ and
 * removes the ones no source makes. `dryRun` says what it would change. Files are created with `mode`.
 */
export async function build(root: string, options: { dryRun?: boolean; mode?: number } = {}): Promise<BuildChanges> {
  const output = await buildOutput(root)
  const written: string[] = []
  for (const [path, content] of output) {
    const current = await readFile(join(root, path), 'utf8').catch(() => undefined)
    if (current === content) continue
    written.push(path)
    if (options.dryRun) continue
    await mkdir(dirname(join(root, path)), { recursive: true })
    await writeFile(join(root, path), content, { mode: options.mode ?? 0o644 })
  }
  const removed = (await filesUnder(join(root, 'dist'))).map((file) => relative(root, file)).filter((path) => !output.has(path)).sort()
  if (!options.dryRun) for (const path of removed) await rm(join(root, path))
  return { written, removed }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..')
  if (canStripTypes) {
    const { written, removed } = await build(root)
    process.stdout.write(`dist/: ${written.length} file(s) written, ${removed.length} removed\n`)
  } else {
    process.stdout.write(`Node.js ${process.version} has no type stripper: building dist/ with tsc instead\n`)
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' })
  }
}

// `npm test`'s second step, between `tap` (which records V8 coverage in .tap/coverage) and `tap report`
// (which prints it and holds the thresholds in .taprc). It makes that coverage measure the product:
//
// 1. The .ts sources are attributed. tsx leaves `sourcesContent: [null]` in the source maps it inlines
//    (it fills them in only when NODE_V8_COVERAGE is set, which tap does not use), and v8-to-istanbul
//    takes that null for the original source: every file came out as one empty line, 100 % of
//    nothing. Without the field, the report reads each .ts file from disk and maps V8's ranges onto it.
// 2. Only services/, provision/ and nginx/ count: records of the tests, their helpers, the PM2 config
//    and the compiled dist/ builds that PM2 runs are dropped.
// 3. A file there that no test process loaded counts as 0 %, every line of it: a record with one never-run
//    range over the whole file is added for it, which is what c8's `--all` does (tap has no such option).
//    A file of types only is left out: it compiles to nothing, so no process ever loads it.
//
// Then it prints the figures of each area. Run it again at will: it changes nothing a second time.
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Report } from 'c8'
import ts from 'typescript'

const root = fileURLToPath(new URL('../', import.meta.url))
const coverageDir = join(root, '.tap', 'coverage')
const areas = ['services', 'provision', 'nginx'] as const
const unloadedFile = 'unloaded-sources.json'
const metrics = ['lines', 'statements', 'branches', 'functions'] as const

type Range = { startOffset: number; endOffset: number; count: number }
type ScriptCoverage = { url: string; functions: { functionName: string; ranges: Range[]; isBlockCoverage: boolean }[] }
type SourceMapEntry = { data?: { sourcesContent?: (string | null)[] } }
type ProcessCoverage = { result: ScriptCoverage[]; 'source-map-cache'?: Record<string, SourceMapEntry> }

// What `getCoverageMapFromAllCoverageFiles` returns (an istanbul CoverageMap); c8's types omit it.
type Totals = Record<(typeof metrics)[number], { total: number; covered: number; pct: number }>
type Summary = Totals & { merge(other: Summary): Summary }
type CoverageMap = { files(): string[]; fileCoverageFor(file: string): { toSummary(): Summary } }

/** The area (`services`, ...) of a .ts file of the product, else undefined. */
function areaOf(path: string): string | undefined {
  const rel = relative(root, path)
  const area = rel.split(sep)[0]
  return rel.endsWith('.ts') && areas.some((a) => a === area) ? area : undefined
}

function pathOf(url: string): string | undefined {
  return url.startsWith('file://') ? fileURLToPath(url) : undefined
}

async function sources(): Promise<string[]> {
  const files: string[] = []
  for (const area of areas) {
    for (const entry of await readdir(join(root, area), { recursive: true })) {
      const path = join(root, area, entry)
      if (areaOf(path) !== undefined && !path.endsWith('.d.ts')) files.push(path)
    }
  }
  return files.sort()
}

/** Steps 1 and 2 on one process's record; returns the product files it loaded. */
async function complete(file: string): Promise<string[]> {
  const coverage = JSON.parse(await readFile(file, 'utf8')) as ProcessCoverage
  const maps = coverage['source-map-cache'] ?? {}
  const loaded: string[] = []
  coverage.result = coverage.result.filter((script) => {
    const path = pathOf(script.url)
    if (path !== undefined && areaOf(path) !== undefined) {
      loaded.push(path)
      return true
    }
    delete maps[script.url]
    return false
  })
  for (const entry of Object.values(maps)) {
    if (entry.data?.sourcesContent?.every((content) => content === null)) delete entry.data.sourcesContent
  }
  await writeFile(file, JSON.stringify(coverage))
  return loaded
}

/** A file of types only (interfaces, `import type`) compiles to nothing: there is nothing in it to run. */
async function typesOnly(path: string): Promise<boolean> {
  const options = { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2023, verbatimModuleSyntax: true, removeComments: true }
  const js = ts.transpileModule(await readFile(path, 'utf8'), { compilerOptions: options }).outputText
  return js.replace('export {};', '').trim() === ''
}

/** Step 3: a never-run record for each product file no process loaded (but for files of types only). */
async function addUnloaded(loaded: Set<string>): Promise<string[]> {
  const unloaded: string[] = []
  for (const path of await sources()) {
    if (!loaded.has(path) && !(await typesOnly(path))) unloaded.push(path)
  }
  const result: ScriptCoverage[] = []
  for (const path of unloaded) {
    const { size } = await stat(path)
    result.push({
      url: pathToFileURL(path).href,
      functions: [{ functionName: '(empty-report)', ranges: [{ startOffset: 0, endOffset: size, count: 0 }], isBlockCoverage: true }],
    })
  }
  await writeFile(join(coverageDir, unloadedFile), JSON.stringify({ result } satisfies ProcessCoverage))
  return unloaded
}

async function printAreas(): Promise<void> {
  // The same options as `tap report`, so that the figures are the ones it holds to the thresholds.
  process.chdir(root)
  const report = new Report({ reporter: [], tempDirectory: coverageDir, excludeNodeModules: true })
  const map = await (report as unknown as { getCoverageMapFromAllCoverageFiles(): Promise<CoverageMap> }).getCoverageMapFromAllCoverageFiles()
  const byArea = new Map<string, Summary>()
  let all: Summary | undefined
  for (const file of map.files()) {
    const area = areaOf(file) ?? 'other'
    // A fresh summary for each total, since merge() adds into the summary it is called on.
    const summary = () => map.fileCoverageFor(file).toSummary()
    byArea.set(area, byArea.get(area)?.merge(summary()) ?? summary())
    all = all?.merge(summary()) ?? summary()
  }
  const cell = (s: Summary, m: (typeof metrics)[number]) => `${s[m].pct.toFixed(2)} % (${s[m].covered}/${s[m].total})`.padEnd(24)
  console.log(`# coverage        ${metrics.map((m) => m.padEnd(24)).join('')}`)
  for (const [area, summary] of [...[...byArea].sort(), ['all', all] as const]) {
    if (summary) console.log(`# ${`${area}/`.padEnd(16)}${metrics.map((m) => cell(summary, m)).join('')}`.trimEnd())
  }
}

const entries = await readdir(coverageDir).catch(() => [] as string[])
if (entries.length === 0) {
  console.error(`No coverage in ${relative(process.cwd(), coverageDir)}: run tap first (without --disable-coverage).`)
  process.exit(1)
}
await rm(join(coverageDir, unloadedFile), { force: true })
const loaded = new Set<string>()
for (const entry of entries) {
  if (entry.endsWith('.json') && entry !== unloadedFile) {
    for (const path of await complete(join(coverageDir, entry))) loaded.add(path)
  }
}
const unloaded = await addUnloaded(loaded)
await printAreas()
if (unloaded.length > 0) {
  console.log(`# loaded by no test (0 %): ${unloaded.map((path) => relative(root, path)).join(', ')}`)
}

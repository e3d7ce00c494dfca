// scripts/build.ts: the services' types stripped into dist/ by Node.js's own stripper (what the
// provisioner runs on the machine and the container image's build stage runs).
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { build, canStripTypes, toJavaScript } from '../../scripts/build.ts'

const skip = !canStripTypes && `Node.js ${process.version} has no type stripper`

t.test('when a module has types, then they become spaces (lines and columns kept) and relative .ts imports become .js', { skip }, async (t) => {
  const source = [
    "import type { Redis } from 'ioredis'",
    "import { keys } from '../shared/keys.ts'",
    "export { run } from './run.ts'",
    "import manifest from '../../platform.json' with { type: 'json' }",
    "const later = await import('./later.ts')",
    "import express from 'express'",
    'export function f(redis: Redis, n: number): string { return `${n}` }',
  ].join('\n')
  const js = toJavaScript(source)
  const lines = js.split('\n')
  t.equal(lines.length, 7, 'as many lines as the source')
  t.match(lines[0], /^\s*$/, 'a type-only import is blanked')
  t.equal(lines[1], "import { keys } from '../shared/keys.js'")
  t.equal(lines[2], "export { run } from './run.js'")
  t.equal(lines[3], "import manifest from '../../platform.json' with { type: 'json' }", 'not a .ts import: left alone')
  t.equal(lines[4], "const later = await import('./later.js')")
  t.equal(lines[5], "import express from 'express'")
  t.equal(lines[6]!.indexOf('return'), source.split('\n')[6]!.indexOf('return'), 'columns kept')
  t.notMatch(lines[6], /: (Redis|number|string)/)
})

t.test('when built twice, then the second build writes nothing; a source removed takes its .js with it', { skip }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'yoyo-build-'))
  t.teardown(() => rm(root, { recursive: true, force: true }))
  await mkdir(join(root, 'services', 'shared'), { recursive: true })
  await mkdir(join(root, 'services', 'auth-api'), { recursive: true })
  await writeFile(join(root, 'platform.json'), '{"apps":{}}\n')
  await writeFile(join(root, 'services', 'shared', 'a.ts'), 'export const a: number = 1\n')
  await writeFile(join(root, 'services', 'auth-api', 'main.ts'), "import { a } from '../shared/a.ts'\nconsole.log(a)\n")
  await writeFile(join(root, 'services', 'types.d.ts'), 'declare const x: number\n')

  const first = await build(root)
  t.same(first.written.sort(), ['dist/platform.json', 'dist/services/auth-api/main.js', 'dist/services/shared/a.js'])
  t.equal(await readFile(join(root, 'dist', 'services', 'auth-api', 'main.js'), 'utf8'), "import { a } from '../shared/a.js'\nconsole.log(a)\n")
  t.notOk(existsSync(join(root, 'dist', 'services', 'types.d.js')), 'declarations are not modules')

  t.same(await build(root), { written: [], removed: [] }, 'nothing to do the second time')

  await rm(join(root, 'services', 'shared', 'a.ts'))
  await writeFile(join(root, 'dist', 'services', 'auth-api', 'main.js.map'), '{}')
  const dry = await build(root, { dryRun: true })
  t.same(dry.removed, ['dist/services/auth-api/main.js.map', 'dist/services/shared/a.js'])
  t.ok(existsSync(join(root, 'dist', 'services', 'shared', 'a.js')), 'a dry run removes nothing')
  await build(root)
  t.notOk(existsSync(join(root, 'dist', 'services', 'shared', 'a.js')), 'the source is gone, so is its build')
  t.notOk(existsSync(join(root, 'dist', 'services', 'auth-api', 'main.js.map')), 'an older build\'s source map too')
})

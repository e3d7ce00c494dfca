// lib/release.ts: the running release kept aside before a deploy, and put back after a failed one.
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { defaultPaths } from '../../provision/lib/paths.ts'
import { keepPreviousRelease, previousReleaseDir, restorePreviousRelease } from '../../provision/lib/release.ts'
import { configureShell } from '../../provision/lib/shell.ts'
import { readStamp, writeStamp } from '../../provision/lib/stamps.ts'
import { hasProgram, stepContext } from '../helpers/step-context.ts'

configureShell(false)

const hasRsync = hasProgram('rsync')

t.test('when a deploy replaces the release and fails, then the kept one comes back: files, dependencies and stamps', { skip: !hasRsync && 'no rsync' }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'yoyo-release-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const paths = { ...defaultPaths(dir), appDir: join(dir, 'app'), stateDir: join(dir, 'state') }
  const ctx = stepContext(paths)
  const app = paths.appDir
  await mkdir(join(app, 'node_modules', 'express'), { recursive: true })
  t.equal(await keepPreviousRelease(ctx), false, 'nothing installed yet: nothing to keep')

  await mkdir(join(app, 'dist', 'services'), { recursive: true })
  await writeFile(join(app, 'platform.json'), '{"release":1}')
  await writeFile(join(app, 'dist', 'services', 'main.js'), 'release 1')
  await writeFile(join(app, 'node_modules', 'express', 'index.js'), 'express 1')
  await writeStamp(paths.stateDir, 'app-dependencies', 'install 1')
  await writeStamp(paths.stateDir, 'app-build', 'build 1')

  t.equal(await keepPreviousRelease(ctx), true)
  t.equal(ctx.shared.previousRelease, true)
  const previous = previousReleaseDir(ctx)
  t.equal(await readFile(join(previous, 'dist', 'services', 'main.js'), 'utf8'), 'release 1')
  const linked = async () => (await stat(join(previous, 'node_modules', 'express', 'index.js'))).ino
  t.equal(await linked(), (await stat(join(app, 'node_modules', 'express', 'index.js'))).ino, 'node_modules kept as hard links')

  // A second deploy of a code change with the same install keeps the links there (no re-linking).
  const before = await linked()
  await writeFile(join(app, 'dist', 'services', 'main.js'), 'release 2')
  t.equal(await keepPreviousRelease(ctx), true)
  t.equal(await linked(), before, 'the same install: the same links')
  t.equal(await readFile(join(previous, 'dist', 'services', 'main.js'), 'utf8'), 'release 2')

  // Then a deploy with new dependencies (npm ci replaces the directory) and a new build, which fails.
  await rm(join(app, 'node_modules'), { recursive: true })
  await mkdir(join(app, 'node_modules', 'express'), { recursive: true })
  await writeFile(join(app, 'node_modules', 'express', 'index.js'), 'express 2')
  await writeFile(join(app, 'dist', 'services', 'main.js'), 'release 3')
  await writeFile(join(app, 'dist', 'services', 'new.js'), 'only in release 3')
  await writeStamp(paths.stateDir, 'app-dependencies', 'install 2')
  await writeStamp(paths.stateDir, 'app-build', 'build 3')

  await restorePreviousRelease(ctx)
  t.equal(await readFile(join(app, 'dist', 'services', 'main.js'), 'utf8'), 'release 2', 'the kept build is back')
  t.notOk(existsSync(join(app, 'dist', 'services', 'new.js')), 'nothing of the failed release is left')
  t.equal(await readFile(join(app, 'node_modules', 'express', 'index.js'), 'utf8'), 'express 1', 'the kept dependencies are back')
  t.equal(await readStamp(paths.stateDir, 'app-dependencies'), 'install 1', 'and their stamps: the next run installs again')
  t.equal(await readStamp(paths.stateDir, 'app-build'), 'build 1')
})

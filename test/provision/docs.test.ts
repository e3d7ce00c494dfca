// ensureDocsPublished and ensureStatusCommand on temp paths: the docs site's files written once,
// unchanged the second time, stale ones removed, nothing written under --check.
import { existsSync } from 'node:fs'
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { defaultPaths, type Paths } from '../../provision/lib/paths.ts'
import { ensureDocsPublished } from '../../provision/steps/docs.ts'
import { ensureStatusCommand } from '../../provision/steps/status-command.ts'
import { openApiDocument } from '../../services/shared/openapi.ts'
import { stepContext } from '../helpers/step-context.ts'

const isRoot = process.getuid?.() === 0

// The Node.js the status command names: the one the provisioner installs.
const context = (paths: Paths, check = false) => ({ ...stepContext(paths, check, { HOST_PORT: '8080' }), runtime: { node: '/usr/local/bin/node', systemd: false, loginUsers: [] } })

t.test('when the docs are published, then the site is written once, stale files go, and --check writes nothing', { skip: !isRoot && 'files are owned by root' }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'yoyo-docs-step-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const paths = { ...defaultPaths(dir), appDir: join(dir, 'app'), stateDir: join(dir, 'state'), docsDir: join(dir, 'www', 'yoyo-platform', 'docs') }

  const before = context(paths, true)
  await ensureDocsPublished.run(before)
  t.same(before.changes, [`publish the API docs to ${paths.docsDir}`], 'no app built yet: drift under --check')
  await t.rejects(ensureDocsPublished.run(context(paths)), /swagger-ui-dist is missing: run ensureAppBuilt first/)

  await mkdir(join(paths.appDir, 'node_modules'), { recursive: true })
  await symlink(new URL('../../node_modules/swagger-ui-dist', import.meta.url).pathname, join(paths.appDir, 'node_modules', 'swagger-ui-dist'))
  const check = context(paths, true)
  await ensureDocsPublished.run(check)
  t.ok(check.changes.length > 5, 'would create the site')
  t.notOk(existsSync(paths.docsDir), '--check wrote nothing')

  const first = context(paths)
  await ensureDocsPublished.run(first)
  t.match(first.changes.join('\n'), /mkdir .*docs[\s\S]*create .*index\.html[\s\S]*create .*openapi\.json/)
  t.same((await readdir(paths.docsDir)).sort(), ['favicon-16x16.png', 'favicon-32x32.png', 'index.html', 'openapi.json', 'swagger-initializer.js', 'swagger-ui-bundle.js', 'swagger-ui.css'])
  t.same(JSON.parse(await readFile(join(paths.docsDir, 'openapi.json'), 'utf8')), openApiDocument)
  t.equal((await lstat(join(paths.docsDir, 'index.html'))).mode & 0o777, 0o644, 'world-readable: nginx runs as www-data')
  t.equal((await lstat(paths.docsDir)).mode & 0o777, 0o755)

  await writeFile(join(paths.docsDir, 'old-asset.js'), 'from an older release')
  const second = context(paths)
  await ensureDocsPublished.run(second)
  t.same(second.changes, [`remove ${join(paths.docsDir, 'old-asset.js')}`], 'only the stale file changes')
  const third = context(paths)
  await ensureDocsPublished.run(third)
  t.same(third.changes, [], 'then nothing')
})

t.test('when the status command is installed, then it names this machine\'s URLs; again, nothing changes', { skip: !isRoot && 'files are owned by root' }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'yoyo-status-step-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const paths = { ...defaultPaths(dir), stateDir: join(dir, 'state'), statusCommand: join(dir, 'yoyo-status') }
  const first = context(paths)
  await ensureStatusCommand.run(first)
  t.same(first.changes, [`create ${paths.statusCommand}`])
  const text = await readFile(paths.statusCommand, 'utf8')
  t.match(text, `/usr/local/bin/node --disable-warning=ExperimentalWarning /opt/yoyo-platform/provision/status.ts --url http://127.0.0.1:80 --host-url http://localhost:8080`)
  t.equal((await lstat(paths.statusCommand)).mode & 0o777, 0o755)
  const again = context(paths)
  await ensureStatusCommand.run(again)
  t.same(again.changes, [])
})

// Step logic on temp paths (the real machine paths are exercised by running the provisioner).
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { lstat, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import t from 'tap'
import { readAccounts } from '../../provision/lib/accounts.ts'
import { defaultPaths } from '../../provision/lib/paths.ts'
import { pendingActions } from '../../provision/lib/pending.ts'
import { configureShell } from '../../provision/lib/shell.ts'
import { ensureAppSynced } from '../../provision/steps/ensure-app-synced.ts'
import { ensureEnvironmentFile, requireSecrets } from '../../provision/steps/ensure-environment-file.ts'
import { ensureRedisConfigured, keepDataAcrossRestart } from '../../provision/steps/redis.ts'
import { startRedis } from '../helpers/redis-server.ts'
import { hasProgram, stepContext, tempDir, writeAppTree } from '../helpers/step-context.ts'

configureShell(false)

const context = stepContext

const hasRsync = hasProgram('rsync')

t.test('when the source changes, then ensureAppSynced copies only that as root\'s read-only files, keeps the machine\'s node_modules and dist/, and --check copies nothing', { skip: !hasRsync && 'no rsync' }, async (t) => {
  const dir = await tempDir(t)
  const source = join(dir, 'src')
  const app = join(dir, 'app')
  await mkdir(join(source, 'services', 'auth-api'), { recursive: true })
  await mkdir(join(source, 'node_modules', 'x'), { recursive: true })
  await mkdir(join(source, 'dist'), { recursive: true })
  await writeFile(join(source, 'services', 'auth-api', 'main.ts'), 'one', { mode: 0o666 })
  await writeFile(join(source, 'package.json'), '{}')
  await writeFile(join(source, 'node_modules', 'x', 'index.js'), 'host build')
  await writeFile(join(source, 'dist', 'main.js'), 'host build')
  await writeFile(join(source, '.env'), 'JWT_SECRET=host-only')
  const paths = { ...defaultPaths(source), appDir: app, stateDir: join(dir, 'state') }

  const first = context(paths)
  await ensureAppSynced.run(first)
  t.match(first.changes.join('\n'), /mkdir .*app[\s\S]*copy \d+ changed path/)
  t.equal(await readFile(join(app, 'services', 'auth-api', 'main.ts'), 'utf8'), 'one')
  t.equal((await lstat(join(app, 'package.json'))).mode & 0o777, 0o640)
  t.equal((await lstat(join(app, 'services', 'auth-api', 'main.ts'))).mode & 0o777, 0o640, 'the source\'s own mode does not matter: 0640')
  t.equal((await lstat(join(app, 'services'))).mode & 0o777, 0o750)
  t.equal((await lstat(join(app, 'services', 'auth-api', 'main.ts'))).uid, 0, 'root\'s')
  for (const excluded of ['node_modules', 'dist', '.env']) t.notOk(existsSync(join(app, excluded)), `${excluded} not copied`)

  await mkdir(join(app, 'node_modules', 'pm2'), { recursive: true })
  const second = context(paths)
  await ensureAppSynced.run(second)
  t.same(second.changes, [], 'nothing to copy the second time')

  // The machine's own build (ensureAppBuilt), and what no copy should have left there.
  await mkdir(join(app, 'dist'))
  await writeFile(join(app, 'dist', 'built.js'), 'the app\'s own build')
  await writeFile(join(app, '.env'), 'JWT_SECRET=left-over')
  await writeFile(join(source, 'services', 'auth-api', 'main.ts'), 'two')
  await rm(join(source, 'package.json'))
  const check = context(paths, true)
  await ensureAppSynced.run(check)
  t.match(check.changes, [/copy \d+ changed path/])
  t.equal(await readFile(join(app, 'services', 'auth-api', 'main.ts'), 'utf8'), 'one', '--check copied nothing')

  await ensureAppSynced.run(context(paths))
  t.equal(await readFile(join(app, 'services', 'auth-api', 'main.ts'), 'utf8'), 'two')
  t.notOk(existsSync(join(app, 'package.json')), 'deleted in the source, deleted in the app')
  t.ok(existsSync(join(app, 'dist', 'built.js')), 'the app\'s own build is kept')
  t.ok(existsSync(join(app, 'node_modules', 'pm2')), 'and its node_modules')
  t.notOk(existsSync(join(app, '.env')), 'a .env in the app dir is deleted: settings are read at provisioning only')
})

const hasRedisGroup = (await readAccounts()).group('redis') !== undefined

t.test('when the Redis config is written, then only a Redis restart is owed; unchanged, nothing', { skip: !hasRedisGroup && 'no redis group (redis-server not installed)' }, async (t) => {
  const dir = await tempDir(t)
  const paths = {
    ...defaultPaths(dir),
    stateDir: join(dir, 'state'),
    configDir: join(dir, 'etc-yoyo'),
    envFile: join(dir, 'etc-yoyo', 'platform.env'),
    redisMainConfig: join(dir, 'redis.conf'),
    redisConfig: join(dir, 'yoyo-platform.conf'),
    redisAclFile: join(dir, 'yoyo-platform.acl'),
  }
  await writeFile(paths.redisMainConfig, 'port 6379\n')
  const ctx = context(paths)
  await ensureEnvironmentFile.run(ctx)
  for (const app of ['auth', 'transactions', 'loyalty', 'dashboard']) await ctx.pending.done(`pm2-reload:${app}`)
  await ensureRedisConfigured.run(ctx)
  t.ok(await ctx.pending.has('redis-restart'))
  t.notOk(await ctx.pending.has('nginx-reload'))
  t.notOk(await ctx.pending.has('pm2-reload:auth'))
  const text = await readFile(paths.redisConfig, 'utf8')
  t.match(text, `\naclfile ${paths.redisAclFile}\n`)
  t.equal((await lstat(paths.redisConfig)).mode & 0o777, 0o640)
  const users = await readFile(paths.redisAclFile, 'utf8')
  t.equal((await lstat(paths.redisAclFile)).mode & 0o777, 0o640)
  t.match(users, /^user default off /m)
  for (const user of ['provisioner', 'auth', 'transactions', 'loyalty', 'dashboard']) t.match(users, new RegExp(`^user ${user} on #[0-9a-f]{64} `, 'm'))
  const secrets = ctx.shared.secrets!
  for (const password of [secrets.REDIS_PASSWORD, ...Object.values(secrets.redisApps)]) t.notOk(users.includes(password), 'no password in the ACL file, only its hash')
  t.match(await readFile(paths.redisMainConfig, 'utf8'), `\ninclude ${paths.redisConfig}\n`)

  await ctx.pending.done('redis-restart')
  const again = context(paths)
  await ensureRedisConfigured.run(again)
  t.same(again.changes, [])
  t.notOk(await again.pending.has('redis-restart'), 'no restart when nothing changed')
})

t.test('when a step needs the secrets and the env file has none, then it fails rather than invent a password', async (t) => {
  const dir = await tempDir(t)
  const paths = { ...defaultPaths(dir), envFile: join(dir, 'missing.env'), stateDir: join(dir, 'state') }
  await t.rejects(requireSecrets(context(paths)), /lacks JWT_SECRET, REDIS_PASSWORD, QUEUE_DASHBOARD_PASSWORD, REDIS_URL_AUTH, .*: run the ensureEnvironmentFile step first/)
  const secrets = await requireSecrets(context(paths, true))
  t.ok(secrets.REDIS_PASSWORD, 'under --check a missing file is just drift')
})

t.test('when a pending action is marked, then it survives into the next run until done; --check keeps it in memory', async (t) => {
  const dir = await tempDir(t)
  const live = pendingActions(join(dir, 'pending'), false)
  await live.add('nginx-reload')
  t.ok(await pendingActions(join(dir, 'pending'), false).has('nginx-reload'), 'a later run sees it')
  await live.done('nginx-reload')
  t.notOk(await pendingActions(join(dir, 'pending'), false).has('nginx-reload'))
  const check = pendingActions(join(dir, 'pending'), true)
  await check.add('redis-restart')
  t.ok(await check.has('redis-restart'))
  t.notOk(existsSync(join(dir, 'pending', 'redis-restart')), '--check writes nothing')
})

t.test('when Redis ran without the append-only file, then it is switched on live so a restart with AOF keeps the data', async (t) => {
  const redis = await startRedis(['--appendonly', 'no'])
  t.teardown(() => redis.stop())
  await redis.client.set('user:alice', 'still here')
  // A Redis from before the platform had users: one password, `default`'s, which the env file kept as the provisioner's.
  const legacy = 'l'.repeat(43)
  await redis.client.call('ACL', 'SETUSER', 'default', 'on', `>${legacy}`, '~*', '&*', '+@all')
  t.equal(await keepDataAcrossRestart('not-the-password', redis.port), undefined, 'a wrong password finds nothing to do (and does not hang)')
  t.match(await keepDataAcrossRestart(legacy, redis.port), /switched the running Redis to the append-only file/)
  t.equal(await keepDataAcrossRestart(legacy, redis.port), undefined, 'already on: nothing to do')
  t.equal(await keepDataAcrossRestart(redis.passwords.provisioner!, redis.port), undefined, "read as the provisioner's user: already on")
  await redis.kill()
  // Restarted as the provisioner's config has it: appendonly yes, same data directory.
  const restarted = spawn('redis-server', ['--port', String(redis.port), '--bind', '127.0.0.1', '--dir', redis.dir, '--requirepass', legacy, '--appendonly', 'yes', '--save', ''], { stdio: 'ignore' })
  t.teardown(() => restarted.kill('SIGKILL'))
  const client = new Redis({ port: redis.port, password: legacy, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
  client.on('error', () => {})
  t.teardown(() => client.disconnect())
  for (let i = 0; ; i++) {
    try {
      await client.connect()
      break
    } catch (err) {
      if (i > 100) throw err
      await sleep(50)
    }
  }
  t.equal(await client.get('user:alice'), 'still here')
})

const asRoot = process.getuid?.() === 0

t.test('when one service\'s folder changes, then the build is owed a reload of that app only; when shared code changes, of every app', { skip: !asRoot && 'node_modules and dist/ must be root\'s: run as root' }, async (t) => {
  const dir = await tempDir(t)
  const paths = { ...defaultPaths(dir), appDir: join(dir, 'app'), stateDir: join(dir, 'state') }
  const app = paths.appDir
  await writeAppTree(app, ['services/shared/a.ts'])
  for (const dir of ['node_modules', 'provision/node_modules']) await mkdir(join(app, dir), { recursive: true })
  const { hashTree } = await import('../../provision/lib/hash.ts')
  const { writeStamp } = await import('../../provision/lib/stamps.ts')
  const { dependencyInputs, ensureAppBuilt } = await import('../../provision/steps/ensure-app-built.ts')
  // As a finished install leaves it: the dependencies' stamp current.
  await writeStamp(paths.stateDir, 'app-dependencies', `production, root-owned ${await hashTree(app, dependencyInputs)}`)
  const firstRun = context(paths, true)
  await ensureAppBuilt.run(firstRun)
  t.same(firstRun.changes, [`build dist/ in ${app} (for every app)`], 'nothing known yet: every app, and no npm ci')

  const stampAll = async (): Promise<void> => {
    await writeStamp(paths.stateDir, 'app-build', `stripped ${await hashTree(app, ['services', 'platform.json'])}`)
    await writeStamp(paths.stateDir, 'app-build-shared', await hashTree(app, ['services/shared', 'platform.json', 'package.json', 'package-lock.json']))
    for (const [name, source] of [['auth', 'auth-api'], ['transactions', 'transaction-api'], ['loyalty', 'loyalty-worker'], ['dashboard', 'queue-dashboard']]) {
      await writeStamp(paths.stateDir, `app-build-${name}`, await hashTree(app, [`services/${source}`]))
    }
  }
  await stampAll()
  const unchanged = context(paths, true)
  await ensureAppBuilt.run(unchanged)
  t.same(unchanged.changes, [], 'installed, built and current: nothing')

  await writeFile(join(app, 'services/auth-api/main.ts'), 'changed\n')
  const oneApp = context(paths, true)
  await ensureAppBuilt.run(oneApp)
  t.same(oneApp.changes, [`build dist/ in ${app} (for auth)`])
  t.ok(await oneApp.pending.has('pm2-reload:auth'), 'auth owes a reload')
  for (const other of ['transactions', 'loyalty', 'dashboard']) t.notOk(await oneApp.pending.has(`pm2-reload:${other}`), `${other} does not`)
  t.notOk(await oneApp.pending.has('pm2-reload'))

  await stampAll()
  await writeFile(join(app, 'services/shared/a.ts'), 'changed\n')
  const shared = context(paths, true)
  await ensureAppBuilt.run(shared)
  t.same(shared.changes, [`build dist/ in ${app} (for every app)`])
  t.ok(await shared.pending.has('pm2-reload'), 'shared code: every app')

  await stampAll()
  const nothingMore = context(paths, true)
  await ensureAppBuilt.run(nothingMore)
  t.same(nothingMore.changes, [], 'stamped: nothing')
})

t.test('when the dependencies were installed the old way (every one, owned by the app user), then they are installed again, production only, as root', { skip: !asRoot && 'needs root (chown)' }, async (t) => {
  const dir = await tempDir(t)
  const paths = { ...defaultPaths(dir), appDir: join(dir, 'app'), stateDir: join(dir, 'state') }
  const app = paths.appDir
  for (const file of ['package.json', 'package-lock.json', 'platform.json', ...['auth-api', 'transaction-api', 'loyalty-worker', 'queue-dashboard'].map((s) => `services/${s}/main.ts`)]) {
    await mkdir(join(app, file, '..'), { recursive: true })
    await writeFile(join(app, file), `${file}\n`)
  }
  const { hashTree } = await import('../../provision/lib/hash.ts')
  const { writeStamp } = await import('../../provision/lib/stamps.ts')
  const { dependencyInputs, ensureAppBuilt } = await import('../../provision/steps/ensure-app-built.ts')
  const oldStamp = await hashTree(app, dependencyInputs)
  await writeStamp(paths.stateDir, 'app-dependencies', oldStamp)
  for (const dir of ['node_modules', 'provision/node_modules']) await mkdir(join(app, dir), { recursive: true })
  const stale = context(paths, true)
  await ensureAppBuilt.run(stale)
  t.match(stale.changes, [/^npm ci --omit=dev in .* \(production dependencies, as root\)$/, /^build dist\/ in .* \(for every app\)$/], 'the old stamp: installed again')
  t.ok(await stale.pending.has('pm2-reload'), 'new dependencies: every app')

  await writeStamp(paths.stateDir, 'app-dependencies', `production, root-owned ${oldStamp}`)
  const { chown } = await import('node:fs/promises')
  await chown(join(app, 'node_modules'), 1, 1)
  const notRoots = context(paths, true)
  await ensureAppBuilt.run(notRoots)
  t.match(notRoots.changes, [/^npm ci --omit=dev/, /^build dist\/ .*\(for every app\)$/], 'node_modules not root\'s: installed again')

  // The provisioner's own dependencies too (yoyo-status runs from the app dir): found by a re-provision
  // after a provision/node_modules was left the app user's.
  await chown(join(app, 'node_modules'), 0, 0)
  await chown(join(app, 'provision', 'node_modules'), 1, 1)
  const provisionerNotRoots = context(paths, true)
  await ensureAppBuilt.run(provisionerNotRoots)
  t.match(provisionerNotRoots.changes, [/^npm ci --omit=dev/], 'provision/node_modules not root\'s: installed again')
})

t.test('when dist/ is the app user\'s (tsc ran as yoyo in an older layout), then it is built again as root\'s', { skip: !asRoot && 'needs root (chown)' }, async (t) => {
  const dir = await tempDir(t)
  const paths = { ...defaultPaths(dir), appDir: join(dir, 'app'), stateDir: join(dir, 'state') }
  const app = paths.appDir
  await writeAppTree(app, ['services/shared/a.ts'])
  await writeFile(join(app, 'platform.json'), '{}\n')
  for (const dir of ['node_modules', 'provision/node_modules']) await mkdir(join(app, dir), { recursive: true })
  const { hashTree } = await import('../../provision/lib/hash.ts')
  const { writeStamp } = await import('../../provision/lib/stamps.ts')
  const { dependencyInputs, ensureAppBuilt } = await import('../../provision/steps/ensure-app-built.ts')
  await writeStamp(paths.stateDir, 'app-dependencies', `production, root-owned ${await hashTree(app, dependencyInputs)}`)
  await writeStamp(paths.stateDir, 'app-build', `stripped ${await hashTree(app, ['services', 'platform.json'])}`)
  const { chown } = await import('node:fs/promises')
  await writeFile(join(app, 'dist', 'services', 'auth-api', 'main.js.map'), 'a tsc source map')
  await chown(join(app, 'dist'), 1, 1)
  const ctx = context(paths)
  await ensureAppBuilt.run(ctx)
  t.match(ctx.changes, [/^build dist\/ in /])
  t.equal((await lstat(join(app, 'dist'))).uid, 0, 'dist/ is root\'s')
  t.equal(await readFile(join(app, 'dist', 'services', 'auth-api', 'main.js'), 'utf8'), 'services/auth-api/main.ts\n', 'built from the source')
  t.notOk(existsSync(join(app, 'dist', 'services', 'auth-api', 'main.js.map')), 'nothing of the old build is left')
  t.equal(await readFile(join(app, 'dist', 'platform.json'), 'utf8'), '{}\n', 'the manifest beside the services')
  const again = context(paths)
  await ensureAppBuilt.run(again)
  t.same(again.changes, [], 'built: nothing the second time')
})

t.test('when the package\'s default site claims the default server, then it goes before the router site is validated (found by test:vm on a fresh machine)', { skip: !asRoot && 'needs root (chown)' }, async (t) => {
  const dir = await tempDir(t)
  const nginx = join(dir, 'nginx')
  await mkdir(join(nginx, 'sites-available'), { recursive: true })
  await mkdir(join(nginx, 'sites-enabled'))
  const paths = {
    ...defaultPaths(dir), stateDir: join(dir, 'state'),
    nginxSite: join(nginx, 'sites-available', 'yoyo-platform.conf'),
    nginxSiteLink: join(nginx, 'sites-enabled', 'yoyo-platform.conf'),
    nginxDefaultSite: join(nginx, 'sites-enabled', 'default'),
  }
  await writeFile(paths.nginxDefaultSite, 'server { listen 80 default_server; }\n')
  // What nginx -t says when both sites are enabled: a duplicate default server.
  const validate = async () => {
    if (existsSync(paths.nginxDefaultSite) && existsSync(paths.nginxSiteLink)) throw new Error('a duplicate default server for 0.0.0.0:80')
  }
  const { ensureRouterSite } = await import('../../provision/steps/nginx.ts')
  const ctx = context(paths)
  t.equal(await ensureRouterSite(ctx, validate), true)
  t.notOk(existsSync(paths.nginxDefaultSite), 'the default site is gone')
  t.ok(existsSync(paths.nginxSiteLink), 'the router site is enabled')
  t.equal(await ensureRouterSite(context(paths), validate), false, 'again: nothing to do')
})

import { factCache } from '../../provision/lib/facts.ts'
import { lstat, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { parseDotenv, resolveSettings } from '../../provision/lib/settings.ts'
import { renderEnvFile, resolveSecrets } from '../../provision/lib/env-file.ts'
import { defaultPaths } from '../../provision/lib/paths.ts'
import { pendingActions } from '../../provision/lib/pending.ts'
import { runSteps } from '../../provision/lib/runner.ts'
import { ensureEnvironmentFile } from '../../provision/steps/ensure-environment-file.ts'
import { appNamesOf, platform } from '../../services/shared/platform.ts'
import { ownRedisUrlVariable } from '../../services/shared/redis-users.ts'

const appRedisUrls = appNamesOf(platform).map(ownRedisUrlVariable)

const counter = () => {
  let n = 0
  return (bytes: number) => `generated-${++n}-`.padEnd(Math.ceil((bytes * 4) / 3), 'x')
}

t.test('when there is no env file, then every secret is generated', async (t) => {
  const { secrets, generated } = resolveSecrets(undefined, counter())
  t.same(generated, ['JWT_SECRET', 'REDIS_PASSWORD', 'QUEUE_DASHBOARD_PASSWORD', ...appRedisUrls])
  t.equal(secrets.JWT_SECRET.length, 64)
  t.equal(secrets.REDIS_PASSWORD.length, 43)
  t.same(Object.keys(secrets.redisApps), appNamesOf(platform), 'a Redis password per app of platform.json')
})

t.test('when the env file has usable secrets, then they are reused; a missing or weak one is replaced', async (t) => {
  const jwt = 'j'.repeat(64)
  const existing = `JWT_SECRET=${jwt}\nREDIS_PASSWORD=short\n`
  const { secrets, generated } = resolveSecrets(existing, counter())
  t.equal(secrets.JWT_SECRET, jwt)
  t.same(generated, ['REDIS_PASSWORD', 'QUEUE_DASHBOARD_PASSWORD', ...appRedisUrls])
})

t.test("when an env file of before Redis had users is read, then its password stays the provisioner's and each app gets a new one", async (t) => {
  const old = 'o'.repeat(43)
  const existing = `JWT_SECRET=${'j'.repeat(64)}\nREDIS_PASSWORD=${old}\nREDIS_URL=redis://:${old}@127.0.0.1:6379/0\nQUEUE_DASHBOARD_PASSWORD=${'q'.repeat(32)}\n`
  const { secrets, generated } = resolveSecrets(existing, counter())
  t.equal(secrets.REDIS_PASSWORD, old, 'the old password still reaches the old Redis (as `default`) on the upgrade')
  t.same(generated, appRedisUrls)
  const text = renderEnvFile(secrets, resolveSettings({}))
  t.notMatch(text, /^REDIS_URL=/m, 'no URL with the old all-powerful password')
})

t.test("when an app's Redis URL names another user, then its password is not taken", async (t) => {
  const { secrets } = resolveSecrets(undefined)
  const text = renderEnvFile(secrets, resolveSettings({})).replace(/^REDIS_URL_AUTH=redis:\/\/auth:/m, 'REDIS_URL_AUTH=redis://loyalty:')
  const again = resolveSecrets(text)
  t.same(again.generated, ['REDIS_URL_AUTH'])
  t.equal(again.secrets.redisApps.loyalty, secrets.redisApps.loyalty)
})

t.test('when real random secrets are made, then they are long, URL-safe and different', async (t) => {
  const a = resolveSecrets(undefined).secrets
  const b = resolveSecrets(undefined).secrets
  for (const value of [a.JWT_SECRET, a.REDIS_PASSWORD, a.QUEUE_DASHBOARD_PASSWORD, ...Object.values(a.redisApps)]) t.match(value, /^[A-Za-z0-9_-]{32,}$/)
  t.not(a.JWT_SECRET, b.JWT_SECRET)
  t.not(a.JWT_SECRET, a.REDIS_PASSWORD)
})

t.test("when the env file is rendered, then each app's Redis URL names its own user and password and unset service settings stay comments", async (t) => {
  const { secrets } = resolveSecrets(undefined)
  const text = renderEnvFile(secrets, resolveSettings({ TOKEN_TTL_SECONDS: '45' }))
  const values = parseDotenv(text)
  for (const app of appNamesOf(platform)) t.equal(values[ownRedisUrlVariable(app)], `redis://${app}:${secrets.redisApps[app]}@127.0.0.1:6379/0`)
  t.equal(values.REDIS_URL, undefined, 'no shared URL: an app without its own falls back to no password, and is refused')
  t.equal(new Set(Object.values(secrets.redisApps)).size, appNamesOf(platform).length, 'every app a different password')
  t.equal(values.JWT_SECRET, secrets.JWT_SECRET)
  t.equal(values.TOKEN_TTL_SECONDS, '45')
  t.equal(values.LOG_LEVEL, undefined)
  t.match(text, /^# LOG_LEVEL= +\(not set/m)
  t.same(resolveSecrets(text).generated, [], 'what we write we read back')
})

t.test('when ensureEnvironmentFile runs twice, then the secrets are kept, the file is 0600, nothing is printed, the second run is ok', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'yoyo-env-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const paths = { ...defaultPaths(dir), configDir: join(dir, 'etc'), envFile: join(dir, 'etc', 'platform.env'), stateDir: join(dir, 'state') }
  const lines: string[] = []
  const run = async (check = false, env: Record<string, string> = {}) =>
    runSteps([ensureEnvironmentFile], {
      check,
      verbose: true,
      paths,
      appUser: 'root',
      settings: resolveSettings(env),
      runtime: { node: process.execPath, systemd: false, loginUsers: [] },
      pending: pendingActions(join(dir, 'state', 'pending'), check),
      facts: factCache(),
      shared: {},
    }, { check, quiet: false, verbose: true, write: (line) => lines.push(line) })

  const first = await run()
  t.equal(first[0]!.status, 'changed')
  const text = await readFile(paths.envFile, 'utf8')
  const secrets = parseDotenv(text)
  t.equal((await lstat(paths.envFile)).mode & 0o777, 0o600)
  t.equal((await lstat(paths.configDir)).mode & 0o777, 0o750)
  for (const app of ['auth', 'transactions', 'loyalty', 'dashboard']) t.ok(await lstat(join(dir, 'state', 'pending', `pm2-reload:${app}`)), `${app} owes a reload`)

  const second = await run()
  t.equal(second[0]!.status, 'ok')
  t.equal(await readFile(paths.envFile, 'utf8'), text, 'same secrets')
  t.equal((await run(true))[0]!.status, 'ok', '--check: no drift')

  await rm(join(dir, 'state', 'pending'), { recursive: true, force: true })
  const changed = await run(false, { TOKEN_TTL_SECONDS: '45' })
  t.equal(changed[0]!.status, 'changed')
  t.same((await readdir(join(dir, 'state', 'pending'))).sort(), ['pm2-reload:auth'], 'only the app that reads the setting owes a reload')
  await run(false, { LOG_LEVEL: 'debug' })
  t.same((await readdir(join(dir, 'state', 'pending'))).sort(), ['pm2-reload:auth', 'pm2-reload:dashboard', 'pm2-reload:loyalty', 'pm2-reload:transactions'], 'a setting every app reads: all')
  // A new Redis password for one app (its URL line removed): only that app owes a reload.
  await rm(join(dir, 'state', 'pending'), { recursive: true, force: true })
  await writeFile(paths.envFile, (await readFile(paths.envFile, 'utf8')).replace(/^REDIS_URL_LOYALTY=.*\n/m, ''))
  await run(false, { LOG_LEVEL: 'debug' })
  t.same(await readdir(join(dir, 'state', 'pending')), ['pm2-reload:loyalty'], "an app's own Redis URL: that app alone")
  const after = parseDotenv(await readFile(paths.envFile, 'utf8'))
  t.equal(after.LOG_LEVEL, 'debug')
  t.equal(after.TOKEN_TTL_SECONDS, undefined, 'a setting no longer set is no longer in the file')
  t.equal(after.JWT_SECRET, secrets.JWT_SECRET, 'a settings change keeps the secrets')

  const printed = lines.join('\n')
  t.match(printed, /new secrets: JWT_SECRET, REDIS_PASSWORD, QUEUE_DASHBOARD_PASSWORD, REDIS_URL_AUTH/)
  for (const name of ['JWT_SECRET', 'REDIS_PASSWORD', 'QUEUE_DASHBOARD_PASSWORD', ...appRedisUrls]) {
    t.notOk(printed.includes(secrets[name]!), `${name} never printed`)
  }
  for (const app of appNamesOf(platform)) t.notOk(printed.includes(new URL(secrets[ownRedisUrlVariable(app)]!).password), `${app}'s Redis password never printed`)
})

t.test('when the env file is damaged, then only the damaged secret is regenerated', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'yoyo-env-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const { secrets } = resolveSecrets(undefined)
  const file = join(dir, 'platform.env')
  await writeFile(file, renderEnvFile(secrets, resolveSettings({})).replace(/^JWT_SECRET=.*$/m, 'JWT_SECRET='))
  const again = resolveSecrets(await readFile(file, 'utf8'))
  t.same(again.generated, ['JWT_SECRET'])
  t.equal(again.secrets.REDIS_PASSWORD, secrets.REDIS_PASSWORD)
})

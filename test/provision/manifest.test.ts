// platform.json is the one list of apps and settings: a copy with a fifth app shows up in everything
// derived from it, and a manifest that names what does not exist is refused when loaded.
import { execFile } from 'node:child_process'
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { renderRouterConfig } from '../../nginx/render.ts'
import { routesOf } from '../../nginx/routes.ts'
import { repoRoot } from '../../provision/lib/paths.ts'
import { appEnvironmentOf, machineSettingsOf, resolveSettings, userServiceSettingsOf } from '../../provision/lib/settings.ts'
import { renderEnvExample } from '../../provision/render/env-example.ts'
import { serviceEntriesOf } from '../../provision/steps/ensure-app-built.ts'
import { loadConfig } from '../../services/shared/config.ts'
import { checkManifest, configSchemaOf, platform, type PlatformManifest, publicHealthPathsOf, sourceEntryOf } from '../../services/shared/platform.ts'

const run = promisify(execFile)

/** platform.json with a fifth app, a Reports API, and a setting of its own. */
function withFifthApp(): PlatformManifest {
  const copy = structuredClone(platform)
  copy.apps.reports = {
    title: 'Reports API',
    source: 'services/reports-api',
    port: 'REPORTS_PORT',
    route: { prefix: '/reports' },
    health: '/health',
    process: { mode: 'cluster', instances: 'REPORTS_INSTANCES' },
  }
  copy.settings.REPORTS_PORT = { scope: 'machine', type: 'integer', minimum: 1, maximum: 65535, default: 5004, about: 'the Reports API HTTP port' }
  copy.settings.REPORTS_INSTANCES = { scope: 'machine', type: 'integer', minimum: 1, maximum: 8, default: 3, about: 'Reports API processes' }
  copy.settings.REPORTS_PAGE_SIZE = { scope: 'service', apps: ['reports'], type: 'integer', minimum: 1, maximum: 500, default: 50, about: 'rows per page' }
  return checkManifest(copy)
}

t.test('when a fifth app is added to a copy of the manifest, then every derived output includes it', async (t) => {
  const manifest = withFifthApp()

  const routes = routesOf(manifest)
  t.match(routes, [{ service: 'auth' }, { service: 'transactions' }, { service: 'loyalty' }, { service: 'dashboard' }, { prefix: '/reports', service: 'reports' }, { site: 'docs' }], 'the routes')
  const nginx = renderRouterConfig({ listen: 80, routes, upstreams: { reports: '127.0.0.1:5004' }, accessLog: 'off' })
  t.match(nginx, /upstream yoyo_reports \{\n\s+server 127\.0\.0\.1:5004;/, 'an nginx upstream')
  t.match(nginx, /location \/reports\/ \{/, 'an nginx location')

  const settings = resolveSettings({ REPORTS_PAGE_SIZE: '100' }, {}, manifest)
  t.equal(settings.ports.reports, 5004, "the provisioner's ports")
  t.same(settings.service, { REPORTS_PAGE_SIZE: '100' }, 'its setting passed to the services')
  t.throws(() => resolveSettings({ REPORTS_PORT: '5000' }, {}, manifest), /REPORTS_PORT must all differ/, 'its port checked against the others')
  t.ok('REPORTS_PORT' in machineSettingsOf(manifest) && 'REPORTS_PAGE_SIZE' in userServiceSettingsOf(manifest), 'the settings a user may set')
  t.match(appEnvironmentOf(manifest, settings), { REPORTS_PORT: '5004', REPORTS_INSTANCES: '3' }, "PM2's environment")
  t.ok(serviceEntriesOf(manifest).includes('dist/services/reports-api/main.js'), 'what the build must produce')
  t.ok(publicHealthPathsOf(manifest).some((p) => p.name === 'reports' && p.path === '/reports/health'), 'yoyo-status and the smoke test')
  t.equal(sourceEntryOf(manifest, 'reports'), 'services/reports-api/main.ts', 'npm run dev and the test harnesses')
  t.match(renderEnvExample(manifest), /# REPORTS_PORT=5004\n[\s\S]*# REPORTS_PAGE_SIZE=50\n/, '.env.example')

  const config = loadConfig(configSchemaOf(manifest, 'reports'), { REPORTS_PAGE_SIZE: '10' })
  t.same(config, { HTTP_PORT: 5004, HTTP_HOST: '127.0.0.1', REDIS_URL: 'redis://127.0.0.1:6379/0', LOG_LEVEL: 'info', SHUTDOWN_TIMEOUT_MS: 8000, REPORTS_PAGE_SIZE: 10 }, "the app's own config schema")

  // The PM2 ecosystem, loaded as PM2 loads it, beside the copy.
  const dir = await mkdtemp(join(tmpdir(), 'yoyo-manifest-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await copyFile(join(repoRoot, 'ecosystem.config.cjs'), join(dir, 'ecosystem.config.cjs'))
  await writeFile(join(dir, 'platform.json'), JSON.stringify(manifest))
  const { stdout } = await run(process.execPath, ['-e', `process.stdout.write(JSON.stringify(require(${JSON.stringify(join(dir, 'ecosystem.config.cjs'))}).apps))`], {
    env: { PATH: process.env.PATH ?? '', YOYO_ENV_FILE: '/nonexistent', REPORTS_INSTANCES: '4' },
  })
  const apps = JSON.parse(stdout) as { name: string; script: string; exec_mode: string; instances: number; env: { HTTP_PORT: string } }[]
  t.same(apps.at(-1), { ...apps.at(-1), name: 'reports', script: 'dist/services/reports-api/main.js', exec_mode: 'cluster', instances: 4, env: { ...apps.at(-1)!.env, HTTP_PORT: '5004' } }, 'a PM2 app')
  t.equal(apps.length, 5)
})

t.test('when the manifest names what does not exist, then loading it fails saying what', async (t) => {
  const broken = structuredClone(platform) as PlatformManifest
  broken.apps.auth!.port = 'NO_SUCH_PORT'
  broken.settings.TOKEN_TTL_SECONDS!.apps = ['nobody']
  broken.apps.loyalty!.route.prefix = '/authentication'
  t.throws(() => checkManifest(broken), /apps\.auth\.port names NO_SUCH_PORT[\s\S]*settings\.TOKEN_TTL_SECONDS\.apps names nobody[\s\S]*two routes share a prefix/)
  t.throws(() => checkManifest({ ...platform, apps: { auth: { title: 'no source' } } }), /platform\.json is invalid: apps\.auth\.source must be a string; .*apps\.auth\.route\.prefix must be/)
  t.throws(() => checkManifest({ ...platform, settings: { lower_case: { scope: 'service', type: 'integer', about: 'x', apps: 'all' } } }), /settings\.lower_case: a setting's name is UPPER_SNAKE_CASE/)
  t.throws(() => checkManifest({ apps: {} }), /it must have apps, sites and settings/)
})

t.test('when platform.json is checked against platform.schema.json (what editors check as it is typed), then it is valid, and a broken copy is not', async (t) => {
  const { Ajv2020 } = await import('ajv/dist/2020.js')
  const read = async (file: string): Promise<unknown> => JSON.parse(await import('node:fs/promises').then((fs) => fs.readFile(join(repoRoot, file), 'utf8')))
  const validate = new Ajv2020({ allErrors: true, allowUnionTypes: true }).compile(await read('platform.schema.json') as object)
  t.ok(validate(await read('platform.json')), `valid (${JSON.stringify(validate.errors)})`)
  const broken = structuredClone(platform) as unknown as { apps: { auth: { process: { mode: string } } } }
  broken.apps.auth.process.mode = 'daemon'
  t.notOk(validate(broken), 'an unknown process mode is refused')
})

t.test('when the repository lists apps or settings, then it is platform.json, once', async (t) => {
  // The places that used to write the list again now derive it: none names every app by hand.
  for (const file of ['ecosystem.config.cjs', 'scripts/dev.ts', 'provision/steps/pm2.ts', 'provision/lib/settings.ts', 'provision/lib/status.ts', 'provision/steps/ensure-app-built.ts', 'nginx/routes.ts', 'Vagrantfile']) {
    const text = await import('node:fs/promises').then((fs) => fs.readFile(join(repoRoot, file), 'utf8'))
    t.notMatch(text, /'auth'[\s\S]{0,80}'transactions'[\s\S]{0,80}'loyalty'/, `${file} has no list of the apps`)
    t.notMatch(text, /AUTH_PORT[\s\S]{0,120}TRANSACTIONS_PORT/, `${file} has no list of the ports`)
  }
})

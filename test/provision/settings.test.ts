import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { parseDotenv, resolveSettings } from '../../provision/lib/settings.ts'

const run = promisify(execFile)

t.test('when nothing is set, then the defaults apply and service settings are left to the services', async (t) => {
  t.same(resolveSettings({}), {
    nginxPort: 80,
    hostPort: 80,
    ports: { auth: 5000, transactions: 5001, loyalty: 5002, dashboard: 5003 },
    loyaltyInstances: 2,
    redisMaxmemory: '256mb',
    machine: {
      NGINX_PORT: '80',
      AUTH_PORT: '5000',
      TRANSACTIONS_PORT: '5001',
      LOYALTY_PORT: '5002',
      DASHBOARD_PORT: '5003',
      LOYALTY_INSTANCES: '2',
      REDIS_MAXMEMORY: '256mb',
    },
    service: {},
  })
})

t.test('when a setting is in both the environment and .env, then the environment wins', async (t) => {
  const settings = resolveSettings(
    { NGINX_PORT: '8081', LOG_LEVEL: '' },
    { NGINX_PORT: '9000', LOYALTY_INSTANCES: '4', LOG_LEVEL: 'debug', TOKEN_TTL_SECONDS: '60', REDIS_MAXMEMORY: '1GB' },
  )
  t.equal(settings.nginxPort, 8081)
  t.equal(settings.loyaltyInstances, 4)
  t.equal(settings.redisMaxmemory, '1gb')
  t.same(settings.service, { LOG_LEVEL: 'debug', TOKEN_TTL_SECONDS: '60' }, 'an empty variable counts as unset')
})

t.test('when the retention and admission settings are given, then they are passed to the services', async (t) => {
  const settings = resolveSettings({ TRANSACTION_RETENTION: '7d', QUEUE_MAX_BACKLOG: '20000', REDIS_MEMORY_HIGH_WATER_PERCENT: '80' })
  t.same(settings.service, { TRANSACTION_RETENTION: '7d', QUEUE_MAX_BACKLOG: '20000', REDIS_MEMORY_HIGH_WATER_PERCENT: '80' })
})

t.test('when settings are bad, then one error names every bad variable without echoing values', async (t) => {
  let error: Error | undefined
  try {
    resolveSettings({
      NGINX_PORT: '99999',
      LOYALTY_INSTANCES: 'two',
      LOG_LEVEL: 'loud',
      REDIS_MAXMEMORY: 'lots',
      TOKEN_TTL_SECONDS: '-5',
      TRANSACTION_RETENTION: 'a week',
      QUEUE_MAX_BACKLOG: '0',
      REDIS_MEMORY_HIGH_WATER_PERCENT: '100',
    })
  } catch (err) {
    error = err as Error
  }
  t.equal(error?.name, 'SettingsError')
  for (const name of ['NGINX_PORT', 'LOYALTY_INSTANCES', 'LOG_LEVEL', 'REDIS_MAXMEMORY', 'TOKEN_TTL_SECONDS', 'TRANSACTION_RETENTION', 'QUEUE_MAX_BACKLOG', 'REDIS_MEMORY_HIGH_WATER_PERCENT']) {
    t.match(error?.message, name)
  }
  t.notMatch(error?.message, /loud|lots|two/)
})

t.test('when two ports are the same, then it is refused', async (t) => {
  t.throws(() => resolveSettings({ NGINX_PORT: '5000' }), /must all differ/)
  t.throws(() => resolveSettings({ DASHBOARD_PORT: '5002' }), /must all differ/, 'the dashboard\'s port too')
})

t.test('when HOST_PORT is set (Vagrant passes its forward), then the summary\'s port follows it, else nginx\'s own', async (t) => {
  t.equal(resolveSettings({ HOST_PORT: '8080' }).hostPort, 8080)
  t.equal(resolveSettings({ NGINX_PORT: '8081' }).hostPort, 8081)
  t.equal(resolveSettings({ HOST_PORT: '80', NGINX_PORT: '80' }).hostPort, 80, 'may equal nginx\'s port')
  t.throws(() => resolveSettings({ HOST_PORT: 'eighty' }), /HOST_PORT must be an integer/)
})

t.test('when a .env file has comments, quotes and export, then parseDotenv reads the values as node --env-file does', async (t) => {
  const text = '# comment\n\nexport NGINX_PORT=8080\nLOG_LEVEL="debug"\nA=\'x y\'\nB=plain # trailing comment\nC = spaced\r\n'
  t.same(parseDotenv(text), { NGINX_PORT: '8080', LOG_LEVEL: 'debug', A: 'x y', B: 'plain', C: 'spaced' })
  // The same file through Node itself: what a service started with --env-file sees.
  const dir = await mkdtemp(join(tmpdir(), 'yoyo-env-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'x.env'), text)
  const { stdout } = await run(process.execPath, [`--env-file=${join(dir, 'x.env')}`, '-p', 'JSON.stringify([process.env.NGINX_PORT, process.env.LOG_LEVEL, process.env.A, process.env.B, process.env.C])'], { env: {} })
  t.same(JSON.parse(stdout), ['8080', 'debug', 'x y', 'plain', 'spaced'])
})

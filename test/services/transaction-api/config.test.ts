import t from 'tap'
import { ConfigError } from '../../../services/shared/config.ts'
import { loadTransactionApiConfig } from '../../../services/transaction-api/config.ts'
import { runEntry } from '../../helpers/run-entry.ts'

const secret = 'a-secret-that-must-never-be-printed-0123456789'

t.test('when only JWT_SECRET is set, then the defaults apply', async (t) => {
  t.same(loadTransactionApiConfig({ JWT_SECRET: secret }), {
    HTTP_PORT: 5001,
    HTTP_HOST: '127.0.0.1',
    REDIS_URL: 'redis://127.0.0.1:6379/0',
    JWT_SECRET: secret,
    LOG_LEVEL: 'info',
    SHUTDOWN_TIMEOUT_MS: 8000,
    IDEMPOTENCY_TTL_SECONDS: 86400,
    REDIS_MEMORY_HIGH_WATER_PERCENT: 90,
  })
})

t.test('when every setting is given, then they are read and typed', async (t) => {
  const config = loadTransactionApiConfig({
    JWT_SECRET: secret,
    HTTP_PORT: '6001',
    HTTP_HOST: '0.0.0.0',
    REDIS_URL: 'redis://:pw@redis.local:6380/2',
    LOG_LEVEL: 'warn',
    SHUTDOWN_TIMEOUT_MS: '3000',
    IDEMPOTENCY_TTL_SECONDS: '3600',
    QUEUE_MAX_BACKLOG: '5000',
    REDIS_MEMORY_HIGH_WATER_PERCENT: '80',
    UNRELATED: 'ignored',
  })
  t.same(config, {
    JWT_SECRET: secret,
    HTTP_PORT: 6001,
    HTTP_HOST: '0.0.0.0',
    REDIS_URL: 'redis://:pw@redis.local:6380/2',
    LOG_LEVEL: 'warn',
    SHUTDOWN_TIMEOUT_MS: 3000,
    IDEMPOTENCY_TTL_SECONDS: 3600,
    QUEUE_MAX_BACKLOG: 5000,
    REDIS_MEMORY_HIGH_WATER_PERCENT: 80,
  })
})

t.test('when a setting is bad, then a ConfigError names it without echoing its value', async (t) => {
  const cases: [string, Record<string, string | undefined>, RegExp][] = [
    ['no JWT_SECRET', { JWT_SECRET: undefined }, /JWT_SECRET is required/],
    ['an empty JWT_SECRET', { JWT_SECRET: '' }, /JWT_SECRET is required/],
    ['a short JWT_SECRET', { JWT_SECRET: 'short-secret-31-characters-long' }, /JWT_SECRET is invalid: at least 32/],
    ['a port that is not a number', { HTTP_PORT: 'http' }, /HTTP_PORT is invalid/],
    ['a port out of range', { HTTP_PORT: '70000' }, /HTTP_PORT is invalid/],
    ['a REDIS_URL that is not redis://', { REDIS_URL: 'http://127.0.0.1:6379' }, /REDIS_URL is invalid/],
    ['an unknown LOG_LEVEL', { LOG_LEVEL: 'verbose' }, /LOG_LEVEL is invalid/],
    ['a SHUTDOWN_TIMEOUT_MS too small', { SHUTDOWN_TIMEOUT_MS: '10' }, /SHUTDOWN_TIMEOUT_MS is invalid/],
    ['an IDEMPOTENCY_TTL_SECONDS that is not an integer', { IDEMPOTENCY_TTL_SECONDS: '1.5' }, /IDEMPOTENCY_TTL_SECONDS is invalid/],
    ['an IDEMPOTENCY_TTL_SECONDS under a minute', { IDEMPOTENCY_TTL_SECONDS: '59' }, /IDEMPOTENCY_TTL_SECONDS is invalid/],
    ['an IDEMPOTENCY_TTL_SECONDS over 30 days', { IDEMPOTENCY_TTL_SECONDS: '2592001' }, /IDEMPOTENCY_TTL_SECONDS is invalid/],
    ['a QUEUE_MAX_BACKLOG of 0', { QUEUE_MAX_BACKLOG: '0' }, /QUEUE_MAX_BACKLOG is invalid: an integer from 1/],
    ['a QUEUE_MAX_BACKLOG that is not a number', { QUEUE_MAX_BACKLOG: 'lots' }, /QUEUE_MAX_BACKLOG is invalid/],
    ['a REDIS_MEMORY_HIGH_WATER_PERCENT of 100', { REDIS_MEMORY_HIGH_WATER_PERCENT: '100' }, /REDIS_MEMORY_HIGH_WATER_PERCENT is invalid: an integer from 50 to 95/],
    ['a REDIS_MEMORY_HIGH_WATER_PERCENT under 50', { REDIS_MEMORY_HIGH_WATER_PERCENT: '49' }, /REDIS_MEMORY_HIGH_WATER_PERCENT is invalid/],
  ]
  for (const [name, env, message] of cases) {
    t.test(name, async (t) => {
      const full = { JWT_SECRET: secret, ...env }
      t.throws(() => loadTransactionApiConfig(full), message)
      try {
        loadTransactionApiConfig(full)
      } catch (err) {
        t.ok(err instanceof ConfigError)
        for (const value of Object.values(full)) if (value !== undefined && value.length > 3) t.notOk(String(err).includes(value), 'the value is not echoed')
      }
    })
  }
})

t.test('when main.ts starts with a bad environment, then it exits 1 naming the variables, before starting anything', async (t) => {
  const { code, stdout, stderr } = await runEntry('services/transaction-api/main.ts', { JWT_SECRET: 'too-short', HTTP_PORT: 'nope', REDIS_URL: `redis://:${secret}@127.0.0.1:1/0` })
  t.equal(code, 1)
  t.match(stderr, /JWT_SECRET is invalid/)
  t.match(stderr, /HTTP_PORT is invalid/)
  t.notOk(stderr.includes('too-short') || stderr.includes(secret), 'no value echoed')
  t.equal(stdout, '', 'nothing started, nothing logged')
})

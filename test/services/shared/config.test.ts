import t from 'tap'
import { ConfigError, loadConfig } from '../../../services/shared/config.ts'
import { configSchemaOf, platform } from '../../../services/shared/platform.ts'

interface Settings {
  HTTP_PORT: number
  JWT_SECRET: string
  REDIS_URL: string
  LOG_LEVEL: string
  SHUTDOWN_TIMEOUT_MS: number
}
// A small environment: HTTP_PORT, JWT_SECRET and three common settings, as platform.json defines them.
const auth = configSchemaOf(platform, 'auth') as { properties: Record<string, object> }
const pick = ['HTTP_PORT', 'JWT_SECRET', 'REDIS_URL', 'LOG_LEVEL', 'SHUTDOWN_TIMEOUT_MS']
const schema = {
  type: 'object',
  properties: Object.fromEntries(pick.map((name) => [name, auth.properties[name]!])),
  required: pick,
  additionalProperties: false,
}
const secret = 'x'.repeat(32)

t.test('when only the required settings are set, then defaults fill the rest', async (t) => {
  t.same(loadConfig(schema, { JWT_SECRET: secret }), {
    JWT_SECRET: secret,
    HTTP_PORT: 5000,
    REDIS_URL: 'redis://127.0.0.1:6379/0',
    LOG_LEVEL: 'info',
    SHUTDOWN_TIMEOUT_MS: 8000,
  })
})

t.test('when numbers come as strings, then they are coerced', async (t) => {
  t.equal(loadConfig<Settings>(schema, { JWT_SECRET: secret, HTTP_PORT: '8081' }).HTTP_PORT, 8081)
})

t.test('when a required setting is missing or empty, then the error names it', async (t) => {
  t.throws(() => loadConfig(schema, {}), new ConfigError('Invalid configuration: JWT_SECRET is required'))
  t.throws(() => loadConfig(schema, { JWT_SECRET: '' }), { message: /JWT_SECRET is required/ })
})

t.test('when several settings are bad, then every one is named and no value is echoed', async (t) => {
  const err = t.throws(() =>
    loadConfig(schema, { JWT_SECRET: 'short-secret-value', HTTP_PORT: '70000', LOG_LEVEL: 'loud', REDIS_URL: 'http://x' }),
  ) as Error
  t.match(err.message, /JWT_SECRET is invalid: at least 32 characters/)
  t.match(err.message, /HTTP_PORT is invalid: a TCP port from 0 to 65535/)
  t.match(err.message, /LOG_LEVEL is invalid: one of debug, info, warn, error, silent/)
  t.match(err.message, /REDIS_URL is invalid: a redis:\/\/ URL/)
  t.notMatch(err.message, /short-secret-value/)
})

t.test('when a port is not a number, then it is rejected', async (t) => {
  t.throws(() => loadConfig(schema, { JWT_SECRET: secret, HTTP_PORT: 'eighty' }), { message: /HTTP_PORT is invalid/ })
})

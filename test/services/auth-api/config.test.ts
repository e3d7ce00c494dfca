import t from 'tap'
import { loadAuthConfig, loadSeedConfig } from '../../../services/auth-api/config.ts'
import { runEntry } from '../../helpers/run-entry.ts'

const secret = 'a-perfectly-fine-secret-of-40-characters!'
t.test('when only JWT_SECRET is set, then the defaults apply', async (t) => {
  t.same(loadAuthConfig({ JWT_SECRET: secret }), {
    HTTP_PORT: 5000,
    HTTP_HOST: '127.0.0.1',
    REDIS_URL: 'redis://127.0.0.1:6379/0',
    JWT_SECRET: secret,
    TOKEN_TTL_SECONDS: 30,
    LOGIN_FAILURES_PER_USER: 10,
    LOGIN_FAILURES_PER_ADDRESS: 100,
    LOGIN_FAILURE_WINDOW_SECONDS: 900,
    LOG_LEVEL: 'info',
    SHUTDOWN_TIMEOUT_MS: 8000,
  })
})

t.test('when settings are given as strings, then they are coerced', async (t) => {
  const config = loadAuthConfig({ JWT_SECRET: secret, HTTP_PORT: '6000', TOKEN_TTL_SECONDS: '86400', REDIS_URL: 'redis://:pw@redis:6379/1', LOG_LEVEL: 'warn' })
  t.equal(config.HTTP_PORT, 6000)
  t.equal(config.TOKEN_TTL_SECONDS, 86400)
  t.equal(config.REDIS_URL, 'redis://:pw@redis:6379/1')
  t.equal(config.LOG_LEVEL, 'warn')
})

t.test('when JWT_SECRET is missing or empty, then the error names it', async (t) => {
  t.throws(() => loadAuthConfig({}), { name: 'ConfigError', message: /JWT_SECRET is required/ })
  t.throws(() => loadAuthConfig({ JWT_SECRET: '' }), { message: /JWT_SECRET is required/ })
})

t.test('when JWT_SECRET is shorter than 32 characters, then the error names it without echoing it', async (t) => {
  const short = 'only-31-characters-long-secret!'
  t.equal(short.length, 31)
  const err = t.throws(() => loadAuthConfig({ JWT_SECRET: short })) as Error
  t.match(err.message, /JWT_SECRET is invalid: at least 32 characters/)
  t.notMatch(err.message, short)
  t.ok(loadAuthConfig({ JWT_SECRET: 'x'.repeat(32) }), '32 characters are enough')
})

t.test('when TOKEN_TTL_SECONDS is not a whole number from 1 to 86400, then the error names it', async (t) => {
  for (const bad of ['0', '-5', '86401', '1.5', 'thirty', '30s']) {
    t.throws(() => loadAuthConfig({ JWT_SECRET: secret, TOKEN_TTL_SECONDS: bad }), { message: /TOKEN_TTL_SECONDS is invalid/ }, bad)
  }
  t.equal(loadAuthConfig({ JWT_SECRET: secret, TOKEN_TTL_SECONDS: '1' }).TOKEN_TTL_SECONDS, 1)
})

t.test('when several settings are bad, then every one is named', async (t) => {
  const err = t.throws(() => loadAuthConfig({ HTTP_PORT: '70000', REDIS_URL: 'http://redis', LOG_LEVEL: 'loud', SHUTDOWN_TIMEOUT_MS: '5' })) as Error
  for (const name of ['HTTP_PORT', 'REDIS_URL', 'LOG_LEVEL', 'SHUTDOWN_TIMEOUT_MS', 'JWT_SECRET']) t.match(err.message, name)
})

t.test('when the seed command reads its config, then it only needs REDIS_URL', async (t) => {
  t.same(loadSeedConfig({}), { REDIS_URL: 'redis://127.0.0.1:6379/0' })
  t.throws(() => loadSeedConfig({ REDIS_URL: 'localhost:6379' }), { message: /REDIS_URL is invalid/ })
})

t.test('when main.ts starts with a bad environment, then it exits 1 naming the variable on stderr', async (t) => {
  const short = 'too-short-secret-value'
  const { code, stdout, stderr } = await runEntry('services/auth-api/main.ts', { JWT_SECRET: short, HTTP_PORT: '0', REDIS_URL: 'redis://127.0.0.1:1/0' })
  t.equal(code, 1)
  t.match(stderr, /JWT_SECRET is invalid/)
  t.notMatch(stderr + stdout, short, 'the secret is never printed')
  t.equal(stdout, '', 'nothing started, nothing logged')
})

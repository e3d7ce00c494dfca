import t from 'tap'
import { loadLoyaltyWorkerConfig } from '../../../services/loyalty-worker/config.ts'
import { queueDrainTimeout } from '../../../services/loyalty-worker/index.ts'
import { secret } from './fixtures.ts'
import { runEntry } from '../../helpers/run-entry.ts'

t.test('when only JWT_SECRET is set, then the defaults apply', async (t) => {
  t.same(loadLoyaltyWorkerConfig({ JWT_SECRET: secret }), {
    HTTP_PORT: 5002,
    HTTP_HOST: '127.0.0.1',
    REDIS_URL: 'redis://127.0.0.1:6379/0',
    JWT_SECRET: secret,
    LOYALTY_STAMPS_PER_VOUCHER: 10,
    LOYALTY_CONCURRENCY: 10,
    LOG_LEVEL: 'info',
    SHUTDOWN_TIMEOUT_MS: 8000,
    TRANSACTION_RETENTION: '24h',
    REDIS_MEMORY_HIGH_WATER_PERCENT: 90,
  })
})

t.test('when TRANSACTION_RETENTION is a duration, then it is taken; when it is not, then the error names it', async (t) => {
  for (const good of ['90s', '30m', '24h', '7d']) t.equal(loadLoyaltyWorkerConfig({ JWT_SECRET: secret, TRANSACTION_RETENTION: good }).TRANSACTION_RETENTION, good)
  for (const bad of ['0s', '24', 'h', '1.5h', '2w', '-1d', '24 h', '1000000d']) {
    t.throws(() => loadLoyaltyWorkerConfig({ JWT_SECRET: secret, TRANSACTION_RETENTION: bad }), { message: /TRANSACTION_RETENTION is invalid: how long a completed or failed/ }, bad)
  }
})

t.test('when settings are given as strings, then they are coerced', async (t) => {
  const config = loadLoyaltyWorkerConfig({
    JWT_SECRET: secret,
    HTTP_PORT: '0',
    LOYALTY_STAMPS_PER_VOUCHER: '1000',
    LOYALTY_CONCURRENCY: '200',
    SHUTDOWN_TIMEOUT_MS: '100',
    LOG_LEVEL: 'silent',
  })
  t.equal(config.HTTP_PORT, 0)
  t.equal(config.LOYALTY_STAMPS_PER_VOUCHER, 1000)
  t.equal(config.LOYALTY_CONCURRENCY, 200)
  t.equal(config.SHUTDOWN_TIMEOUT_MS, 100)
  t.equal(loadLoyaltyWorkerConfig({ JWT_SECRET: secret, LOYALTY_STAMPS_PER_VOUCHER: '1', LOYALTY_CONCURRENCY: '1' }).LOYALTY_STAMPS_PER_VOUCHER, 1)
})

t.test('when JWT_SECRET is missing or short, then the error names it without echoing it', async (t) => {
  t.throws(() => loadLoyaltyWorkerConfig({}), { name: 'ConfigError', message: /JWT_SECRET is required/ })
  const short = 'x'.repeat(31)
  const err = t.throws(() => loadLoyaltyWorkerConfig({ JWT_SECRET: short })) as Error
  t.match(err.message, /JWT_SECRET is invalid: at least 32 characters/)
  t.notMatch(err.message, short)
})

t.test('when LOYALTY_STAMPS_PER_VOUCHER is not an integer from 1 to 1000, then the error names it', async (t) => {
  for (const bad of ['0', '-1', '1001', '2.5', 'ten', '10 stamps']) {
    t.throws(() => loadLoyaltyWorkerConfig({ JWT_SECRET: secret, LOYALTY_STAMPS_PER_VOUCHER: bad }), { message: /LOYALTY_STAMPS_PER_VOUCHER is invalid: an integer from 1 to 1000/ }, bad)
  }
})

t.test('when LOYALTY_CONCURRENCY is not an integer from 1 to 200, then the error names it', async (t) => {
  for (const bad of ['0', '201', '1.5', 'many']) {
    t.throws(() => loadLoyaltyWorkerConfig({ JWT_SECRET: secret, LOYALTY_CONCURRENCY: bad }), { message: /LOYALTY_CONCURRENCY is invalid: an integer from 1 to 200/ }, bad)
  }
})

t.test('when several settings are bad, then every one is named', async (t) => {
  const err = t.throws(() =>
    loadLoyaltyWorkerConfig({ HTTP_PORT: '-1', REDIS_URL: 'localhost', LOG_LEVEL: 'loud', SHUTDOWN_TIMEOUT_MS: '99', LOYALTY_CONCURRENCY: '0' }),
  ) as Error
  for (const name of ['HTTP_PORT', 'REDIS_URL', 'LOG_LEVEL', 'SHUTDOWN_TIMEOUT_MS', 'LOYALTY_CONCURRENCY', 'JWT_SECRET']) t.match(err.message, name)
})

t.test('when the worker drains its queue on shutdown, then it leaves time inside SHUTDOWN_TIMEOUT_MS', async (t) => {
  t.equal(queueDrainTimeout(8000), 6500)
  t.equal(queueDrainTimeout(1000), 500)
  t.equal(queueDrainTimeout(100), 50)
})

t.test('when main.ts starts with a bad environment, then it exits 1 naming the variable on stderr', async (t) => {
  const { code, stdout, stderr } = await runEntry('services/loyalty-worker/main.ts', { JWT_SECRET: secret, LOYALTY_STAMPS_PER_VOUCHER: '0', HTTP_PORT: '0', REDIS_URL: 'redis://127.0.0.1:1/0' })
  t.equal(code, 1)
  t.match(stderr, /LOYALTY_STAMPS_PER_VOUCHER is invalid/)
  t.notMatch(stderr + stdout, secret, 'the secret is never printed')
  t.equal(stdout, '', 'nothing started, nothing logged')
})

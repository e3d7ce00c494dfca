import t from 'tap'
import { loadQueueDashboardConfig } from '../../../services/queue-dashboard/config.ts'
import { ConfigError } from '../../../services/shared/config.ts'

const password = 'a-dashboard-password-0123456789'

t.test('when only the password is set, then the defaults apply: port 5003, loopback, user admin', async (t) => {
  const config = loadQueueDashboardConfig({ QUEUE_DASHBOARD_PASSWORD: password })
  t.match(config, { HTTP_PORT: 5003, HTTP_HOST: '127.0.0.1', QUEUE_DASHBOARD_USER: 'admin', QUEUE_DASHBOARD_PASSWORD: password, REDIS_URL: 'redis://127.0.0.1:6379/0' })
})

t.test('when the password is missing or short, then a ConfigError names it without echoing it', async (t) => {
  t.throws(() => loadQueueDashboardConfig({}), new ConfigError('Invalid configuration: QUEUE_DASHBOARD_PASSWORD is required'))
  const short = 'short-secret'
  const err = t.throws(() => loadQueueDashboardConfig({ QUEUE_DASHBOARD_PASSWORD: short })) as Error
  t.match(err.message, /QUEUE_DASHBOARD_PASSWORD is invalid: at least 16 characters/)
  t.notMatch(err.message, short, 'the value is not echoed')
})

t.test('when the user name has a colon or whitespace, then it is refused (basic auth splits on the first colon)', async (t) => {
  for (const user of ['ad:min', 'ad min', '']) {
    const env = { QUEUE_DASHBOARD_PASSWORD: password, QUEUE_DASHBOARD_USER: user }
    if (user === '') t.equal(loadQueueDashboardConfig(env).QUEUE_DASHBOARD_USER, 'admin', 'an empty value counts as unset')
    else t.throws(() => loadQueueDashboardConfig(env), /QUEUE_DASHBOARD_USER is invalid/, JSON.stringify(user))
  }
})

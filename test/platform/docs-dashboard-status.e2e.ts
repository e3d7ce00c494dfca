// On the provisioned machine (`npm run test:platform`, as root after the provisioner): the docs page and
// the queue dashboard through the real nginx on port 80, and `yoyo-status` as root and as the login user.
import { existsSync } from 'node:fs'
import t from 'tap'
import { $ } from 'zx/core'
import { asUser, curl, describeReply, platformUrl, readEnvFile } from './clients.ts'

const ENV_FILE = '/etc/yoyo-platform/platform.env'
const STATUS = '/usr/local/bin/yoyo-status'
const sudoUser = process.env.SUDO_USER !== undefined && process.env.SUDO_USER !== '' && process.env.SUDO_USER !== 'root' ? process.env.SUDO_USER : undefined
const loginUser = process.env.PLATFORM_LOGIN_USER || sudoUser || 'platformtest'

if (process.getuid?.() !== 0 || !existsSync(ENV_FILE) || !existsSync(STATUS)) {
  t.bailout(`run me as root on a provisioned machine (sudo ./provision/bootstrap.sh first): ${STATUS} ${existsSync(STATUS) ? 'present' : 'missing'}`)
}
const settings = existsSync(ENV_FILE) ? await readEnvFile(ENV_FILE) : {}

t.test('when /docs/ is asked through nginx, then the page and the OpenAPI document are served', async (t) => {
  const page = await curl([`${platformUrl}/docs/`])
  t.equal(page.status, 200, describeReply(page))
  t.match(page.headers['content-type'], /^text\/html/)
  t.match(page.text, 'swagger-ui-bundle.js')
  const doc = await curl([`${platformUrl}/docs/openapi.json`])
  t.equal(doc.status, 200)
  t.match(doc.body, { openapi: '3.1.0', info: { title: 'Yoyo Wallet platform' } })
})

t.test('when /queue/ is asked without the login, then 401; with the env file\'s password, then kue\'s page and JSON', async (t) => {
  const anonymous = await curl([`${platformUrl}/queue/`])
  t.equal(anonymous.status, 401, describeReply(anonymous))
  t.match(anonymous.headers['www-authenticate'], /^Basic realm=/)
  const wrong = await curl(['-u', 'admin:wrong-password', `${platformUrl}/queue/`])
  t.equal(wrong.status, 401)
  t.ok(settings.QUEUE_DASHBOARD_PASSWORD, 'the env file holds the dashboard password')
  const login = `admin:${settings.QUEUE_DASHBOARD_PASSWORD}`
  const page = await curl(['-u', login, `${platformUrl}/queue/`])
  t.equal(page.status, 200)
  t.match(page.text, '<title>yoyo-platform queue</title>')
  const stats = await curl(['-u', login, '-H', 'accept: application/json', `${platformUrl}/queue/stats`])
  t.match(stats.body, { inactiveCount: Number, failedCount: Number })
  const redirect = await curl(['-H', 'host: localhost:8080', `${platformUrl}/queue`])
  t.equal(redirect.status, 301)
  t.equal(redirect.headers.location, '/queue/', 'a relative redirect (kept behind Vagrant\'s port forward)')
})

// provisioned.e2e.ts may run beside this file (tap runs two at a time) and scale or reload the apps:
// a status taken in the middle of that says so, truthfully. So wait for a healthy one, briefly.
async function healthyStatus(command: () => Promise<{ exitCode: number | null; stdout: string; stderr: string }>) {
  let output = await command()
  for (let i = 0; i < 30 && output.exitCode !== 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 2000))
    output = await command()
  }
  return output
}

t.test('when yoyo-status runs as root, then exit 0, every part ok, Redis details and no secret', async (t) => {
  const output = await healthyStatus(() => $({ nothrow: true, timeout: '60s' })`env -u NODE_OPTIONS ${STATUS}`)
  t.equal(output.exitCode, 0, output.stdout + output.stderr)
  t.match(output.stdout, /^yoyo-platform: healthy/)
  for (const name of ['auth', 'transactions', 'loyalty', 'dashboard', 'docs']) t.match(output.stdout, new RegExp(`ok {4}${name} +GET /`))
  t.match(output.stdout, /ok {4}dashboard +1\/1 online, fork/)
  t.match(output.stdout, /ok {4}redis +127\.0\.0\.1:6379, up .* AOF on/)
  t.match(output.stdout, /queue dashboard +http:\/\/localhost[:/]/)
  for (const [name, value] of Object.entries(settings)) {
    if (/SECRET|PASSWORD/.test(name)) t.notOk(output.stdout.includes(value), `${name} is not printed`)
  }
  const json = await $({ nothrow: true, timeout: '60s' })`env -u NODE_OPTIONS ${STATUS} --json`
  t.match(JSON.parse(json.stdout), { queue: { waiting: Number } })
})

t.test('when yoyo-status runs as the login user, then it works without sudo and says Redis\'s details need it', async (t) => {
  const output = await healthyStatus(() => asUser(loginUser, 'yoyo-status'))
  t.equal(output.exitCode, 0, output.stdout + output.stderr)
  t.match(output.stdout, /ok {4}redis +up on 127\.0\.0\.1:6379 \(memory and persistence: needs the password, run with sudo\)/)
})

t.test('when nothing answers where it looks, then yoyo-status exits 1 naming each part (scripts can wait on it)', async (t) => {
  // A wrong URL rather than a stopped app: the platform stays as it is for the tests running beside this one.
  const output = await $({ nothrow: true, timeout: '60s' })`env -u NODE_OPTIONS ${STATUS} --url http://127.0.0.1:9`
  t.equal(output.exitCode, 1)
  t.match(output.stdout, /^yoyo-platform: UNHEALTHY \(5 problems\)/)
  t.match(output.stdout, /FAIL {2}dashboard +GET \/queue\/health: no answer/)
})

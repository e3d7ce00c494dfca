// The provisioner's and yoyo-status's command lines, run as users run them (a new Node.js process each,
// with the test's environment, so their coverage counts). What a run does to a machine is the platform
// suite's (test/platform/); here: help, bad usage, and yoyo-status when nothing answers.
import { join } from 'node:path'
import t from 'tap'
import { freePort } from '../helpers/ports.ts'
import { runCommand as run } from '../helpers/run-entry.ts'
import { tempDir } from '../helpers/step-context.ts'

t.test('when the provisioner is asked for help, then it prints the usage and exits 0', async (t) => {
  const { code, stdout } = await run('provision/main.ts', ['--help'])
  t.equal(code, 0)
  t.match(stdout, /^Usage: sudo \.\/provision\/bootstrap\.sh \[options\]/)
  t.match(stdout, /--check/)
})

t.test('when the provisioner is given an unknown option or step, then it says which on stderr and exits 64', async (t) => {
  const unknown = await run('provision/main.ts', ['--frobnicate'])
  t.equal(unknown.code, 64)
  t.match(unknown.stderr, /^provision: .*frobnicate/)
  t.match(unknown.stderr, /\(--help lists the options\)/)
  const step = await run('provision/main.ts', ['--only', 'ensureNothingAtAll'])
  t.equal(step.code, 64)
  t.match(step.stderr, /ensureNothingAtAll/)
})

t.test('when yoyo-status is asked for help or given an unknown option, then 0 with the usage, or 64', async (t) => {
  const help = await run('provision/status.ts', ['--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /^Usage: yoyo-status/)
  const bad = await run('provision/status.ts', ['--frobnicate'])
  t.equal(bad.code, 64)
  t.match(bad.stderr, /^yoyo-status: .*frobnicate[\s\S]*Usage: yoyo-status/)
})

t.test('when nothing answers at the URL and PM2 cannot list, then yoyo-status exits 1 naming every service and PM2', async (t) => {
  const dir = await tempDir(t)
  // A port free a moment ago: nothing answers there.
  const url = `http://127.0.0.1:${await freePort()}`
  const args = ['--url', url, '--pm2', '/bin/false', '--platform-env', join(dir, 'no-such.env')]
  const json = await run('provision/status.ts', [...args, '--json'])
  t.equal(json.code, 1)
  const status = JSON.parse(json.stdout) as { healthy: boolean; problems: string[] }
  t.equal(status.healthy, false)
  for (const part of ['auth', 'transactions', 'loyalty', 'dashboard', 'docs', 'pm2']) {
    t.ok(status.problems.some((problem) => problem.startsWith(part)), `a problem names ${part}`)
  }
  const text = await run('provision/status.ts', args)
  t.equal(text.code, 1)
  t.match(text.stdout, /^yoyo-platform: UNHEALTHY \(\d+ problems\)/)
})

// Scenario 10: change → live. One line of one service changed (the Auth API's "is blank" message, in
// services/auth-api/login.ts), then the documented redeploy, `npm run deploy` (scripts/deploy.sh: the
// provisioner's code steps only): the time from the command's start until the new code answers (polled
// every 20 ms on the Auth API's own port: through nginx, /token is rate-limited), whether only the Auth
// API was reloaded (the other apps' pids are the same), and whether any request failed meanwhile
// (health checks of the three APIs through nginx on :80, 4 at a time, all along). Each run changes the
// line, then puts it back: two deploys timed per run.
//
// It runs from a copy of --provision-dir (a checkout equal to what is provisioned: a first `--check`
// must report no drift, else nothing is timed), so the checkout itself is never edited. Root only,
// under the machine lock (it deploys to the machine and loads :80); the machine ends as it began.
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { addRow, type Context } from '../lib/context.ts'
import { holdMachineLock } from '../lib/machine-lock.ts'
import { pm2List } from '../lib/platform.ts'
import { run } from '../lib/processes.ts'
import { figure } from '../lib/stats.ts'

const FILE = 'services/auth-api/login.ts'
const ORIGINAL = '`${label} is blank`'
const TARGET_S = 2

const deployEnv = () => ({ ...process.env, SUDO_USER: process.env.BENCH_SUDO_USER ?? 'platformtest', NODE_LINK_DIR: '', NODE_OPTIONS: '' })

/** The Auth API's answer to a blank username, straight from its port. */
async function blankAnswer(authPort: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${authPort}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', connection: 'close' },
    body: '{"username":"","password":"x"}',
    signal: AbortSignal.timeout(2000),
  })
  return response.text()
}

/** Health checks through nginx, `concurrency` at a time, until stopped: how many, how many failed. */
function loadLoop(concurrency = 4): { stop(): Promise<{ sent: number; failed: number; failures: string[] }> } {
  let running = true
  let sent = 0
  let failed = 0
  const failures: string[] = []
  const paths = ['/authentication/health', '/transactions/health', '/loyalty/health']
  const worker = async (index: number): Promise<void> => {
    for (let i = index; running; i += 1) {
      const path = paths[i % paths.length]!
      sent += 1
      try {
        const response = await fetch(`http://127.0.0.1:80${path}`, { signal: AbortSignal.timeout(5000) })
        await response.arrayBuffer()
        if (response.status !== 200) {
          failed += 1
          if (failures.length < 5) failures.push(`${path} ${response.status}`)
        }
      } catch (err) {
        failed += 1
        if (failures.length < 5) failures.push(`${path} ${err instanceof Error ? err.message : String(err)}`)
      }
    }
  }
  const workers = Array.from({ length: concurrency }, (_, index) => worker(index))
  return {
    stop: async () => {
      running = false
      await Promise.all(workers)
      return { sent, failed, failures }
    },
  }
}

interface Deployed {
  /** From the command's start until the new code answered. */
  liveMs: number
  /** The command's own wall time, and its steps'. */
  commandMs: number
  steps: { name: string; ms: number; status: string }[]
}

/** `npm run deploy -- --json` in `dir`, polling the Auth API until it answers `expected`. */
async function deploy(dir: string, authPort: number, expected: string): Promise<Deployed> {
  const started = performance.now()
  let output = ''
  const child = spawn('npm', ['run', '--silent', 'deploy', '--', '--json'], { cwd: dir, env: deployEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)))
  let liveMs: number | undefined
  let exitCode: number | undefined
  let commandMs = 0
  void exited.then((code) => {
    exitCode = code
    commandMs = performance.now() - started
  })
  while (liveMs === undefined) {
    const answer = await blankAnswer(authPort).catch(() => '')
    if (answer.includes(expected)) liveMs = performance.now() - started
    else if (exitCode !== undefined && performance.now() - started - commandMs > 5000) throw new Error(`npm run deploy exited ${exitCode} and the new code does not answer:\n${output.slice(-2000)}`)
    else await sleep(20)
  }
  const code = await exited
  if (code !== 0) throw new Error(`npm run deploy exited ${code}:\n${output.slice(-2000)}`)
  const report = JSON.parse(output.slice(output.indexOf('{'))) as { steps: { name: string; ms: number; status: string }[] }
  return { liveMs, commandMs, steps: report.steps }
}

export async function changeLiveScenario(ctx: Context): Promise<void> {
  if (process.getuid?.() !== 0) {
    ctx.notes.push('scenario 10 skipped: the provisioner runs as root only')
    return
  }
  const lock = await holdMachineLock()
  const copy = await mkdtemp('/var/tmp/yoyo-change-live-')
  try {
    // A copy of the checkout, with the provisioner's own dependencies (no npm ci in the timed runs).
    await run('sh', ['-c', 'tar -C "$1" --exclude=./node_modules --exclude=./.git --exclude=./.tap --exclude=./.vagrant --exclude=./dist -cf - . | tar -C "$2" -xf - && cp -a "$1/provision/node_modules" "$2/provision/"', 'copy', ctx.settings.provisionDir, copy])
    const check = await run('sh', [join(copy, 'provision/bootstrap.sh'), '--check', '--quiet'], { env: deployEnv() }).then(() => 0, (err: { code?: number }) => err.code ?? 1)
    if (check !== 0) {
      ctx.notes.push(`scenario 10 skipped: \`--check\` from a copy of ${ctx.settings.provisionDir} exited ${check} (this checkout is not what is provisioned); run with --provision-dir <the provisioned checkout>`)
      return
    }
    const source = await readFile(join(copy, FILE), 'utf8')
    if (!source.includes(ORIGINAL)) throw new Error(`${FILE} no longer has ${ORIGINAL}: update this scenario`)
    const live: number[] = []
    const commands: number[] = []
    const stepTotals = new Map<string, number[]>()
    let otherReloads = 0
    let authReloads = 0
    const load = loadLoop()
    try {
      for (let round = 0; round < ctx.settings.runs; round += 1) {
        for (const marker of [`changed ${Date.now()}`, undefined]) {
          const before = await pm2List()
          const text = marker === undefined ? ORIGINAL : `\`\${label} is blank (${marker})\``
          await writeFile(join(copy, FILE), source.replace(ORIGINAL, text))
          const expected = marker === undefined ? 'is blank"' : marker
          const result = await deploy(copy, ctx.ports.auth, expected)
          const after = await pm2List()
          const pidsOf = (list: typeof before, name: string) => list.filter((p) => p.name === name).map((p) => p.pid).sort().join(',')
          for (const name of new Set(before.map((p) => p.name))) {
            const same = pidsOf(before, name) === pidsOf(after, name)
            if (name === 'auth' && !same) authReloads += 1
            if (name !== 'auth' && !same) otherReloads += 1
          }
          live.push(result.liveMs / 1000)
          commands.push(result.commandMs / 1000)
          for (const step of result.steps) if (step.status !== 'not run') stepTotals.set(step.name, [...(stepTotals.get(step.name) ?? []), step.ms / 1000])
          ctx.log(`  ${marker === undefined ? 'put back' : 'changed '}: live after ${(result.liveMs / 1000).toFixed(2)} s (npm run deploy ${(result.commandMs / 1000).toFixed(2)} s: ` +
            `${result.steps.filter((s) => s.status !== 'not run').map((s) => `${s.name} ${(s.ms / 1000).toFixed(2)}`).join(', ')})`)
        }
      }
    } finally {
      const { sent, failed, failures } = await load.stop()
      const deploys = live.length
      const liveS = figure(live)
      addRow(ctx, { scenario: '10 change → live', measure: 'one line of the Auth API changed: `npm run deploy` until the new code answers', unit: 's', value: liveS, target: `≤ ${TARGET_S}`, met: liveS.median <= TARGET_S })
      addRow(ctx, { scenario: '10 change → live', measure: '`npm run deploy` wall time (smoke test included)', unit: 's', value: figure(commands) })
      for (const [name, values] of stepTotals) addRow(ctx, { scenario: '10 change → live', measure: `step ${name}`, unit: 's', value: figure(values) })
      addRow(ctx, { scenario: '10 change → live', measure: `requests failed during ${deploys} deploys (of ${sent} health checks through nginx)`, unit: 'requests', value: figure([failed]), target: '0', met: failed === 0, ...(failures.length > 0 ? { note: failures.join('; ') } : {}) })
      addRow(ctx, { scenario: '10 change → live', measure: `apps other than auth reloaded (auth reloaded ${authReloads} of ${deploys} times)`, unit: 'reloads', value: figure([otherReloads]), target: '0', met: otherReloads === 0 && authReloads === deploys })
    }
  } finally {
    await rm(copy, { recursive: true, force: true })
    await lock.release()
  }
}

// Scenario 7: wall time of a no-change re-run of the provisioner (its smoke test included) and of
// `--check`, as root, from a checkout equal to what is provisioned. A first `--check` decides: when it
// reports drift, a re-run would change the machine (deploy this checkout), so nothing is timed.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { addRow, type Context } from '../lib/context.ts'
import { figure } from '../lib/stats.ts'

function bootstrap(dir: string, args: string[]): Promise<{ code: number; ms: number; output: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn('sh', [join(dir, 'provision/bootstrap.sh'), ...args], {
      cwd: dir,
      env: { ...process.env, SUDO_USER: process.env.BENCH_SUDO_USER ?? 'platformtest', NODE_LINK_DIR: '', NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.on('error', reject)
    child.on('exit', (code) => resolve({ code: code ?? 1, ms: performance.now() - started, output }))
  })
}

export async function provisionScenario(ctx: Context): Promise<void> {
  if (process.getuid?.() !== 0) {
    ctx.notes.push('scenario 7 skipped: the provisioner runs as root only')
    return
  }
  const dir = ctx.settings.provisionDir
  const first = await bootstrap(dir, ['--check', '--quiet'])
  if (first.code !== 0) {
    ctx.notes.push(`scenario 7 skipped: \`--check\` from ${dir} exited ${first.code} (drift: this checkout is not what is provisioned, ` +
      'and a re-run would deploy it); run with --provision-dir <checkout that was provisioned>')
    ctx.log(first.output.split('\n').slice(-15).join('\n'))
    // --check changes nothing, so it is still timed (with its drift to report).
    const check: number[] = []
    for (let run = 0; run < ctx.settings.runs; run += 1) check.push((await bootstrap(dir, ['--check', '--quiet'])).ms / 1000)
    const checkS = figure(check)
    addRow(ctx, { scenario: '7 provisioning', measure: '--check (this checkout differs: drift reported)', unit: 's', value: checkS, target: '≤ 0.3', met: checkS.median <= 0.3 })
    return
  }
  const rerun: number[] = []
  const check: number[] = []
  for (let run = 0; run < ctx.settings.runs; run += 1) {
    const again = await bootstrap(dir, ['--quiet'])
    if (again.code !== 0) throw new Error(`the no-change provisioner run exited ${again.code}:\n${again.output}`)
    rerun.push(again.ms)
    const checked = await bootstrap(dir, ['--check', '--quiet'])
    if (checked.code !== 0) throw new Error(`--check after a re-run exited ${checked.code}:\n${checked.output}`)
    check.push(checked.ms)
    ctx.log(`  run ${run + 1}/${ctx.settings.runs}: re-run ${(again.ms / 1000).toFixed(2)} s, --check ${(checked.ms / 1000).toFixed(2)} s`)
  }
  const rerunS = figure(rerun.map((ms) => ms / 1000))
  const checkS = figure(check.map((ms) => ms / 1000))
  addRow(ctx, { scenario: '7 provisioning', measure: 'no-change re-run (health paths checked)', unit: 's', value: rerunS, target: '≤ 0.5', met: rerunS.median <= 0.5 })
  addRow(ctx, { scenario: '7 provisioning', measure: '--check', unit: 's', value: checkS, target: '≤ 0.3', met: checkS.median <= 0.3 })
}

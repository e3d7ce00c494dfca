// Scenario 9: a first provisioning, as on a new machine. A fresh Debian 12 root (debootstrap
// --variant=minbase: no Node.js, no curl, no package lists), the project copied in as Vagrant's synced
// folder has it (no node_modules, no dist/), then `provision/bootstrap.sh` in it by chroot (/proc, /sys and
// /dev mounted) until the platform answers through its nginx; the time per phase and per step. Packages
// are downloaded in the run (apt-get update and the .debs, Node.js, the npm packages): only the base
// system is cached (~/.cache/yoyo-platform/bench/debian12-minbase.tar, made once, like a Vagrant box).
//
// The chroot shares this machine's network, so the platform's ports (80, 6379, 5000-5003) must be free:
// the machine's own platform is stopped for the run and put back after (its provisioner, from
// --provision-dir), even when the run fails, all under the machine lock. Root only; about a minute.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { cp, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { addRow, type Context } from '../lib/context.ts'
import { holdMachineLock } from '../lib/machine-lock.ts'
import { run } from '../lib/processes.ts'
import { figure } from '../lib/stats.ts'

const suite = 'bookworm'
const mirror = 'http://deb.debian.org/debian'
const ports = [80, 6379, 5000, 5001, 5002, 5003]
// Vagrant's rsync synced folder leaves these out (Vagrantfile's rsync__exclude): built or installed in the guest.
const notSynced = ['node_modules', 'dist', '.git', '.tap', '.vagrant', 'coverage', 'bench/results']
const TARGET_S = 12

const cacheDir = (): string => join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'yoyo-platform', 'bench')

/** The cached minimal Debian 12 root as a tarball, made with debootstrap the first time (not timed). */
async function baseTarball(log: (line: string) => void): Promise<string> {
  const tarball = join(cacheDir(), `debian12-minbase.tar`)
  if (existsSync(tarball)) return tarball
  await mkdir(cacheDir(), { recursive: true })
  const work = await mkdtemp(join(cacheDir(), '.build-'))
  try {
    log(`  building the base root once (debootstrap --variant=minbase ${suite}, ~2 min), cached as ${tarball}`)
    await run('debootstrap', ['--variant=minbase', suite, join(work, 'root'), mirror], { maxBuffer: 64 * 1024 * 1024 })
    // Like a published box: no package lists, no cached .debs (the provisioner downloads what it needs).
    await run('chroot', [join(work, 'root'), 'apt-get', 'clean'])
    await rm(join(work, 'root', 'var', 'lib', 'apt', 'lists'), { recursive: true, force: true })
    await mkdir(join(work, 'root', 'var', 'lib', 'apt', 'lists', 'partial'), { recursive: true })
    await run('tar', ['-C', join(work, 'root'), '--one-file-system', '-cf', `${tarball}.tmp`, '.'])
    await run('mv', [`${tarball}.tmp`, tarball])
  } finally {
    await run('rm', ['-rf', '--one-file-system', work]).catch(() => {})
  }
  return tarball
}

/** Which of the platform's ports something listens on (`ss`). */
async function busyPorts(): Promise<number[]> {
  const { stdout } = await run('ss', ['-Hltn'])
  const listening = new Set(stdout.split('\n').map((line) => Number(line.trim().split(/\s+/)[3]?.split(':').pop())))
  return ports.filter((port) => listening.has(port))
}

async function pidFrom(file: string): Promise<number | undefined> {
  const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim())
  return pid > 0 && existsSync(`/proc/${pid}`) ? pid : undefined
}

/** Stops the machine's platform (PM2 and its apps, nginx, Redis with a clean shutdown) until its ports are free. */
async function stopMachinePlatform(log: (line: string) => void): Promise<void> {
  await run('/usr/local/bin/pm2', ['kill']).catch(() => {})
  for (const pidFile of ['/run/nginx.pid', '/run/redis/redis-server.pid']) {
    const pid = await pidFrom(pidFile)
    if (pid !== undefined) process.kill(pid, 'SIGTERM')
  }
  for (let waited = 0; (await busyPorts()).length > 0; waited += 250) {
    if (waited > 20_000) throw new Error(`ports still in use after stopping the machine's platform: ${(await busyPorts()).join(', ')}`)
    await sleep(250)
  }
  log('  the machine\'s platform is stopped (ports 80, 6379, 5000-5003 free)')
}

/** Puts the machine's platform back: its provisioner starts what is not running (Redis, nginx, PM2 and the saved apps). */
async function restoreMachinePlatform(dir: string, log: (line: string) => void): Promise<void> {
  const { stdout, stderr } = await run('sh', [join(dir, 'provision', 'bootstrap.sh'), '-q'], {
    env: { ...process.env, SUDO_USER: process.env.BENCH_SUDO_USER ?? 'platformtest', NODE_LINK_DIR: '', NODE_OPTIONS: '' },
    maxBuffer: 16 * 1024 * 1024,
  })
  log(`  the machine's platform is back (${dir}/provision/bootstrap.sh -q): ${(stdout + stderr).trim().split('\n').at(-1) ?? ''}`)
}

/** Kills every process whose root is inside `root` (what the provisioner started in the chroot). */
async function killInside(root: string): Promise<void> {
  for (let round = 0; round < 3; round += 1) {
    let found = 0
    for (const name of await readdir('/proc')) {
      if (!/^\d+$/.test(name)) continue
      const processRoot = await readlink(`/proc/${name}/root`).catch(() => '')
      if (processRoot === root || processRoot.startsWith(`${root}/`)) {
        found += 1
        try {
          process.kill(Number(name), 'SIGKILL')
        } catch {
          // gone already
        }
      }
    }
    if (found === 0) return
    await sleep(300)
  }
}

interface Timed {
  code: number
  ms: number
  stdout: string
  /** Each stderr line with the ms since the start at which it came. */
  lines: { ms: number; text: string }[]
}

function runTimed(argv: string[], env: Record<string, string>): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let partial = ''
    const lines: Timed['lines'] = []
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => {
      const parts = (partial + chunk.toString()).split('\n')
      partial = parts.pop() ?? ''
      for (const text of parts) lines.push({ ms: performance.now() - started, text })
    })
    child.on('error', reject)
    child.on('exit', (code) => resolve({ code: code ?? 1, ms: performance.now() - started, stdout, lines }))
  })
}

interface Report {
  ms: number
  steps: { name: string; status: string; ms: number; changes: { change: string }[]; failure?: { message: string } }[]
}

/** One first provisioning in a fresh root: the phases before the provisioner proper, then its steps. */
async function provisionFreshRoot(ctx: Context, root: string): Promise<void> {
  const hostCa = '/etc/ssl/certs/ca-certificates.crt'
  const env: Record<string, string> = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LANG: 'C.UTF-8', SUDO_USER: '' }
  if (existsSync(hostCa)) {
    // A TLS-inspecting proxy's CA: trusted by curl and npm in the root as on the machine (update-ca-certificates,
    // run when the provisioner installs ca-certificates, keeps it in the bundle).
    await mkdir(join(root, 'usr/local/share/ca-certificates'), { recursive: true })
    await cp(hostCa, join(root, 'usr/local/share/ca-certificates/bench-host.crt'))
    await mkdir(join(root, 'etc/ssl/certs'), { recursive: true })
    await cp(hostCa, join(root, 'etc/ssl/certs/ca-certificates.crt'))
    env.NODE_EXTRA_CA_CERTS = '/usr/local/share/ca-certificates/bench-host.crt'
  }
  for (const name of ['http_proxy', 'https_proxy', 'no_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'NPM_REGISTRY']) {
    if (process.env[name]) env[name] = process.env[name]!
  }
  const started = performance.now()
  const result = await runTimed(['chroot', root, 'sh', '/vagrant/provision/bootstrap.sh', '--json'], env)
  const json = result.stdout.slice(result.stdout.indexOf('{'))
  let report: Report | undefined
  try {
    report = JSON.parse(json) as Report
  } catch {
    report = undefined
  }
  await writeFile(join(cacheDir(), 'last-run.log'), `${result.stdout}\n--- stderr\n${result.lines.map((line) => `${(line.ms / 1000).toFixed(2)} ${line.text}`).join('\n')}\n`)
  if (result.code !== 0 || report === undefined) {
    const failed = report?.steps.find((step) => step.status === 'failed')
    throw new Error(`bootstrap.sh in the fresh root exited ${result.code}${failed ? ` (${failed.name}: ${failed.failure?.message ?? ''})` : ''}:\n` +
      result.lines.slice(-20).map((line) => line.text).join('\n') + `\n(stdout and stderr: ${join(cacheDir(), 'last-run.log')})`)
  }
  // Healthy: the provisioner's smoke test passed; and the platform answers through nginx.
  const health = await fetch('http://127.0.0.1:80/authentication/health', { signal: AbortSignal.timeout(5000) })
  if (health.status !== 200) throw new Error(`GET :80/authentication/health after provisioning: ${health.status}`)
  const total = performance.now() - started
  const before = result.ms - report.ms
  const say = (line: string) => ctx.log(`  ${line}`)
  for (const line of result.lines.filter((l) => l.text.startsWith('bootstrap:'))) say(`${(line.ms / 1000).toFixed(2).padStart(6)} s  ${line.text}`)
  say(`${(before / 1000).toFixed(2).padStart(6)} s  bootstrap.sh hands over to provision/main.ts`)
  const row = (measure: string, ms: number, extra: Partial<Parameters<typeof addRow>[1]> = {}) =>
    addRow(ctx, { scenario: '9 first provisioning', measure, unit: 's', value: figure([ms / 1000]), ...extra })
  row('total, fresh Debian 12 root to healthy (packages downloaded included)', total, { target: `≤ ${TARGET_S}`, met: total / 1000 <= TARGET_S })
  row('bootstrap.sh before the provisioner (tools, Node.js 24, the provisioner\'s npm ci)', before)
  for (const step of report.steps) {
    say(`${(step.ms / 1000).toFixed(2).padStart(6)} s  ${step.status.padEnd(8)} ${step.name}${step.changes.length > 0 ? `: ${step.changes.map((c) => c.change).join('; ').slice(0, 160)}` : ''}`)
    if (step.ms >= 100) row(`step ${step.name}`, step.ms)
  }
}

export async function firstProvisionScenario(ctx: Context): Promise<void> {
  if (process.getuid?.() !== 0) {
    ctx.notes.push('scenario 9 skipped: chroot and debootstrap need root')
    return
  }
  if (!existsSync('/usr/sbin/debootstrap')) {
    ctx.notes.push('scenario 9 skipped: no debootstrap (apt-get install debootstrap)')
    return
  }
  const tarball = await baseTarball(ctx.log)
  const lock = await holdMachineLock()
  // The machine's platform is put back by the provisioner of --provision-dir: that must be what is
  // provisioned, or putting it back would deploy another checkout.
  const check = await run('sh', [join(ctx.settings.provisionDir, 'provision', 'bootstrap.sh'), '--check', '--quiet'], {
    env: { ...process.env, SUDO_USER: process.env.BENCH_SUDO_USER ?? 'platformtest', NODE_LINK_DIR: '', NODE_OPTIONS: '' },
  }).then(() => 0, (err: { code?: number }) => err.code ?? 1)
  if (check !== 0) {
    ctx.notes.push(`scenario 9 skipped: \`--check\` from ${ctx.settings.provisionDir} exited ${check} (it is not what is provisioned, and putting the platform back would deploy it); run with --provision-dir <the provisioned checkout>`)
    await lock.release()
    return
  }
  const work = await mkdtemp(join('/var/tmp', 'yoyo-first-provision-'))
  const root = join(work, 'root')
  const mounted: string[] = []
  let stopped = false
  try {
    await mkdir(root)
    await run('tar', ['-C', root, '-xf', tarball])
    // The project as the synced folder has it.
    const project = ctx.settings.provisionDir
    await mkdir(join(root, 'vagrant'))
    const excludes = notSynced.map((name) => `--exclude=./${name}`).join(' ')
    await run('sh', ['-c', `tar -C "$1" ${excludes} -cf - . | tar -C "$2" -xf -`, 'copy', project, join(root, 'vagrant')])
    for (const file of ['etc/resolv.conf', 'etc/hosts']) await cp(`/${file}`, join(root, file), { dereference: true })
    for (const [type, target] of [['proc', 'proc'], ['sysfs', 'sys']] as const) {
      await run('mount', ['-t', type, type, join(root, target)])
      mounted.push(join(root, target))
    }
    await run('mount', ['--bind', '/dev', join(root, 'dev')])
    mounted.push(join(root, 'dev'))
    await run('mount', ['--bind', '/dev/pts', join(root, 'dev/pts')])
    mounted.push(join(root, 'dev/pts'))
    await writeFile(join(root, 'etc/hostname'), 'yoyo-first-provision\n')

    // The bench's own client of the machine's Redis loses it for the run: quietly (it reconnects after).
    ctx.redis.on('error', () => {})
    await stopMachinePlatform(ctx.log)
    stopped = true
    await provisionFreshRoot(ctx, root)
  } finally {
    await killInside(root)
    for (const target of mounted.reverse()) await run('umount', ['-l', target]).catch(() => {})
    await run('rm', ['-rf', '--one-file-system', work]).catch(() => {})
    try {
      if (stopped) await restoreMachinePlatform(ctx.settings.provisionDir, ctx.log)
    } finally {
      await lock.release()
    }
  }
}

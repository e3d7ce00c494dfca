// `npm run test:vm`: proves the provisioner on a fresh Debian 12 VM with systemd, including a reboot.
//
//   image         the cached base image (built with debootstrap when its recipe changed; needs root)
//   boot          QEMU (TCG) on a copy-on-write overlay; SSH as vagrant with a key made for this run;
//                 the host's locally added CA certificates trusted (see host-trust.ts)
//   copy          the project into /vagrant, as Vagrant's rsync synced folder does
//   provision     `sudo /vagrant/provision/bootstrap.sh`: the very entry the Vagrantfile runs
//   checks        token → transaction → stamps through nginx; `pm2 scale loyalty 5` + `pm2 save` as vagrant
//   reboot        `sudo systemctl reboot`, then nothing is provisioned again
//   after-reboot  Redis, nginx, PM2 back under systemd; 5 loyalty instances; users and stamps kept; new
//                 transactions processed
//   re-provision  a second run changes nothing (its recap), and `--check` exits 0
//
// Options: --until=<phase> stops after that phase (to develop against a partial provisioner);
// --keep keeps the run's directory (console log, provisioner logs) instead of deleting it;
// --hold leaves the VM running at the end (pass or fail) and prints how to SSH in, until Ctrl-C.
// Everything listens on 127.0.0.1 only; the VM and the run's files are removed however the run ends.
import { createWriteStream } from 'node:fs'
import { tmpdir } from 'node:os'
import { $, type ProcessOutput, type ProcessPromise, argv, fs, path } from 'zx'
import { trustHostCertificates } from './host-trust.ts'
import { abandonImageBuild, baseImage } from './image.ts'
import { type Loyalty, loyalty, online, pm2List, pm2Unit, startedCleanly, token, tokenWhenUp, transact, waitForActive, waitForInstances, waitForLoyalty } from './platform.ts'
import { changesIn, slowestSteps } from './recap.ts'
import { Report, describe, log } from './report.ts'
import { type Vm, startVm } from './vm.ts'

const phases = ['image', 'boot', 'copy', 'provision', 'checks', 'reboot', 'after-reboot', 're-provision'] as const
type PhaseName = (typeof phases)[number]
const until: PhaseName = argv.until ?? 're-provision'
if (!phases.includes(until)) {
  console.error(`--until must be one of: ${phases.join(', ')}`)
  process.exit(2)
}

const project = path.resolve(import.meta.dirname, '../..')
const minutes = 60_000
const guest = { memoryMb: 2560, cpus: 2 }
// Vagrant's rsync synced folder copies the working tree; these are built or installed inside the guest.
const notSynced = ['node_modules', 'dist', '.git', '.tap', '.vagrant', 'coverage']
const bootstrap = 'sudo /vagrant/provision/bootstrap.sh'

const report = new Report()
const runDir = await fs.mkdtemp(path.join(tmpdir(), 'yoyo-vm-'))
let vm: Vm | undefined
let cleaning: Promise<void> | undefined

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await vm?.stop().catch(error => log(`could not stop the VM: ${String(error)}`))
    await abandonImageBuild()
    if (argv.keep) log(`kept ${runDir}`)
    else await fs.rm(runDir, { recursive: true, force: true })
  })()
  return cleaning
}

for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping the VM`)
    void cleanup().finally(() => process.exit(code))
  })
}

/** Runs a long guest command, streaming its output (indented) and saving it under the run's directory. */
async function streamed(name: string, command: ProcessPromise): Promise<ProcessOutput> {
  const file = createWriteStream(path.join(runDir, `${name}.log`))
  const echo = (chunk: Buffer) => {
    file.write(chunk)
    process.stdout.write(chunk.toString().replace(/^(?=.)/gm, '    │ '))
  }
  command.stdout.on('data', echo)
  command.stderr.on('data', echo)
  const output = await command.nothrow()
  file.end()
  return output
}

async function main(): Promise<void> {
  const image = await report.phase('image', async note => {
    const built = await baseImage(log)
    note(built.cached ? 'cache hit' : 'built')
    return built
  })
  if (until === 'image') return

  vm = await report.phase('boot', async note => {
    const started = await startVm({ image, dir: runDir, ...guest })
    note(`ssh on 127.0.0.1:${started.sshPort}, nginx on 127.0.0.1:${started.httpPort}`)
    vm = started
    await report.check('the guest boots and answers SSH as vagrant', () => started.waitForSsh(10 * minutes))
    await report.check('vagrant has passwordless sudo', () => started.ssh('sudo -n true'))
    const trusted = await report.check("the guest trusts this host's local CA certificates", () => trustHostCertificates(started))
    if (trusted > 0) note(`ssh on 127.0.0.1:${started.sshPort}, nginx on 127.0.0.1:${started.httpPort}, ${trusted} host CA certificate(s) trusted`)
    return started
  })
  const machine = vm
  if (until === 'boot') return

  await report.phase('copy', async () => {
    const excludes = notSynced.map(name => `--exclude=${name}`)
    // tar exits 1 when a file changes while it is read (someone is editing): the copy is still whole.
    await $`{ tar -C ${project} ${excludes} --warning=no-file-changed -czf - . || test $? -eq 1; } | ${machine.sshCommand} ${'sudo rm -rf /vagrant && sudo install -d -o vagrant -g vagrant /vagrant && tar -xzf - -C /vagrant'}`
    await report.check('the project is at /vagrant, bootstrap.sh executable', async () => {
      const probe = await machine.ssh('test -x /vagrant/provision/bootstrap.sh').nothrow()
      if (probe.exitCode !== 0) throw new Error('/vagrant/provision/bootstrap.sh is missing or not executable (git mode 100755?)')
    })
  })
  if (until === 'copy') return

  await report.phase('provision', async note => {
    const run = await streamed('provision', machine.ssh(bootstrap))
    note(slowestSteps(run.stdout, 3))
    await report.check('the provisioner succeeds on a fresh machine', async () => {
      if (run.exitCode !== 0) throw new Error(`${bootstrap} exited ${run.exitCode}`)
    })
  })
  if (until === 'provision') return

  const before = await report.phase('checks', async () => {
    const base = machine.baseUrl
    const jwt = await report.check('alice gets a token through nginx', () => tokenWhenUp(base, 'alice', 2 * minutes))
    // The provisioner's own smoke test may have transacted already: count from what is there now.
    const start = await loyalty(base, jwt)
    await report.check('a transaction is accepted (202)', () => transact(base, jwt))
    const account = await report.check('the loyalty worker awards a stamp', () =>
      waitForLoyalty(base, 'alice', a => a.stamps >= 1 && awardedOneMore(start, a), 3 * minutes))
    await report.check('vagrant scales loyalty to 5 and saves, without sudo', () => machine.login('pm2 scale loyalty 5 && pm2 save'))
    await report.check('loyalty runs 5 instances', () => waitForInstances(machine, 'loyalty', 5, 3 * minutes))
    return account
  })
  if (until === 'checks') return

  const unit = await report.phase('reboot', async note => {
    const pm2 = await report.check('PM2 has one enabled systemd unit', () => pm2Unit(machine))
    await report.check('the guest reboots and comes back', () => machine.reboot(15 * minutes))
    note(`PM2 unit ${pm2}`)
    return pm2
  })
  if (until === 'reboot') return

  await report.phase('after-reboot', async () => {
    const base = machine.baseUrl
    // Under emulation a boot's PM2 resurrect (7 Node.js processes) takes minutes: wait generously, then
    // make sure systemd did not kill and restart anything on the way.
    const units = ['redis-server', 'nginx', unit]
    await report.check(`${units.join(', ')} are active`, () => waitForActive(machine, units, 8 * minutes))
    await report.check(`${units.join(', ')} started at boot without a restart`, async () => {
      for (const name of units) await startedCleanly(machine, name)
    })
    await report.check('loyalty came back with 5 instances (pm2 save kept the scale)', () => waitForInstances(machine, 'loyalty', 5, 3 * minutes))
    const jwt = await report.check('users survived the reboot (alice and bob log in)', async () => {
      const alice = await tokenWhenUp(base, 'alice', 2 * minutes)
      await token(base, 'bob')
      return alice
    })
    await report.check('the stamps awarded before the reboot are still there', async () => {
      const after = await loyalty(base, jwt)
      if (after.stamps !== before.stamps || after.transactions !== before.transactions) {
        throw new Error(`before reboot ${JSON.stringify(before)}, after ${JSON.stringify(after)}`)
      }
    })
    await report.check('a new transaction is processed after the reboot', async () => {
      await transact(base, await token(base, 'alice'))
      await waitForLoyalty(base, 'alice', a => awardedOneMore(before, a), 3 * minutes)
    })
  })
  if (until === 'after-reboot') return

  await report.phase('re-provision', async note => {
    const again = await streamed('re-provision', machine.ssh(bootstrap))
    note(slowestSteps(again.stdout, 3))
    await report.check('the provisioner runs again without error', async () => {
      if (again.exitCode !== 0) throw new Error(`${bootstrap} exited ${again.exitCode}`)
    })
    await report.check('the second run changes nothing (recap)', async () => {
      const changes = changesIn(again.stdout + again.stderr)
      if (changes !== 0) throw new Error(`the recap reports ${changes} change(s) on an already provisioned machine`)
    })
    const check = await streamed('check', machine.ssh(`${bootstrap} --check`))
    await report.check('`bootstrap.sh --check` reports no drift (exit 0)', async () => {
      if (check.exitCode !== 0) throw new Error(`${bootstrap} --check exited ${check.exitCode}`)
    })
    await report.check('the platform still serves after re-provisioning', async () => {
      const processes = await pm2List(machine)
      if (online(processes, 'loyalty').length !== 5) throw new Error('re-provisioning changed the loyalty scale')
      await tokenWhenUp(machine.baseUrl, 'alice', 1 * minutes)
    })
  })
}

/** One more processed transaction: one more stamp, or a completed card (a voucher, stamps back down). */
function awardedOneMore(before: Loyalty, after: Loyalty): boolean {
  if (after.transactions !== before.transactions + 1) return false
  return after.stamps === before.stamps + 1 || after.vouchers_total === before.vouchers_total + 1
}

/** On failure: what the guest's services say, saved next to the other logs and shown in short. */
async function diagnose(machine: Vm): Promise<void> {
  const guestConsole = await fs.readFile(machine.consoleLog, 'utf8').catch(() => '')
  log(`last lines of the guest console:\n${guestConsole.split('\n').slice(-15).join('\n')}`)
  const state = await machine.ssh([
    'systemctl --no-pager --failed',
    'systemctl --no-pager status redis-server nginx "pm2*" 2>&1 | head -60',
    'sudo journalctl -b --no-pager -n 60 -u "pm2*"',
    'bash -l -c "pm2 ls" 2>&1 | tail -20',
  ].join('; echo; ')).nothrow().timeout('60s')
  await fs.writeFile(path.join(runDir, 'diagnostics.log'), state.stdout + state.stderr)
  log(`guest state (also in ${argv.keep ? runDir : 'the run directory'}/diagnostics.log):\n${(state.stdout + state.stderr).trim().split('\n').slice(-60).join('\n')}`)
}

async function hold(machine: Vm): Promise<void> {
  log(`--hold: the VM stays up until Ctrl-C. SSH: ${machine.sshCommand.join(' ')}`)
  log(`--hold: nginx at ${machine.baseUrl}`)
  await new Promise(() => {}) // the signal handlers clean up and exit
}

let failure: unknown
try {
  await main()
} catch (error) {
  failure = error
  if (report.failed === 0) report.failed = 1 // it failed outside a named check: still a failure to count
}
try {
  if (failure !== undefined && vm !== undefined) await diagnose(vm)
  if (argv.hold && vm !== undefined) {
    console.log(`\n${report.summary()}`)
    await hold(vm)
  }
} finally {
  await cleanup()
}
console.log(`\n${report.summary()}`)
if (failure !== undefined) {
  console.error(`\nvm test FAILED: ${describe(failure)}`)
  process.exit(1)
}

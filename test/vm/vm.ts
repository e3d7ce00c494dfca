// One throwaway VM: QEMU (TCG software emulation: KVM guests hang on this machine) booting the cached
// base image through a copy-on-write overlay, with SSH and HTTP forwarded to random ports on 127.0.0.1
// only, and the run's own SSH key handed in through fw_cfg. Talks to the guest as `vagrant` over SSH.
import { type ChildProcess, spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { $, type ProcessPromise, fs, path, sleep } from 'zx'
import { freePort } from '../helpers/ports.ts'
import type { BaseImage } from './image.ts'

export type VmOptions = { image: BaseImage, dir: string, memoryMb: number, cpus: number }

export type Vm = {
  sshPort: number
  httpPort: number
  /** `http://127.0.0.1:<port>`: the guest's port 80 (nginx). */
  baseUrl: string
  consoleLog: string
  /** `ssh` and its arguments up to the destination, for shell pipelines (`tar ... | ssh ... 'tar -x'`). */
  sshCommand: string[]
  /** Runs `command` with the guest's shell as vagrant. */
  ssh(command: string): ProcessPromise
  /** Like ssh(), through a login shell (bash -l), the way a person at `vagrant ssh` would run it. */
  login(command: string): ProcessPromise
  waitForSsh(timeoutMs: number): Promise<void>
  bootId(): Promise<string>
  /** `sudo systemctl reboot`, then waits until SSH answers from a new boot. */
  reboot(timeoutMs: number): Promise<void>
  stop(): Promise<void>
}

export async function startVm(options: VmOptions): Promise<Vm> {
  // The free ports are found before QEMU binds them; another process can take one in between, which
  // QEMU reports as a failed host forwarding rule: then try again with new ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await bootOnce(options)
    } catch (error) {
      if (attempt >= 3 || !(error instanceof PortTakenError)) throw error
    }
  }
}

class PortTakenError extends Error {}

async function bootOnce({ image, dir, memoryMb, cpus }: VmOptions): Promise<Vm> {
  const key = path.join(dir, 'id_ed25519')
  if (!await fs.pathExists(key)) await $`ssh-keygen -q -t ed25519 -N ${''} -C yoyo-vm-test -f ${key}`
  const overlay = path.join(dir, 'overlay.qcow2')
  await fs.rm(overlay, { force: true })
  await $`qemu-img create -q -f qcow2 -b ${image.disk} -F raw ${overlay}`

  const sshPort = await freePort()
  const httpPort = await freePort()
  const consoleLog = path.join(dir, 'console.log')
  const qemuLog = path.join(dir, 'qemu.log')
  const args = [
    '-accel', 'tcg', '-cpu', 'max', '-smp', String(cpus), '-m', String(memoryMb),
    '-nodefaults', '-display', 'none', '-serial', `file:${consoleLog}`,
    '-kernel', image.kernel, '-initrd', image.initrd,
    '-append', 'root=/dev/vda rw console=ttyS0 net.ifnames=0',
    '-drive', `file=${overlay},if=virtio,format=qcow2,discard=unmap`,
    '-netdev', `user,id=net0,hostfwd=tcp:127.0.0.1:${sshPort}-:22,hostfwd=tcp:127.0.0.1:${httpPort}-:80`,
    '-device', 'virtio-net-pci,netdev=net0',
    '-device', 'virtio-rng-pci', // sshd and Node want entropy early; TCG guests have little of their own
    '-fw_cfg', `name=opt/yoyo/authorized_keys,file=${key}.pub`,
  ]
  const log = createWriteStream(qemuLog)
  const qemu: ChildProcess = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] })
  qemu.stdout?.pipe(log)
  qemu.stderr?.pipe(log)
  const exited = new Promise<void>(resolve => qemu.once('exit', () => resolve()))
  let running = true
  void exited.then(() => { running = false })

  const sshArgs = [
    '-i', key, '-p', String(sshPort), '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR',
    '-o', 'ConnectTimeout=10', '-o', 'ServerAliveInterval=15', '-o', 'ServerAliveCountMax=8',
    'vagrant@127.0.0.1',
  ]
  const ssh = (command: string) => $`ssh ${sshArgs} ${command}`.quiet()
  const qemuFailure = async (): Promise<Error> => {
    const output = await fs.readFile(qemuLog, 'utf8').catch(() => '')
    if (/host forwarding rule/i.test(output)) return new PortTakenError(output.trim())
    return new Error(`qemu exited (${qemu.exitCode ?? qemu.signalCode}): ${output.trim()}`)
  }

  const vm: Vm = {
    sshPort,
    httpPort,
    baseUrl: `http://127.0.0.1:${httpPort}`,
    consoleLog,
    sshCommand: ['ssh', ...sshArgs],
    ssh,
    login: command => ssh(`bash -l -c ${shellQuote(command)}`),
    async waitForSsh(timeoutMs) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        if (!running) throw await qemuFailure()
        const probe = await ssh('true').nothrow()
        if (probe.exitCode === 0) return
        if (Date.now() > deadline) throw new Error(`no SSH on 127.0.0.1:${sshPort} after ${timeoutMs / 1000} s: ${probe.stderr.trim()}`)
        await sleep(3000)
      }
    },
    async bootId() {
      return (await ssh('cat /proc/sys/kernel/random/boot_id')).stdout.trim()
    },
    async reboot(timeoutMs) {
      const before = await vm.bootId()
      // The connection may drop before ssh sees the exit status: that is the reboot working, not a failure.
      await ssh('sudo systemctl reboot').nothrow()
      const deadline = Date.now() + timeoutMs
      for (;;) {
        if (!running) throw await qemuFailure()
        const probe = await ssh('cat /proc/sys/kernel/random/boot_id').nothrow()
        if (probe.exitCode === 0 && probe.stdout.trim() !== before) return
        if (Date.now() > deadline) throw new Error(`the guest did not come back from reboot within ${timeoutMs / 1000} s`)
        await sleep(3000)
      }
    },
    async stop() {
      if (!running) return
      qemu.kill('SIGTERM')
      await Promise.race([exited, sleep(5000)])
      if (running) qemu.kill('SIGKILL')
      await exited
      log.end()
    },
  }

  // A clash on a forwarded port makes QEMU exit at once; anything else shows up while waiting for SSH.
  await Promise.race([exited, sleep(1500)])
  if (!running) throw await qemuFailure()
  return vm
}

/** Quotes one argument for a POSIX shell. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`
}

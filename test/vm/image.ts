// The base VM image: a minimal Debian 12 that stands in for the Vagrant box (systemd, OpenSSH, a `vagrant`
// user with passwordless sudo, DHCP networking). Built once with debootstrap and cached under
// ~/.cache/yoyo-platform/vm/<recipe hash>/; each run boots a copy-on-write overlay of it, so the cache is
// never written to. The recipe hash covers this whole file (package list, suite, mirror, the files written
// into the image), so any edit here builds a new image and removes the stale ones.
import { createHash } from 'node:crypto'
import { readFile, readdir } from 'node:fs/promises'
import { homedir } from 'node:os'
import { $, fs, path } from 'zx'

const suite = 'bookworm'
const mirror = 'http://deb.debian.org/debian'
// Like a Vagrant box: no Node, no curl, no build tools. The provisioner must bring what it needs.
const packages = [
  'linux-image-amd64', 'systemd-sysv', 'udev', 'dbus', 'libpam-systemd', 'kmod',
  'openssh-server', 'sudo', 'ifupdown', 'isc-dhcp-client', 'netbase', 'iproute2', 'procps',
]
const diskSize = '8G' // sparse: the cached file holds only the ~600 MB in use

export type BaseImage = { disk: string, kernel: string, initrd: string, cached: boolean }

export function cacheRoot(): string {
  return path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'yoyo-platform', 'vm')
}

async function recipeKey(): Promise<string> {
  const recipe = await readFile(import.meta.filename)
  return createHash('sha256').update(recipe).digest('hex').slice(0, 16)
}

/** The cached base image for the current recipe, built first if missing. `log` gets progress lines. */
export async function baseImage(log: (line: string) => void): Promise<BaseImage> {
  const key = await recipeKey()
  const root = cacheRoot()
  const dir = path.join(root, key)
  const image = { disk: path.join(dir, 'base.img'), kernel: path.join(dir, 'vmlinuz'), initrd: path.join(dir, 'initrd.img') }
  if (await fs.pathExists(path.join(dir, 'ready'))) return { ...image, cached: true }

  if (process.getuid?.() !== 0) throw new Error('building the VM image needs root (debootstrap, chroot); run as root or build the cache once as root')
  await fs.mkdirp(root)
  const work = await fs.mkdtemp(path.join(root, `.build-${key}-`))
  building = work
  try {
    const rootfs = path.join(work, 'rootfs')
    log(`building base image ${key} (debootstrap ${suite}, ${packages.length} packages)`)
    await $`debootstrap --variant=minbase --include=${packages.join(',')} ${suite} ${rootfs} ${mirror}`.quiet()
    await configure(rootfs)
    await unmountUnder(rootfs)
    await fs.copy(await onlyMatch(path.join(rootfs, 'boot'), /^vmlinuz-/), path.join(work, 'vmlinuz'))
    await fs.copy(await onlyMatch(path.join(rootfs, 'boot'), /^initrd\.img-/), path.join(work, 'initrd.img'))
    log('writing the ext4 disk image')
    await $`mkfs.ext4 -q -L yoyo-root -d ${rootfs} ${path.join(work, 'base.img')} ${diskSize}`
    await $`rm -rf --one-file-system ${rootfs}`
    await fs.chmod(path.join(work, 'base.img'), 0o444) // overlays only: a write here would corrupt every later run
    await fs.writeFile(path.join(work, 'ready'), JSON.stringify({ suite, mirror, packages, builtAt: new Date().toISOString() }, null, 2))
    await removeStaleImages(root, key)
    await fs.rename(work, dir)
  } finally {
    await discard(work)
    building = undefined
  }
  return { ...image, cached: false }
}

let building: string | undefined

/** For signal handlers: removes a half-built image (and anything debootstrap left mounted in it). */
export async function abandonImageBuild(): Promise<void> {
  if (building !== undefined) await discard(building)
}

async function discard(work: string): Promise<void> {
  if (!await fs.pathExists(work)) return
  await unmountUnder(work)
  await $`rm -rf --one-file-system ${work}`.nothrow()
}

/** Everything beyond debootstrap: the vagrant user, networking, the SSH key hook, box-like cleanup. */
async function configure(rootfs: string): Promise<void> {
  const write = async (file: string, text: string, mode = 0o644) => {
    const target = path.join(rootfs, file)
    await fs.mkdirp(path.dirname(target))
    await fs.writeFile(target, text, { mode })
    await fs.chmod(target, mode)
  }
  const chroot = (args: string[]) => $`chroot ${rootfs} ${args}`.quiet()

  await write('etc/hostname', 'yoyo-vm\n')
  await write('etc/hosts', '127.0.0.1\tlocalhost\n127.0.1.1\tyoyo-vm\n::1\t\tlocalhost ip6-localhost ip6-loopback\n')
  await write('etc/fstab', 'LABEL=yoyo-root\t/\text4\tdefaults,errors=remount-ro\t0\t1\n')
  await write('etc/apt/sources.list', [
    `deb ${mirror} ${suite} main`,
    `deb ${mirror} ${suite}-updates main`,
    `deb ${mirror}-security ${suite}-security main`,
  ].join('\n') + '\n')
  // The kernel is booted with net.ifnames=0, so the one NIC is eth0, configured the Debian way.
  await write('etc/network/interfaces', 'source /etc/network/interfaces.d/*\n\nauto lo\niface lo inet loopback\n\nallow-hotplug eth0\niface eth0 inet dhcp\n')

  // Vagrant's conventions: user vagrant, passwordless sudo, key-based SSH.
  await chroot(['useradd', '--create-home', '--shell', '/bin/bash', 'vagrant'])
  await write('etc/sudoers.d/vagrant', 'vagrant ALL=(ALL) NOPASSWD: ALL\nDefaults:vagrant !requiretty\n', 0o440)
  await write('etc/ssh/sshd_config.d/vagrant.conf', 'UseDNS no\nPasswordAuthentication no\n')

  // Each run makes its own key pair and hands the public key in through QEMU's fw_cfg
  // (-fw_cfg name=opt/yoyo/authorized_keys,file=...); this unit installs it before sshd starts, on every
  // boot, so the cached image holds no key at all.
  await write('usr/local/sbin/vagrant-authorized-keys', `#!/bin/sh
set -eu
modprobe qemu_fw_cfg
key=/sys/firmware/qemu_fw_cfg/by_name/opt/yoyo/authorized_keys/raw
install -d -m 0700 -o vagrant -g vagrant /home/vagrant/.ssh
cat "$key" > /home/vagrant/.ssh/authorized_keys.new
chown vagrant:vagrant /home/vagrant/.ssh/authorized_keys.new
chmod 0600 /home/vagrant/.ssh/authorized_keys.new
mv /home/vagrant/.ssh/authorized_keys.new /home/vagrant/.ssh/authorized_keys
`, 0o755)
  await write('etc/systemd/system/vagrant-authorized-keys.service', `[Unit]
Description=Install the test run's SSH public key for vagrant (from QEMU fw_cfg)
Before=ssh.service
After=systemd-modules-load.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/vagrant-authorized-keys

[Install]
WantedBy=multi-user.target
`)
  await chroot(['systemctl', 'enable', 'vagrant-authorized-keys.service'])

  // Like a published box: no package lists (the provisioner must run apt-get update), no cached .debs, and
  // an empty machine-id that systemd fills in on first boot.
  await chroot(['apt-get', 'clean'])
  await $`find ${path.join(rootfs, 'var/lib/apt/lists')} -mindepth 1 -maxdepth 1 -type f -delete`
  await fs.writeFile(path.join(rootfs, 'etc/machine-id'), '')
  await fs.rm(path.join(rootfs, 'var/lib/dbus/machine-id'), { force: true })
}

async function onlyMatch(dir: string, pattern: RegExp): Promise<string> {
  const found = (await readdir(dir)).filter(name => pattern.test(name))
  if (found.length !== 1) throw new Error(`expected one ${pattern} in ${dir}, found ${found.length}`)
  return path.join(dir, found[0] as string)
}

/** debootstrap mounts /proc and /sys (and may bind /dev) inside the tree; leave none behind a failure. */
async function unmountUnder(dir: string): Promise<void> {
  const mounts = (await readFile('/proc/self/mounts', 'utf8')).split('\n')
    .map(line => line.split(' ')[1]?.replace(/\\040/g, ' '))
    .filter((point): point is string => point !== undefined && point.startsWith(dir + '/'))
    .sort((a, b) => b.length - a.length)
  for (const point of mounts) await $`umount -l ${point}`.nothrow()
}

async function removeStaleImages(root: string, key: string): Promise<void> {
  for (const name of await readdir(root)) {
    if (/^[0-9a-f]{16}$/.test(name) && name !== key) await fs.rm(path.join(root, name), { recursive: true, force: true })
  }
}

// Makes the guest trust the CA certificates this host added locally (/usr/local/share/ca-certificates),
// as the vagrant-ca-certificates plugin does for a Vagrant box. Behind a proxy that inspects TLS (a
// company network, this CI) the guest's curl and npm reach the npm registry only with them. A host
// without such certificates changes nothing in the guest. Only public certificates are copied.
import { readFile, readdir } from 'node:fs/promises'
import { path } from 'zx'
import type { Vm } from './vm.ts'

const localCaDir = '/usr/local/share/ca-certificates'
const nodeBundle = '/etc/ssl/host-extra-ca.pem'

/** Returns how many certificate files the guest now trusts besides its own. */
export async function trustHostCertificates(vm: Vm): Promise<number> {
  const files = (await readdir(localCaDir).catch(() => [] as string[])).filter(name => name.endsWith('.crt')).sort()
  for (const name of files) {
    const upload = vm.ssh(`sudo install -d -m 0755 ${localCaDir} && sudo tee ${localCaDir}/host-${name} >/dev/null`)
    upload.stdin.end(await readFile(path.join(localCaDir, name)))
    await upload
  }
  if (files.length === 0) return 0
  // host-*.crt: update-ca-certificates (run when the provisioner installs ca-certificates, and here if it
  // is there already) adds them to the system bundle that curl and apt use. Node.js (npm) ignores that
  // bundle: it gets NODE_EXTRA_CA_CERTS, set for SSH sessions by /etc/environment and kept by sudo; the
  // provisioner passes it on to the commands it runs.
  await vm.ssh([
    'set -eu',
    `sudo install -d -m 0755 ${path.dirname(nodeBundle)}`,
    `cat ${localCaDir}/host-*.crt | sudo tee ${nodeBundle} >/dev/null`,
    `grep -q '^NODE_EXTRA_CA_CERTS=' /etc/environment || echo 'NODE_EXTRA_CA_CERTS=${nodeBundle}' | sudo tee -a /etc/environment >/dev/null`,
    `echo 'Defaults env_keep += "NODE_EXTRA_CA_CERTS"' | sudo tee /etc/sudoers.d/host-ca >/dev/null`,
    'sudo chmod 0440 /etc/sudoers.d/host-ca',
    'if command -v update-ca-certificates >/dev/null; then sudo update-ca-certificates >/dev/null; fi',
  ].join('\n'))
  return files.length
}

// What the provisioner reads of the machine it runs on: the humans who get PM2 access, the PATH its
// commands get, and the network settings it passes on to the commands that download.
import { readFile } from 'node:fs/promises'
import t from 'tap'
import { accountDatabase, readAccounts } from '../../provision/lib/accounts.ts'
import { loginUsers, networkEnvironment, pathWith } from '../../provision/lib/system.ts'
import { runAs } from '../../provision/lib/shell.ts'

const passwd = 'root:x:0:0:root:/root:/bin/bash\nvagrant:x:1000:1000::/home/vagrant:/bin/bash\ndev:x:1001:1001::/home/dev:/bin/bash\n'
const group = 'root:x:0:\nvagrant:x:1000:\ndev:x:1001:\n'

t.test('when sudo was run by a human, then that human and the Vagrant user get PM2 access, each once, never root', async (t) => {
  const accounts = accountDatabase(passwd, group)
  t.same(loginUsers({ SUDO_USER: 'dev' }, accounts), ['dev', 'vagrant'])
  t.same(loginUsers({ SUDO_USER: 'vagrant' }, accounts), ['vagrant'], 'vagrant once')
  t.same(loginUsers({ SUDO_USER: 'root' }, accounts), ['vagrant'], 'root is not a login user')
  t.same(loginUsers({}, accounts), ['vagrant'], 'not run through sudo')
  t.same(loginUsers({ SUDO_USER: 'ghost' }, accountDatabase('root:x:0:0:root:/root:/bin/bash\n', 'root:x:0:\n')), [], 'users this machine does not have are left out')
})

t.test('when the account names of ids are asked, then they come from the files, or undefined', async (t) => {
  const accounts = accountDatabase(passwd, group)
  t.equal(accounts.userName(1001), 'dev')
  t.equal(accounts.groupName(1000), 'vagrant')
  t.equal(accounts.userName(4242), undefined)
  const machine = await readAccounts()
  t.equal(machine.userName(0), 'root', "this machine's /etc/passwd")
  t.equal(machine.user('root')?.home, (await readFile('/etc/passwd', 'utf8')).match(/^root:[^:]*:0:0:[^:]*:([^:]*):/m)?.[1])
})

t.test('when a Node.js bin directory is put first on PATH, then the system directories follow, none twice', async (t) => {
  t.equal(pathWith('/usr/local/lib/nodejs/node-v24/bin'), '/usr/local/lib/nodejs/node-v24/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
  t.equal(pathWith('/usr/bin'), '/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/sbin:/bin')
})

t.test('when the provisioner runs behind a proxy, then its proxy, CA and npm settings are passed on, and nothing else', async (t) => {
  const env = { https_proxy: 'http://proxy:3128', NO_PROXY: 'localhost', NODE_EXTRA_CA_CERTS: '/etc/ssl/proxy.pem', npm_config_registry: 'https://registry.example', HOME: '/root', REDIS_PASSWORD: 'secret', HTTP_PROXY: '', SUDO_USER: 'dev' }
  t.same(networkEnvironment(env), { https_proxy: 'http://proxy:3128', NO_PROXY: 'localhost', NODE_EXTRA_CA_CERTS: '/etc/ssl/proxy.pem', npm_config_registry: 'https://registry.example' })
})

t.test('when a command is run as another user, then it runs as that user with only the environment given', { skip: process.getuid?.() !== 0 && 'runuser needs root' }, async (t) => {
  const output = await runAs('nobody', ['sh', '-c', 'id -un; echo "[$HOME][$REDIS_PASSWORD]"'], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/nonexistent' }, cwd: '/' })
  t.equal(output.stdout, 'nobody\n[/nonexistent][]\n')
})

// provision/bootstrap.sh's refusals, run for real against a stub registry: it must never unpack a
// tarball whose sha512 differs from the pinned one. (The happy path downloads 50 MB: verified by hand
// and by every `vagrant up`.)
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'

const run = promisify(execFile)
const bootstrap = join(import.meta.dirname, '..', '..', 'provision', 'bootstrap.sh')
const isRoot = process.getuid?.() === 0
// With a Node.js >= 24 on PATH, bootstrap.sh uses it and downloads nothing.
const hasNode24 = Number(process.versions.node.split('.')[0]) >= 24

t.test('when not run as root, then bootstrap.sh refuses at once', { skip: !isRoot && 'needs root to switch to another user' }, async (t) => {
  await t.rejects(run('runuser', ['-u', 'nobody', '--', 'sh', bootstrap, '--check']), { code: 1, stderr: /run me as root/ })
})

t.test('when the registry serves a tarball that does not match the pinned integrity, then nothing is installed', { skip: (!isRoot && 'needs root') || (hasNode24 && 'a Node.js >= 24 is on PATH') }, async (t) => {
  const requested: string[] = []
  const registry = createServer((req, res) => {
    requested.push(req.url ?? '')
    res.end('this is not the Node.js tarball')
  })
  registry.listen(0, '127.0.0.1')
  await once(registry, 'listening')
  t.teardown(() => registry.close())
  const address = registry.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  const dir = await mkdtemp(join(tmpdir(), 'yoyo-bootstrap-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))

  const result = await run('sh', [bootstrap, '--check'], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NPM_REGISTRY: `http://127.0.0.1:${port}/`, YOYO_NODE_ROOT: join(dir, 'nodejs'), NODE_LINK_DIR: join(dir, 'bin') },
  }).then(() => ({ code: 0, stderr: '' }), (err: { code: number; stderr: string }) => err)

  t.equal(result.code, 1)
  t.match(result.stderr, /integrity check failed for http:\/\/127\.0\.0\.1:\d+\/node-linux-(x64|arm64)\/-\/node-linux-(x64|arm64)-24\.21\.0\.tgz/)
  t.match(result.stderr, /not installing it/)
  t.match(requested[0], /^\/node-linux-(x64|arm64)\/-\/node-linux-(x64|arm64)-24\.21\.0\.tgz$/, 'the registry given by NPM_REGISTRY, the npm tarball URL layout')
  t.notOk(existsSync(join(dir, 'nodejs', 'node-v24.21.0')), 'nothing unpacked')
  t.notOk(existsSync(join(dir, 'bin')), 'no links')
  const leftovers = (await readdir(tmpdir())).filter((name) => name.startsWith('tmp.') && existsSync(join(tmpdir(), name, 'node.tgz')))
  t.same(leftovers, [], 'the download is cleaned up')
})

// provision/bootstrap.sh's refusals, run for real against a stub registry: it must never unpack a
// tarball whose sha512 differs from the pinned one. (The happy path downloads 50 MB: verified by every
// CI run and `vagrant up`; test/platform/bootstrap-env.e2e.ts runs it with a hostile NODE_OPTIONS.)
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'

const run = promisify(execFile)
const bootstrap = join(import.meta.dirname, '..', '..', 'provision', 'bootstrap.sh')
const isRoot = process.getuid?.() === 0

t.test('when not run as root, then bootstrap.sh refuses at once', { skip: !isRoot && 'needs root to switch to another user' }, async (t) => {
  await t.rejects(run('runuser', ['-u', 'nobody', '--', 'sh', bootstrap, '--check']), { code: 1, stderr: /run me as root/ })
})

t.test('when the registry serves a tarball that does not match the pinned integrity, then nothing is installed', { skip: !isRoot && 'needs root' }, async (t) => {
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

  // Whatever Node.js this machine has, bootstrap.sh must see only an old one, so that it downloads its own.
  const oldNode = join(dir, 'old-node')
  await mkdir(oldNode)
  await writeFile(join(oldNode, 'node'), '#!/bin/sh\necho 20\n', { mode: 0o755 })
  const result = await run('sh', [bootstrap, '--check'], {
    env: { PATH: `${oldNode}:${process.env.PATH ?? '/usr/bin:/bin'}`, NPM_REGISTRY: `http://127.0.0.1:${port}/`, YOYO_NODE_ROOT: join(dir, 'nodejs'), NODE_LINK_DIR: join(dir, 'bin') },
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

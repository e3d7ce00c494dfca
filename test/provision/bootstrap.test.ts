// provision/bootstrap.sh's refusals, run for real against a stub registry: it must never unpack a
// tarball whose sha512 differs from the pinned one. (The happy path downloads 50 MB: verified by hand
// and by every `vagrant up`.)
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'

const run = promisify(execFile)
const bootstrap = join(import.meta.dirname, '..', '..', 'provision', 'bootstrap.sh')
const isRoot = process.getuid?.() === 0
// With a Node.js >= 24 on PATH, bootstrap.sh uses it and downloads nothing.
const hasNode24 = Number(process.versions.node.split('.')[0]) >= 24
// Or one bootstrap.sh installed before (it then uses that one).
const nodeHome = '/usr/local/lib/nodejs/node-v24.21.0/bin'
const node24Ready = hasNode24 || (existsSync(join(nodeHome, 'node')) && existsSync(join(nodeHome, 'npm')))

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

t.test('when NODE_OPTIONS holds an --import loader, then bootstrap.sh keeps it from the provisioner and what it runs', { skip: (!isRoot && 'needs root') || (!node24Ready && 'no Node.js >= 24 to run it with (it would download one)') }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'yoyo-bootstrap-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  // A loader that leaves a trace in every node process it loads into.
  const marks = join(dir, 'loaded-into')
  const loader = join(dir, 'loader.mjs')
  await writeFile(loader, `import { appendFileSync } from 'node:fs'\nappendFileSync(${JSON.stringify(marks)}, process.argv.slice(1).join(' ') + '\\n')\n`)
  // Plus tap's own (this process has it), which made the provisioner fail with
  // "Cannot set properties of undefined (setting 'verbose')".
  const nodeOptions = [process.env.NODE_OPTIONS, `--import=${pathToFileURL(loader).href}`].filter(Boolean).join(' ')

  // A copy of provision/ (and nginx/, which it renders from, and the OpenAPI document): bootstrap.sh may `npm ci` next to itself,
  // and the source tree is not this test's to change while other test files import from it.
  const copy = join(dir, 'provision')
  await cp(join(bootstrap, '..'), copy, { recursive: true })
  await cp(join(bootstrap, '..', '..', 'nginx'), join(dir, 'nginx'), { recursive: true })
  // and the OpenAPI document, which it publishes as the docs page.
  await cp(join(bootstrap, '..', '..', 'services', 'shared', 'openapi.ts'), join(dir, 'services', 'shared', 'openapi.ts'))
  const result = await run('sh', [join(copy, 'bootstrap.sh'), '--check', '--only', 'ensurePackages'], {
    // No links: the machine's node and npm stay as they are.
    env: { ...process.env, NODE_OPTIONS: nodeOptions, NODE_LINK_DIR: '' },
  }).then((ok) => ({ code: 0, ...ok }), (err: { code: number; stdout: string; stderr: string }) => err)

  t.not(result.code, 1, `the provisioner ran (stderr: ${result.stderr.trim()})`)
  t.match(result.stdout, /^(ok|drift) +ensurePackages /m)
  t.match(result.stdout, /recap: .*0 failed/)
  t.notOk(existsSync(marks), 'the loader was loaded into no node process')
})

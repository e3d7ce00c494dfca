// provision/bootstrap.sh on a provisioned machine (so with its Node.js 24, whatever node `npm test` ran
// with): a NODE_OPTIONS loader from the caller's shell must reach neither the provisioner nor what it runs.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'

const run = promisify(execFile)
const bootstrap = join(import.meta.dirname, '..', '..', 'provision', 'bootstrap.sh')

t.test('when NODE_OPTIONS holds an --import loader, then bootstrap.sh keeps it from the provisioner and what it runs', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'yoyo-bootstrap-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  // A loader that leaves a trace in every node process it loads into.
  const marks = join(dir, 'loaded-into')
  const loader = join(dir, 'loader.mjs')
  await writeFile(loader, `import { appendFileSync } from 'node:fs'\nappendFileSync(${JSON.stringify(marks)}, process.argv.slice(1).join(' ') + '\\n')\n`)
  // Plus tap's own (this process has it), which made the provisioner fail with
  // "Cannot set properties of undefined (setting 'verbose')".
  const nodeOptions = [process.env.NODE_OPTIONS, `--import=${pathToFileURL(loader).href}`].filter(Boolean).join(' ')

  // A copy of provision/ and what it loads from the source (nginx/, services/ for the OpenAPI document and
  // the manifest's loader, platform.json, scripts/build.ts for the build): bootstrap.sh may `npm ci` next to itself, and the source tree
  // is not this test's to change while other test files import from it. No node_modules but its own: the
  // provisioner must run without the app's packages, as on a fresh VM.
  const copy = join(dir, 'provision')
  const root = join(bootstrap, '..', '..')
  await cp(join(root, 'provision'), copy, { recursive: true })
  for (const path of ['nginx', 'services', 'platform.json', 'scripts/build.ts']) {
    await cp(join(root, path), join(dir, path), { recursive: true, filter: (source) => !source.includes('node_modules') })
  }
  const result = await run('sh', [join(copy, 'bootstrap.sh'), '--check', '--only', 'ensurePackages'], {
    // No links: the machine's node and npm stay as they are.
    env: { ...process.env, NODE_OPTIONS: nodeOptions, NODE_LINK_DIR: '' },
  }).then((ok) => ({ code: 0, ...ok }), (err: { code: number; stdout: string; stderr: string }) => err)

  t.not(result.code, 1, `the provisioner ran (stderr: ${result.stderr.trim()})`)
  t.match(result.stdout, /^(ok|drift) +ensurePackages /m)
  t.match(result.stdout, /recap: .*0 failed/)
  t.notOk(existsSync(marks), 'the loader was loaded into no node process')
})

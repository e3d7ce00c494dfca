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

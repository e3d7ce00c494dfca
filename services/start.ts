// One entry for every service, for the container image: `node dist/services/start.js <service>` runs
// dist/services/<service>/main.js in this same process (no child: the image's init, tini, sends SIGTERM
// straight to the service). The services are the directories next to this file that have a main.js, so
// a new service needs no entry here. Works outside a container too: `node dist/services/start.js auth-api`.
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const here = import.meta.dirname
const services = readdirSync(here, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && readdirSync(join(here, entry.name)).includes('main.js'))
  .map((entry) => entry.name)
  .sort()

const name = process.argv[2]
if (name === undefined || !services.includes(name)) {
  const what = name === undefined ? 'name the service to run' : `there is no service ${JSON.stringify(name)}`
  process.stderr.write(`${what}: one of ${services.join(', ')}\n`)
  // EX_USAGE: the command line is wrong, restarting will not help.
  process.exit(64)
}
await import(pathToFileURL(join(here, name, 'main.js')).href)

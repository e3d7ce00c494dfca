// One entry for every service, for the container image: `node dist/services/start.js <app>` runs the app
// the platform manifest (platform.json) names, from its built entry (dist/<source>/main.js), in this same
// process: no child, so the image's init (tini) sends SIGTERM straight to the service. A new app in the
// manifest needs nothing here. Works outside a container too: `node dist/services/start.js auth`.
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { appNamesOf, builtEntryOf, platform, sourceEntryOf } from './shared/platform.ts'

// Entries are relative to the repository root: one level up from services/start.ts, two from
// dist/services/start.js. Run from source (node --import tsx services/start.ts), it runs the source entry.
const fromSource = import.meta.filename.endsWith('.ts')
const root = join(import.meta.dirname, fromSource ? '..' : join('..', '..'))
const apps = appNamesOf(platform)
const name = process.argv[2]
if (name === undefined || !apps.includes(name)) {
  const what = name === undefined ? 'name the app to run' : `there is no app ${JSON.stringify(name)}`
  process.stderr.write(`${what}: one of ${apps.join(', ')}\n`)
  // EX_USAGE: the command line is wrong, restarting will not help.
  process.exit(64)
}
await import(pathToFileURL(join(root, fromSource ? sourceEntryOf(platform, name) : builtEntryOf(platform, name))).href)

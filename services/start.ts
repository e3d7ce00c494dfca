// One entry for every service, for the container image: `node services/start.ts <app>` runs the app the
// platform manifest (platform.json) names, from its entry (<source>/main.ts, TypeScript that Node.js 24
// runs as it is), in this same process: no child, so the image's init (tini) sends SIGTERM straight to
// the service. A new app in the manifest needs nothing here. Works outside a container too:
// `node services/start.ts auth` (or `node --import tsx services/start.ts auth` on Node.js 20).
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { appNamesOf, platform, sourceEntryOf } from './shared/platform.ts'

// Entries are relative to the repository root, one level up from services/start.ts.
const root = join(import.meta.dirname, '..')
const apps = appNamesOf(platform)
const name = process.argv[2]
if (name === undefined || !apps.includes(name)) {
  const what = name === undefined ? 'name the app to run' : `there is no app ${JSON.stringify(name)}`
  process.stderr.write(`${what}: one of ${apps.join(', ')}\n`)
  // EX_USAGE: the command line is wrong, restarting will not help.
  process.exit(64)
}
await import(pathToFileURL(join(root, sourceEntryOf(platform, name))).href)

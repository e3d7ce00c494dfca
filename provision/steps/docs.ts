import { existsSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { docsSiteFiles } from '../../nginx/docs-site.ts'
import { openApiDocument } from '../../services/shared/openapi.ts'
import { madeEarlier } from '../lib/command.ts'
import type { Step } from '../lib/context.ts'
import { ensureAbsent, ensureDirectory, ensureFile } from '../lib/files.ts'

/**
 * The API docs page, /docs/: Swagger UI (from the app's own swagger-ui-dist, no CDN) and the OpenAPI
 * document (services/shared/openapi.ts) as openapi.json, published as plain files that nginx serves
 * itself. Their own directory, world-readable and owned by root, rather than the app dir: nginx
 * (www-data) can read exactly what is public and nothing of the app. Files are written only when they
 * differ and stale ones removed; nginx reads them per request, so nothing is reloaded.
 */
export const ensureDocsPublished: Step = {
  name: 'ensureDocsPublished',
  async run(ctx) {
    const { docsDir, appDir } = ctx.paths
    const swaggerUi = join(appDir, 'node_modules', 'swagger-ui-dist')
    if (!madeEarlier(ctx, existsSync(swaggerUi), `publish the API docs to ${docsDir}`, `${swaggerUi} is missing: run ensureAppBuilt first`)) return
    const files = await docsSiteFiles(swaggerUi, openApiDocument)
    const site = dirname(docsDir)
    await ensureDirectory(ctx, dirname(site), { mode: 0o755 })
    await ensureDirectory(ctx, site, { mode: 0o755 })
    await ensureDirectory(ctx, docsDir, { mode: 0o755 })
    // Independent files: compared (and written) at once.
    await Promise.all([...files].map(([name, content]) => ensureFile(ctx, join(docsDir, name), content, { mode: 0o644 })))
    const stale = (await readdir(docsDir).catch(() => [] as string[])).filter((name) => !files.has(name))
    await Promise.all(stale.map((name) => ensureAbsent(ctx, join(docsDir, name))))
  },
}

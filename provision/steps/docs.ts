import { existsSync } from 'node:fs'
import { mkdir, readdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { docsSiteFiles } from '../../nginx/docs-site.ts'
import { openApiDocument } from '../../services/shared/openapi.ts'
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
    if (!existsSync(swaggerUi)) {
      ctx.note(`publish the API docs to ${docsDir}`)
      if (ctx.check) return
      throw new Error(`${swaggerUi} is missing: run ensureAppBuilt first`)
    }
    const files = await docsSiteFiles(swaggerUi, openApiDocument)
    const site = dirname(docsDir)
    if (!ctx.check) await mkdir(dirname(site), { recursive: true })
    await ensureDirectory(ctx, site, { mode: 0o755 })
    await ensureDirectory(ctx, docsDir, { mode: 0o755 })
    for (const [name, content] of files) await ensureFile(ctx, join(docsDir, name), content, { mode: 0o644 })
    for (const name of await readdir(docsDir).catch(() => [] as string[])) {
      if (!files.has(name)) await ensureAbsent(ctx, join(docsDir, name))
    }
  },
}

// The API docs page nginx serves at /docs/: Swagger UI from the swagger-ui-dist package (local files:
// the machine may be offline, so no CDN) and the OpenAPI document as openapi.json. Pure apart from
// reading the package's files: the provisioner publishes these files, the tests serve them from a temp dir.
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'

/** What the page needs of swagger-ui-dist (no source maps, no standalone preset: the page has no top bar). */
export const swaggerUiAssets = ['swagger-ui.css', 'swagger-ui-bundle.js', 'favicon-32x32.png', 'favicon-16x16.png'] as const

// The page's one inline style, allowed by its hash in the CSP below.
const docsInlineStyle = 'body { margin: 0; }'

export const docsIndexHtml = `<!doctype html>
<!-- Managed by the yoyo-platform provisioner (nginx/docs-site.ts): edits are overwritten. -->
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Yoyo Wallet platform API</title>
    <link rel="stylesheet" href="./swagger-ui.css">
    <link rel="icon" type="image/png" href="./favicon-32x32.png" sizes="32x32">
    <link rel="icon" type="image/png" href="./favicon-16x16.png" sizes="16x16">
    <style>${docsInlineStyle}</style>
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="./swagger-ui-bundle.js"></script>
    <script src="./swagger-initializer.js"></script>
  </body>
</html>
`

// validatorUrl null: Swagger UI would otherwise send the document to an online validator for its badge.
export const docsInitializer = `// Managed by the yoyo-platform provisioner (nginx/docs-site.ts): edits are overwritten.
window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: './openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  })
}
`

/**
 * The docs page's Content-Security-Policy: Swagger UI's own files, the document from the same place,
 * the one inline style by hash (no 'unsafe-inline'), and no framing by other sites. Swagger UI's
 * "Try it out" calls the API on this host: connect-src 'self'.
 */
export const docsCsp = [
  "default-src 'none'",
  "script-src 'self'",
  `style-src 'self' 'sha256-${createHash('sha256').update(docsInlineStyle, 'utf8').digest('base64')}'`,
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

/** Every file of the docs site by name: index.html, swagger-initializer.js, openapi.json and Swagger UI's assets. */
export async function docsSiteFiles(swaggerUiDir: string, document: object): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>([
    ['index.html', Buffer.from(docsIndexHtml)],
    ['swagger-initializer.js', Buffer.from(docsInitializer)],
    ['openapi.json', Buffer.from(`${JSON.stringify(document, null, 2)}\n`)],
  ])
  for (const name of swaggerUiAssets) files.set(name, await readFile(join(swaggerUiDir, name)))
  return files
}

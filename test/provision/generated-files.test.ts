// The files the repository keeps that are rendered from platform.json must be what it renders now.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { repoRoot } from '../../provision/lib/paths.ts'
import { generatedFiles } from '../../provision/render/generated-files.ts'

for (const { path, content } of generatedFiles()) {
  t.test(`when ${path} is read, then it is what platform.json renders (else: npm run generate)`, async (t) => {
    t.equal(await readFile(join(repoRoot, path), 'utf8'), content, `${path} is current`)
  })
}

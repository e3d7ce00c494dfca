// `npm run generate`: writes the files rendered from platform.json that the repository keeps
// (.env.example, nginx/yoyo-platform.conf, deploy/kubernetes/**/*.yaml). Run it after changing platform.json or nginx/render.ts.
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { repoRoot } from '../provision/lib/paths.ts'
import { generatedFiles } from '../provision/render/generated-files.ts'

for (const { path, content } of generatedFiles()) {
  const file = join(repoRoot, path)
  if ((await readFile(file, 'utf8').catch(() => '')) === content) continue
  await mkdir(dirname(file), { recursive: true })
  await writeFile(file, content)
  process.stdout.write(`wrote ${path}\n`)
}

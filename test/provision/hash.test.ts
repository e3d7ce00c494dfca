import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { hashTree } from '../../provision/lib/hash.ts'

t.test('when sources change, then the hash changes; node_modules and untracked entries do not count', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'yoyo-hash-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await mkdir(join(dir, 'services', 'a', 'node_modules'), { recursive: true })
  await writeFile(join(dir, 'services', 'a', 'main.ts'), 'one')
  await writeFile(join(dir, 'package.json'), '{}')
  const first = await hashTree(dir, ['services', 'package.json', 'missing.json'])
  t.match(first, /^[0-9a-f]{64}$/)
  t.equal(await hashTree(dir, ['package.json', 'missing.json', 'services']), first, 'entry order does not matter')
  await writeFile(join(dir, 'services', 'a', 'node_modules', 'x.js'), 'ignored')
  await writeFile(join(dir, 'other.txt'), 'not an input')
  t.equal(await hashTree(dir, ['services', 'package.json', 'missing.json']), first)
  await writeFile(join(dir, 'services', 'a', 'main.ts'), 'two')
  t.not(await hashTree(dir, ['services', 'package.json', 'missing.json']), first)
  await writeFile(join(dir, 'missing.json'), '')
  t.not(await hashTree(dir, ['services', 'package.json', 'missing.json']), first, 'a new file counts')
})

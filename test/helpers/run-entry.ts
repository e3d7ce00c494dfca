import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))

type Exit = { code: number | null; stdout: string; stderr: string }

/** Runs node with tsx and `args` from the repository root, with only PATH and `env`, to its exit. */
async function runNode(args: string[], env: Record<string, string>): Promise<Exit> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: root,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const [code] = (await once(child, 'exit')) as [number | null]
  return { code, stdout, stderr }
}

/** Runs a TypeScript entry (`services/auth-api/main.ts`, ...) as PM2 would, with only PATH and `env`, to its exit. */
export function runEntry(entry: string, env: Record<string, string>, args: string[] = []): Promise<Exit> {
  return runNode([entry, ...args], env)
}

/** Runs `script` (CommonJS, `node -e`; it can `import()` the repository's TypeScript) the same way. */
export function runInline(script: string, env: Record<string, string> = {}): Promise<Exit> {
  return runNode(['-e', script], env)
}

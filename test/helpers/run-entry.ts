import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))

type Exit = { code: number | null; stdout: string; stderr: string }

/** Runs node with tsx and `args` from the repository root, with the environment `env` and nothing else, to its exit. */
async function runNode(args: string[], env: NodeJS.ProcessEnv): Promise<Exit> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: root,
    env,
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
  return runNode([entry, ...args], { PATH: process.env.PATH, ...env })
}

/**
 * Runs a command-line entry (`provision/main.ts`, ...) with `args` and the test's own environment, as a
 * user's shell would: the test runner's coverage then counts the command too.
 */
export function runCommand(entry: string, args: string[]): Promise<Exit> {
  return runNode([entry, ...args], process.env)
}

/** Runs `script` (CommonJS, `node -e`; it can `import()` the repository's TypeScript) the same way. */
export function runInline(script: string, env: Record<string, string> = {}): Promise<Exit> {
  return runNode(['-e', script], { PATH: process.env.PATH, ...env })
}

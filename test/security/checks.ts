import type { PlatformStack } from '../helpers/platform-stack.ts'

/** Each app's processes as "name:pid:restarts": the same string before and after means nothing crashed. */
export async function restartsOf(stack: PlatformStack): Promise<string> {
  return (await stack.processes()).map((p) => `${p.name}:${p.pid}:${p.pm2_env.restart_time}`).sort().join(' ')
}

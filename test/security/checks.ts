import { renderRouterConfig } from '../../nginx/render.ts'
import type { PlatformStack } from '../helpers/platform-stack.ts'

/** Each app's processes as "name:pid:restarts": the same string before and after means nothing crashed. */
export async function restartsOf(stack: PlatformStack): Promise<string> {
  return (await stack.processes()).map((p) => `${p.name}:${p.pid}:${p.pm2_env.restart_time}`).sort().join(' ')
}

/** Whether the rendered router answers nginx's own `status` errors with a JSON page. */
export function nginxAnswersJsonFor(status: number): boolean {
  const config = renderRouterConfig({ listen: 1, upstreams: { auth: '127.0.0.1:1', transactions: '127.0.0.1:2', loyalty: '127.0.0.1:3' }, accessLog: 'off' })
  return config.includes(`error_page ${status} `)
}

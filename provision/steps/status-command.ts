import { join } from 'node:path'
import type { Step } from '../lib/context.ts'
import { ensureFile } from '../lib/files.ts'
import type { Settings } from '../lib/settings.ts'
import { renderStatusCommand } from '../render/status-command.ts'

/** The URL nginx answers on here, and the one the host opens (Vagrant forwards HOST_PORT to nginx). */
export function statusUrls(settings: Pick<Settings, 'nginxPort' | 'hostPort'>): { baseUrl: string; hostUrl: string } {
  return { baseUrl: `http://127.0.0.1:${settings.nginxPort}`, hostUrl: new URL(`http://localhost:${settings.hostPort}`).origin }
}

/** /usr/local/bin/yoyo-status, which runs the app dir's provision/status.ts with this machine's URLs and paths. */
export const ensureStatusCommand: Step = {
  name: 'ensureStatusCommand',
  async run(ctx) {
    const { paths } = ctx
    const command = renderStatusCommand({
      node: ctx.runtime.node,
      script: join(paths.appDir, 'provision', 'status.ts'),
      ...statusUrls(ctx.settings),
      envFile: paths.envFile,
      pm2: paths.pm2Wrapper,
    })
    await ensureFile(ctx, paths.statusCommand, command, { mode: 0o755 })
  },
}

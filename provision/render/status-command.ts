export interface StatusCommandOptions {
  node: string
  /** provision/status.ts in the app dir (group yoyo can read it; its zx comes from the app's node_modules). */
  script: string
  baseUrl: string
  hostUrl: string
  envFile: string
  pm2: string
}

/**
 * /usr/local/bin/yoyo-status: the platform at a glance (provision/status.ts) with this machine's URLs
 * and paths filled in. Any user in group yoyo can run it; with sudo it also shows Redis's memory and
 * persistence (it needs the password from the env file).
 */
export function renderStatusCommand(options: StatusCommandOptions): string {
  return `#!/bin/sh
# Managed by the yoyo-platform provisioner: edits are overwritten.
# yoyo-status: health through nginx, PM2 apps, Redis, the queue, the URLs. Exit 0 healthy, 1 not.
# Options: --json, --help. Redis details need the env file's password: sudo yoyo-status.
# (--platform-env, not --env-file: Node.js reads an --env-file anywhere on its command line.)
if [ ! -r ${options.script} ]; then
  echo "yoyo-status: cannot read ${options.script}: you need to be in group yoyo (log in again after provisioning), or use sudo" >&2
  exit 1
fi
unset NODE_OPTIONS
exec ${options.node} --disable-warning=ExperimentalWarning ${options.script} --url ${options.baseUrl} --host-url ${options.hostUrl} --platform-env ${options.envFile} --pm2 ${options.pm2} "$@"
`
}

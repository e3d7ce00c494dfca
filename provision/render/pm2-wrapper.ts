export interface Pm2WrapperOptions {
  user: string
  pm2Home: string
  node: string
  pm2Bin: string
  unit: string
}

/**
 * /usr/local/bin/pm2: every user talks to the ONE PM2 daemon, which runs as the app user.
 * - PM2_HOME is fixed, so `pm2 ls` needs no flag or environment.
 * - umask 0007: whatever the CLI writes there (dump.pm2 on `pm2 save`) stays readable and writable
 *   by the group, which the daemon (same group) and the other login users need.
 * - root is switched to the app user, so `sudo pm2 …` never leaves root-owned files or a root daemon.
 * - for anyone but the app user, a daemon that is not running is reported rather than started:
 *   PM2 would otherwise quietly start a second daemon as that user.
 */
export function renderPm2Wrapper(options: Pm2WrapperOptions): string {
  return `#!/bin/sh
# Managed by the yoyo-platform provisioner: edits are overwritten.
# The PM2 of yoyo-platform: one daemon, user ${options.user}, home ${options.pm2Home}.
export PM2_HOME=${options.pm2Home}
umask 0007
if [ "$(id -u)" = 0 ] && [ "$(id -un)" != ${options.user} ]; then
  exec runuser -u ${options.user} -- "$0" "$@"
fi
if [ "$(id -un)" != ${options.user} ]; then
  if [ ! -r "$PM2_HOME" ]; then
    echo "pm2: no access to $PM2_HOME: you need to be in group ${options.user} (log in again after provisioning)" >&2
    exit 1
  fi
  pid=$(cat "$PM2_HOME/pm2.pid" 2>/dev/null || true)
  if [ -z "$pid" ] || [ ! -d "/proc/$pid" ]; then
    case "\${1:-}" in
      '' | -v | -V | --version | -h | --help | help) ;;
      *)
        echo "pm2: the yoyo-platform PM2 daemon is not running; start it with: sudo systemctl start ${options.unit} (or re-run the provisioner)" >&2
        exit 1
        ;;
    esac
  fi
fi
exec ${options.node} ${options.pm2Bin} "$@"
`
}

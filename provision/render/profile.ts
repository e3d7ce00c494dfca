/**
 * /etc/profile.d/yoyo-platform.sh: login shells know where the platform's PM2 lives (for tools other
 * than /usr/local/bin/pm2, e.g. `npx pm2` in the app directory). Node.js itself is on PATH through
 * the links bootstrap.sh makes in /usr/local/bin.
 */
export function renderProfile(options: { pm2Home: string; appDir: string }): string {
  return `# Managed by the yoyo-platform provisioner: edits are overwritten.
# The one PM2 daemon of yoyo-platform (run as user yoyo); /usr/local/bin/pm2 sets this too.
export PM2_HOME=${options.pm2Home}
export YOYO_APP_DIR=${options.appDir}
`
}

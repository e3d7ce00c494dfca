/**
 * /etc/logrotate.d/yoyo-platform: PM2 writes the services' logs under PM2_HOME/logs and keeps them
 * open, so rotation copies then truncates (copytruncate) instead of moving the file under PM2's feet.
 * (pm2-logrotate would do the same but is a PM2 module installed from the network at run time.)
 * logrotate runs daily from cron or its systemd timer; containers without either do not rotate.
 */
export function renderLogrotate(options: { pm2Home: string; user: string }): string {
  return `# Managed by the yoyo-platform provisioner: edits are overwritten.
${options.pm2Home}/logs/*.log ${options.pm2Home}/pm2.log {
    su ${options.user} ${options.user}
    daily
    maxsize 50M
    rotate 7
    compress
    delaycompress
    missingok
    notifempty
    copytruncate
}
`
}

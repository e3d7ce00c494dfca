export interface Pm2UnitOptions {
  user: string
  pm2Home: string
  node: string
  pm2Bin: string
  path: string
}

/**
 * The systemd unit that runs the one PM2 daemon as the app user and brings the saved process list
 * back at boot (so `vagrant reload` needs no provisioning). Rendered here rather than by `pm2 startup`:
 * we need UMask=0007 (the daemon's sockets and logs group-accessible for the login user), a PATH
 * with our Node.js, a save at stop (so `pm2 scale` survives a reboot without remembering `pm2 save`),
 * and a file we can compare, test and rewrite only when it differs.
 */
export function renderPm2Unit(options: Pm2UnitOptions): string {
  const pm2 = `${options.node} ${options.pm2Bin}`
  return `# Managed by the yoyo-platform provisioner: edits are overwritten.
[Unit]
Description=PM2 process manager for yoyo-platform (user ${options.user})
Documentation=https://pm2.keymetrics.io/
After=network.target redis-server.service
Wants=redis-server.service

[Service]
Type=forking
User=${options.user}
Group=${options.user}
UMask=0007
LimitNOFILE=65536
Environment=PM2_HOME=${options.pm2Home}
Environment=PATH=${options.path}
PIDFile=${options.pm2Home}/pm2.pid
Restart=on-failure
# resurrect waits for every app to say it is ready; on a busy machine at boot that outlasts systemd's
# default 90 s, and a killed start would be restarted from scratch.
TimeoutStartSec=5min
ExecStart=${pm2} resurrect
ExecReload=${pm2} reload all
# Save the running list first (a failed save must not keep PM2 from stopping: "-").
ExecStop=-${pm2} save --force
ExecStop=${pm2} kill

[Install]
WantedBy=multi-user.target
`
}

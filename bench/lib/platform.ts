import { readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { run } from './processes.ts'

export const PM2 = process.env.BENCH_PM2 ?? '/usr/local/bin/pm2'

/** KEY=value lines of the provisioned env file (root only: it holds the secrets; never printed). */
export async function readEnvFile(path: string): Promise<Record<string, string>> {
  const text = await readFile(path, 'utf8')
  const env: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim())
    if (match) env[match[1]!] = match[2]!.replace(/^(['"])(.*)\1$/, '$2')
  }
  return env
}

export interface Pm2Process {
  name: string
  pmId: number
  pid: number
  status: string
  memory: number
}

export async function pm2List(): Promise<Pm2Process[]> {
  const { stdout } = await run(PM2, ['jlist'], { maxBuffer: 64 * 1024 * 1024 })
  const json = stdout.slice(stdout.indexOf('['))
  const list = JSON.parse(json) as { name: string; pm_id: number; pid: number; pm2_env: { status: string }; monit: { memory: number } }[]
  return list.map((p) => ({ name: p.name, pmId: p.pm_id, pid: p.pid, status: p.pm2_env.status, memory: p.monit.memory }))
}

export async function pm2(...args: string[]): Promise<void> {
  await run(PM2, args, { maxBuffer: 16 * 1024 * 1024 })
}

/** Scales an app to `n` instances and waits until all n are online (PM2 waits for each 'ready'). */
export async function scale(app: string, n: number): Promise<void> {
  // PM2 fails with "Nothing to do" when the count is already n.
  if ((await instances(app)) !== n) await pm2('scale', app, String(n))
  await waitOnline(app, n)
}

export async function waitOnline(app: string, n: number, maxMs = 60_000): Promise<void> {
  const deadline = Date.now() + maxMs
  for (;;) {
    const online = (await pm2List()).filter((p) => p.name === app && p.status === 'online').length
    const all = (await pm2List()).filter((p) => p.name === app).length
    if (online === n && all === n) return
    if (Date.now() > deadline) throw new Error(`${app}: ${online}/${n} instances online after ${maxMs / 1000} s`)
    await sleep(250)
  }
}

export async function instances(app: string): Promise<number> {
  return (await pm2List()).filter((p) => p.name === app).length
}

/** A fresh token (they live 30 s) straight from the Auth API's port, so nginx's rate limit is not spent. */
export async function mintToken(authUrl: string, username = 'alice', password = 'password'): Promise<string> {
  const response = await fetch(`${authUrl}/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password }),
  })
  if (!response.ok) throw new Error(`could not get a token for ${username}: ${response.status} ${await response.text()}`)
  return ((await response.json()) as { token: string }).token
}

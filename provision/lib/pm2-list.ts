/** One process of `pm2 jlist`, as far as the provisioner and yoyo-status read it. */
export interface Pm2Process {
  name: string
  pid?: number
  pm_id?: number
  monit?: { memory?: number; cpu?: number }
  pm2_env?: { status?: string; exec_mode?: string; restart_time?: number; pm_uptime?: number; pm_exec_path?: string }
}

/**
 * The ONE reader of PM2's state: the JSON list of `pm2 jlist`. PM2 may print notices before it (a
 * banner on its first start, an update notice): the last line that parses as an array is the list.
 * undefined when there is none. `P`: the fields the caller reads (tests read more of them).
 */
export function parsePm2List<P extends { name: string } = Pm2Process>(stdout: string): P[] | undefined {
  for (const line of stdout.trim().split('\n').reverse()) {
    try {
      const parsed: unknown = JSON.parse(line)
      if (Array.isArray(parsed)) return parsed as P[]
    } catch {
      // a notice
    }
  }
  return undefined
}

export const processesOf = (list: Pm2Process[], app: string): Pm2Process[] => list.filter((p) => p.name === app)

/**
 * The apps of `apps` that are missing or have a process that is not online; with `counts`, also those
 * that do not run exactly that many processes.
 */
export function appsNotOnline(list: Pm2Process[], apps: string[], counts: Record<string, number> = {}): string[] {
  return apps.filter((app) => {
    const processes = processesOf(list, app)
    const wanted = counts[app]
    if (wanted !== undefined && processes.length !== wanted) return true
    return processes.length === 0 || processes.some((p) => p.pm2_env?.status !== 'online')
  })
}

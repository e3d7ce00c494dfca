import type { Redis } from 'ioredis'
import type { NginxServer } from '../../test/helpers/nginx-server.ts'
import type { Figure } from './stats.ts'

export interface Settings {
  smoke: boolean
  /** Runs per figure (the median of these is reported, with min and max). */
  runs: number
  /** Seconds per closed-loop load run. */
  durationSeconds: number
  /** autocannon connections: the same for every target compared. */
  connections: number
  /** Jobs per loyalty drain. */
  drainJobs: number
  /** Loyalty Worker instance counts to drain with. */
  loyaltyInstances: number[]
  /** End-to-end: transactions per second, and for how long. */
  e2eRate: number
  e2eSeconds: number
  /** Scenario 8 (sustained load with the workers running): seconds per run and connections. */
  sustainedSeconds: number
  sustainedConnections: number
  /** Where the provisioner to time lives (a checkout equal to what is provisioned). */
  provisionDir: string
}

export interface Row {
  scenario: string
  measure: string
  unit: string
  value: Figure
  /** e.g. "≥ 1200"; met says whether the median meets it. */
  target?: string
  met?: boolean
  note?: string
}

export interface Context {
  settings: Settings
  log(line: string): void
  rows: Row[]
  notes: string[]
  /** The provisioned platform's environment file (secrets: never printed). */
  platformEnv: Record<string, string>
  redisUrl: string
  /** The platform's own Redis (for queue counts and cleaning up what the benchmark created). */
  redis: Redis
  ports: { auth: number; transactions: number; loyalty: number; nginx: number }
  /** A bench nginx with the platform's router config (rate limit lifted) in front of the real services. */
  platformRouter: NginxServer
  /** The same router config in front of the baselines: transactions → express echo, loyalty and auth → node:http. */
  baselineRouter: NginxServer
  /** The baseline processes, for their CPU time. */
  baselinePids: { node: number; express: number }
}

export function addRow(ctx: Context, row: Row): void {
  ctx.rows.push(row)
}

// Scenario 5: end-to-end latency, from the 202 of POST /transactions (through the provisioned nginx) to
// the award being visible: the record's status 'completed', which GET /transactions/<id> reads. The
// records are watched straight in Redis (a pipelined HGET of every pending one every 2 ms) so that the
// watching does not load the API. Open loop: requests are sent on schedule whatever the answers.
import { Agent, request } from 'node:http'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { keys } from '../../services/shared/keys.ts'
import { deleteBenchData } from '../lib/cleanup.ts'
import { addRow, type Context } from '../lib/context.ts'
import { figure, percentile } from '../lib/stats.ts'
import { benchToken } from './http.ts'

interface E2eRun {
  sent: number
  accepted: number
  completed: number
  /** What the records not seen completed ended as (status → count): failed, or still queued/processing at the deadline. */
  leftOver: Map<string, number>
  postMs: number[]
  e2eMs: number[]
  seconds: number
}

function post(agent: Agent, port: number, token: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/transactions', method: 'POST', agent,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), Authorization: `Bearer ${token}` } },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (text += chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

async function e2eRun(ctx: Context, rate: number, seconds: number): Promise<E2eRun> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 })
  const token = benchToken(ctx, 2)
  const body = JSON.stringify({ amount: 500, currency: 'EUR' })
  const pending = new Map<string, number>()
  const result: E2eRun = { sent: 0, accepted: 0, completed: 0, leftOver: new Map(), postMs: [], e2eMs: [], seconds: 0 }
  // Set when the last POST has answered; the watcher then gives the awards still pending 15 s more.
  let stoppedAt: number | undefined = undefined
  const watcher = (async () => {
    while (stoppedAt === undefined || (pending.size > 0 && performance.now() < stoppedAt + 15_000)) {
      const ids = [...pending.keys()]
      if (ids.length > 0) {
        const statuses = (await ids.reduce((p, id) => p.hget(keys.transaction(id), 'status'), ctx.redis.pipeline()).exec()) ?? []
        const now = performance.now()
        ids.forEach((id, i) => {
          const status = statuses[i]?.[1]
          if (status === 'completed') {
            result.e2eMs.push(now - pending.get(id)!)
            result.completed += 1
            pending.delete(id)
          } else if (status === 'failed') {
            result.leftOver.set('failed', (result.leftOver.get('failed') ?? 0) + 1)
            pending.delete(id)
          }
        })
      }
      await sleep(2)
    }
    for (const id of pending.keys()) {
      const status = (await ctx.redis.hget(keys.transaction(id), 'status')) ?? 'missing'
      if (!result.leftOver.has(status)) ctx.log(`  not seen completed: transaction ${id}, status ${status}`)
      result.leftOver.set(status, (result.leftOver.get(status) ?? 0) + 1)
    }
  })()
  const inFlight: Promise<void>[] = []
  const total = Math.round(rate * seconds)
  const started = performance.now()
  while (result.sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate) + 1)
    for (; result.sent < due; result.sent += 1) {
      const sentAt = performance.now()
      inFlight.push(
        post(agent, ctx.ports.nginx, token, body).then(
          (res) => {
            const at = performance.now()
            result.postMs.push(at - sentAt)
            if (res.status !== 202) return
            result.accepted += 1
            pending.set((JSON.parse(res.body) as { id: string }).id, at)
          },
          () => {},
        ),
      )
    }
    await sleep(1)
  }
  await Promise.all(inFlight)
  result.seconds = (performance.now() - started) / 1000
  stoppedAt = performance.now()
  await watcher
  agent.destroy()
  return result
}

export async function e2eScenario(ctx: Context): Promise<void> {
  const { e2eRate: rate, e2eSeconds: seconds, runs } = ctx.settings
  const runsData: E2eRun[] = []
  for (let run = 0; run < runs; run += 1) {
    const r = await e2eRun(ctx, rate, seconds)
    runsData.push(r)
    ctx.log(`  run ${run + 1}/${runs}: ${r.accepted}/${r.sent} accepted in ${r.seconds.toFixed(1)} s, ${r.completed} completed; ` +
      `e2e p50 ${percentile(r.e2eMs, 50).toFixed(1)} ms, p99 ${percentile(r.e2eMs, 99).toFixed(1)} ms` +
      (r.leftOver.size > 0 ? `; not completed: ${[...r.leftOver].map(([status, n]) => `${status} ×${n}`).join(', ')}` : ''))
    await deleteBenchData(ctx.redis)
  }
  const p99 = figure(runsData.map((r) => percentile(r.e2eMs, 99)))
  const lost = runsData.reduce((n, r) => n + r.accepted - r.completed, 0)
  const refused = runsData.reduce((n, r) => n + r.sent - r.accepted, 0)
  addRow(ctx, { scenario: '5 end to end', measure: `achieved rate (target ${rate} tx/s for ${seconds} s, via :80)`, unit: 'tx/s', value: figure(runsData.map((r) => r.sent / r.seconds)), note: `${refused} not 202` })
  addRow(ctx, { scenario: '5 end to end', measure: 'POST p99', unit: 'ms', value: figure(runsData.map((r) => percentile(r.postMs, 99))) })
  addRow(ctx, { scenario: '5 end to end', measure: '202 → award visible, p50', unit: 'ms', value: figure(runsData.map((r) => percentile(r.e2eMs, 50))) })
  addRow(ctx, { scenario: '5 end to end', measure: '202 → award visible, p99', unit: 'ms', value: p99, target: '< 50', met: p99.median < 50, note: `${lost} accepted but not seen completed within 15 s` })
}

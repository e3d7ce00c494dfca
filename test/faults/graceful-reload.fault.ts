// Fault 2: `pm2 reload` of every app while transactions, logins and reads flow through nginx. PM2
// starts each new process, waits for its 'ready', then asks the old one to stop (SIGINT): the old one
// finishes its requests and jobs in flight. The client must see no failure at all: it does not retry.
//
//   npm run build && npx tap --disable-coverage test/faults/graceful-reload.fault.ts
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { outcome, request } from '../helpers/http-client.ts'
import { appNames, type PlatformStack, startPlatform } from '../helpers/platform-stack.ts'
import { ackCount, report, seconds, settle, showOutcomes, showUsers, startLoad } from './load.ts'

const USERS = [1, 2, 3, 4]
const TRANSACTIONS = 2000
const RELOADS = 3

interface Reads {
  sent: number
  outcomes: Map<string, number>
  samples: string[]
}

/** Logins (under nginx's 10/s limit), loyalty reads and health checks, each expected to answer 200. */
function startReads(stack: PlatformStack): { reads: Reads; stop(): Promise<void> } {
  const reads: Reads = { sent: 0, outcomes: new Map(), samples: [] }
  let running = true
  const probe = async (what: string, send: () => ReturnType<typeof request>): Promise<void> => {
    reads.sent++
    const { status, reply } = await outcome(send())
    const key = `${what}:${status}`
    reads.outcomes.set(key, (reads.outcomes.get(key) ?? 0) + 1)
    if (status !== 200 && reads.samples.length < 10) reads.samples.push(`${key} ${reply?.text.slice(0, 200) ?? ''}`)
  }
  const loop = async (intervalMs: number, what: string, send: () => ReturnType<typeof request>): Promise<void> => {
    while (running) {
      await probe(what, send)
      await sleep(intervalMs)
    }
  }
  const loops = [
    loop(250, 'login', () => request(`${stack.url}/authentication/token`, { method: 'POST', body: { username: 'alice', password: 'password' } })),
    loop(20, 'loyalty/me', () => request(`${stack.url}/loyalty/me`, { headers: { authorization: `Bearer ${stack.token(1)}` } })),
    loop(100, 'health', () => request(`${stack.url}/transactions/health`)),
  ]
  return {
    reads,
    stop: async () => {
      running = false
      await Promise.all(loops)
    },
  }
}

t.test('when every app is reloaded with pm2 reload under load, then no request fails and no job fails or is lost', async (t) => {
  const stack = await startPlatform({ loyaltyInstances: 2 })
  t.teardown(() => stack.stop())
  const pidsBefore = new Set((await stack.processes()).map((p) => p.pid))

  const load = startLoad(stack, { users: USERS, count: TRANSACTIONS, concurrency: 8, retry: false, perSecond: 75 })
  const readers = startReads(stack)
  const reloads: number[] = []
  for (let i = 0; i < RELOADS; i++) {
    await sleep(2000)
    const started = performance.now()
    const reload = await stack.pm2(['reload', 'all'])
    t.equal(reload.code, 0, `pm2 reload all #${i + 1} exits 0`, { output: reload.stderr || reload.stdout })
    reloads.push(performance.now() - started)
  }
  const ledger = await load.done
  await sleep(1000)
  await readers.stop()
  const loadEnd = performance.now()
  const settlement = await settle(stack, ledger, { since: loadEnd, timeoutMs: 30_000 })

  const list = await stack.processes()
  const replaced = list.every((p) => !pidsBefore.has(p.pid))
  const failedReads = [...readers.reads.outcomes].filter(([key]) => !key.endsWith(':200')).reduce((sum, [, n]) => sum + n, 0)
  const failedPosts = ledger.attempts.filter((a) => a.status !== 202).length
  await report(t, 'graceful-reload', {
    sent: ledger.sent,
    acknowledged: ackCount(ledger),
    processed: settlement.processed,
    lost: settlement.lost,
    awarded_twice: settlement.awardedTwice,
    failed_requests: failedPosts + failedReads,
    other_requests: readers.reads.sent,
    failed_jobs: settlement.state.failed,
    reloads: RELOADS,
    reload_s: reloads.map(seconds).join('/'),
    recovery_s: seconds(settlement.ms),
    http: showOutcomes(ledger),
    reads: [...readers.reads.outcomes].map(([key, n]) => `${key}×${n}`).join(','),
  })

  if (failedPosts + failedReads > 0) t.comment(`nginx error log:\n${(await stack.nginx.errorLog()).trim()}`)
  t.ok(replaced, 'every process was replaced by the reloads')
  t.same(list.map((p) => [p.name, p.pm2_env.status]).sort(), [['auth', 'online'], ['loyalty', 'online'], ['loyalty', 'online'], ['transactions', 'online']], 'all apps online after the reloads')
  t.equal(failedPosts, 0, `no POST /transactions failed (${showOutcomes(ledger)})`, { samples: ledger.samples })
  t.equal(failedReads, 0, `no login, read or health check failed (${readers.reads.sent} sent)`, { samples: readers.reads.samples })
  t.equal(ackCount(ledger), TRANSACTIONS, `all ${TRANSACTIONS} transactions acknowledged on the first attempt`)
  t.ok(settlement.settled, `every acknowledged transaction completed (${JSON.stringify(settlement.state)})`)
  t.equal(settlement.state.failed, 0, 'no job failed')
  t.equal(settlement.lost, 0, 'no acknowledged transaction lost', { users: showUsers(settlement) })
  t.equal(settlement.awardedTwice, 0, 'none awarded twice', { users: showUsers(settlement) })
  for (const name of appNames) t.ok(list.some((p) => p.name === name), `${name} is running`)
})

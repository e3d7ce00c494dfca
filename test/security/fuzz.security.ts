// A generated pass over the APIs through nginx: FUZZ_REQUESTS (default 10,000) requests made by a
// seeded generator (FUZZ_SEED, default below; the seed is printed, so any failure can be replayed) from
// valid requests mutated field by field: wrong types, hostile strings and numbers, broken JSON and forms,
// odd content types, forged and mangled tokens, odd paths and methods. No answer may be a 5xx or missing;
// every 4xx the services give is a JSON error; no service process may crash or restart.
//
// nginx here allows 1000 token requests/s (the generated logins must reach the Auth API, not stop at 429).
//
//   npm run build && npx tap --disable-coverage test/security/fuzz.security.ts
//   FUZZ_SEED=123 FUZZ_REQUESTS=50000 npx tap --disable-coverage --timeout=1800 test/security/fuzz.security.ts
import t from 'tap'
import { NoReply, request } from '../helpers/http-client.ts'
import { logEntries, startPlatform } from '../helpers/platform-stack.ts'
import { badTokens } from './bad-tokens.ts'
import { restartsOf } from './checks.ts'

const SEED = Number(process.env.FUZZ_SEED ?? 20261122)
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 10_000)
const CONCURRENCY = 16

/** encodeURIComponent, with lone surrogates (which it refuses) replaced first. */
const encode = (text: string): string => encodeURIComponent(text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'))

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function seeded(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let x = Math.imul(state ^ (state >>> 15), 1 | state)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

interface Generated {
  method: string
  path: string
  headers: Record<string, string>
  body?: string | Buffer
}

class Generator {
  readonly random: () => number
  readonly ids: string[] = []
  readonly secret: string
  readonly forged: string[]
  readonly token: (user: number) => string

  constructor(seed: number, secret: string, token: (user: number) => string) {
    this.random = seeded(seed)
    this.secret = secret
    this.token = token
    this.forged = badTokens(secret).cases.map((c) => c.authorization)
  }

  chance(p: number): boolean {
    return this.random() < p
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.random() * (max - min + 1))
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!
  }

  string(): string {
    const pools = [
      'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ',
      '0123456789',
      ' \t\n\r!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~',
      '\u0000\u0001\u001f\u007f\u0085\u00a0\u00ad\u200b\u200e\u202e\u2028\ufeff\ufffd',
      'åéîõüßçñ€£¥₹ЖЛЯ中文字日本語한국어',
      '😀💷🏳️‍🌈👩‍👩‍👧‍👦🇬🇧',
      '\u0301\u0308\u20dd',
    ]
    const length = this.chance(0.05) ? this.int(500, 3000) : this.int(0, 24)
    let text = ''
    for (let i = 0; i < length; i++) text += this.pick([...this.pick(pools)])
    if (this.chance(0.05)) text += this.pick(['\ud800', '\udfff', '%', '%ff', '${x}', '{{7*7}}', '<script>', "' OR 1=1 --", '../', 'GBP', '2000'])
    return text
  }

  number(): number {
    return this.pick([0, -0, 1, -1, 2000, 1.5, -2000.25, 2 ** 31, 2 ** 53, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 1e21, 1e308, -1e308, 5e-324, this.int(-1e6, 1e6), this.random() * 1e4])
  }

  value(depth = 0): unknown {
    const kind = this.int(0, depth > 3 ? 4 : 6)
    switch (kind) {
      case 0: return null
      case 1: return this.chance(0.5)
      case 2: return this.number()
      case 3:
      case 4: return this.string()
      case 5: return Array.from({ length: this.int(0, 4) }, () => this.value(depth + 1))
      default: {
        const object: Record<string, unknown> = {}
        for (let i = this.int(0, 4); i > 0; i--) object[this.pick(['a', 'amount', 'currency', 'token', '__proto__', 'constructor', 'prototype', '$where', this.string()])] = this.value(depth + 1)
        return object
      }
    }
  }

  /** A valid body, then 0 to 3 mutations of its fields. */
  fields(valid: Record<string, unknown>): Record<string, unknown> {
    const body: Record<string, unknown> = { ...valid }
    for (let m = this.int(0, 3); m > 0; m--) {
      const key = this.pick([...Object.keys(valid), 'token', 'extra', '__proto__', 'user_id', 'status'])
      const action = this.int(0, 3)
      if (action === 0) delete body[key]
      else if (action === 1) body[key] = this.value()
      else if (action === 2) body[key] = this.string()
      else body[key] = this.number()
    }
    return body
  }

  serialize(fields: Record<string, unknown>, headers: Record<string, string>): string | Buffer | undefined {
    const format = this.random()
    if (format < 0.7) {
      headers['content-type'] = this.pick(['application/json', 'application/json', 'application/json; charset=utf-8', 'Application/JSON', 'application/json; charset=latin1', 'application/vnd.api+json'])
      let text = JSON.stringify(this.chance(0.03) ? [fields] : fields)
      if (this.chance(0.08)) text = text.slice(0, this.int(0, text.length)) // truncated JSON
      if (this.chance(0.03)) text = `${'['.repeat(this.int(100, 5000))}${text}`
      if (this.chance(0.03)) return Buffer.concat([Buffer.from(text), Buffer.from([this.int(0x80, 0xff), this.int(0, 0xff)])])
      return text
    }
    if (format < 0.85) {
      headers['content-type'] = 'application/x-www-form-urlencoded'
      const params = new URLSearchParams()
      for (const [key, value] of Object.entries(fields)) params.append(key, typeof value === 'string' ? value : JSON.stringify(value) ?? '')
      if (this.chance(0.1)) params.append('amount', String(this.number()))
      return params.toString()
    }
    const type = this.pick(['text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/octet-stream', '', 'application/x-www-form-urlencoded; charset=ibm500', '*/*'])
    if (type !== '') headers['content-type'] = type
    if (this.chance(0.1)) headers['content-encoding'] = this.pick(['gzip', 'deflate', 'br', 'identity', 'compress'])
    return this.chance(0.5) ? JSON.stringify(fields) : Buffer.from(Array.from({ length: this.int(0, 200) }, () => this.int(0, 255)))
  }

  authorization(): string | undefined {
    const roll = this.random()
    if (roll < 0.5) return `Bearer ${this.token(this.int(1, 3))}`
    if (roll < 0.65) {
      const token = this.token(1)
      const i = this.int(0, token.length - 1)
      const mangled = this.pick([
        token.slice(0, i),
        `${token.slice(0, i)}${this.pick(['A', '_', '-', '.', 'x'])}${token.slice(i + 1)}`,
        token.split('.').reverse().join('.'),
        `${token}.${token}`,
      ])
      return `${this.pick(['Bearer ', 'bearer ', 'BEARER  ', 'Bearer\t'])}${mangled}`
    }
    if (roll < 0.85) return this.pick(this.forged)
    if (roll < 0.95) return undefined
    return this.pick(['Basic YWxpY2U6cGFzc3dvcmQ=', 'Bearer', '', 'Token abc', `Bearer ${'x'.repeat(this.int(1, 3000))}`])
  }

  transactionId(): string {
    if (this.ids.length > 0 && this.chance(0.4)) return this.pick(this.ids)
    return this.pick([
      crypto.randomUUID(),
      crypto.randomUUID().toUpperCase(),
      '00000000-0000-0000-0000-000000000000',
      encode(this.string()),
      'x'.repeat(this.int(1, 500)),
      '%ff', '%E0%A4%A', '..%2f..%2fetc%2fpasswd', '%2e%2e', 'health', 'transactions',
    ])
  }

  next(): Generated {
    const headers: Record<string, string> = {}
    const authorization = this.authorization()
    if (authorization !== undefined) headers.authorization = authorization
    if (this.chance(0.15)) headers['idempotency-key'] = this.chance(0.8) ? crypto.randomUUID() : this.pick(['', 'k'.repeat(300), 'cl\u00e9', 'a b', '\t'])
    if (this.chance(0.05)) headers['x-request-id'] = this.pick(['abc', 'x'.repeat(500), 'a\u00e9b', '../../etc'])
    const target = this.random()
    if (target < 0.45) {
      const path = this.chance(0.9) ? '/transactions' : '/transactions/transactions'
      const fields = this.fields({ amount: this.chance(0.8) ? this.int(1, 100_000) : String(this.int(1, 100_000)), currency: this.pick(['GBP', 'EUR', 'USD', 'JPY']) })
      return { method: 'POST', path, headers, body: this.serialize(fields, headers) }
    }
    if (target < 0.6) return { method: this.pick(['GET', 'GET', 'GET', 'HEAD']), path: `/transactions/${this.transactionId()}`, headers }
    if (target < 0.7) return { method: 'GET', path: this.pick(['/loyalty/me', '/loyalty/me/', '/loyalty/ME', '/loyalty/me?x=1']), headers }
    if (target < 0.85) {
      delete headers.authorization
      // Logins with two plain strings cost a real scrypt: kept to a fraction so the pass stays quick.
      const plain = this.chance(0.15)
      const fields = plain
        ? { username: this.pick(['alice', 'bob', 'charlie', this.string()]), password: this.pick(['password', 'wrong', this.string()]) }
        : this.fields({ username: this.pick([null, 1, [], {}, '', '  ', true]), password: this.pick(['password', 1, null, []]) })
      return { method: 'POST', path: this.pick(['/authentication/token', '/authentication/token/', '/AUTHENTICATION/TOKEN']), headers, body: this.serialize(fields, headers) }
    }
    if (target < 0.9) return { method: 'GET', path: this.pick(['/authentication/health', '/transactions/health', '/loyalty/health', '/transactions/transactions/health']), headers }
    const method = this.pick(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'PROPFIND'])
    const path = `${this.pick(['/authentication', '/transactions', '/loyalty', '', '/queue', '/docs'])}/${this.pick([encode(this.string()), '%ff', '%00', '..', '.%2e/', 'token', 'me', 'transactions', 'health', '//'])}`
    return { method, path, headers, ...(method === 'GET' || method === 'HEAD' ? {} : { body: this.serialize(this.fields({ a: 1 }), headers) }) }
  }
}

t.test(`when ${REQUESTS} generated requests (seed ${SEED}) hit the APIs through nginx, then no 5xx, no missing answer and no crash`, async (t) => {
  const stack = await startPlatform({ tokenRateLimit: { ratePerSecond: 1000, burst: 1000 }, loginFailureLimits: { perUser: 100_000, perAddress: 100_000 } })
  t.teardown(() => stack.stop())
  const restartsBefore = await restartsOf(stack)
  const generator = new Generator(SEED, stack.jwtSecret, (user) => stack.token(user))
  const statuses = new Map<string, number>()
  const serverErrors: string[] = []
  const notJson: string[] = []
  const nginxHtml: string[] = []
  let sent = 0
  const started = performance.now()

  const lane = async (): Promise<void> => {
    while (sent < REQUESTS) {
      sent++
      const req = generator.next()
      const label = `${req.method} ${req.path.slice(0, 80)} ${JSON.stringify(req.headers).slice(0, 120)} ${String(req.body ?? '').slice(0, 120)}`
      let status: number | string
      try {
        const reply = await request(`${stack.url}${req.path}`, { method: req.method, headers: req.headers, body: req.body, timeoutMs: 15_000 })
        status = reply.status
        if (reply.status === 202 && req.path === '/transactions') {
          const id = (reply.json as { id?: unknown } | undefined)?.id
          if (typeof id === 'string' && generator.ids.length < 200) generator.ids.push(id)
        }
        const isJson = /^application\/json/.test(String(reply.headers['content-type'])) && typeof (reply.json as { error?: unknown } | undefined)?.error === 'string'
        if (reply.status >= 500) serverErrors.push(`${reply.status} ← ${label} → ${reply.text.slice(0, 200)}`)
        else if (reply.status >= 400 && req.method !== 'HEAD' && !isJson) {
          // nginx refusing the request itself (a URL it cannot decode, 400; a URL over 8 kB, 414): an HTML page.
          if (/^text\/html/.test(String(reply.headers['content-type']))) nginxHtml.push(`${reply.status} ← ${label}`)
          else notJson.push(`${reply.status} ← ${label} → ${reply.text.slice(0, 120)}`)
        }
      } catch (err) {
        // A header value Node refuses to send is the generator's problem, not the server's.
        if ((err as { code?: string }).code === 'ERR_INVALID_CHAR' || (err as { code?: string }).code === 'ERR_HTTP_INVALID_HEADER_VALUE') {
          sent--
          continue
        }
        if (!(err instanceof NoReply)) throw err
        status = err.code
        serverErrors.push(`${err.code} ← ${label}`)
      }
      statuses.set(String(status), (statuses.get(String(status)) ?? 0) + 1)
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, lane))
  const seconds = (performance.now() - started) / 1000
  const restartsAfter = await restartsOf(stack)
  const errorLogs = (await Promise.all((['auth', 'transactions', 'loyalty'] as const).map(async (app) => logEntries(await stack.logs(app)).filter((e) => e.level === 'error').map((e) => `${app}: ${JSON.stringify(e).slice(0, 300)}`)))).flat()
  const control = await request(`${stack.url}/transactions`, { method: 'POST', headers: { authorization: `Bearer ${stack.token(1)}` }, body: { amount: 100, currency: 'GBP' } })

  const fiveXx = [...statuses].filter(([status]) => /^5/.test(status)).reduce((sum, [, n]) => sum + n, 0)
  const noAnswer = [...statuses].filter(([status]) => !/^\d+$/.test(status)).reduce((sum, [, n]) => sum + n, 0)
  t.comment(`figures fuzz: seed=${SEED} requests=${sent} seconds=${seconds.toFixed(1)} rate=${Math.round(sent / seconds)}/s 5xx=${fiveXx} no_answer=${noAnswer} crashes=${restartsAfter === restartsBefore ? 0 : 'some'} error_log_lines=${errorLogs.length} non_json_4xx=${notJson.length} nginx_own_html_4xx=${nginxHtml.length} statuses=${[...statuses].sort().map(([s, n]) => `${s}×${n}`).join(',')}`)

  t.ok(sent >= REQUESTS, `${sent} requests sent`)
  t.equal(fiveXx, 0, 'no 5xx', { examples: serverErrors.slice(0, 10) })
  t.equal(noAnswer, 0, 'no request left without an answer', { examples: serverErrors.slice(0, 10) })
  t.equal(restartsAfter, restartsBefore, 'no service process crashed or restarted (same pids, same restart counts)')
  t.same(errorLogs.slice(0, 10), [], 'no error logged by any service')
  t.same(notJson.slice(0, 10), [], 'every 4xx from a service is a JSON error')
  const nginxStatuses = [...new Set(nginxHtml.map((line) => Number(line.slice(0, 3))))]
  t.same(nginxHtml.slice(0, 5), [], `nginx's own 4xx are JSON too (${nginxHtml.length} HTML: ${nginxStatuses.join(', ')})`)
  t.equal(control.status, 202, 'and the platform still takes a transaction')
})

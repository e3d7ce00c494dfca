import t, { type Test } from 'tap'
import jwt from 'jsonwebtoken'
import { HttpError } from '../../../services/shared/errors.ts'
import { signToken, tokenFrom, verifyToken } from '../../../services/shared/tokens.ts'

const secret = 's'.repeat(40)
const alice = { user_id: 1, username: 'alice', can_transact: true }
const now = () => Math.floor(Date.now() / 1000)

const rejects = (t: Test, token: string, why: string): void => {
  t.throws(() => verifyToken(token, secret), new HttpError(401, 'Invalid or expired token'), why)
}

t.test('when a token is signed by the platform, then it verifies with its claims', async (t) => {
  const claims = verifyToken(signToken(alice, secret, 30), secret)
  t.match(claims, { user_id: 1, username: 'alice', can_transact: true })
  t.equal(claims.exp - claims.iat, 30)
})

t.test('when a token is forged, altered or stale, then it is refused with 401', async (t) => {
  const good = signToken(alice, secret, 30)
  const [header, payload, signature] = good.split('.')
  const tampered = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), user_id: 2 })).toString('base64url')
  rejects(t, `${header}.${tampered}.${signature}`, 'tampered payload')
  rejects(t, jwt.sign(alice, 'another-secret-of-enough-length-000', { expiresIn: 30 }), 'other secret')
  rejects(t, jwt.sign(alice, secret, { algorithm: 'HS512', expiresIn: 30 }), 'HS512')
  rejects(t, jwt.sign(alice, '', { algorithm: 'none' }), 'alg none')
  rejects(t, jwt.sign(alice, secret, { algorithm: 'HS256' }), 'no exp')
  rejects(t, jwt.sign({ ...alice, iat: now() - 31, exp: now() - 1 }, secret), 'expired by 1 s')
  rejects(t, jwt.sign({ user_id: '1', username: 'alice', can_transact: true }, secret, { expiresIn: 30 }), 'user_id a string')
  rejects(t, jwt.sign({ user_id: 1, username: 'alice' }, secret, { expiresIn: 30 }), 'no can_transact')
  rejects(t, 'garbage', 'garbage')
  rejects(t, '', 'empty')
})

t.test('when a verified token comes back after its exp, then it is refused although it was remembered', async (t) => {
  const token = signToken(alice, secret, 30)
  const issuedMs = Date.now()
  t.match(verifyToken(token, secret, issuedMs), { user_id: 1 })
  t.match(verifyToken(token, secret, issuedMs + 20_000), { user_id: 1 }, 'still valid 20 s later')
  t.throws(() => verifyToken(token, secret, issuedMs + 31_000), new HttpError(401, 'Invalid or expired token'), '31 s later')
})

t.test('when a token verified with one secret is checked against another, then it is refused', async (t) => {
  const token = signToken(alice, secret, 30)
  t.match(verifyToken(token, secret), { user_id: 1 })
  t.throws(() => verifyToken(token, 'o'.repeat(40)), new HttpError(401, 'Invalid or expired token'))
})

t.test('when more tokens are verified than are remembered, then each still verifies and forged ones never do', async (t) => {
  const tokens = Array.from({ length: 1500 }, (_, i) => signToken({ ...alice, user_id: i + 1 }, secret, 30))
  const userIds = tokens.map((_, i) => i + 1)
  t.same(tokens.map((token) => verifyToken(token, secret).user_id), userIds)
  // Again, from the first (forgotten by now) to the last (remembered).
  t.same(tokens.map((token) => verifyToken(token, secret).user_id), userIds)
  const [header, payload] = tokens.at(-1)!.split('.')
  rejects(t, `${header}.${payload}.${'A'.repeat(43)}`, 'a remembered token with another signature')
})

t.test('when the remembered tokens are full, then the least recently used goes first and a token in use stays remembered', async (t) => {
  const other = 'l'.repeat(40)
  const busy = signToken(alice, other, 30)
  const remembered = verifyToken(busy, other)
  // 1,500 other tokens pass while the busy one keeps being used: it is never the least recently used.
  for (let i = 0; i < 1500; i++) {
    verifyToken(signToken({ ...alice, user_id: i + 2 }, other, 30), other)
    if (i % 100 === 0) t.equal(verifyToken(busy, other), remembered, 'the same remembered claims (not verified again)')
  }
  t.equal(verifyToken(busy, other), remembered)
  const idle = signToken({ ...alice, user_id: 9999 }, other, 30)
  const first = verifyToken(idle, other)
  for (let i = 0; i < 1000; i++) verifyToken(signToken({ ...alice, user_id: 10_000 + i }, other, 30), other)
  t.not(verifyToken(idle, other), first, 'an idle token was forgotten: verified again, new claims object')
})

t.test('when a token is sent, then the Bearer header wins over the body', async (t) => {
  t.equal(tokenFrom('Bearer abc.def.ghi', 'body'), 'abc.def.ghi')
  t.equal(tokenFrom('bearer   abc ', undefined), 'abc')
  t.equal(tokenFrom('Bearer ', 'body'), undefined, 'an empty Bearer is no token, even with a body token')
  t.equal(tokenFrom('Basic abc', 'body'), undefined)
  t.equal(tokenFrom(undefined, ' body '), 'body')
  t.equal(tokenFrom(undefined, '   '), undefined)
  t.equal(tokenFrom(undefined, 42), undefined)
})

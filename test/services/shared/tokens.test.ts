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

t.test('when a token is sent, then the Bearer header wins over the body', async (t) => {
  t.equal(tokenFrom('Bearer abc.def.ghi', 'body'), 'abc.def.ghi')
  t.equal(tokenFrom('bearer   abc ', undefined), 'abc')
  t.equal(tokenFrom('Bearer ', 'body'), undefined, 'an empty Bearer is no token, even with a body token')
  t.equal(tokenFrom('Basic abc', 'body'), undefined)
  t.equal(tokenFrom(undefined, ' body '), 'body')
  t.equal(tokenFrom(undefined, '   '), undefined)
  t.equal(tokenFrom(undefined, 42), undefined)
})

// Tokens every protected endpoint must refuse with a 401, by what is wrong with them. `valid` is the
// control: the same request with it succeeds, so a 401 is about the token and nothing else.
import { generateKeyPairSync } from 'node:crypto'
import jwt from 'jsonwebtoken'

const base64url = (value: object | string): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')

export interface TokenCase {
  name: string
  /** The whole Authorization header (or undefined for none). */
  authorization: string
}

export function badTokens(secret: string, userId = 1): { valid: string; cases: TokenCase[] } {
  const claims = { user_id: userId, username: 'alice', can_transact: true }
  const now = Math.floor(Date.now() / 1000)
  const valid = jwt.sign(claims, secret, { algorithm: 'HS256', expiresIn: 30 })
  const [header, payload, signature] = valid.split('.') as [string, string, string]
  const { privateKey: rsaKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const { privateKey: ecKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const fresh = { ...claims, iat: now, exp: now + 30 }
  const bearer = (token: string): string => `Bearer ${token}`
  const cases: TokenCase[] = [
    { name: 'alg none', authorization: bearer(`${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(fresh)}.`) },
    { name: 'alg None, with the valid signature', authorization: bearer(`${base64url({ alg: 'None', typ: 'JWT' })}.${base64url(fresh)}.${signature}`) },
    { name: 'HS512 with the right secret', authorization: bearer(jwt.sign(claims, secret, { algorithm: 'HS512', expiresIn: 30 })) },
    { name: 'HS384 with the right secret', authorization: bearer(jwt.sign(claims, secret, { algorithm: 'HS384', expiresIn: 30 })) },
    { name: 'RS256 (an attacker\'s key pair)', authorization: bearer(jwt.sign(claims, rsaKey, { algorithm: 'RS256', expiresIn: 30 })) },
    { name: 'ES256 (an attacker\'s key pair)', authorization: bearer(jwt.sign(claims, ecKey, { algorithm: 'ES256', expiresIn: 30 })) },
    { name: 'signed with another secret', authorization: bearer(jwt.sign(claims, 'another-secret-that-is-long-enough-0123456789', { expiresIn: 30 })) },
    { name: 'tampered payload (another user_id, same signature)', authorization: bearer(`${header}.${base64url({ ...fresh, user_id: userId + 1 })}.${signature}`) },
    { name: 'tampered payload (can_transact flipped)', authorization: bearer(`${header}.${base64url({ ...fresh, can_transact: false, exp: now + 3600 })}.${signature}`) },
    { name: 'tampered header (alg HS512, HS256 signature)', authorization: bearer(`${base64url({ alg: 'HS512', typ: 'JWT' })}.${payload}.${signature}`) },
    { name: 'signature stripped', authorization: bearer(`${header}.${payload}.`) },
    { name: 'no exp', authorization: bearer(jwt.sign(claims, secret)) },
    { name: 'expired by 1 s', authorization: bearer(jwt.sign({ ...claims, iat: now - 31, exp: now - 1 }, secret)) },
    { name: 'not valid yet (nbf in a minute)', authorization: bearer(jwt.sign({ ...claims, nbf: now + 60 }, secret, { expiresIn: 120 })) },
    { name: 'claims of the wrong types', authorization: bearer(jwt.sign({ user_id: '1', username: 'alice', can_transact: 'yes' }, secret, { expiresIn: 30 })) },
    { name: 'user_id not a safe integer', authorization: bearer(jwt.sign({ ...claims, user_id: 2 ** 60 }, secret, { expiresIn: 30 })) },
    { name: 'garbage', authorization: bearer('garbage') },
    { name: 'three dots of garbage', authorization: bearer('a.b.c') },
    { name: 'base64 noise', authorization: bearer(`${base64url('{"alg":')}.${base64url('\u0000\uffff')}.${base64url('x')}`) },
    { name: 'a 4 kB token', authorization: bearer(`${header}.${'A'.repeat(4000)}.${signature}`) },
    { name: 'empty Bearer', authorization: 'Bearer ' },
    { name: 'Bearer without a token', authorization: 'Bearer' },
    { name: 'two tokens', authorization: `Bearer ${valid} ${valid}` },
    { name: 'Basic scheme', authorization: `Basic ${Buffer.from('alice:password').toString('base64')}` },
    { name: 'the token without a scheme', authorization: valid },
  ]
  return { valid, cases }
}

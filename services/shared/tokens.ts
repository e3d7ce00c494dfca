import { createSecretKey, type KeyObject } from 'node:crypto'
import jwt from 'jsonwebtoken'
import { unauthorized } from './errors.ts'
import { LRUCache } from 'lru-cache'

export interface TokenClaims {
  user_id: number
  username: string
  can_transact: boolean
  iat: number
  exp: number
}

const ALGORITHM = 'HS256'

// Given a string, jsonwebtoken builds a KeyObject on every call, first trying (and failing, with a thrown
// exception) to read the secret as a PEM key: a third of the CPU of a login. Build it once per secret;
// a secret KeyObject also guarantees the secret is only ever used as an HMAC key.
const secretKeys = new Map<string, KeyObject>()
function secretKey(secret: string): KeyObject {
  let key = secretKeys.get(secret)
  if (key === undefined) {
    if (secretKeys.size >= 4) secretKeys.clear()
    key = createSecretKey(Buffer.from(secret, 'utf8'))
    secretKeys.set(secret, key)
  }
  return key
}

export function signToken(
  user: { user_id: number; username: string; can_transact: boolean },
  secret: string,
  ttlSeconds: number,
): string {
  return jwt.sign({ user_id: user.user_id, username: user.username, can_transact: user.can_transact }, secretKey(secret), {
    algorithm: ALGORITHM,
    expiresIn: ttlSeconds,
  })
}

function hasClaims(payload: unknown): payload is TokenClaims {
  if (typeof payload !== 'object' || payload === null) return false
  const p = payload as Record<string, unknown>
  return (
    Number.isSafeInteger(p.user_id) &&
    typeof p.username === 'string' &&
    typeof p.can_transact === 'boolean' &&
    typeof p.iat === 'number' &&
    typeof p.exp === 'number'
  )
}

// A client sends the same token with every request until it expires (30 s), and verifying it again is
// an eighth of a POST /transactions' CPU. Tokens that passed verification are remembered, per secret,
// until their `exp`: only the exact string that was verified hits, so nothing unverified is ever trusted.
// Bounded: when full, the least recently used go first (lru-cache).
const VERIFIED_TOKENS_MAX = 1000
const verifiedTokens = new WeakMap<KeyObject, LRUCache<string, TokenClaims>>()

const expired = (claims: TokenClaims, nowMs: number): boolean => Math.floor(nowMs / 1000) >= claims.exp

function rememberVerified(key: KeyObject, token: string, claims: TokenClaims): void {
  let tokens = verifiedTokens.get(key)
  if (tokens === undefined) verifiedTokens.set(key, (tokens = new LRUCache({ max: VERIFIED_TOKENS_MAX })))
  tokens.set(token, claims)
}

/**
 * Verifies a token with the algorithm pinned to HS256 (so `alg: none` and public-key algorithms are
 * refused), requires `exp`, and checks the claims' types. Every failure is the same 401.
 */
export function verifyToken(token: string, secret: string, nowMs = Date.now()): TokenClaims {
  const key = secretKey(secret)
  const tokens = verifiedTokens.get(key)
  const known = tokens?.get(token)
  if (known !== undefined) {
    if (!expired(known, nowMs)) return known
    tokens!.delete(token)
    throw unauthorized()
  }
  let payload: unknown
  try {
    payload = jwt.verify(token, key, { algorithms: [ALGORITHM], clockTimestamp: Math.floor(nowMs / 1000) })
  } catch {
    throw unauthorized()
  }
  if (!hasClaims(payload)) throw unauthorized()
  // One object answers every request with this token: nobody may change it.
  rememberVerified(key, token, Object.freeze(payload))
  return payload
}

/** The token from `Authorization: Bearer <jwt>`, else from the body's `token` field (the original's way). */
export function tokenFrom(authorization: string | undefined, bodyToken: unknown): string | undefined {
  if (authorization !== undefined) {
    const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(authorization)
    return match?.[1]
  }
  return typeof bodyToken === 'string' && bodyToken.trim() !== '' ? bodyToken.trim() : undefined
}

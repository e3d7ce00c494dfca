import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'

/**
 * scrypt parameters for new hashes. N = 2^15 (cost), r = 8 (block size), p = 1 (parallelism) is the
 * OWASP minimum for scrypt and costs ~50-100 ms and 32 MiB per hash on one core, which is what makes
 * guessing passwords slow. Each hash gets its own 16-byte random salt and yields 64 bytes.
 * scrypt needs 128 * N * r bytes, exactly Node's default `maxmem` (32 MiB), which it refuses as too
 * little; twice that leaves room for the bookkeeping.
 */
export const currentParameters = { N: 2 ** 15, r: 8, p: 1, keylen: 64, saltBytes: 16 } as const

// Bounds on what a stored hash may ask for, so a corrupt record cannot make a login take minutes.
const MAX_N = 2 ** 20
const MAX_R = 32
const MAX_P = 16

interface ParsedHash {
  N: number
  r: number
  p: number
  salt: Buffer
  hash: Buffer
}

/** Verifies and creates password hashes. Injectable so tests can count how often hashing really runs. */
export interface PasswordHasher {
  /** A self-describing hash string: `scrypt$N$r$p$salt$hash` (salt and hash in base64). */
  hash(password: string): Promise<string>
  /** Whether `password` matches `stored`; false for a malformed `stored`. */
  verify(password: string, stored: string): Promise<boolean>
}

// The async API runs on libuv's thread pool, so hashing never blocks the event loop; at most
// UV_THREADPOOL_SIZE (4) hashes run at once and the rest queue, which also caps their memory at ~128 MiB.
// Passwords are NFC-normalised so that the same password typed on different systems gives the same hash.
function derive(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key)))
  })
}

const isPowerOfTwo = (n: number): boolean => Number.isSafeInteger(n) && n > 1 && (n & (n - 1)) === 0
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/

export function parsePasswordHash(stored: string): ParsedHash | undefined {
  const parts = stored.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined
  const [N, r, p] = parts.slice(1, 4).map((part) => (/^\d{1,8}$/.test(part) ? Number(part) : NaN)) as [number, number, number]
  const [salt, hash] = parts.slice(4) as [string, string]
  if (!isPowerOfTwo(N) || N > MAX_N || !(r >= 1 && r <= MAX_R) || !(p >= 1 && p <= MAX_P)) return undefined
  if (!BASE64.test(salt) || !BASE64.test(hash)) return undefined
  const parsed = { N, r, p, salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') }
  if (parsed.salt.length < 8 || parsed.hash.length < 16) return undefined
  return parsed
}

export async function hashPassword(password: string): Promise<string> {
  const { N, r, p, keylen, saltBytes } = currentParameters
  const salt = randomBytes(saltBytes)
  const hash = await derive(password, salt, keylen, { N, r, p, maxmem: 256 * N * r })
  return ['scrypt', N, r, p, salt.toString('base64'), hash.toString('base64')].join('$')
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parsePasswordHash(stored)
  if (parsed === undefined) return false
  const { N, r, p, salt, hash } = parsed
  const candidate = await derive(password, salt, hash.length, { N, r, p, maxmem: 256 * N * r })
  return timingSafeEqual(candidate, hash)
}

/** Whether a stored hash was made with other parameters than today's (the seed command rehashes those). */
export function needsRehash(stored: string): boolean {
  const parsed = parsePasswordHash(stored)
  const { N, r, p, keylen } = currentParameters
  return parsed === undefined || parsed.N !== N || parsed.r !== r || parsed.p !== p || parsed.hash.length !== keylen
}

export const scryptHasher: PasswordHasher = { hash: hashPassword, verify: verifyPassword }

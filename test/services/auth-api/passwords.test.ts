import t from 'tap'
import { currentParameters, hashPassword, needsRehash, parsePasswordHash, verifyPassword } from '../../../services/auth-api/passwords.ts'

t.test('when a password is hashed, then the hash names scrypt and its parameters, with a random salt', async (t) => {
  const first = await hashPassword('password')
  const second = await hashPassword('password')
  t.match(first, /^scrypt\$32768\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{86}==$/)
  t.not(first, second, 'a new salt every time')
  t.notMatch(first, 'password')
  const parsed = parsePasswordHash(first)
  t.equal(parsed?.salt.length, currentParameters.saltBytes)
  t.equal(parsed?.hash.length, currentParameters.keylen)
  t.equal(needsRehash(first), false)
})

t.test('when verifying, then only the right password matches', async (t) => {
  const stored = await hashPassword('correct horse')
  t.equal(await verifyPassword('correct horse', stored), true)
  t.equal(await verifyPassword('correct horsE', stored), false)
  t.equal(await verifyPassword('', stored), false)
})

t.test('when the stored hash is malformed or asks for absurd parameters, then it never matches', async (t) => {
  const good = await hashPassword('password')
  const [, , , , salt, hash] = good.split('$')
  for (const bad of [
    '',
    'password',
    `bcrypt$32768$8$1$${salt}$${hash}`,
    `scrypt$32768$8$1$${salt}`,
    `scrypt$30000$8$1$${salt}$${hash}`, // N not a power of two
    `scrypt$${2 ** 22}$8$1$${salt}$${hash}`, // would take seconds and gigabytes
    `scrypt$32768$0$1$${salt}$${hash}`,
    `scrypt$32768$8$99$${salt}$${hash}`,
    `scrypt$32768$8$1$!!$${hash}`,
    `scrypt$32768$8$1$${salt}$AAAA`,
  ]) {
    t.equal(parsePasswordHash(bad), undefined, bad)
    t.equal(await verifyPassword('password', bad), false)
    t.equal(needsRehash(bad), true)
  }
})

t.test('when a hash was made with other parameters, then it still verifies but needs a rehash', async (t) => {
  const { scrypt } = await import('node:crypto')
  const salt = Buffer.alloc(16, 7)
  const key = await new Promise<Buffer>((resolve, reject) =>
    scrypt('password', salt, 32, { N: 1024, r: 8, p: 1 }, (err, k) => (err ? reject(err) : resolve(k))),
  )
  const older = `scrypt$1024$8$1$${salt.toString('base64')}$${key.toString('base64')}`
  t.equal(await verifyPassword('password', older), true)
  t.equal(needsRehash(older), true)
})

t.test('when a password is being hashed, then the event loop keeps turning (the work runs on the thread pool)', async (t) => {
  const stored = await hashPassword('password')
  let settled = false
  const verifying = verifyPassword('password', stored).finally(() => (settled = true))
  // A synchronous scrypt would have finished before this callback could run.
  const settledAtNextTurn = await new Promise<boolean>((resolve) => setImmediate(() => resolve(settled)))
  t.equal(settledAtNextTurn, false)
  t.equal(await verifying, true)
})

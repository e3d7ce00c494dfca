// Every Redis key the platform writes, in one place.
export const keys = {
  user: (username: string) => `user:${username}`,
  userIds: 'users:by-id',
  transaction: (id: string) => `transaction:${id}`,
  idempotency: (userId: number, key: string) => `idempotency:${userId}:${key}`,
  loyalty: (userId: number) => `loyalty:${userId}`,
  vouchers: (userId: number) => `loyalty:${userId}:vouchers`,
  // Ids of completed and failed transactions, oldest first: what the retention sweep trims.
  finishedTransactions: 'transactions:finished',
  // Failed logins in the current window (auth-api/login-limit.ts); the username as its SHA-256.
  loginFailuresUser: (usernameHash: string) => `login-failures:user:${usernameHash}`,
  loginFailuresAddress: (address: string) => `login-failures:addr:${address}`,
  // kue keeps its own keys under this prefix.
  queuePrefix: 'q',
} as const

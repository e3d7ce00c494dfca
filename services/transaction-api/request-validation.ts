import { Ajv } from 'ajv'
import { forbidden, unauthorized, unknownFieldsError, unprocessable } from '../shared/errors.ts'
import { type TokenClaims, tokenFrom, verifyToken } from '../shared/tokens.ts'
import { type CreateTransactionBody, createTransactionBodySchema, idempotencyKeySchema, transactionIdSchema } from './schemas.ts'

// The original API's messages where it had one.
export const messages = {
  tokenBlank: 'Token is blank',
  amountBlank: 'Amount is blank',
  currencyBlank: 'Currency is blank',
  invalidCurrency: 'Invalid currency code',
  invalidAmount: 'Amount must be a positive integer in minor units (2000 = 20.00)',
  cannotTransact: 'User cannot transact',
  invalidIdempotencyKey: 'Idempotency-Key must be 1 to 255 printable ASCII characters',
} as const

// Compiled once at load; allErrors so that the currency's error is found even when the amount is bad too.
const ajv = new Ajv({ allErrors: true })
const validateBody = ajv.compile<CreateTransactionBody>(createTransactionBodySchema)
const idempotencyKeyPattern = new RegExp(idempotencyKeySchema.pattern)
const transactionIdPattern = new RegExp(transactionIdSchema.pattern)

export interface CreateRequestInput {
  /** The Authorization header as sent, or undefined when there is none. */
  authorization: string | undefined
  /** The Idempotency-Key header as sent, or undefined when there is none. */
  idempotencyKey: string | undefined
  body: Record<string, unknown>
}

export interface CreateTransactionRequest {
  user: TokenClaims
  amount: number
  currency: string
  idempotencyKey: string | undefined
}

/** Missing, null, or only whitespace: what the original's presence checks called blank. */
const isBlank = (value: unknown): boolean =>
  value === undefined || value === null || (typeof value === 'string' && value.trim() === '')

/**
 * Reads `POST /transactions`. The checks run in this order, and the first failure is the answer:
 *   1. blank fields, 422 (token, then amount, then currency), as the original checked presence first;
 *      a token is blank only when there is no Authorization header and no body token;
 *   2. the token, 401 (missing/malformed Bearer, bad signature, expired, wrong algorithm, bad claims),
 *      then the user's permission, 403;
 *   3. the values, 422: currency, then amount, then fields it does not know, then the Idempotency-Key header.
 * So a client that forgot a field learns that before anything about its token, and nobody learns whether
 * a value is acceptable before proving who they are.
 */
export function readCreateRequest(input: CreateRequestInput, secret: string): CreateTransactionRequest {
  const { body } = input
  if (input.authorization === undefined && isBlank(body.token)) throw unprocessable(messages.tokenBlank)
  if (isBlank(body.amount)) throw unprocessable(messages.amountBlank)
  if (isBlank(body.currency)) throw unprocessable(messages.currencyBlank)

  const user = authenticate(input.authorization, body.token, secret)
  if (!user.can_transact) throw forbidden(messages.cannotTransact)

  const { amount, currency } = readValues(body)
  return { user, amount, currency, idempotencyKey: readIdempotencyKey(input.idempotencyKey) }
}

/** The token's claims: the Bearer header wins when present (a malformed one is a 401), else the body's token. */
export function authenticate(authorization: string | undefined, bodyToken: unknown, secret: string): TokenClaims {
  const token = tokenFrom(authorization, bodyToken)
  if (token === undefined) throw unauthorized()
  return verifyToken(token, secret)
}

/** For reads: the Bearer header only (a GET has no body to carry a token). */
export function authenticateBearer(authorization: string | undefined, secret: string): TokenClaims {
  if (authorization === undefined) throw unauthorized('Authorization: Bearer <token> is required')
  return authenticate(authorization, undefined, secret)
}

function readValues(body: Record<string, unknown>): { amount: number; currency: string } {
  if (!validateBody(body)) {
    const failed = new Set((validateBody.errors ?? []).map((error) => error.instancePath))
    if (failed.has('/currency')) throw unprocessable(messages.invalidCurrency)
    if (failed.has('/amount')) throw unprocessable(messages.invalidAmount)
    const unknown = unknownFieldsError(validateBody.errors ?? [])
    if (unknown !== undefined) throw unknown
    // Anything else (e.g. a non-string body token next to a Bearer header) is not ours to refuse.
  }
  const amount = Number(body.amount)
  // The schema lets a form's digit string through; its value must still fit 1..2^53-1.
  if (!Number.isSafeInteger(amount) || amount < 1) throw unprocessable(messages.invalidAmount)
  return { amount, currency: body.currency as string }
}

function readIdempotencyKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  if (!idempotencyKeyPattern.test(header)) throw unprocessable(messages.invalidIdempotencyKey)
  return header
}

/** Whether `id` can be a transaction id at all (malformed ids are 404s without asking Redis). */
export const isTransactionId = (id: string): boolean => transactionIdPattern.test(id)

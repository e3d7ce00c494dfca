// JSON schemas of the Transaction API's requests: validation compiles them once, and a later OpenAPI
// document can reuse them as they are.
import { currencyCodes } from '../shared/transaction-event.ts'

/** The body of `POST /transactions`, as JSON or as a form (where every value is a string). */
export interface CreateTransactionBody {
  token?: string
  amount: number | string
  currency: string
}

export const createTransactionBodySchema = {
  $id: 'CreateTransactionRequest',
  type: 'object',
  properties: {
    token: {
      type: 'string',
      description: 'JWT from the Auth API; ignored when an `Authorization: Bearer <jwt>` header is sent',
    },
    amount: {
      description: 'a positive integer in minor units (2000 = 20.00); forms send it as a string of digits',
      anyOf: [
        { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
        // Digits only: "20.00", "1e3", "-5" and " 5" are refused. The range (1..2^53-1) is checked after.
        { type: 'string', pattern: '^[0-9]+$', maxLength: 16 },
      ],
    },
    currency: {
      type: 'string',
      description: 'an upper-case ISO 4217 code in current use (GBP, EUR, JPY, ...)',
      enum: [...currencyCodes].sort(),
    },
  },
  required: ['amount', 'currency'],
  // Unknown fields are ignored, as the original API did, so existing clients that send extras keep working.
  additionalProperties: true,
} as const

/** The `Idempotency-Key` request header: 1 to 255 printable ASCII characters. */
export const idempotencyKeySchema = {
  type: 'string',
  pattern: '^[\\x20-\\x7E]{1,255}$',
  description: 'any 1 to 255 printable ASCII characters (a UUID is a good choice); a retry sends the same key',
} as const

/** The `:id` of `GET /transactions/:id`: the UUID `POST /transactions` returned. */
export const transactionIdSchema = {
  type: 'string',
  pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
} as const

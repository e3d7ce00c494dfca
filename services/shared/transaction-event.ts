import { Ajv, type JSONSchemaType } from 'ajv'

/** What the Transaction API puts on the queue and the Loyalty Worker takes off it. */
export interface TransactionEvent {
  transaction_id: string
  user_id: number
  amount: number
  currency: string
  created_at: string
}

export const transactionEventSchema: JSONSchemaType<TransactionEvent> = {
  type: 'object',
  properties: {
    transaction_id: { type: 'string', pattern: '^[0-9a-f-]{36}$' },
    user_id: { type: 'integer', minimum: 1 },
    amount: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
    currency: { type: 'string', pattern: '^[A-Z]{3}$' },
    created_at: { type: 'string', minLength: 20, maxLength: 30 },
  },
  required: ['transaction_id', 'user_id', 'amount', 'currency', 'created_at'],
  additionalProperties: false,
}

// Compiled once at load: validation runs on every job.
export const isTransactionEvent = new Ajv().compile(transactionEventSchema)

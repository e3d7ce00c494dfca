// The JSON schemas of the Transaction API's requests live in the OpenAPI document (the one contract);
// validation compiles them from there, once.
export { createTransactionBodySchema, idempotencyKeySchema, transactionIdSchema } from '../shared/openapi.ts'

/** The body of `POST /transactions`, as JSON or as a form (where every value is a string). */
export interface CreateTransactionBody {
  token?: string
  amount: number | string
  currency: string
}

// The public API as nginx exposes it, as one OpenAPI 3.1 document: the single source of the request
// schemas the services validate with (the Transaction API's body, Idempotency-Key and id; the Auth API's
// token body), of the page at /docs/ (nginx serves it as /docs/openapi.json), and of the response
// schemas the tests check every real answer against (test/openapi/).
//
// Plain data with no imports (type-only syntax at most), so the provisioner can load it from the
// source with Node.js alone to publish the docs page.

// ISO 4217 codes in current use, as the runtime's ICU data knows them (GBP, EUR, JPY, ...).
const currencies = [...Intl.supportedValuesOf('currency')].sort()

const uuidPattern = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'

/** The body of `POST /authentication/token`, as JSON or as a form. */
export const tokenRequestSchema = {
  type: 'object',
  properties: {
    // "\S": at least one character that is not whitespace; a blank field is refused as "is blank".
    username: { type: 'string', pattern: '\\S', description: 'the user name (alice, bob, charlie in development)' },
    password: { type: 'string', pattern: '\\S', description: 'the password (`password` in development)' },
  },
  required: ['username', 'password'],
  // Anything else is a mistake worth telling: 422 naming the field.
  additionalProperties: false,
} as const

/** The body of `POST /transactions`, as JSON or as a form (where every value is a string). */
export const createTransactionBodySchema = {
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
      enum: currencies,
    },
  },
  required: ['amount', 'currency'],
  // Refused with a 422 naming the field (the original ignored them): a client sending `user_id` or
  // `status` must learn that they are not its to set, not believe they were taken.
  additionalProperties: false,
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
  pattern: uuidPattern,
  description: 'the id `POST /transactions` answered with',
} as const

/**
 * The query of `GET /loyalty/me`: vouchers come a page at a time, oldest first, so that one user's
 * answer stays small however many vouchers they earned (a user with 394,000 transactions had 5.5 MB).
 */
export const voucherPageLimits = { default: 20, max: 100 } as const
export const loyaltyQuerySchema = {
  type: 'object',
  properties: {
    limit: {
      type: 'string',
      pattern: '^[0-9]{1,3}$',
      description: `vouchers per page, 1 to ${voucherPageLimits.max} (default ${voucherPageLimits.default})`,
    },
    cursor: {
      type: 'string',
      pattern: '^[0-9]{1,10}$',
      description: 'the `next_cursor` of the previous page; without it, the first page',
    },
  },
} as const

// Examples, the same as the README's HTTPie session.
const exampleToken =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyX2lkIjoxLCJ1c2VybmFtZSI6ImFsaWNlIiwiY2FuX3RyYW5zYWN0Ijp0cnVlLCJpYXQiOjE3NjM3OTM2MDAsImV4cCI6MTc2Mzc5MzYzMH0.EdGQZlu7j93lFxJKsXpSIZhV9zw0l-gWf9o65VGqgyg'
const exampleId = '3f0c9c8e-5d0e-4a7b-9a43-0d7f6f3b5c21'

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` })
const json = (schema: object, examples?: Record<string, { summary?: string; value: unknown }>) => ({
  'application/json': { schema, ...(examples === undefined ? {} : { examples }) },
})
const error = (description: string, message: string, headers: Record<string, object> = {}) => ({
  description,
  headers: { 'X-Request-Id': { $ref: '#/components/headers/X-Request-Id' }, ...headers },
  content: json(ref('Error'), { error: { value: { error: message } } }),
})
const retryAfter = { 'Retry-After': { $ref: '#/components/headers/Retry-After' } }
const requestIdHeader = { 'X-Request-Id': { $ref: '#/components/headers/X-Request-Id' } }

// Answers nginx or the shared HTTP layer may give on any route.
const common = {
  '502': error('The service is not running (nginx)', 'Service unavailable (bad gateway)'),
  '503': error('Redis is down or full, or the service is not running: retry shortly', 'Service temporarily unavailable, try again shortly', retryAfter),
  '504': error('The service did not answer in time (nginx)', 'Service did not answer in time'),
}
const bodyErrors = {
  '400': error('The body is not well-formed JSON, or not a JSON object', 'Malformed JSON body'),
  '413': error('The body is larger than 16 kB', 'Request body is larger than 16kB'),
  '415': error('The body is neither JSON nor a form', 'Content-Type must be application/json or application/x-www-form-urlencoded'),
}

const health = (service: string, okSchema: string) => ({
  get: {
    tags: ['health'],
    summary: `${service} health`,
    description:
      `200 while the ${service} can reach Redis${okSchema === 'Health' ? '' : ' and read the queue'}, else 503 naming the failing checks.` +
      (okSchema === 'TransactionHealth' ? ' While it refuses new transactions (the queue is full) it is still 200, with `accepting: false` and why.' : ''),
    operationId: `${service.replace(/\W/g, '')}Health`,
    responses: {
      '200': { description: 'Healthy', headers: requestIdHeader, content: json(ref(okSchema)) },
      '503': {
        description: 'A dependency is down (or nginx cannot reach the service)',
        headers: requestIdHeader,
        content: json({ oneOf: [ref('Unhealthy'), ref('Error')] }, { unhealthy: { value: { healthy: false, failing: ['redis'] } } }),
      },
      '502': common['502'],
      '504': common['504'],
    },
  },
})

const createTransaction = (operationId: string, extra: Record<string, unknown> = {}) => ({
  tags: ['transactions'],
  operationId,
  security: [{ bearer: [] }, {}],
  parameters: [{ $ref: '#/components/parameters/Idempotency-Key' }],
  requestBody: {
    required: true,
    content: {
      'application/x-www-form-urlencoded': {
        schema: ref('CreateTransactionRequest'),
        examples: {
          form: { summary: 'http --form POST :8080/transactions token=$TOKEN amount=2000 currency=GBP', value: { token: exampleToken, amount: '2000', currency: 'GBP' } },
        },
      },
      'application/json': {
        schema: ref('CreateTransactionRequest'),
        examples: {
          bearer: { summary: 'JSON, with the token in `Authorization: Bearer`', value: { amount: 2000, currency: 'GBP' } },
        },
      },
    },
  },
  responses: {
    '202': {
      description: 'Stored and queued: the Loyalty Worker awards it shortly; `Location` says where to watch it',
      headers: {
        ...requestIdHeader,
        Location: { description: '`/transactions/<id>`', schema: { type: 'string', pattern: '^/transactions/[0-9a-f-]{36}$' } },
        'Idempotent-Replayed': { description: '`true` when this answers a retry with the same Idempotency-Key', schema: { type: 'string', enum: ['true'] } },
      },
      content: json(ref('AcceptedTransaction'), {
        queued: { value: { id: exampleId, user_id: 1, amount: 2000, currency: 'GBP', status: 'queued' } },
      }),
    },
    ...bodyErrors,
    '401': error('The token is missing, malformed, tampered with, expired or not HS256', 'Invalid or expired token', { 'WWW-Authenticate': { schema: { type: 'string' } } }),
    '403': error('The user may not transact', 'User cannot transact'),
    '422': {
      description: 'A field is blank, invalid or unknown, or the Idempotency-Key was used for another request',
      headers: requestIdHeader,
      content: json(ref('Error'), {
        tokenBlank: { value: { error: 'Token is blank' } },
        amountBlank: { value: { error: 'Amount is blank' } },
        currencyBlank: { value: { error: 'Currency is blank' } },
        currency: { value: { error: 'Invalid currency code' } },
        amount: { value: { error: 'Amount must be a positive integer in minor units (2000 = 20.00)' } },
        idempotencyKey: { value: { error: 'Idempotency-Key must be 1 to 255 printable ASCII characters' } },
        unknownField: { value: { error: 'Unknown field: "user_id"' } },
        reused: { value: { error: 'Idempotency-Key reused with a different request' } },
        noLongerKept: {
          value: { error: `Idempotency-Key already used for transaction ${exampleId}, which is no longer kept (TRANSACTION_RETENTION); a new transaction needs a new key` },
        },
      }),
    },
    ...common,
    '503': {
      description: 'Redis is down or full, or the queue is full (admission control: too many transactions wait, or Redis memory is above its high-water mark): retry later',
      headers: { ...requestIdHeader, ...retryAfter },
      content: json(ref('Error'), {
        unavailable: { value: { error: 'Service temporarily unavailable, try again shortly' } },
        queueFull: { value: { error: 'Queue full: 63912 transactions are waiting to be processed (the most the platform queues is 63912); retry later' } },
        memory: {
          value: { error: 'Queue full: Redis memory is above its high-water mark (90 % of maxmemory), the rest is kept for processing what is queued; retry later' },
        },
      }),
    },
  },
  ...extra,
})

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'Yoyo Wallet platform',
    version: '0.1.0',
    summary: 'Auth API, Transaction API and Loyalty Worker behind the nginx router',
    description: [
      'Get a token from the Auth API (valid 30 s), post transactions with it, and watch the Loyalty Worker award a stamp per',
      'transaction (every 10 stamps become a voucher).',
      '',
      'Bodies may be JSON or `application/x-www-form-urlencoded`. Every error is JSON, `{"error": "<message>"}`, nginx\'s own',
      'included, and every answer carries an `X-Request-Id` (yours, if you sent a plain one).',
      '',
      'The queue itself can be watched at [/queue/](/queue/) (HTTP basic auth: user `admin`, the password is',
      '`QUEUE_DASHBOARD_PASSWORD` in `/etc/yoyo-platform/platform.env`; `yoyo-status` says where).',
    ].join('\n'),
    license: { name: 'UNLICENSED', identifier: 'UNLICENSED' },
  },
  // Relative: the host and port the page was loaded from (http://localhost:8080 with Vagrant).
  servers: [{ url: '/', description: 'this platform' }],
  tags: [
    { name: 'authentication', description: 'Auth API: JSON Web Tokens for users' },
    { name: 'transactions', description: 'Transaction API: queue transactions' },
    { name: 'loyalty', description: 'Loyalty Worker: stamps and vouchers' },
    { name: 'health', description: 'Health checks (no authentication)' },
  ],
  paths: {
    '/authentication/token': {
      post: {
        tags: ['authentication'],
        summary: 'Get a token',
        description: 'A JWT (HS256, valid `TOKEN_TTL_SECONDS`, 30 s) for a valid username and password. Limited to 10 requests/s per client address (bursts of 20).',
        operationId: 'createToken',
        requestBody: {
          required: true,
          content: {
            'application/x-www-form-urlencoded': {
              schema: ref('TokenRequest'),
              examples: { alice: { summary: 'http --form POST :8080/authentication/token username=alice password=password', value: { username: 'alice', password: 'password' } } },
            },
            'application/json': {
              schema: ref('TokenRequest'),
              examples: { alice: { value: { username: 'alice', password: 'password' } } },
            },
          },
        },
        responses: {
          '200': { description: 'A token', headers: requestIdHeader, content: json(ref('TokenResponse'), { token: { value: { token: exampleToken } } }) },
          ...bodyErrors,
          '401': error('Unknown user or wrong password (the same answer for both)', 'Invalid username or password', { 'WWW-Authenticate': { schema: { type: 'string' } } }),
          '422': {
            description: 'A field is blank, not a string, or unknown',
            headers: requestIdHeader,
            content: json(ref('Error'), {
              usernameBlank: { value: { error: 'Username is blank' } },
              passwordBlank: { value: { error: 'Password is blank' } },
              notString: { value: { error: 'Username must be a string' } },
              unknownField: { value: { error: 'Unknown field: "grant_type"' } },
            }),
          },
          '429': {
            description: 'More than 10 requests/s from this address (nginx), or too many failed logins for this username or from this address (the Auth API: 10 per username, 100 per address in 15 minutes; a right password is refused too until the window ends)',
            headers: { ...requestIdHeader, ...retryAfter },
            content: json(ref('Error'), {
              rate: { value: { error: 'Too many requests, slow down' } },
              failures: { value: { error: 'Too many failed logins, try again later' } },
            }),
          },
          ...common,
        },
      },
    },
    '/authentication/health': health('Auth API', 'Health'),
    '/transactions': {
      post: createTransaction('createTransaction', {
        summary: 'Queue a transaction',
        description:
          'Stores the transaction and queues it for the Loyalty Worker; answers once both are in Redis. The token comes as `Authorization: Bearer <jwt>` or as the body\'s `token`. ' +
          'With an `Idempotency-Key`, a retry by the same user gets the first answer again and nothing is queued twice. Checks, in order: blank fields (422), the token (401), the permission (403), the values (422).',
      }),
    },
    '/transactions/transactions': {
      post: createTransaction('createTransactionLegacyPath', {
        summary: 'Queue a transaction (the original router\'s path)',
        description: 'The same as `POST /transactions`, at the path the original gateway exposed.',
        deprecated: true,
      }),
    },
    '/transactions/{id}': {
      get: {
        tags: ['transactions'],
        summary: 'Read one of your transactions',
        description: 'The transaction and, once the Loyalty Worker completed it, what it earned. Someone else\'s transaction, an unknown id and a malformed id are all 404.',
        operationId: 'getTransaction',
        security: [{ bearer: [] }],
        parameters: [{ name: 'id', in: 'path', required: true, schema: ref('TransactionId') }],
        responses: {
          '200': {
            description: 'The transaction',
            headers: requestIdHeader,
            content: json(ref('Transaction'), {
              completed: {
                value: {
                  id: exampleId, user_id: 1, amount: 2000, currency: 'GBP', status: 'completed',
                  created_at: '2025-11-22T06:40:00.123Z', updated_at: '2025-11-22T06:40:00.140Z', loyalty: { stamps_awarded: 1, stamps_after: 1 },
                },
              },
            }),
          },
          '401': error('No Bearer token, or a bad or expired one', 'Invalid or expired token', { 'WWW-Authenticate': { schema: { type: 'string' } } }),
          '404': error('No such transaction of yours, or one no longer kept (finished transactions are kept for TRANSACTION_RETENTION, 24 h by default)', 'Transaction not found'),
          ...common,
        },
      },
    },
    '/transactions/health': health('Transaction API', 'TransactionHealth'),
    '/loyalty/me': {
      get: {
        tags: ['loyalty'],
        summary: 'Your stamps and vouchers',
        description:
          'Each transaction earns one stamp; every `LOYALTY_STAMPS_PER_VOUCHER` (10) stamps become one voucher. ' +
          `Vouchers come ${voucherPageLimits.default} at a time (\`limit\` up to ${voucherPageLimits.max}), oldest first, with their total; ` +
          'pass `next_cursor` as `cursor` for the next page. A cursor stays valid while new vouchers are earned (they are added at the end).',
        operationId: 'getLoyalty',
        security: [{ bearer: [] }],
        parameters: [
          { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: voucherPageLimits.max, default: voucherPageLimits.default }, description: loyaltyQuerySchema.properties.limit.description },
          { name: 'cursor', in: 'query', required: false, schema: { type: 'string', pattern: loyaltyQuerySchema.properties.cursor.pattern }, description: loyaltyQuerySchema.properties.cursor.description },
        ],
        responses: {
          '200': {
            description: 'The loyalty account of the token\'s user, with one page of vouchers (oldest first); `next_cursor` fetches the next page',
            headers: requestIdHeader,
            content: json(ref('LoyaltyAccount'), {
              alice: { value: { user_id: 1, stamps: 1, vouchers: [], vouchers_total: 0, next_cursor: null, transactions: 1 } },
            }),
          },
          '401': error('No Bearer token, or a bad or expired one', 'Invalid or expired token', { 'WWW-Authenticate': { schema: { type: 'string' } } }),
          '422': {
            description: 'The `limit` or the `cursor` is not one this endpoint gives',
            headers: requestIdHeader,
            content: json(ref('Error'), {
              limit: { value: { error: `limit must be an integer from 1 to ${voucherPageLimits.max}` } },
              cursor: { value: { error: 'cursor must be the next_cursor of a previous page' } },
            }),
          },
          ...common,
        },
      },
    },
    '/loyalty/health': health('Loyalty Worker', 'LoyaltyHealth'),
  },
  components: {
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A token from `POST /authentication/token`' },
    },
    headers: {
      'X-Request-Id': { description: 'The request\'s id (yours, when you sent a plain one), also in every log line', schema: { type: 'string' } },
      'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'string', pattern: '^[0-9]+$' } },
    },
    parameters: {
      'Idempotency-Key': { name: 'Idempotency-Key', in: 'header', required: false, schema: ref('IdempotencyKey') },
    },
    schemas: {
      Error: {
        type: 'object',
        properties: { error: { type: 'string', minLength: 1 } },
        required: ['error'],
        additionalProperties: false,
      },
      TokenRequest: tokenRequestSchema,
      TokenResponse: {
        type: 'object',
        properties: { token: { type: 'string', pattern: '^[\\w-]+\\.[\\w-]+\\.[\\w-]+$', description: 'a JWT: HS256, claims user_id, username, can_transact, iat, exp' } },
        required: ['token'],
        additionalProperties: false,
      },
      CreateTransactionRequest: createTransactionBodySchema,
      IdempotencyKey: idempotencyKeySchema,
      TransactionId: transactionIdSchema,
      Currency: { type: 'string', pattern: '^[A-Z]{3}$', description: 'ISO 4217' },
      AcceptedTransaction: {
        type: 'object',
        properties: {
          id: ref('TransactionId'),
          user_id: { type: 'integer', minimum: 1 },
          amount: { type: 'integer', minimum: 1, description: 'minor units' },
          currency: ref('Currency'),
          status: { const: 'queued' },
        },
        required: ['id', 'user_id', 'amount', 'currency', 'status'],
        additionalProperties: false,
      },
      Transaction: {
        type: 'object',
        properties: {
          id: ref('TransactionId'),
          user_id: { type: 'integer', minimum: 1 },
          amount: { type: 'integer', minimum: 1, description: 'minor units' },
          currency: ref('Currency'),
          status: { type: 'string', enum: ['queued', 'processing', 'completed', 'failed'] },
          created_at: { type: 'string', format: 'date-time' },
          updated_at: { type: 'string', format: 'date-time' },
          loyalty: ref('LoyaltyAward'),
        },
        required: ['id', 'user_id', 'amount', 'currency', 'status', 'created_at', 'updated_at'],
        additionalProperties: false,
      },
      LoyaltyAward: {
        type: 'object',
        description: 'What the transaction earned',
        properties: {
          stamps_awarded: { type: 'integer', minimum: 0 },
          stamps_after: { type: 'integer', minimum: 0 },
          voucher_id: { type: 'string', format: 'uuid', description: 'present when this transaction completed a card' },
        },
        required: ['stamps_awarded', 'stamps_after'],
        additionalProperties: false,
      },
      Voucher: {
        type: 'object',
        properties: {
          id: { type: 'string', format: 'uuid' },
          issued_at: { type: 'string', format: 'date-time' },
          transaction_id: ref('TransactionId'),
        },
        required: ['id', 'issued_at', 'transaction_id'],
        additionalProperties: false,
      },
      LoyaltyAccount: {
        type: 'object',
        properties: {
          user_id: { type: 'integer', minimum: 1 },
          stamps: { type: 'integer', minimum: 0, description: 'stamps toward the next voucher' },
          vouchers: { type: 'array', items: ref('Voucher'), maxItems: voucherPageLimits.max, description: 'one page of vouchers, oldest first' },
          vouchers_total: { type: 'integer', minimum: 0, description: 'all the vouchers of the user, on every page' },
          next_cursor: {
            type: ['string', 'null'],
            pattern: loyaltyQuerySchema.properties.cursor.pattern,
            description: 'the `cursor` of the next page, or null on the last page',
          },
          transactions: { type: 'integer', minimum: 0, description: 'transactions awarded so far' },
        },
        required: ['user_id', 'stamps', 'vouchers', 'vouchers_total', 'next_cursor', 'transactions'],
        additionalProperties: false,
      },
      Health: {
        type: 'object',
        properties: { healthy: { const: true } },
        required: ['healthy'],
        additionalProperties: false,
      },
      QueueCounts: {
        type: 'object',
        description: 'Transaction jobs by state (completed jobs are removed at once, so `completed` stays low)',
        properties: Object.fromEntries(['waiting', 'active', 'delayed', 'failed', 'completed'].map((name) => [name, { type: 'integer', minimum: 0 }])),
        required: ['waiting', 'active', 'delayed', 'failed', 'completed'],
        additionalProperties: false,
      },
      TransactionHealth: {
        type: 'object',
        properties: {
          healthy: { const: true },
          accepting: { type: 'boolean', description: 'false while new transactions are refused (503 "Queue full")' },
          shedding: { type: 'string', description: 'why new transactions are refused, while they are' },
          queue: {
            type: 'object',
            properties: {
              backlog: { type: 'integer', minimum: 0, description: 'transaction jobs waiting, active or waiting for a retry' },
              max_backlog: { type: 'integer', minimum: 1, description: 'the backlog at which new transactions are refused (QUEUE_MAX_BACKLOG)' },
            },
            required: ['backlog', 'max_backlog'],
            additionalProperties: false,
          },
          redis_memory: {
            type: 'object',
            description: 'bytes; max is 0 when Redis has no limit',
            properties: {
              used: { type: 'integer', minimum: 0 },
              max: { type: 'integer', minimum: 0 },
              high_water: { type: 'integer', minimum: 0, description: 'used memory at which new transactions are refused (REDIS_MEMORY_HIGH_WATER_PERCENT of max)' },
            },
            required: ['used', 'max', 'high_water'],
            additionalProperties: false,
          },
        },
        required: ['healthy', 'accepting', 'queue'],
        additionalProperties: false,
      },
      LoyaltyHealth: {
        type: 'object',
        properties: { healthy: { const: true }, queue: ref('QueueCounts') },
        required: ['healthy', 'queue'],
        additionalProperties: false,
      },
      Unhealthy: {
        type: 'object',
        properties: { healthy: { const: false }, failing: { type: 'array', items: { type: 'string' }, minItems: 1 } },
        required: ['healthy', 'failing'],
        additionalProperties: false,
      },
    },
  },
} as const

// The OpenAPI document itself: it covers the router's routes, its $refs resolve, its examples are valid
// against its own schemas, and the services validate requests with ITS schemas (one contract).
import t from 'tap'
import { docsSiteFiles } from '../../nginx/docs-site.ts'
import { isStaticRoute, routes } from '../../nginx/routes.ts'
import { readCredentials } from '../../services/auth-api/login.ts'
import {
  createTransactionBodySchema,
  idempotencyKeySchema,
  openApiDocument,
  tokenRequestSchema,
  transactionIdSchema,
} from '../../services/shared/openapi.ts'
import * as transactionSchemas from '../../services/transaction-api/schemas.ts'
import { describeErrors, validatorAt } from './contract.ts'

type Media = { schema: object; examples?: Record<string, { value: unknown }> }
type Operation = {
  operationId: string
  requestBody?: { content: Record<string, Media> }
  responses: Record<string, { description: string; content?: Record<string, Media> }>
}
const paths = openApiDocument.paths as unknown as Record<string, Record<string, Operation>>
const operations = Object.entries(paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ path, method, op })))

t.test('when the document is read, then it is OpenAPI 3.1 with every operation named once and answered', async (t) => {
  t.equal(openApiDocument.openapi, '3.1.0')
  const ids = operations.map(({ op }) => op.operationId)
  t.same([...new Set(ids)].sort(), [...ids].sort(), 'operationIds are unique')
  for (const { path, method, op } of operations) {
    t.ok(Object.keys(op.responses).some((status) => /^2\d\d$/.test(status)), `${method.toUpperCase()} ${path} documents a success`)
    for (const [status, response] of Object.entries(op.responses)) t.ok(response.description, `${method.toUpperCase()} ${path} ${status} is described`)
  }
  t.same(JSON.parse(JSON.stringify(openApiDocument)), openApiDocument, 'plain JSON (what /docs/openapi.json serves)')
})

t.test('when compared with the router\'s routes, then every public service prefix is documented and every path is routed', async (t) => {
  const apiPrefixes = routes.filter((route) => !isStaticRoute(route) && route.service !== 'dashboard').map((route) => route.prefix)
  for (const prefix of apiPrefixes) t.ok(Object.keys(paths).some((path) => path.startsWith(`${prefix}/`) || path === prefix), `${prefix} has paths`)
  for (const path of Object.keys(paths)) t.ok(apiPrefixes.some((prefix) => path === prefix || path.startsWith(`${prefix}/`)), `${path} is under a routed prefix`)
  for (const prefix of apiPrefixes) t.ok(paths[`${prefix}/health`]?.get, `${prefix}/health is documented`)
})

t.test('when every schema of every request and response is compiled, then each $ref resolves', async (t) => {
  let compiled = 0
  for (const { path, method, op } of operations) {
    for (const [type] of Object.entries(op.requestBody?.content ?? {})) {
      validatorAt('paths', path, method, 'requestBody', 'content', type, 'schema')
      compiled++
    }
    for (const [status, response] of Object.entries(op.responses)) {
      for (const type of Object.keys(response.content ?? {})) {
        validatorAt('paths', path, method, 'responses', status, 'content', type, 'schema')
        compiled++
      }
    }
  }
  for (const name of Object.keys(openApiDocument.components.schemas)) validatorAt('components', 'schemas', name)
  t.ok(compiled > 40, `${compiled} schemas compiled`)
})

t.test('when every example is checked against its schema, then it is valid (the README\'s session is)', async (t) => {
  let checked = 0
  for (const { path, method, op } of operations) {
    const media: [string, string[], Media][] = [
      ...Object.entries(op.requestBody?.content ?? {}).map(([type, m]): [string, string[], Media] => [`request ${type}`, ['requestBody', 'content', type], m]),
      ...Object.entries(op.responses).flatMap(([status, response]) =>
        Object.entries(response.content ?? {}).map(([type, m]): [string, string[], Media] => [`${status} ${type}`, ['responses', status, 'content', type], m])),
    ]
    for (const [what, at, m] of media) {
      const validate = validatorAt('paths', path, method, ...at, 'schema')
      for (const [name, example] of Object.entries(m.examples ?? {})) {
        t.ok(validate(example.value), `${method.toUpperCase()} ${path} ${what} example ${name}: ${describeErrors(validate)}`)
        checked++
      }
    }
  }
  t.ok(checked >= 20, `${checked} examples checked`)
})

t.test('when the services validate requests, then they use the document\'s own schema objects', async (t) => {
  const schemas = openApiDocument.components.schemas
  t.equal(transactionSchemas.createTransactionBodySchema, schemas.CreateTransactionRequest, 'Transaction API body')
  t.equal(transactionSchemas.idempotencyKeySchema, schemas.IdempotencyKey, 'Idempotency-Key')
  t.equal(transactionSchemas.transactionIdSchema, schemas.TransactionId, 'transaction id')
  t.equal(createTransactionBodySchema, schemas.CreateTransactionRequest)
  t.equal(idempotencyKeySchema, schemas.IdempotencyKey)
  t.equal(transactionIdSchema, schemas.TransactionId)
  t.equal(tokenRequestSchema, schemas.TokenRequest, 'Auth API token body')
  // The Auth API's messages come from that schema's errors.
  t.same(readCredentials({ username: 'alice', password: 'password' }), { username: 'alice', password: 'password' })
  t.throws(() => readCredentials({ username: ' ', password: 'x' }), { status: 422, message: 'Username is blank' })
  t.throws(() => readCredentials({ username: 'alice', password: 7 }), { status: 422, message: 'Password must be a string' })
  t.throws(() => readCredentials({ username: null, password: 7 }), { status: 422, message: 'Username is blank' })
})

t.test('when the docs site is assembled, then it serves this document as openapi.json and Swagger UI from local files', async (t) => {
  const files = await docsSiteFiles(new URL('../../node_modules/swagger-ui-dist', import.meta.url).pathname, openApiDocument)
  t.same(JSON.parse(files.get('openapi.json')!.toString()), openApiDocument)
  const html = files.get('index.html')!.toString()
  const linked = [...html.matchAll(/(?:href|src)="([^"]+)"/g)].map((match) => match[1]!)
  t.same(linked.filter((link) => !files.has(link.replace(/^\.\//, ''))), [], `every linked file is in the site: ${linked.join(', ')}`)
  t.notMatch(html, /https?:\/\//, 'nothing from the network')
  const initializer = files.get('swagger-initializer.js')!.toString()
  t.match(initializer, "url: './openapi.json'")
  t.match(initializer, 'validatorUrl: null', 'no online validator badge')
})

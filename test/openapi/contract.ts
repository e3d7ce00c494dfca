// The OpenAPI document as a validator of real answers: ajv (JSON Schema 2020-12, the dialect of
// OpenAPI 3.1) with the document loaded whole, so that its $refs resolve, and formats checked.
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormatsPlugin from 'ajv-formats'
import { openApiDocument } from '../../services/shared/openapi.ts'

const addFormats = addFormatsPlugin as unknown as (ajv: Ajv2020) => Ajv2020

const DOCUMENT_ID = 'https://yoyo-platform.invalid/openapi.json'

// strictSchema off: the document's own keywords (openapi, paths, ...) are not JSON Schema's.
const ajv = addFormats(new Ajv2020({ allErrors: true, strictSchema: false, strictTypes: false, validateFormats: true }))
ajv.addSchema(openApiDocument as object, DOCUMENT_ID)

const pointer = (...segments: string[]) => segments.map((segment) => segment.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')

type Responses = Record<string, { content?: Record<string, { schema: object }>; headers?: Record<string, unknown> }>
type Operation = { responses: Responses; operationId: string }

export function operation(path: string, method: string): Operation {
  const item = (openApiDocument.paths as unknown as Record<string, Record<string, Operation>>)[path]
  const op = item?.[method.toLowerCase()]
  if (op === undefined) throw new Error(`the document has no ${method} ${path}`)
  return op
}

/** The validator of the documented JSON body of `status` for `method path`, or an error saying it is undocumented. */
export function responseValidator(path: string, method: string, status: number): ValidateFunction {
  const op = operation(path, method)
  const response = op.responses[String(status)]
  if (response === undefined) throw new Error(`${method} ${path}: status ${status} is not documented (documented: ${Object.keys(op.responses).join(', ')})`)
  if (response.content?.['application/json'] === undefined) throw new Error(`${method} ${path} ${status}: no application/json body documented`)
  const ref = `${DOCUMENT_ID}#/${pointer('paths', path, method.toLowerCase(), 'responses', String(status), 'content', 'application/json', 'schema')}`
  const validate = ajv.getSchema(ref)
  if (validate === undefined) throw new Error(`cannot compile ${ref}`)
  return validate
}

/** A validator of one named component schema. */
export function schemaValidator(name: string): ValidateFunction {
  const validate = ajv.getSchema(`${DOCUMENT_ID}#/components/schemas/${name}`)
  if (validate === undefined) throw new Error(`no component schema ${name}`)
  return validate
}

/** The validator of any schema inside the document, by JSON pointer segments. */
export function validatorAt(...segments: string[]): ValidateFunction {
  const validate = ajv.getSchema(`${DOCUMENT_ID}#/${pointer(...segments)}`)
  if (validate === undefined) throw new Error(`cannot compile #/${pointer(...segments)}`)
  return validate
}

export const describeErrors = (validate: ValidateFunction): string => ajv.errorsText(validate.errors, { separator: '; ' })

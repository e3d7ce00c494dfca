// Validates Kubernetes objects offline against the Kubernetes OpenAPI schemas, as the API server would:
// the built-in kinds from the kubernetes-models package, Gateway API and KEDA from their
// @kubernetes-models packages (each model's validate() is an ajv validator compiled from the schema).
//
// The OpenAPI schemas do not forbid unknown fields (the API server drops them, or refuses them under
// kubectl's strict field validation); unknownFields() finds them: a field whose value the schema would
// accept even when replaced by a value of no JSON type at all is one the schema does not know.
import * as builtIn from 'kubernetes-models'
import * as gatewayApi from '@kubernetes-models/gateway-api'
import * as keda from '@kubernetes-models/keda'

interface ModelClass {
  apiVersion: string
  kind: string
  new (data: unknown): { validate(): void }
}

const models = new Map<string, ModelClass>()
function collect(module: object, depth = 0): void {
  for (const value of Object.values(module)) {
    if (typeof value === 'function' && typeof (value as Partial<ModelClass>).apiVersion === 'string' && typeof (value as Partial<ModelClass>).kind === 'string') {
      const model = value as ModelClass
      models.set(`${model.apiVersion} ${model.kind}`, model)
    } else if (typeof value === 'object' && value !== null && depth < 3) collect(value, depth + 1)
  }
}
collect(builtIn)
collect(gatewayApi)
collect(keda)

/** The schema's problems with an object ([] when valid); an unknown apiVersion/kind is one too. */
export function schemaProblems(object: { apiVersion?: unknown; kind?: unknown }): string[] {
  const model = models.get(`${String(object.apiVersion)} ${String(object.kind)}`)
  if (model === undefined) return [`no schema for ${String(object.apiVersion)} ${String(object.kind)}`]
  try {
    new model(object).validate()
    return []
  } catch (err) {
    return [err instanceof Error ? err.message : String(err)]
  }
}

/** Fields whose schema is free-form on purpose (int-or-string): not unknown, whatever they hold. */
const FREE_FORM = new Set(['port', 'targetPort', 'maxSurge', 'maxUnavailable', 'minAvailable'])

/** The paths of fields the object's schema does not define (a typo, a field of another version). */
export function unknownFields(object: { apiVersion?: unknown; kind?: unknown }): string[] {
  if (schemaProblems(object).length > 0) return []
  const unknown: string[] = []
  const clone = structuredClone(object) as Record<string, unknown>
  const visit = (node: Record<string, unknown> | unknown[], path: string): void => {
    for (const key of Object.keys(node)) {
      const here = `${path}/${key}`
      const holder = node as Record<string, unknown>
      const value = holder[key]
      if (!Array.isArray(node) && !FREE_FORM.has(key) && here !== '/apiVersion' && here !== '/kind') {
        holder[key] = Symbol('not JSON')
        if (schemaProblems(clone).length === 0) unknown.push(here)
        holder[key] = value
        if (unknown.at(-1) === here) continue
      }
      if (typeof value === 'object' && value !== null) visit(value as Record<string, unknown>, here)
    }
  }
  visit(clone, '')
  return unknown
}

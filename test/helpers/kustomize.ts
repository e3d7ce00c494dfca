// A small `kustomize build` for the tests: no kubectl or kustomize binary can be installed here, and the
// overlays under deploy/kubernetes/ use only a few of kustomize's fields. This does exactly those, the way
// kustomize does them, and refuses any other field (a test then fails rather than checking less than a
// cluster would apply):
//   resources (files and folders with a kustomization.yaml), namespace, images (newName/newTag/digest),
//   replicas, patches (inline JSON 6902, with a target kind/name), secretGenerator and configMapGenerator
//   (envs files and literals; the name gets kustomize's content hash suffix, and every reference to it is
//   renamed: env valueFrom, envFrom, volumes).
// Generated Secrets are built from the files named, or from `files` given (a test's stand-in for the
// secrets.env a user makes), so nothing secret needs to exist on disk.
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseAllDocuments, parse } from 'yaml'

export interface K8sObject {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
  [field: string]: unknown
}

const KNOWN_FIELDS = new Set(['apiVersion', 'kind', 'namespace', 'resources', 'images', 'replicas', 'patches', 'secretGenerator', 'configMapGenerator'])
/** Kinds that are not namespaced (kustomize's namespace transformer leaves them alone). */
const CLUSTER_SCOPED = new Set(['Namespace', 'GatewayClass', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'PersistentVolume', 'StorageClass'])

/** Every YAML document of a file, as objects (empty documents skipped). */
export function readObjects(file: string): K8sObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`)
      return doc.toJS() as K8sObject | null
    })
    .filter((object): object is K8sObject => object !== null)
}

interface Generator {
  name: string
  behavior?: string
  envs?: string[]
  literals?: string[]
}

function envLines(text: string, where: string): [string, string][] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const at = line.indexOf('=')
      if (at <= 0) throw new Error(`${where}: not KEY=VALUE: ${line.slice(0, 20)}...`)
      return [line.slice(0, at), line.slice(at + 1)]
    })
}

/** kustomize's suffix: the first 10 hex characters of a sha256 of the object, encoded as its hasher does. */
function hashSuffix(object: { kind: string; name: string; data: Record<string, string>; type?: string }): string {
  const encoded = JSON.stringify({ data: object.data, kind: object.kind, name: object.name, ...(object.type === undefined ? {} : { type: object.type }) })
  const hex = createHash('sha256').update(encoded).digest('hex')
  // kustomize maps the hex digits into a consonant/digit alphabet so a suffix is never a word.
  const alphabet: Record<string, string> = { 0: 'g', 1: 'h', 3: 'k', a: 'm', e: 't' }
  return hex.slice(0, 10).replace(/[013ae]/g, (c) => alphabet[c]!)
}

/** A JSON pointer's segments (RFC 6901). */
const pointer = (path: string): string[] => path.split('/').slice(1).map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))

function applyJsonPatch(target: unknown, ops: { op: string; path: string; value?: unknown }[], where: string): void {
  for (const { op, path, value } of ops) {
    const parts = pointer(path)
    const last = parts.pop()
    if (last === undefined) throw new Error(`${where}: cannot patch the whole object`)
    let node = target as Record<string, unknown>
    for (const part of parts) {
      const next = Array.isArray(node) ? node[Number(part)] : node[part]
      if (typeof next !== 'object' || next === null) throw new Error(`${where}: ${path}: no ${part}`)
      node = next as Record<string, unknown>
    }
    if (op === 'remove' || op === 'replace') {
      if (!(Array.isArray(node) ? Number(last) < node.length : last in node)) throw new Error(`${where}: ${op} ${path}: not there`)
    }
    if (op === 'remove') {
      if (Array.isArray(node)) node.splice(Number(last), 1)
      else delete node[last]
    } else if (op === 'replace' || op === 'add') {
      if (Array.isArray(node)) {
        if (last === '-') node.push(value)
        else if (op === 'add') node.splice(Number(last), 0, value)
        else node[Number(last)] = value
      } else node[last] = value
    } else throw new Error(`${where}: op ${op} is not supported here`)
  }
}

/** The pod specs inside an object (Deployment, StatefulSet, Job, Pod...). */
export function podSpecsOf(object: K8sObject): Record<string, unknown>[] {
  if (object.kind === 'Pod') return [object.spec as Record<string, unknown>]
  const template = (object.spec as { template?: { spec?: Record<string, unknown> }; jobTemplate?: { spec?: { template?: { spec?: Record<string, unknown> } } } } | undefined)
  const spec = template?.template?.spec ?? template?.jobTemplate?.spec?.template?.spec
  return spec === undefined ? [] : [spec]
}

interface Container {
  image: string
  env?: { valueFrom?: { secretKeyRef?: { name: string }; configMapKeyRef?: { name: string } } }[]
  envFrom?: { secretRef?: { name: string }; configMapRef?: { name: string } }[]
}
export const containersOf = (spec: Record<string, unknown>): Container[] => [...((spec.initContainers as Container[] | undefined) ?? []), ...((spec.containers as Container[] | undefined) ?? [])]

function renameReferences(objects: K8sObject[], kind: 'Secret' | 'ConfigMap', from: string, to: string): void {
  for (const object of objects) {
    for (const spec of podSpecsOf(object)) {
      for (const container of containersOf(spec)) {
        for (const env of container.env ?? []) {
          const ref = kind === 'Secret' ? env.valueFrom?.secretKeyRef : env.valueFrom?.configMapKeyRef
          if (ref?.name === from) ref.name = to
        }
        for (const source of container.envFrom ?? []) {
          const ref = kind === 'Secret' ? source.secretRef : source.configMapRef
          if (ref?.name === from) ref.name = to
        }
      }
      for (const volume of (spec.volumes as { secret?: { secretName: string }; configMap?: { name: string } }[] | undefined) ?? []) {
        if (kind === 'Secret' && volume.secret?.secretName === from) volume.secret.secretName = to
        if (kind === 'ConfigMap' && volume.configMap?.name === from) volume.configMap.name = to
      }
    }
  }
}

function splitImage(image: string): { name: string; tag?: string; digest?: string } {
  const [rest, digest] = image.split('@') as [string, string | undefined]
  const slash = rest.lastIndexOf('/')
  const colon = rest.lastIndexOf(':')
  return colon > slash ? { name: rest.slice(0, colon), tag: rest.slice(colon + 1), ...(digest ? { digest } : {}) } : { name: rest, ...(digest ? { digest } : {}) }
}

/**
 * Builds the kustomization in `dir` as `kubectl kustomize dir` would. `files`: contents for files the
 * kustomization names (by absolute path) that a test provides instead of the disk (secrets.env).
 */
export function kustomizeBuild(dir: string, files: Record<string, string> = {}): K8sObject[] {
  const path = join(dir, 'kustomization.yaml')
  const k = parse(readFileSync(path, 'utf8')) as Record<string, unknown>
  for (const field of Object.keys(k)) if (!KNOWN_FIELDS.has(field)) throw new Error(`${path}: the test's kustomize does not do ${field}`)
  if (k.apiVersion !== 'kustomize.config.k8s.io/v1beta1' || k.kind !== 'Kustomization') throw new Error(`${path}: not a Kustomization`)

  const objects: K8sObject[] = []
  for (const resource of (k.resources as string[] | undefined) ?? []) {
    const at = resolve(dir, resource)
    if (!existsSync(at)) throw new Error(`${path}: resource ${resource} does not exist`)
    objects.push(...(statSync(at).isDirectory() ? kustomizeBuild(at, files) : readObjects(at)))
  }
  const read = (file: string): string => {
    const at = resolve(dir, file)
    if (at in files) return files[at]!
    if (!existsSync(at)) throw new Error(`${path}: ${file} does not exist (kubectl apply -k would fail the same way)`)
    return readFileSync(at, 'utf8')
  }
  const generated: { kind: 'Secret' | 'ConfigMap'; from: string; to: string }[] = []
  for (const [kind, list] of [['Secret', k.secretGenerator], ['ConfigMap', k.configMapGenerator]] as const) {
    for (const generator of (list as Generator[] | undefined) ?? []) {
      if (generator.behavior !== undefined && generator.behavior !== 'create') throw new Error(`${path}: generator behavior ${generator.behavior} is not supported here`)
      const pairs = [...(generator.envs ?? []).flatMap((file) => envLines(read(file), `${path}: ${file}`)), ...(generator.literals ?? []).map((line) => envLines(line, path)[0]!)]
      const data = Object.fromEntries(pairs.map(([key, value]) => [key, kind === 'Secret' ? Buffer.from(value).toString('base64') : value]))
      const type = kind === 'Secret' ? 'Opaque' : undefined
      const name = `${generator.name}-${hashSuffix({ kind, name: generator.name, data, ...(type === undefined ? {} : { type }) })}`
      objects.push({ apiVersion: 'v1', kind, metadata: { name }, ...(type === undefined ? {} : { type }), data })
      generated.push({ kind, from: generator.name, to: name })
    }
  }
  for (const { target, patch } of (k.patches as { target?: { kind?: string; name?: string }; patch?: string }[] | undefined) ?? []) {
    if (target === undefined || patch === undefined) throw new Error(`${path}: only inline patches with a target are supported here`)
    const matched = objects.filter((o) => (target.kind === undefined || o.kind === target.kind) && (target.name === undefined || o.metadata.name === target.name))
    if (matched.length === 0) throw new Error(`${path}: a patch's target ${JSON.stringify(target)} matches nothing`)
    for (const object of matched) applyJsonPatch(object, parse(patch) as { op: string; path: string; value?: unknown }[], `${path}: patch of ${object.kind}/${object.metadata.name}`)
  }
  for (const { name, count } of (k.replicas as { name: string; count: number }[] | undefined) ?? []) {
    const matched = objects.filter((o) => ['Deployment', 'StatefulSet', 'ReplicaSet'].includes(o.kind) && o.metadata.name === name)
    if (matched.length === 0) throw new Error(`${path}: replicas for ${name}, which is not there`)
    for (const object of matched) (object.spec as { replicas?: number }).replicas = count
  }
  for (const image of (k.images as { name: string; newName?: string; newTag?: string; digest?: string }[] | undefined) ?? []) {
    for (const object of objects) {
      for (const spec of podSpecsOf(object)) {
        for (const container of containersOf(spec)) {
          const current = splitImage(container.image)
          if (current.name !== image.name) continue
          const name = image.newName ?? current.name
          const tag = image.newTag ?? current.tag
          const digest = image.digest ?? current.digest
          container.image = `${name}${tag === undefined ? '' : `:${tag}`}${digest === undefined ? '' : `@${digest}`}`
        }
      }
    }
  }
  if (typeof k.namespace === 'string') {
    for (const object of objects) if (!CLUSTER_SCOPED.has(object.kind)) object.metadata.namespace = k.namespace
  }
  for (const { kind, from, to } of generated) renameReferences(objects, kind, from, to)
  return objects
}

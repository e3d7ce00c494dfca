// The Kubernetes manifests under deploy/kubernetes/, rendered from the platform manifest (platform.json):
// a Deployment and a Service per app, the settings' ConfigMap, Redis, the routes (Gateway API HTTPRoutes
// by default, an Ingress for ingress-nginx as the alternative), NetworkPolicies, PodDisruptionBudgets and
// the kustomize overlays. `npm run generate` writes them (provision/render/generated-files.ts lists them)
// and test/provision/generated-files.test.ts fails while one is stale: they are kept in the repository as
// plain YAML that a cluster user reads, diffs (`kubectl diff -k`) and applies (`kubectl apply -k`)
// without running anything of ours.
//
// Pure: a function of a manifest and the image's version, so a test can render a copy with one more app.
import { stringify } from 'yaml'
import { appNamesOf, defaultPortOf, type PlatformManifest, settingsOf } from '../../services/shared/platform.ts'
import { routesOf, type ServiceRoute, isStaticRoute, tokenRateLimit } from '../../nginx/routes.ts'

/** The folder, relative to the repository root. */
export const kubernetesDir = 'deploy/kubernetes'

/** The image the Deployments run (deploy/container/Containerfile); overlays set its registry (kustomize `images`). */
export const imageName = 'yoyo-platform'

/** Redis: 7.2 is the last BSD-licensed line, and the one the VM's Debian/Ubuntu packages are closest to. */
export const redisImage = 'docker.io/library/redis:7.2.7-bookworm'
/** The official image's redis user and group. */
const REDIS_UID = 999
const REDIS_PORT = 6379
/** The image's user (deploy/container/Containerfile: USER 10001:10001). */
const APP_UID = 10001

/** The Secret that holds every setting marked secret in platform.json, and Redis's password. */
export const secretName = 'yoyo-secrets'
/** The ConfigMap of every other service setting. */
export const settingsConfigMap = 'yoyo-settings'
/** The Gateway the HTTPRoutes attach to (gateway-api/gateway.yaml). */
export const gatewayName = 'yoyo'
/** Namespaces the routers run their proxies in: only their pods may reach the apps. */
export const routerNamespaces = { 'gateway-api': 'envoy-gateway-system', 'ingress-nginx': 'ingress-nginx' } as const

/** Seconds a pod waits, once told to stop, before its process gets SIGTERM: the routers stop sending it requests first. */
export const PRE_STOP_SECONDS = 5

const partOf = 'yoyo-platform'
/** Pods that may connect to Redis carry this label (the NetworkPolicy `redis` admits them only). */
export const redisClientLabel = 'yoyo-platform/redis-client'

interface File {
  path: string
  content: string
}

const header = (what: string): string =>
  `# ${what}\n# Rendered from platform.json by deploy/kubernetes/render.ts (npm run generate): edit those, not this file.\n`

/** YAML documents, one object each, as kubectl prints them (no line folding, keys in the order given). */
function yamlOf(objects: object[]): string {
  return objects.map((object) => stringify(object, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n')
}

const file = (path: string, what: string, objects: object[]): File => ({ path: `${kubernetesDir}/${path}`, content: header(what) + yamlOf(objects) })

export const labelsOf = (name: string): Record<string, string> => ({ 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': partOf })

/** Kubernetes quantities from Redis's memory syntax (256mb → 256 MiB; Redis reads mb as 1024², as kubectl does Mi). */
export function mebibytesOf(size: string): number {
  const match = /^(\d+)([kmg])b$/i.exec(size)
  if (match === null) throw new Error(`not a Redis memory size: ${size}`)
  const unit = { k: 1 / 1024, m: 1, g: 1024 }[match[2]!.toLowerCase() as 'k' | 'm' | 'g']
  return Math.ceil(Number(match[1]) * unit)
}

/** The grace a pod gets to stop: the preStop pause, the service's own SHUTDOWN_TIMEOUT_MS, and 2 s more (as PM2 gives on the VM). */
export function terminationGraceOf(manifest: PlatformManifest): number {
  const shutdownMs = Number(manifest.settings.SHUTDOWN_TIMEOUT_MS?.default ?? 8000)
  return PRE_STOP_SECONDS + Math.ceil(shutdownMs / 1000) + 2
}

/** Replicas of an app: its fixed count, or its setting's default (LOYALTY_INSTANCES: 2). */
export function replicasOf(manifest: PlatformManifest, app: string): number {
  const instances = manifest.apps[app]!.process.instances
  return typeof instances === 'number' ? instances : Number(manifest.settings[instances]!.default)
}

/** The apps whose instance count is a setting (the Loyalty Worker: LOYALTY_INSTANCES): the ones scaled, by hand or by an autoscaler. */
export const scaledAppsOf = (manifest: PlatformManifest): string[] => appNamesOf(manifest).filter((app) => typeof manifest.apps[app]!.process.instances === 'string')

/** The service settings that go in the ConfigMap: not secret, and not the listening address (each pod's own). */
export function configMapSettingsOf(manifest: PlatformManifest): Record<string, string> {
  return Object.fromEntries(
    Object.entries(manifest.settings)
      .filter(([name, s]) => s.scope === 'service' && s.secret !== true && name !== 'HTTP_HOST')
      // A setting without a default (QUEUE_MAX_BACKLOG) is there empty: the services read empty as unset.
      .map(([name, s]) => [name, s.default === undefined ? '' : String(s.default)]),
  )
}

/** The Secret's keys: every secret setting, and Redis's own password (its server's, not a service's). */
export function secretKeysOf(manifest: PlatformManifest): string[] {
  return ['REDIS_PASSWORD', ...Object.entries(manifest.settings).filter(([, s]) => s.secret === true).map(([name]) => name)]
}

const restrictedContainer = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
}

function podSecurity(uid: number, fsGroup?: number): object {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    ...(fsGroup === undefined ? {} : { fsGroup, fsGroupChangePolicy: 'OnRootMismatch' }),
    seccompProfile: { type: 'RuntimeDefault' },
  }
}

/** The container of an app, from the one image: the command names the app, as platform.json does. */
function appEnv(manifest: PlatformManifest, app: string): object[] {
  const env: object[] = [
    // Every interface of the pod (the image's default too, said here: the VM's default is loopback).
    { name: 'HTTP_HOST', value: '0.0.0.0' },
    { name: 'HTTP_PORT', value: String(defaultPortOf(manifest, app)) },
  ]
  for (const [name, setting] of Object.entries(settingsOf(manifest, app))) {
    if (name === 'HTTP_HOST') continue
    env.push(
      setting.secret === true
        ? { name, valueFrom: { secretKeyRef: { name: secretName, key: name } } }
        : { name, valueFrom: { configMapKeyRef: { name: settingsConfigMap, key: name } } },
    )
  }
  return env
}

function deploymentOf(manifest: PlatformManifest, app: string): object {
  const spec = manifest.apps[app]!
  const health = spec.health
  const httpGet = { path: health, port: 'http' }
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: app, labels: { ...labelsOf(app), 'app.kubernetes.io/component': scaledAppsOf(manifest).includes(app) ? 'worker' : 'api' } },
    spec: {
      replicas: replicasOf(manifest, app),
      revisionHistoryLimit: 5,
      selector: { matchLabels: labelsOf(app) },
      // One new pod at a time, and none taken away before its successor is ready.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels: { ...labelsOf(app), [redisClientLabel]: 'true' } },
        spec: {
          automountServiceAccountToken: false,
          // No <SERVICE>_PORT=tcp://... variables: AUTH_PORT and the like are the platform's own settings' names.
          enableServiceLinks: false,
          securityContext: podSecurity(APP_UID),
          terminationGracePeriodSeconds: terminationGraceOf(manifest),
          containers: [
            {
              name: app,
              image: `${imageName}:${'VERSION'}`,
              imagePullPolicy: 'IfNotPresent',
              args: [app],
              ports: [{ name: 'http', containerPort: defaultPortOf(manifest, app), protocol: 'TCP' }],
              env: appEnv(manifest, app),
              // Up to a minute to start (Redis may still be starting too).
              startupProbe: { httpGet, periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 30 },
              // GET /health answers 503 while Redis is down or full: the pod leaves the Service until it is back.
              readinessProbe: { httpGet, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
              // The same path, but patient: a Redis outage also fails it, and restarting cannot fix that,
              // so only two minutes without a 200 restart the container.
              livenessProbe: { httpGet, periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 6 },
              // The routers stop sending it requests before it gets SIGTERM.
              lifecycle: { preStop: { sleep: { seconds: PRE_STOP_SECONDS } } },
              resources: {
                requests: { cpu: scaledAppsOf(manifest).includes(app) ? '100m' : '50m', memory: '128Mi' },
                limits: { memory: '256Mi' },
              },
              securityContext: restrictedContainer,
            },
          ],
        },
      },
    },
  }
}

function serviceOf(manifest: PlatformManifest, app: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: app, labels: labelsOf(app) },
    spec: {
      type: 'ClusterIP',
      selector: labelsOf(app),
      ports: [{ name: 'http', port: defaultPortOf(manifest, app), targetPort: 'http', protocol: 'TCP', appProtocol: 'http' }],
    },
  }
}

function redisObjects(manifest: PlatformManifest): object[] {
  const maxmemory = String(manifest.settings.REDIS_MAXMEMORY?.default ?? '256mb')
  const mib = mebibytesOf(maxmemory)
  const conf = [
    '# As on the VM (provision/render/redis-config.ts): every write to the append-only file, fsync once a second,',
    '# nothing ever evicted (at the limit writes fail, and the services answer 503). The password comes from',
    `# the Secret ${secretName} (--requirepass on the command line; Redis hides its arguments from ps).`,
    `port ${REDIS_PORT}`,
    'bind 0.0.0.0 -::',
    'protected-mode yes',
    'dir /data',
    'appendonly yes',
    'appendfsync everysec',
    `maxmemory ${maxmemory}`,
    'maxmemory-policy noeviction',
    '',
  ].join('\n')
  const password = { name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: secretName, key: 'REDIS_PASSWORD' } } }
  return [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'redis-config', labels: labelsOf('redis') }, data: { 'redis.conf': conf } },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'redis', labels: labelsOf('redis') },
      spec: { type: 'ClusterIP', selector: labelsOf('redis'), ports: [{ name: 'redis', port: REDIS_PORT, targetPort: 'redis', protocol: 'TCP' }] },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'redis', labels: { ...labelsOf('redis'), 'app.kubernetes.io/component': 'database' } },
      spec: {
        serviceName: 'redis',
        replicas: 1,
        selector: { matchLabels: labelsOf('redis') },
        template: {
          metadata: { labels: labelsOf('redis') },
          spec: {
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: podSecurity(REDIS_UID, REDIS_UID),
            // Redis flushes its append-only file and exits on SIGTERM within a second or two.
            terminationGracePeriodSeconds: 30,
            containers: [
              {
                name: 'redis',
                image: redisImage,
                imagePullPolicy: 'IfNotPresent',
                // The config where the official image's documentation puts it.
                command: ['redis-server', '/usr/local/etc/redis/redis.conf', '--requirepass', '$(REDIS_PASSWORD)'],
                // redis-cli reads its password from REDISCLI_AUTH (the readiness probe).
                env: [password, { name: 'REDISCLI_AUTH', valueFrom: { secretKeyRef: { name: secretName, key: 'REDIS_PASSWORD' } } }],
                ports: [{ name: 'redis', containerPort: REDIS_PORT, protocol: 'TCP' }],
                startupProbe: { tcpSocket: { port: 'redis' }, periodSeconds: 2, failureThreshold: 60 },
                readinessProbe: { exec: { command: ['redis-cli', '-p', String(REDIS_PORT), 'ping'] }, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
                livenessProbe: { tcpSocket: { port: 'redis' }, periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 6 },
                resources: {
                  requests: { cpu: '100m', memory: `${mib + 64}Mi` },
                  // maxmemory, and as much again for the copy-on-write pages of an append-only file rewrite.
                  limits: { memory: `${mib * 2}Mi` },
                },
                securityContext: restrictedContainer,
                volumeMounts: [
                  { name: 'data', mountPath: '/data' },
                  { name: 'config', mountPath: '/usr/local/etc/redis', readOnly: true },
                ],
              },
            ],
            // Read-only for everyone (Redis runs as 999): 0444.
            volumes: [{ name: 'config', configMap: { name: 'redis-config', defaultMode: 0o444 } }],
          },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: 'data', labels: labelsOf('redis') },
            spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
          },
        ],
      },
    },
  ]
}

const appPodSelector = (manifest: PlatformManifest) => ({
  matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'In', values: appNamesOf(manifest) }],
})

function networkPolicies(): object[] {
  return [
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'default-deny-ingress', labels: { 'app.kubernetes.io/part-of': partOf } },
      // Every pod of the namespace: nothing comes in unless a policy below lets it.
      spec: { podSelector: {}, policyTypes: ['Ingress'] },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'redis', labels: labelsOf('redis') },
      spec: {
        podSelector: { matchLabels: labelsOf('redis') },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ podSelector: { matchLabels: { [redisClientLabel]: 'true' } } }], ports: [{ protocol: 'TCP', port: REDIS_PORT }] }],
      },
    },
    // The router's policy (only its proxies reach the apps' ports) comes with the router: gateway-api/ or ingress-nginx/.
  ]
}

function routerPolicy(manifest: PlatformManifest, router: keyof typeof routerNamespaces): object {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'from-router', labels: { 'app.kubernetes.io/part-of': partOf } },
    spec: {
      podSelector: appPodSelector(manifest),
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': routerNamespaces[router] } } }],
          ports: appNamesOf(manifest).map((app) => ({ protocol: 'TCP', port: defaultPortOf(manifest, app) })),
        },
      ],
    },
  }
}

function disruptionBudgets(manifest: PlatformManifest): object[] {
  return appNamesOf(manifest).map((app) => ({
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: app, labels: labelsOf(app) },
    // A drain takes one pod of an app at a time, and never blocks on an app that has only one (that app is
    // then away until its pod is ready on another node: minAvailable 1 would block the drain instead).
    spec: { maxUnavailable: 1, selector: { matchLabels: labelsOf(app) }, unhealthyPodEvictionPolicy: 'AlwaysAllow' },
  }))
}

const serviceRoutesOf = (manifest: PlatformManifest): ServiceRoute[] => routesOf(manifest).filter((route): route is ServiceRoute => !isStaticRoute(route))

/**
 * The router's rules as Gateway API HTTPRoutes, one per app. Gateway API matches the longest path prefix
 * (whole path segments: /loyalty matches /loyalty and /loyalty/me, never /loyaltyx), as nginx's prefix
 * locations do here. ReplacePrefixMatch strips what nginx's proxy_pass strips:
 *   /<prefix>/<path> → /<path>, and for a pass-through route (transactions) /<prefix> as is, except each
 *   /<prefix><own>[/...] → <own>[/...].
 * A rate-limited path gets an HTTPRoute of its own, so that the implementation's rate limit policy can
 * name it (Gateway API has no standard rate limit; gateway-api/README in docs/kubernetes.md).
 */
export function httpRoutesOf(manifest: PlatformManifest): object[] {
  const routes: object[] = []
  const rewrite = (to: string) => [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: to } } }]
  const prefixMatch = (value: string) => [{ path: { type: 'PathPrefix', value } }]
  for (const route of serviceRoutesOf(manifest)) {
    const backendRefs = [{ name: route.service, port: defaultPortOf(manifest, route.service) }]
    const rules: object[] = route.passThroughExcept === undefined
      ? [{ matches: prefixMatch(route.prefix), filters: rewrite('/'), backendRefs }]
      : [
          { matches: prefixMatch(route.prefix), backendRefs },
          ...route.passThroughExcept.map((own) => ({ matches: prefixMatch(`${route.prefix}${own}`), filters: rewrite(own), backendRefs })),
        ]
    routes.push({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: route.service, labels: labelsOf(route.service) },
      spec: { parentRefs: [{ name: gatewayName }], rules },
    })
    for (const limited of route.rateLimited ?? []) {
      routes.push({
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: `${route.service}${limited.replace(/\//g, '-')}`, labels: { ...labelsOf(route.service), 'yoyo-platform/rate-limited': 'true' } },
        spec: {
          parentRefs: [{ name: gatewayName }],
          rules: [{ matches: prefixMatch(`${route.prefix}${limited}`), filters: rewrite(limited), backendRefs }],
        },
      })
    }
  }
  return routes
}

const regexEscape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/**
 * The same rules as ingress-nginx Ingresses. ingress-nginx takes a rewrite and a rate limit per Ingress
 * object (annotations), so there is one Ingress per kind of rule. With use-regex, ingress-nginx writes
 * case-insensitive regex locations (~*), longest first, as nginx/render.ts does for the rate-limited path.
 */
export function ingressesOf(manifest: PlatformManifest): object[] {
  const ingress = (name: string, annotations: Record<string, string>, paths: { path: string; service: string }[]) => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, labels: { 'app.kubernetes.io/part-of': partOf }, annotations: { 'nginx.ingress.kubernetes.io/use-regex': 'true', ...annotations } },
    spec: {
      ingressClassName: 'nginx',
      rules: [
        {
          http: {
            paths: paths.map(({ path, service }) => ({
              path,
              pathType: 'ImplementationSpecific',
              backend: { service: { name: service, port: { number: defaultPortOf(manifest, service) } } },
            })),
          },
        },
      ],
    },
  })
  const stripped: { path: string; service: string }[] = []
  const passed: { path: string; service: string }[] = []
  const own: { path: string; service: string }[] = []
  const limited: object[] = []
  for (const route of serviceRoutesOf(manifest)) {
    const prefix = regexEscape(route.prefix)
    if (route.passThroughExcept === undefined) stripped.push({ path: `${prefix}(/|$)(.*)`, service: route.service })
    else {
      passed.push({ path: `${prefix}(/.*)?$`, service: route.service })
      for (const path of route.passThroughExcept) own.push({ path: `${prefix}(${regexEscape(path)}(/.*)?)$`, service: route.service })
    }
    for (const path of route.rateLimited ?? []) {
      limited.push(
        ingress(
          `${route.service}${path.replace(/\//g, '-')}`,
          {
            // $1 of the path's regex: the service's own path (the prefix stripped), as nginx/render.ts does.
            'nginx.ingress.kubernetes.io/rewrite-target': path,
            'nginx.ingress.kubernetes.io/limit-rps': String(tokenRateLimit.ratePerSecond),
            'nginx.ingress.kubernetes.io/limit-burst-multiplier': String(tokenRateLimit.burst / tokenRateLimit.ratePerSecond),
          },
          // (/)? rather than /?: ingress-nginx orders regex locations longest first, and this one must come
          // before the prefix's own (<prefix>(/|$)(.*)), as nginx/render.ts puts it first.
          [{ path: `${prefix}${regexEscape(path)}(/)?$`, service: route.service }],
        ),
      )
    }
  }
  return [
    ingress('yoyo-stripped', { 'nginx.ingress.kubernetes.io/rewrite-target': '/$2' }, stripped),
    ingress('yoyo-pass-through', {}, passed),
    ingress('yoyo-own-paths', { 'nginx.ingress.kubernetes.io/rewrite-target': '$1' }, own),
    ...limited,
  ]
}

const kustomization = (body: Record<string, unknown>): object => ({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', ...body })

/** Every file under deploy/kubernetes/, rendered. `version`: the image tag the overlays pin (package.json's version). */
export function kubernetesFiles(manifest: PlatformManifest, version: string): File[] {
  const apps = appNamesOf(manifest)
  const scaled = scaledAppsOf(manifest)
  const appFiles = apps.map((app) =>
    file(`base/${app}.yaml`, `${manifest.apps[app]!.title}: its Deployment (the one image, command "${app}") and Service.`, [
      JSON.parse(JSON.stringify(deploymentOf(manifest, app)).replace(`"${imageName}:VERSION"`, JSON.stringify(`${imageName}:${version}`))) as object,
      serviceOf(manifest, app),
    ]),
  )
  const settings = file('base/settings.yaml', `The services' settings that are not secrets (platform.json's defaults; an overlay changes them).`, [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: settingsConfigMap, labels: { 'app.kubernetes.io/part-of': partOf } }, data: configMapSettingsOf(manifest) },
  ])
  const namespace = file('base/namespace.yaml', 'The namespace, held to the restricted Pod Security Standard.', [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: 'yoyo',
        labels: { 'app.kubernetes.io/part-of': partOf, 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' },
      },
    },
  ])
  const baseResources = ['namespace.yaml', 'settings.yaml', 'redis.yaml', ...apps.map((app) => `${app}.yaml`), 'network-policies.yaml', 'pod-disruption-budgets.yaml']
  const base = [
    namespace,
    settings,
    file('base/redis.yaml', `Redis: one pod with its data on a PersistentVolumeClaim, AOF, noeviction, the password from the Secret ${secretName}.`, redisObjects(manifest)),
    ...appFiles,
    file('base/network-policies.yaml', 'Nothing reaches a pod unless a policy lets it; only the apps reach Redis (the router\'s policy comes with the router).', networkPolicies()),
    file('base/pod-disruption-budgets.yaml', 'Voluntary disruptions (a node drain) take one pod of an app at a time.', disruptionBudgets(manifest)),
    file('base/kustomization.yaml', 'The platform without a router: every app, Redis, settings, policies. Apply an overlay, not this.', [
      kustomization({ namespace: 'yoyo', resources: baseResources }),
    ]),
  ]
  const gateway = [
    file('gateway-api/gateway.yaml', 'The Gateway the routes attach to: its class names the Gateway API implementation (Envoy Gateway: eg).', [
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'Gateway',
        metadata: { name: gatewayName, labels: { 'app.kubernetes.io/part-of': partOf } },
        spec: { gatewayClassName: 'eg', listeners: [{ name: 'http', protocol: 'HTTP', port: 80, allowedRoutes: { namespaces: { from: 'Same' } } }] },
      },
    ]),
    file('gateway-api/routes.yaml', "nginx's path routing (nginx/render.ts) as Gateway API HTTPRoutes: the same prefixes, the same paths stripped.", httpRoutesOf(manifest)),
    file('gateway-api/network-policy.yaml', `Only the Gateway's proxies (namespace ${routerNamespaces['gateway-api']}) reach the apps.`, [routerPolicy(manifest, 'gateway-api')]),
    file('gateway-api/kustomization.yaml', 'The router, the default: a Gateway and HTTPRoutes (Gateway API v1).', [
      kustomization({ namespace: 'yoyo', resources: ['gateway.yaml', 'routes.yaml', 'network-policy.yaml'] }),
    ]),
  ]
  const ingressNginx = [
    file('ingress-nginx/ingress.yaml', "nginx's path routing (nginx/render.ts) as ingress-nginx Ingresses, with its token rate limit.", ingressesOf(manifest)),
    file('ingress-nginx/network-policy.yaml', `Only ingress-nginx's controller (namespace ${routerNamespaces['ingress-nginx']}) reaches the apps.`, [routerPolicy(manifest, 'ingress-nginx')]),
    file('ingress-nginx/kustomization.yaml', 'The router for a cluster that runs ingress-nginx: use it in an overlay instead of ../../gateway-api.', [
      kustomization({ namespace: 'yoyo', resources: ['ingress.yaml', 'network-policy.yaml'] }),
    ]),
  ]
  const secretGenerator = [{ name: secretName, envs: ['secrets.env'] }]
  // The tag only: your registry's name goes in an overlay of your own on top of these (README, "Beyond one machine").
  const images = [{ name: imageName, newTag: version }]
  // The image as built and loaded into a local cluster: localhost/ is what podman names a local build, and
  // docker accepts it too (a bare name would mean docker.io/library/ to the cluster's containerd).
  const devImages = [{ name: imageName, newName: `localhost/${imageName}`, newTag: version }]
  const dev = [
    file('overlays/dev/seed-users.yaml', 'Development only: loads alice, bob, charlie and smoke-test (password: password) into Redis.', [seedJob(version)]),
    file('overlays/dev/kustomization.yaml', `A small cluster (kind, minikube, k3d): the image loaded into it, one pod per app, two Loyalty Workers; the Secret from secrets.env (README: "Beyond one machine").`, [
      kustomization({
        namespace: 'yoyo',
        resources: ['../../base', '../../gateway-api', 'seed-users.yaml'],
        images: devImages,
        secretGenerator,
        // A setting changed for this overlay: a patch of the ConfigMap (its pods pick it up when restarted).
        patches: [{ target: { kind: 'ConfigMap', name: settingsConfigMap }, patch: '- op: replace\n  path: /data/LOG_LEVEL\n  value: debug\n' }],
      }),
    ]),
  ]
  const production = [
    file('overlays/production/autoscalers.yaml', 'The worker scales on CPU from its usual count to 10 pods (needs metrics-server); keda.yaml scales it on the queue instead.', scaled.map((app) => hpaOf(manifest, app))),
    file('overlays/production/keda.yaml', "Optional (needs KEDA; list it in kustomization.yaml instead of autoscalers.yaml): scale the worker on the queue's backlog.", scaled.flatMap((app) => [
      kedaScaledObject(manifest, app),
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: `${app}-from-keda`, labels: labelsOf(app) },
        spec: {
          podSelector: { matchLabels: labelsOf(app) },
          policyTypes: ['Ingress'],
          ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'keda' } } }], ports: [{ protocol: 'TCP', port: defaultPortOf(manifest, app) }] }],
        },
      },
    ])),
    file('overlays/production/kustomization.yaml', 'Production-like: two pods of each API, the worker autoscaled. Name your registry in an overlay on top of this one (README, "Beyond one machine").', [
      kustomization({
        namespace: 'yoyo',
        resources: ['../../base', '../../gateway-api', 'autoscalers.yaml'],
        images,
        secretGenerator,
        replicas: apps.filter((app) => !scaled.includes(app) && manifest.apps[app]!.process.mode === 'cluster').map((name) => ({ name, count: 2 })),
        // The autoscaler owns the worker's replica count: an apply must not reset it.
        patches: scaled.map((name) => ({ target: { kind: 'Deployment', name }, patch: '- op: remove\n  path: /spec/replicas\n' })),
      }),
    ]),
  ]
  return [...base, ...gateway, ...ingressNginx, ...dev, ...production]
}

function seedJob(version: string): object {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'seed-users', labels: labelsOf('seed-users') },
    spec: {
      backoffLimit: 10,
      ttlSecondsAfterFinished: 3600,
      template: {
        metadata: { labels: { ...labelsOf('seed-users'), [redisClientLabel]: 'true' } },
        spec: {
          restartPolicy: 'OnFailure',
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: podSecurity(APP_UID),
          containers: [
            {
              name: 'seed-users',
              image: `${imageName}:${version}`,
              imagePullPolicy: 'IfNotPresent',
              command: ['/usr/bin/tini', '--', 'node', '/app/dist/services/auth-api/seed-users.js'],
              env: [{ name: 'REDIS_URL', valueFrom: { secretKeyRef: { name: secretName, key: 'REDIS_URL' } } }],
              resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '128Mi' } },
              securityContext: restrictedContainer,
            },
          ],
        },
      },
    },
  }
}

function hpaOf(manifest: PlatformManifest, app: string): object {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: app, labels: labelsOf(app) },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: app },
      minReplicas: replicasOf(manifest, app),
      maxReplicas: 10,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
      behavior: { scaleDown: { stabilizationWindowSeconds: 300 } },
    },
  }
}

/** KEDA's metrics-api scaler on the worker's own GET /health: queue.waiting, the jobs no worker has taken yet. */
function kedaScaledObject(manifest: PlatformManifest, app: string): object {
  return {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: { name: app, labels: labelsOf(app) },
    spec: {
      scaleTargetRef: { name: app },
      minReplicaCount: replicasOf(manifest, app),
      maxReplicaCount: 10,
      pollingInterval: 15,
      cooldownPeriod: 300,
      triggers: [
        {
          type: 'metrics-api',
          // A pod per 500 waiting jobs: a few seconds of one worker's work.
          metadata: { url: `http://${app}.yoyo.svc.cluster.local:${defaultPortOf(manifest, app)}${manifest.apps[app]!.health}`, valueLocation: 'queue.waiting', targetValue: '500', format: 'json' },
        },
      ],
    },
  }
}

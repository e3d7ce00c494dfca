// The public routes, from the platform manifest (platform.json): which path prefix reaches which service.
// nginx/render.ts turns them into the router config; the provisioner and the nginx integration tests
// both render from here.
import { appNamesOf, defaultPortOf, platform, type PlatformManifest } from '../services/shared/platform.ts'

/** An app of the manifest: auth, transactions, loyalty, dashboard. */
export type ServiceName = string

/** Sites of static files nginx serves itself (RouterOptions.staticRoots names their directories). */
export type StaticSite = 'docs'

/** A prefix proxied to a service. */
export interface ServiceRoute {
  /** The public path prefix, without a trailing slash. */
  prefix: string
  service: ServiceName
  /**
   * By default a route strips its prefix: `/loyalty/me` reaches the Loyalty Worker as `/me`.
   *
   * The Transaction API is different: its own API already lives under `/transactions`
   * (`POST /transactions`, `GET /transactions/:id`). Clients of the old gateway call
   * `POST /transactions/transactions` (prefix stripped), newer ones call `POST /transactions` and
   * `GET /transactions/<id>`: both must work. So such a route passes `<prefix>` and `<prefix>/<rest>`
   * through unchanged, and strips the prefix only for the service's own root paths listed here:
   * `/transactions/transactions[/...]` → `/transactions[/...]`, `/transactions/health` → `/health`.
   */
  passThroughExcept?: string[]
  /** Paths under the prefix limited per client IP (answering 429 past the limit), e.g. token issuing. */
  rateLimited?: string[]
}

/** A prefix nginx answers from a directory of static files (`<prefix>/` serves its index.html). */
export interface StaticRoute {
  prefix: string
  site: StaticSite
}

export type Route = ServiceRoute | StaticRoute

export const isStaticRoute = (route: Route): route is StaticRoute => 'site' in route

/** The manifest's routes: each app's prefix to its service, then each static site. */
export function routesOf(manifest: PlatformManifest): Route[] {
  const services = appNamesOf(manifest).map((service): ServiceRoute => ({ ...manifest.apps[service]!.route, service }))
  const sites = Object.entries(manifest.sites).map(([site, { prefix }]): StaticRoute => ({ prefix, site: site as StaticSite }))
  return [...services, ...sites]
}

export const routes: Route[] = routesOf(platform)

/** Default service ports (each service's HTTP_PORT), overridable by the app's port setting (AUTH_PORT, ...). */
export const defaultPorts: Record<ServiceName, number> = Object.fromEntries(appNamesOf(platform).map((app) => [app, defaultPortOf(platform, app)]))

/** Token issuing: 10 requests/s per client IP, bursts of 20 served at once, the rest get 429. */
export const tokenRateLimit = { ratePerSecond: 10, burst: 20 }

/** Same limit as the services' body parsers (16 kB), so nginx answers 413 before a service sees the body. */
export const maxBodySize = '16k'

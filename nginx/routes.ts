// The one list of public routes: which path prefix reaches which service. nginx/render.ts turns it into
// the router config; the provisioner and the nginx integration tests both render from here.

export type ServiceName = 'auth' | 'transactions' | 'loyalty' | 'dashboard'

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

export const routes: Route[] = [
  { prefix: '/authentication', service: 'auth', rateLimited: ['/token'] },
  { prefix: '/transactions', service: 'transactions', passThroughExcept: ['/transactions', '/health'] },
  { prefix: '/loyalty', service: 'loyalty' },
  // kue's web UI and JSON API, behind HTTP basic auth (checked by the dashboard itself). Its pages use
  // relative links only, so they work under the prefix as they are.
  { prefix: '/queue', service: 'dashboard' },
  // Swagger UI and the OpenAPI document (services/shared/openapi.ts) as /docs/openapi.json.
  { prefix: '/docs', site: 'docs' },
]

/** Default service ports (each service's HTTP_PORT), overridable by AUTH_PORT, TRANSACTIONS_PORT, LOYALTY_PORT, DASHBOARD_PORT. */
export const defaultPorts: Record<ServiceName, number> = {
  auth: 5000,
  transactions: 5001,
  loyalty: 5002,
  dashboard: 5003,
}

/** Token issuing: 10 requests/s per client IP, bursts of 20 served at once, the rest get 429. */
export const tokenRateLimit = { ratePerSecond: 10, burst: 20 }

/** Same limit as the services' body parsers (16 kB), so nginx answers 413 before a service sees the body. */
export const maxBodySize = '16k'

// Which Redis user each app connects as. No package imports: the provisioner loads this from the source
// before any npm install.
//
// Every app reads the same env file (/etc/yoyo-platform/platform.env), so each app's Redis URL has a name
// of its own there: REDIS_URL_<APP> (REDIS_URL_AUTH, REDIS_URL_LOYALTY...), holding that app's Redis user
// and password. It wins over REDIS_URL for that app only. Without it (a container, Kubernetes, npm run dev)
// REDIS_URL is used as it is.

/** The env variable holding an app's own Redis URL, e.g. REDIS_URL_AUTH. */
export const ownRedisUrlVariable = (app: string): string => `REDIS_URL_${app.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`

/** The environment an app's settings are read from: its own REDIS_URL_<APP>, when set, as REDIS_URL. */
export function withOwnRedisUrl(app: string, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const own = env[ownRedisUrlVariable(app)]
  return own === undefined || own === '' ? env : { ...env, REDIS_URL: own }
}

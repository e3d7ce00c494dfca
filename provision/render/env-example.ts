import type { PlatformManifest } from '../../services/shared/platform.ts'
import { machineSettingsOf, userServiceSettingsOf } from '../lib/settings.ts'

/**
 * .env.example: every setting a user may set, from platform.json, commented out at its default. Kept in
 * the repository (`npm run generate` writes it; a test fails when it is stale).
 */
export function renderEnvExample(manifest: PlatformManifest): string {
  const lines = (settings: Record<string, { about: string; default?: number | string }>): string[] =>
    Object.entries(settings).flatMap(([name, setting]) => [`# ${setting.about}`, `# ${name}=${setting.default ?? ''}`])
  return [
    '# Generated from platform.json by `npm run generate`: edit that file, not this one.',
    '# Copy to .env and uncomment what you want to change; the provisioner reads it (the environment wins).',
    '# See provision/README.md. Secrets do not belong here: the provisioner generates and keeps them.',
    '',
    '# The machine (nginx listens on NGINX_PORT inside the VM; the host reaches it on HOST_PORT, 8080 by default).',
    ...lines(machineSettingsOf(manifest)),
    '',
    "# Passed to the services (unset: each service's own default, shown here).",
    ...lines(userServiceSettingsOf(manifest)),
    '',
  ].join('\n')
}

// Files kept in the repository that are rendered from platform.json, so that a reader sees them without
// running anything: `npm run generate` writes them, and test/provision/generated-files.test.ts fails when
// one is stale.
import { platform } from '../../services/shared/platform.ts'
import { defaultPaths } from '../lib/paths.ts'
import { resolveSettings } from '../lib/settings.ts'
import { routerConfigOf } from '../steps/nginx.ts'
import { renderEnvExample } from './env-example.ts'
import { kubernetesFiles } from '../../deploy/kubernetes/render.ts'
import packageJson from '../../package.json' with { type: 'json' }

export function generatedFiles(): { path: string; content: string }[] {
  return [
    { path: '.env.example', content: renderEnvExample(platform) },
    // The router site as the provisioner writes it with the default settings.
    { path: 'nginx/yoyo-platform.conf', content: routerConfigOf(resolveSettings({}), defaultPaths()) },
    // The Kubernetes manifests (kustomize base, routers and overlays), the image pinned at package.json's version.
    ...kubernetesFiles(platform, packageJson.version),
  ]
}

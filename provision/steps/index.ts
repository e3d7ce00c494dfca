import type { Step } from '../lib/context.ts'
import { ensureAppBuilt } from './ensure-app-built.ts'
import { ensureAppSynced } from './ensure-app-synced.ts'
import { ensureAppUser } from './ensure-app-user.ts'
import { ensureDocsPublished } from './docs.ts'
import { ensureEnvironmentFile } from './ensure-environment-file.ts'
import { ensurePackages } from './ensure-packages.ts'
import { ensureSmokeTest } from './ensure-smoke-test.ts'
import { ensureUsersSeeded } from './ensure-users-seeded.ts'
import { ensureNginxConfigured, ensureNginxRunning } from './nginx.ts'
import { ensurePm2Configured, ensurePm2Running } from './pm2.ts'
import { ensureRedisConfigured, ensureRedisRunning } from './redis.ts'
import { ensureStatusCommand } from './status-command.ts'

/** Every step, in the order they run: each builds on the ones before it. */
export const steps: Step[] = [
  ensurePackages,
  ensureAppUser,
  ensureEnvironmentFile,
  ensureRedisConfigured,
  ensureRedisRunning,
  ensureAppSynced,
  ensureAppBuilt,
  ensureDocsPublished,
  ensureNginxConfigured,
  ensureNginxRunning,
  ensurePm2Configured,
  ensureStatusCommand,
  ensureUsersSeeded,
  ensurePm2Running,
  ensureSmokeTest,
]

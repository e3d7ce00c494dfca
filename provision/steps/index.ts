import type { Step } from '../lib/context.ts'
import { ensureAppBuilt } from './ensure-app-built.ts'
import { ensureAppSynced } from './ensure-app-synced.ts'
import { ensureAppUser } from './ensure-app-user.ts'
import { ensureEnvironmentFile } from './ensure-environment-file.ts'
import { ensurePackages } from './ensure-packages.ts'
import { ensureSmokeTest } from './ensure-smoke-test.ts'
import { ensureUsersSeeded } from './ensure-users-seeded.ts'
import { ensureNginxConfigured, ensureNginxRunning } from './nginx.ts'
import { ensurePm2Configured, ensurePm2Running } from './pm2.ts'
import { ensureRedisConfigured, ensureRedisRunning } from './redis.ts'

/** Every step, in the order they run: each builds on the ones before it. */
export const steps: Step[] = [
  ensurePackages,
  ensureAppUser,
  ensureEnvironmentFile,
  ensureRedisConfigured,
  ensureRedisRunning,
  ensureAppSynced,
  ensureAppBuilt,
  ensureNginxConfigured,
  ensureNginxRunning,
  ensurePm2Configured,
  ensureUsersSeeded,
  ensurePm2Running,
  ensureSmokeTest,
]

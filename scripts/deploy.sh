#!/bin/sh
# `npm run deploy [-- options]`: puts a code change live, fast. Only the provisioner's code steps run:
# the checkout copied to the app dir (what changed), the build and dependencies (what changed), a PM2
# reload of the apps whose code changed (one process at a time: no request fails), the smoke test (a
# failure puts the previous release back). Settings, packages, nginx and Redis are left as they are: after
# changing those, run the whole provisioner (`vagrant provision`, or `sudo ./provision/bootstrap.sh`).
#
# In a Vagrant checkout with its VM created (.vagrant/machines/<name>/<provider>/id) it syncs the folder into the VM first (`vagrant rsync`,
# for providers that sync with rsync) and runs there; on a machine provisioned directly, it runs here
# (with sudo when not root). Options are the provisioner's (--verbose, --json, --check, ...).
set -eu
cd "$(dirname "$0")/.."
steps=ensureAppSynced,ensureAppBuilt,ensurePm2Running,ensureSmokeTest
if ls .vagrant/machines/*/*/id >/dev/null 2>&1 && command -v vagrant >/dev/null 2>&1; then
  # A VirtualBox shared folder needs no sync: `vagrant rsync` then says so and changes nothing.
  vagrant rsync >/dev/null 2>&1 || true
  exec vagrant ssh -c "sudo sh /vagrant/provision/bootstrap.sh --only $steps --quiet $*"
fi
if [ "$(id -u)" = 0 ]; then
  exec sh provision/bootstrap.sh --only "$steps" --quiet "$@"
fi
exec sudo sh provision/bootstrap.sh --only "$steps" --quiet "$@"

#!/usr/bin/env bash
# Runs the Dapr control plane on this machine and shows it working: a local Kubernetes API server (built from
# Debian's packages, see docs/kubernetes-test-control-plane.md), the chart's objects rendered by Helm and applied
# with kubectl, the four binaries (sentry, operator, injector, placement) under their own service accounts, the API
# server calling the injector through the chart's own webhook configuration, a demo Deployment whose pods come back
# with daprd, and simulated sidecars playing daprd for them. Ctrl-C stops everything.
#
# Usage: scripts/run-local.sh [--prometheus] [--no-demo] [--replicas N]
# Everything it needs is installed and built on the first run (prerequisites a minute or two, Kubernetes about five
# minutes once, the Swift build about six cold); later runs start in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '== %s\n' "$*"; }
started=$SECONDS

step "prerequisites (apt and pip packages; a minute or two the first time, then nothing)"
scripts/install-prerequisites.sh | sed 's/^/   /'

if [ ! -x .cache/kubernetes/bin/kube-apiserver ]; then
  step "building kube-apiserver and kube-controller-manager from Debian's sources (once, about 5 minutes)"
else
  step "Kubernetes binaries: built already"
fi
scripts/kubernetes/build.sh 2>&1 | sed 's/^/   /'

if [ -d .build/debug ]; then
  step "building the control plane (seconds when little changed)"
else
  step "building the control plane (the first build takes about 6 minutes on 2 cores)"
fi
for product in sentry operator injector placement dapr-sidecar-sim dapr-local; do
  printf '   %s: ' "$product"
  swift build --product "$product" 2>&1 | tail -n 1
done
printf '   set up in %d s\n\n' $((SECONDS - started))

exec "$(swift build --show-bin-path)/dapr-local" "$@"

#!/usr/bin/env bash
# Builds the control-plane image (Dockerfile: the four binaries, release, --static-swift-stdlib, on a small Debian
# base, user 65532) with the name the chart uses by default, and prints that name.
#
# Usage: scripts/build-image.sh [IMAGE]     default: dapr-control-plane:<the chart's appVersion>
#
# Needs a Docker engine (`docker build`); the machines this project is developed on have only the client, so it is
# not run in CI there. The same build runs without Docker in CI: scripts/check-release-binaries.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' charts/dapr/Chart.yaml)
image=${1:-dapr-control-plane:$version}
command -v docker >/dev/null || { echo "build-image: docker is not installed" >&2; exit 2; }
docker info >/dev/null 2>&1 || { echo "build-image: no Docker engine is reachable (docker info failed)" >&2; exit 2; }
docker build -t "$image" . >&2
echo "$image"

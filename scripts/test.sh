#!/usr/bin/env bash
# The project's test command (README, CI): installs what is missing, builds, runs every test, and checks that the
# committed generated protobuf code is what the .proto files produce.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-prerequisites.sh

echo "== Kubernetes control plane for the tests (built once from Debian's sources, then cached)"
scripts/kubernetes/build.sh

echo "== build"
swift build --build-tests

echo "== real clients (kubectl, Python) against the test control plane"
scripts/kubernetes/check-real-clients.sh

echo "== tests"
swift test --skip-build

echo "== generated code is reproducible"
scripts/generate-protos.sh
untracked=$(git ls-files --others --exclude-standard -- Sources/DaprProto)
if ! git diff --quiet -- Sources/DaprProto || [ -n "$untracked" ]; then
  git diff --stat -- Sources/DaprProto
  echo "$untracked"
  echo "Sources/DaprProto/Generated differs from what scripts/generate-protos.sh produces: regenerate and commit." >&2
  exit 1
fi
echo "== all checks passed"

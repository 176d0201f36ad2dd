#!/usr/bin/env bash
# The project's test command (README, CI): installs what is missing, checks the style, builds, runs every test (the packaging,
# end-to-end and soak suites last, each on its own, since they start API servers and processes of their own),
# builds the release binaries the image holds and runs each alone, and checks that the committed generated
# protobuf code is what the .proto files produce.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-prerequisites.sh

echo "== style: swift format lint --strict with the repository's .swift-format"
swift format lint --strict --recursive Package.swift Sources Tests Benchmarks

echo "== copies: no more pairs of copied lines than .ci/duplicates-baseline (where the duplicates tool is installed)"
scripts/check-duplicates.sh

echo "== Kubernetes control plane for the tests (built once from Debian's sources, then cached)"
scripts/kubernetes/build.sh

echo "== build"
swift build --build-tests

echo "== real clients (kubectl, Python) against the test control plane"
scripts/kubernetes/check-real-clients.sh

echo "== tests"
# The packaging suites start API servers and the four binaries of their own; they run after the others, so that
# their load does not meet the timing-sensitive suites (leader hand-over, dissemination rounds).
swift test --skip-build --skip PackagingTests --skip EndToEndTests

echo "== the chart, the install and its RBAC (real Helm, Kubernetes' schemas, an audited API server)"
swift test --skip-build --filter PackagingTests

echo "== end to end: the four binaries, simulated sidecars and Prometheus on one API server"
swift test --skip-build --filter 'EndToEndTests\.EndToEndTests/'

echo "== a bounded soak: simulated sidecars through minutes of churn (SOAK_SIDECARS, SOAK_SECONDS)"
swift test --skip-build --filter SoakTests
cat .cache/soak-report.txt 2>/dev/null && echo || true

echo "== the release binaries the image holds (--static-swift-stdlib), each alone in an empty folder"
scripts/check-release-binaries.sh

echo "== generated code is reproducible"
scripts/generate-protos.sh
untracked=$(git ls-files --others --exclude-standard -- Sources/DaprProto Sources/DaprMessages)
if ! git diff --quiet -- Sources/DaprProto Sources/DaprMessages || [ -n "$untracked" ]; then
  git diff --stat -- Sources/DaprProto Sources/DaprMessages
  echo "$untracked"
  echo "Sources/DaprMessages/Generated or Sources/DaprProto/Generated differs from what scripts/generate-protos.sh produces: regenerate and commit." >&2
  exit 1
fi
echo "== all checks passed"

#!/usr/bin/env bash
# The operator's fan-out benchmark (issue 6), printed as Markdown for BENCHMARKS.md: the operator's API (informer
# caches, fan-out, gRPC over mTLS; release build) pinned to core 0, against the test control plane (which shares the
# machine), and a fleet of sidecars in another process on core 1, each on its own mTLS connection with a
# ComponentUpdate stream in namespace `bench`. Each of CHANGES edits of one Component goes through the API server and
# is timed from the PATCH until the last stream has it.
set -euo pipefail
cd "$(dirname "$0")/../.."

changes=${CHANGES:-100}
# The simulated sidecars' gRPC client: `lean` (NIO's HTTP/2 with a callback per message; cheaper per message than
# the operator, so the operator sets the pace) or `grpc-swift` (for comparison).
sidecar_client=${SIDECAR_CLIENT:-lean}
export SIDECAR_CLIENT=$sidecar_client
scripts/install-prerequisites.sh >/dev/null
scripts/kubernetes/build.sh >/dev/null
swift build -c release --product OperatorBenchmark 2>&1 | grep -E "error" && exit 1
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d)
kube_pid=""
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [ -n "$kube_pid" ] && kill "$kube_pid" 2>/dev/null && wait "$kube_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

scripts/kubernetes/start.sh --dir "$work/kubernetes" --keep >"$work/ready" 2>"$work/kubernetes.log" &
kube_pid=$!
until grep -q '^READY' "$work/ready" 2>/dev/null; do
  kill -0 "$kube_pid" 2>/dev/null || { cat "$work/kubernetes.log" >&2; exit 1; }
  sleep 0.2
done
kubeconfig=$(sed -n 's/.*kubeconfig=\([^ ]*\).*/\1/p' "$work/ready")
kubectl --kubeconfig "$kubeconfig" apply -f crds/ >/dev/null
kubectl --kubeconfig "$kubeconfig" wait --for condition=Established crd --all --timeout 60s >/dev/null
kubectl --kubeconfig "$kubeconfig" apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: bench}
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: bench, namespace: bench}
spec:
  type: state.redis
  version: v1
  metadata: [{name: marker, value: start}]
---
apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata: {name: bench, namespace: bench}
spec: {tracing: {samplingRate: "1"}}
---
apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata: {name: bench, namespace: bench}
spec: {pubsubname: pubsub, topic: orders, routes: {default: /orders}}
---
apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata: {name: bench, namespace: bench}
spec:
  policies: {timeouts: {general: 5s}}
  targets: {apps: {}}
---
apiVersion: dapr.io/v1alpha1
kind: HTTPEndpoint
metadata: {name: bench, namespace: bench}
spec: {baseUrl: "http://example.invalid"}
YAML
"$bin/OperatorBenchmark" setup "$work"

echo "## Operator fan-out benchmark, $(date -u +%Y-%m-%d), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $changes changes, $sidecar_client sidecars"
echo
echo "| streams | change to last stream, p50 | p99 | operator RSS with the streams connected |"
echo "|---|---|---|---|"
# One run: the operator's API on core 0, the sidecars (OperatorBenchmark MODE ...) on core 1.
run() { # mode sidecars [changes]
  # Ports below the ephemeral range (32768-60999), from which the fleet's 10,000 connections come.
  local mode=$1 sidecars=$2 port=$((24000 + RANDOM % 2000))
  NIO_SINGLETON_GROUP_LOOP_COUNT=1 taskset -c 0 "$bin/OperatorBenchmark" server "$kubeconfig" "$work" "$port" \
    2>"$work/server.log" &
  server_pid=$!
  sleep 2
  NIO_SINGLETON_GROUP_LOOP_COUNT=1 taskset -c 1 "$bin/OperatorBenchmark" "$mode" "$kubeconfig" "$work" "$port" \
    "$sidecars" "${@:3}" "$server_pid" 2>>"$work/clients.log"
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
for sidecars in ${FANOUT_SIDECARS:-1000 10000}; do run clients "$sidecars" "$changes"; done

# Memory with daprd's seven update streams per sidecar, idle.
echo
echo "| sidecars | update streams each | operator RSS, idle |"
echo "|---|---|---|"
for sidecars in ${IDLE_SIDECARS:-1000}; do run idle "$sidecars"; done

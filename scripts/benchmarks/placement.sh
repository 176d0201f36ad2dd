#!/usr/bin/env bash
# Placement's benchmarks (issue 7), printed as Markdown for BENCHMARKS.md:
#   (a) the hash ring: lookups and adding one host at 10 to 10,000 hosts;
#   (b) the encoded tables for 100 actor types x 100 hosts, here and in Dapr's shape;
#   (c) the real `placement` binary (standalone, plaintext, one event loop, pinned to core 0) with a fleet of simulated
#       sidecars in another process on core 1: all connecting at once, then 20 dissemination rounds, and
#       placement's resident memory with the fleet connected;
#   (d) the same over mTLS, placement with --tls-enabled and its SVID from a standalone sentry.
# FLEET_SIDECARS, FLEET_TYPES, MTLS_SIDECARS (empty: no mTLS runs) and ROUNDS narrow a run; SIDECAR_CLIENT=grpc-swift
# runs the fleet on grpc-swift's client instead of the lean one (for comparison).
set -euo pipefail
cd "$(dirname "$0")/../.."

for product in placement sentry PlacementBenchmark; do
  swift build -c release --product "$product" 2>&1 | grep -E "error|warning: unre" && exit 1
done
bin=$(swift build -c release --show-bin-path)
rounds=${ROUNDS:-20}

echo "## Placement benchmarks, $(date -u +%Y-%m-%d), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
echo
echo "### (a) the hash ring (replication factor 100, one core)"
echo
taskset -c 1 "$bin/PlacementBenchmark" ring
echo
echo "### (b) table size"
echo
"$bin/PlacementBenchmark" tables
echo
header() {
  echo "| sidecars | actor hosts x types | UPDATE size | all registered, each served a first table | tables settled on one version | round p50 | round p99 | placement RSS with the fleet idle |"
  echo "|---|---|---|---|---|---|---|---|"
}
pid=""
sentry_pid=""
work=$(mktemp -d)
cleanup() { # every step may fail (a process already gone) without skipping the others
  [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
  [ -z "$sentry_pid" ] || kill "$sentry_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
wait_healthy() { # port
  for _ in $(seq 1 150); do
    curl -sf "http://127.0.0.1:$1/healthz" >/dev/null && return 0
    sleep 0.1
  done
  return 1
}
# One fleet against a fresh placement: fleet SIDECARS TYPES [PLACEMENT FLAGS...]; with --tls-enabled the sidecars
# present SVIDs signed by the issuer in $work/credentials.
fleet() {
  # Ports below the ephemeral range (32768-60999), from which the fleet's 10,000 connections come.
  local sidecars=$1 types=$2 port=$((26000 + RANDOM % 2000))
  NIO_SINGLETON_GROUP_LOOP_COUNT=1 taskset -c 0 "$bin/placement" --port "$port" --healthz-port $((port + 1)) \
    --metrics-port $((port + 2)) --log-level warn "${@:3}" &
  pid=$!
  wait_healthy $((port + 1)) || { echo "placement did not become healthy on port $port" >&2; exit 1; }
  local mode=fleet credentials=()
  [ $# -gt 2 ] && mode=fleet-mtls credentials=("$work/credentials")
  # 150 actor hosts: with one type each the UPDATE is about 6.5 KB, with ten about 65 KB.
  NIO_SINGLETON_GROUP_LOOP_COUNT=1 taskset -c 1 "$bin/PlacementBenchmark" "$mode" "$port" "$sidecars" 150 "$types" \
    "$rounds" "$pid" "${credentials[@]}"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=""
}

echo "### (c) a fleet of sidecars (placement on core 0, the fleet on core 1, one namespace, $rounds rounds)"
echo
header
for sidecars in ${FLEET_SIDECARS-1000 10000}; do
  for types in ${FLEET_TYPES:-1 10}; do fleet "$sidecars" "$types"; done
done

# The same over mTLS, as the chart runs placement: sentry (standalone, core 1, idle after start) gives placement
# its SVID; the fleet's SVIDs are signed with sentry's issuer before the storm. 1,000 sidecars by default: at 10,000
# the fleet does not come up on this machine (each TLS handshake costs the one placement core about a millisecond,
# and the clients give up with Unavailable before their turn).
[ -n "${MTLS_SIDECARS-1000}" ] || exit 0
mkdir "$work/credentials"
sentry_port=$((28000 + RANDOM % 2000))
taskset -c 1 "$bin/sentry" --mode standalone --issuer-credentials "$work/credentials" --trust-domain cluster.local \
  --port "$sentry_port" --healthz-port $((sentry_port + 1)) --metrics-port $((sentry_port + 2)) --log-level warn &
sentry_pid=$!
wait_healthy $((sentry_port + 1))
echo
echo "### (d) the same over mTLS (placement with \`--tls-enabled\` and its SVID from sentry, each sidecar with its own SVID)"
echo
header
for sidecars in ${MTLS_SIDECARS-1000}; do
  for types in ${FLEET_TYPES:-1 10}; do
    fleet "$sidecars" "$types" --tls-enabled --mode standalone --trust-domain cluster.local \
      --trust-anchors-file "$work/credentials/ca.crt" --sentry-address "127.0.0.1:$sentry_port"
  done
done

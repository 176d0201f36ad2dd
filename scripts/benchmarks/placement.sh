#!/usr/bin/env bash
# Placement's benchmarks (issue 7), printed as Markdown for BENCHMARKS.md:
#   (a) the hash ring: lookups and adding one host at 10 to 10,000 hosts;
#   (b) the encoded tables for 100 actor types x 100 hosts, here and in Dapr's shape;
#   (c) the real `placement` binary (standalone, plaintext, one event loop, pinned to core 0) with a fleet of simulated
#       sidecars in another process on core 1: all connecting at once, then 20 dissemination rounds, and
#       placement's resident memory with the fleet connected.
set -euo pipefail
cd "$(dirname "$0")/../.."

for product in placement PlacementBenchmark; do
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
echo "### (c) a fleet of sidecars (placement on core 0, the fleet on core 1, one namespace, $rounds rounds)"
echo
echo "| sidecars | actor hosts x types | UPDATE size | all registered, each served a first table | tables settled on one version | round p50 | round p99 | placement RSS with the fleet |"
echo "|---|---|---|---|---|---|---|---|"

pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; true' EXIT
for sidecars in ${FLEET_SIDECARS:-1000 10000}; do
  for types in ${FLEET_TYPES:-1 10}; do
    port=$((40000 + RANDOM % 10000))
    NIO_SINGLETON_GROUP_LOOP_COUNT=1 taskset -c 0 "$bin/placement" --port "$port" --healthz-port $((port + 1)) \
      --metrics-port $((port + 2)) --log-level warn &
    pid=$!
    for _ in $(seq 1 100); do
      curl -sf "http://127.0.0.1:$((port + 1))/healthz" >/dev/null && break
      sleep 0.1
    done
    # 150 actor hosts: with one type each the UPDATE is about 6.5 KB, with ten about 65 KB.
    NIO_SINGLETON_GROUP_LOOP_COUNT=1 taskset -c 1 "$bin/PlacementBenchmark" fleet "$port" "$sidecars" 150 "$types" \
      "$rounds" "$pid"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=""
  done
done

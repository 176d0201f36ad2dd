#!/usr/bin/env bash
# Sentry's benchmarks (issue 4), printed as Markdown for BENCHMARKS.md:
#   (a) the signing core on one core, next to `openssl speed ed25519 ecdsap256` in the same run;
#   (b) the real `sentry` binary (standalone mode, insecure validator) pinned to core 0, with h2load on core 1
#       sending gRPC-framed SignCertificate requests over TLS + HTTP/2: throughput on kept-alive connections, latency
#       percentiles at a fixed 500 requests/s, throughput with a new TLS connection per request, idle resident memory.
# Every request's success is checked against sentry's own dapr_sentry_cert_sign_success_total counter.
set -euo pipefail
cd "$(dirname "$0")/../.."

source scripts/lib/apt.sh
apt_install_missing nghttp2-client openssl curl

for product in sentry SentryBenchmark; do
  swift build -c release --product "$product" 2>&1 | grep -E "error|warning: unre" && exit 1
done
bin=$(swift build -c release --show-bin-path)

echo "## Sentry benchmarks, $(date -u +%Y-%m-%d), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
echo
echo "### (a) signing core"
echo
taskset -c 1 "$bin/SentryBenchmark" core
echo
echo "openssl speed, same run, same core:"
echo
echo '```'
taskset -c 1 openssl speed -seconds 3 ed25519 ecdsap256 2>/dev/null | grep -E "sign/s|nistp256|Ed25519"
echo '```'

work=$(mktemp -d)
sentry_pid=""
cleanup() {
  [ -n "$sentry_pid" ] && kill "$sentry_pid" 2>/dev/null && wait "$sentry_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

port=$((20000 + RANDOM % 2000))  # below the ephemeral range (32768-60999) clients connect from
healthz=$((port + 1))
metrics=$((port + 2))
mkdir "$work/credentials"
# One event loop: the process is given one core.
NIO_SINGLETON_GROUP_LOOP_COUNT=1 taskset -c 0 "$bin/sentry" --mode standalone --issuer-credentials "$work/credentials" --trust-domain cluster.local \
  --port "$port" --healthz-port "$healthz" --metrics-port "$metrics" --log-level warn >"$work/sentry.log" 2>&1 &
sentry_pid=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$healthz/healthz" >/dev/null && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$healthz/healthz" >/dev/null || { cat "$work/sentry.log"; exit 1; }
sleep 1
start_rss=$(awk '/VmRSS/ {print $2}' "/proc/$sentry_pid/status")
# Idle as in a cluster: past the first heap check after readiness (5 s, which gives start-up's code pages back),
# having answered a health probe and a metrics scrape, as the kubelet and Prometheus keep doing.
sleep 6
curl -sf "http://127.0.0.1:$healthz/healthz" >/dev/null
curl -sf "http://127.0.0.1:$metrics/metrics" >/dev/null
idle_rss=$(awk '/VmRSS/ {print $2}' "/proc/$sentry_pid/status")

"$bin/SentryBenchmark" request-body "$work/request.bin"
url="https://127.0.0.1:$port/dapr.proto.sentry.v1.CA/SignCertificate"
h2load_grpc() {
  taskset -c 1 h2load -d "$work/request.bin" -H 'content-type: application/grpc' -H 'te: trailers' "$@" "$url"
}
signed() {
  curl -sf "http://127.0.0.1:$metrics/metrics" | awk '/^dapr_sentry_cert_sign_success_total/ {print $2}'
}
# One h2load run: prints "<requests/s> <succeeded per sentry's counter> <requests sent>".
measure() {
  local before after output rate sent
  before=$(signed)
  output=$(h2load_grpc "$@")
  after=$(signed)
  rate=$(grep -oE 'finished in [0-9.]+[a-z]+, [0-9.]+ req/s' <<<"$output" | grep -oE '[0-9.]+ req/s' | cut -d' ' -f1)
  sent=$(grep -oE 'requests: [0-9]+ total' <<<"$output" | grep -oE '[0-9]+')
  echo "$rate $(python3 -c "print(int(float('$after') - float('$before')))") $sent"
}

echo
echo "### (b) SignCertificate end to end (sentry on core 0, h2load on core 1)"
echo
echo "| load | requests | signed (sentry's counter) | result |"
echo "|---|---|---|---|"
h2load_grpc -n 2000 -c 4 -m 8 >/dev/null # warm-up
read -r rate ok sent < <(measure -n 60000 -c 4 -m 16)
echo "| kept-alive connections (4 connections x 16 streams) | $sent | $ok | $rate certificates/s |"

h2load_grpc -c 1 --rps 500 -D 10 --log-file "$work/latency.log" >/dev/null
read -r p50 p99 max count < <(python3 - "$work/latency.log" <<'PY'
import sys
times = sorted(int(line.split()[2]) for line in open(sys.argv[1]) if line.strip())
pick = lambda q: times[min(len(times) - 1, int(q * len(times)))] / 1000
print(f"{pick(0.5):.2f} {pick(0.99):.2f} {times[-1] / 1000:.2f} {len(times)}")
PY
)
echo "| 500 requests/s for 10 s, one connection | $count | - | p50 $p50 ms, p99 $p99 ms, max $max ms |"

# New connections at a fixed rate (h2load -r connections per 100 ms), each sending one request then closing.
for per_100ms in 50 100 200; do
  read -r rate ok sent < <(measure -n $((per_100ms * 30)) -c $((per_100ms * 30)) -m 1 -r "$per_100ms" --rate-period 100ms)
  echo "| a new TLS connection per request, $((per_100ms * 10)) connections/s offered | $sent | $ok | $rate certificates/s |"
done
loaded_rss=$(awk '/VmRSS/ {print $2}' "/proc/$sentry_pid/status")
# Sentry checks its heap every 5 s and gives back what the bursts freed.
sleep 6
after_rss=$(awk '/VmRSS/ {print $2}' "/proc/$sentry_pid/status")
echo
echo "Idle resident memory of sentry (VmRSS): $((idle_rss / 1024)) MiB ($idle_rss KiB) 7 s after start, a probe and a scrape served; $((start_rss / 1024)) MiB 1 s after start."
echo "Right after the new-connection runs: $((loaded_rss / 1024)) MiB; 6 s later, idle again: $((after_rss / 1024)) MiB."

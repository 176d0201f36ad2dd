#!/usr/bin/env bash
# Runs the control plane on this machine: builds the four binaries and starts them on loopback, each with its own
# health and metrics ports, until Ctrl-C (which stops them gracefully with SIGTERM).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-prerequisites.sh >/dev/null
swift build --product sentry --product operator --product injector --product placement 2>&1 | tail -1
bin=$(swift build --show-bin-path)

logs=.local-cluster/logs
mkdir -p "$logs"
pids=()
stop() {
  echo
  echo "stopping: ${pids[*]}"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop EXIT INT TERM

printf '%-10s %-28s %-28s %s\n' service healthz metrics log
i=0
for service in sentry operator injector placement; do
  healthz=$((18080 + i))
  metrics=$((19090 + i))
  "$bin/$service" --healthz-port "$healthz" --metrics-port "$metrics" \
    --healthz-listen-address 127.0.0.1 --metrics-listen-address 127.0.0.1 --log-as-json \
    >"$logs/$service.log" 2>&1 &
  pids+=($!)
  printf '%-10s %-28s %-28s %s\n' "$service" "http://127.0.0.1:$healthz/healthz" "http://127.0.0.1:$metrics/metrics" "$logs/$service.log"
  i=$((i + 1))
done

for ((i = 0; i < 4; i++)); do
  until curl -fsS "http://127.0.0.1:$((18080 + i))/healthz" >/dev/null 2>&1; do
    kill -0 "${pids[$i]}" 2>/dev/null || { echo "a service exited; see $logs" >&2; exit 1; }
    sleep 0.1
  done
done
echo "all four services are ready; Ctrl-C stops them"
wait

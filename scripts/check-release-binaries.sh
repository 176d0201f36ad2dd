#!/usr/bin/env bash
# Builds the four binaries as the image holds them (release, --static-swift-stdlib) and checks that each one, copied
# alone into an empty folder and started with an empty environment, answers /healthz: what the image ships works
# without the build tree, the toolchain or any shared Swift library.
#
# Usage: scripts/check-release-binaries.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != "--no-build" ]; then
  for product in sentry operator injector placement; do
    echo "== release build of $product (--static-swift-stdlib)"
    swift build -c release --static-swift-stdlib --product "$product" 2>&1 | tail -n 1
  done
fi
bin=$(swift build -c release --show-bin-path)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
failed=0
for binary in sentry operator injector placement; do
  folder=$(mktemp -d)
  cp "$bin/$binary" "$folder/"
  shared=$(ldd "$folder/$binary" | grep -ci swift || true)
  healthz=$(free_port)
  metrics=$(free_port)
  extra=()
  case $binary in
    # Standalone sentry makes its CA in a folder of its own; the others serve health without a cluster.
    sentry) extra=(--mode standalone --issuer-credentials "$folder/credentials" --port "$(free_port)") ;;
    placement) extra=(--port "$(free_port)") ;;
    operator) extra=(--kubeconfig "$folder/absent" --port "$(free_port)") ;;
    injector) extra=(--kubeconfig "$folder/absent" --port "$(free_port)") ;;
  esac
  (cd "$folder" && exec env -i "./$binary" --healthz-port "$healthz" --metrics-port "$metrics" \
    --healthz-listen-address 127.0.0.1 --metrics-listen-address 127.0.0.1 "${extra[@]}" >"$folder/log" 2>&1) &
  pid=$!
  status=""
  for _ in $(seq 1 100); do
    status=$(curl -s -o "$folder/body" -w '%{http_code}' "http://127.0.0.1:$healthz/healthz" || true)
    [ "$status" = 200 ] || [ "$status" = 503 ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  size=$(du -h "$folder/$binary" | cut -f1)
  if [ "$status" = 200 ] || [ "$status" = 503 ]; then
    echo "$binary ($size, $shared shared Swift libraries): /healthz answered $status $(head -c 120 "$folder/body")"
  else
    echo "$binary: /healthz did not answer (status '$status'); its output:" >&2
    tail -n 20 "$folder/log" >&2
    failed=1
  fi
  if [ "$shared" != 0 ]; then
    echo "$binary links a shared Swift library:" >&2
    ldd "$folder/$binary" | grep -i swift >&2
    failed=1
  fi
  rm -rf "$folder"
done
exit $failed

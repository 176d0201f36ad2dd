#!/usr/bin/env bash
# Runs the control plane on this machine: a local Kubernetes API server (built from Debian's packages, see
# docs/kubernetes-test-control-plane.md) with Dapr's CRDs and the dapr-system objects the chart would create, and the
# four services (sentry, operator, injector, placement) on loopback, until Ctrl-C (which stops everything gracefully).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-prerequisites.sh >/dev/null
scripts/kubernetes/build.sh
swift build --product sentry --product operator --product injector --product placement 2>&1 | tail -1
bin=$(swift build --show-bin-path)

state=.local-cluster
mkdir -p "$state"
run_dir=$(mktemp -d "$state/run.XXXXXX")
logs="$run_dir/logs"
mkdir -p "$logs"
pids=()
kube_pid=""
stop() {
  echo
  echo "stopping the control plane"
  ((${#pids[@]})) && kill -TERM "${pids[@]}" 2>/dev/null || true
  ((${#pids[@]})) && wait "${pids[@]}" 2>/dev/null || true
  [ -z "$kube_pid" ] || { kill -TERM "$kube_pid" 2>/dev/null || true; wait "$kube_pid" 2>/dev/null || true; }
}
trap stop EXIT
trap 'exit 0' INT TERM

echo "starting the Kubernetes API server (logs in $run_dir/kubernetes/logs)"
scripts/kubernetes/start.sh --dir "$run_dir/kubernetes" --keep >"$run_dir/ready" 2>"$logs/kubernetes-start.log" &
kube_pid=$!
until grep -q '^READY' "$run_dir/ready" 2>/dev/null; do
  kill -0 "$kube_pid" 2>/dev/null || { cat "$logs/kubernetes-start.log" >&2; exit 1; }
  sleep 0.2
done
export KUBECONFIG
KUBECONFIG=$(sed -n 's/.*kubeconfig=\([^ ]*\).*/\1/p' "$run_dir/ready")

# What `helm install dapr charts/dapr -n dapr-system` creates before the services start.
kubectl apply -f crds/ >/dev/null 2>&1
kubectl wait --for condition=Established crd --all --timeout 60s >/dev/null 2>&1
kubectl apply -f - >/dev/null 2>&1 <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: dapr-system}
---
apiVersion: v1
kind: Secret
metadata: {name: dapr-trust-bundle, namespace: dapr-system}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: dapr-trust-bundle, namespace: dapr-system}
---
apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata: {name: daprsystem, namespace: dapr-system}
spec:
  mtls: {enabled: true, workloadCertTTL: 24h, allowedClockSkew: 15m, controlPlaneTrustDomain: cluster.local}
YAML

printf '%-10s %-28s %-28s %s\n' service healthz metrics log
i=0
for service in sentry operator injector placement; do
  healthz=$((18080 + i))
  metrics=$((19090 + i))
  NAMESPACE=dapr-system "$bin/$service" --healthz-port "$healthz" --metrics-port "$metrics" \
    --healthz-listen-address 127.0.0.1 --metrics-listen-address 127.0.0.1 --log-as-json \
    --kubeconfig "$KUBECONFIG" >"$logs/$service.log" 2>&1 &
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
echo
echo "the control plane is ready. In another shell:"
echo "  export KUBECONFIG=$KUBECONFIG"
echo "  kubectl get components,configurations -A"
echo "Ctrl-C stops everything."
wait "${pids[@]}"

#!/usr/bin/env bash
# Proves a Kubernetes control plane with real clients: kubectl and the official Python client.
#
# Usage: scripts/kubernetes/check-real-clients.sh
#   With KUBECONFIG set, checks that cluster; otherwise starts one with start.sh and stops it at the end.
#
# Checks (each printed as it passes; the first failure stops the script with a non-zero status):
#   - a CRD (widgets.example.dapr.io) becomes Established; a Widget is applied, re-applied with a changed spec,
#     patched (merge and JSON patch; strategic merge is refused for custom resources) and a background
#     `kubectl get -w` prints every change;
#   - Secrets; ConfigMap patches of --type=strategic, merge and json; a Deployment strategic-merge patch;
#   - the Deployment's ReplicaSet controller creates a Pod (it stays Pending: there is no scheduler or kubelet);
#   - `kubectl create token` (TokenRequest) and a TokenReview of that token;
#   - deletes, including garbage collection of the Deployment's ReplicaSet and namespace finalization;
#   - check_python_client.py (the `kubernetes` PyPI package, installed into .venv-tools if missing).
# kubectl 1.32 warns about version skew with a 1.20 server; that is expected.
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/../.." && pwd)
here="$repo_root/scripts/kubernetes"
venv="$repo_root/.venv-tools"

step() { echo "== $*"; }
ok() { echo "   ok: $*"; }
fail() { echo "   FAILED: $*" >&2; exit 1; }

# eventually TIMEOUT COMMAND...: retries COMMAND every 0.5 s until it succeeds or TIMEOUT seconds pass.
eventually() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

# --- cluster ------------------------------------------------------------------------------------------------------------
work=$(mktemp -d)
start_pid=""
namespace=""
watch_pid=""
cleanup() {
  local status=$?
  [ -z "$watch_pid" ] || kill "$watch_pid" 2>/dev/null || true
  if [ -n "$namespace" ] && [ -n "${KUBECONFIG:-}" ]; then
    kubectl delete namespace "$namespace" --wait=false >/dev/null 2>&1 || true
    kubectl delete crd widgets.example.dapr.io --wait=false >/dev/null 2>&1 || true
  fi
  if [ -n "$start_pid" ]; then
    kill -TERM "$start_pid" 2>/dev/null || true
    wait "$start_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

if [ -z "${KUBECONFIG:-}" ]; then
  step "starting a control plane with start.sh"
  "$here/start.sh" >"$work/ready" &
  start_pid=$!
  until grep -q '^READY ' "$work/ready" 2>/dev/null; do
    kill -0 "$start_pid" 2>/dev/null || fail "start.sh exited before it was ready"
    sleep 0.5
  done
  ready_line=$(grep '^READY ' "$work/ready")
  echo "   $ready_line"
  kubeconfig=${ready_line#*kubeconfig=}
  export KUBECONFIG=${kubeconfig%% *}
fi

step "server version (kubectl 1.32 may warn about skew with a 1.20 server)"
kubectl version 2>&1 | sed 's/^/   /'
kubectl get --raw /readyz >/dev/null || fail "/readyz"
ok "/readyz"

namespace="real-clients-$RANDOM$RANDOM"
kubectl create namespace "$namespace" >/dev/null
ok "created namespace $namespace"
k() { kubectl -n "$namespace" "$@"; }

# --- custom resources -------------------------------------------------------------------------------------------------------
step "CustomResourceDefinition widgets.example.dapr.io"
kubectl apply -f - >/dev/null <<'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.dapr.io
spec:
  group: example.dapr.io
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
              color: {type: string}
              tags: {type: array, items: {type: string}}
EOF
kubectl wait --for=condition=Established crd/widgets.example.dapr.io --timeout=60s >/dev/null ||
  fail "CRD not Established"
ok "Established"
# Discovery may lag a moment behind the Established condition.
eventually 30 kubectl -n "$namespace" get widgets || fail "widgets not served"
ok "widgets are served"

step "Widget: watch, apply, re-apply, patch"
k get widgets --watch -o jsonpath='{.metadata.name} size={.spec.size} color={.spec.color}{"\n"}' \
  >"$work/watch" 2>"$work/watch.err" &
watch_pid=$!

widget() {
  cat <<EOF
apiVersion: example.dapr.io/v1
kind: Widget
metadata: {name: w1}
spec: {size: $1, color: $2}
EOF
}
widget 1 red | k apply -f - >/dev/null
ok "applied w1 (size 1, red)"
widget 2 red | k apply -f - >/dev/null
[ "$(k get widget w1 -o jsonpath='{.spec.size}')" = 2 ] || fail "re-apply did not change size"
ok "re-applied w1 with size 2"
k patch widget w1 --type=merge -p '{"spec":{"size":3}}' >/dev/null
ok "merge patch: size 3"
k patch widget w1 --type=json -p '[{"op":"replace","path":"/spec/color","value":"blue"}]' >/dev/null
ok "json patch: color blue"
if k patch widget w1 --type=strategic -p '{"spec":{"size":4}}' >/dev/null 2>"$work/strategic.err"; then
  fail "strategic merge patch of a custom resource should be refused"
fi
grep -qiE 'not supported|unsupported' "$work/strategic.err" || fail "unexpected error: $(cat "$work/strategic.err")"
ok "strategic merge patch refused for a custom resource: $(head -n 1 "$work/strategic.err")"
[ "$(k get widget w1 -o jsonpath='{.spec.size}/{.spec.color}')" = 3/blue ] || fail "w1 spec is not size 3, blue"

for expected in "w1 size=1 color=red" "w1 size=2 color=red" "w1 size=3 color=red" "w1 size=3 color=blue"; do
  eventually 10 grep -qx "$expected" "$work/watch" || {
    cat "$work/watch" "$work/watch.err" >&2
    fail "kubectl get -w did not print '$expected'"
  }
done
ok "kubectl get -w printed: $(paste -sd '|' "$work/watch")"
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true
watch_pid=""

# --- secrets and config maps ----------------------------------------------------------------------------------------------------
step "Secret"
k create secret generic s1 --from-literal=password=hunter2 >/dev/null
[ "$(k get secret s1 -o jsonpath='{.data.password}' | base64 -d)" = hunter2 ] || fail "secret data"
ok "created s1 and read it back"

step "ConfigMap patches"
k create configmap c1 --from-literal=a=1 >/dev/null
k patch configmap c1 --type=strategic -p '{"data":{"b":"2"}}' >/dev/null
ok "strategic: added b"
k patch configmap c1 --type=merge -p '{"data":{"a":null}}' >/dev/null
ok "merge: removed a"
k patch configmap c1 --type=json -p '[{"op":"add","path":"/data/c","value":"3"}]' >/dev/null
ok "json: added c"
data=$(k get configmap c1 -o jsonpath='{.data}')
[ "$data" = '{"b":"2","c":"3"}' ] || fail "ConfigMap data is $data"
ok "data is $data"

# --- deployment, replica set, pod ---------------------------------------------------------------------------------------------------
step "Deployment"
k create deployment web --image=nginx:1.25 >/dev/null
# Strategic merge merges the containers list by name (a merge patch would replace the whole list).
k patch deployment web --type=strategic \
  -p '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.26"}]}}}}' >/dev/null
images=$(k get deployment web -o jsonpath='{.spec.template.spec.containers[*].name}={.spec.template.spec.containers[*].image}')
[ "$images" = nginx=nginx:1.26 ] || fail "strategic patch of the Deployment gave $images"
ok "strategic patch replaced the image of container nginx: $images"
pods_exist() { [ -n "$(k get pods -l app=web -o name)" ]; }
eventually 90 pods_exist || fail "no Pod was created for Deployment web"
ok "ReplicaSet $(k get rs -l app=web -o name | paste -sd ' ') created $(k get pods -l app=web -o name | paste -sd ' ')"
phase=$(k get pods -l app=web -o jsonpath='{.items[0].status.phase}')
[ "$phase" = Pending ] || fail "pod phase $phase"
ok "pod phase Pending (no scheduler)"
kubectl -n kube-system get serviceaccount replicaset-controller >/dev/null ||
  fail "no kube-system/replicaset-controller ServiceAccount (controllers should use their own credentials)"
ok "controllers use their own service accounts (kube-system/replicaset-controller exists)"

# --- tokens ---------------------------------------------------------------------------------------------------------------------------
step "TokenRequest and TokenReview"
eventually 60 k get serviceaccount default || fail "no default ServiceAccount in $namespace"
token=$(k create token default)
[ -n "$token" ] || fail "empty token"
ok "kubectl create token default (TokenRequest)"
review=$(kubectl create -o json -f - <<EOF
apiVersion: authentication.k8s.io/v1
kind: TokenReview
spec: {token: "$token"}
EOF
)
python3 - "$review" "$namespace" <<'EOF' || fail "TokenReview: $review"
import json, sys
status = json.loads(sys.argv[1])["status"]
assert status.get("authenticated") is True, status
assert status["user"]["username"] == f"system:serviceaccount:{sys.argv[2]}:default", status
EOF
ok "TokenReview: authenticated as system:serviceaccount:$namespace:default"

# --- deletes ------------------------------------------------------------------------------------------------------------------------------
step "deletes"
k delete widget w1 >/dev/null
k delete secret s1 >/dev/null
k delete configmap c1 >/dev/null
for object in widget/w1 secret/s1 configmap/c1; do
  if k get "$object" >/dev/null 2>&1; then fail "$object still exists"; fi
done
ok "deleted widget w1, secret s1, configmap c1"
k delete deployment web >/dev/null
no_replica_sets() { [ -z "$(k get rs -l app=web -o name)" ]; }
eventually 60 no_replica_sets || fail "the garbage collector did not delete the ReplicaSet"
ok "deleted deployment web; the garbage collector deleted its ReplicaSet"

# --- python client ------------------------------------------------------------------------------------------------------------------------
step "Python client (kubernetes package)"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
if ! "$venv/bin/python" -c 'import kubernetes' 2>/dev/null; then
  echo "   pip install kubernetes into $venv"
  "$venv/bin/python" -m pip install -q kubernetes
fi
if ! "$venv/bin/python" "$here/check_python_client.py" "$namespace" | sed 's/^/   /'; then
  fail "check_python_client.py"
fi

step "namespace and CRD deletion"
kubectl delete namespace "$namespace" --timeout=90s >/dev/null || fail "namespace $namespace was not finalized"
namespace=""
ok "namespace deleted (namespace controller finalized it)"
kubectl delete crd widgets.example.dapr.io --timeout=60s >/dev/null || fail "CRD not deleted"
ok "CRD deleted"

echo "== all real-client checks passed"

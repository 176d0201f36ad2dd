#!/usr/bin/env bash
# For users with Docker and kind: builds the image, loads it into a kind cluster, installs the chart and deploys an
# annotated sample app, then shows the app's pod with its daprd sidecar.
#
# Usage: scripts/kind-install.sh [CLUSTER]    default cluster name: dapr
#
# Needs docker (with an engine), kind, kubectl and helm on PATH. It cannot run on the machines this project is
# developed and tested on (no Docker engine, no kind): there, scripts/run-local.sh runs the same chart's objects and
# binaries against a local API server instead.
set -euo pipefail
cd "$(dirname "$0")/.."
cluster=${1:-dapr}
for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null || { echo "kind-install: $tool is not installed" >&2; exit 2; }
done

image=$(scripts/build-image.sh)
kind get clusters | grep -qx "$cluster" || kind create cluster --name "$cluster"
kubectl config use-context "kind-$cluster" >/dev/null
kind load docker-image "$image" --name "$cluster"

# The image is loaded, never pulled: IfNotPresent.
helm upgrade --install dapr charts/dapr -n dapr-system --create-namespace --wait \
  --set global.imagePullPolicy=IfNotPresent

kubectl apply -f - <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: hello, namespace: default}
spec:
  selector: {matchLabels: {app: hello}}
  template:
    metadata:
      labels: {app: hello}
      annotations: {dapr.io/enabled: "true", dapr.io/app-id: hello, dapr.io/app-port: "8080"}
    spec:
      containers:
        - name: hello
          image: hashicorp/http-echo:1.0
          args: ["-listen=:8080", "-text=hello from dapr"]
          ports: [{containerPort: 8080}]
YAML
kubectl rollout status deployment/hello -n default --timeout 180s
kubectl get pods -n default -l app=hello -o custom-columns='POD:.metadata.name,CONTAINERS:.spec.containers[*].name'
echo "The daprd container above was added by this control plane's injector. Try:"
echo "  kubectl logs -n default deploy/hello -c daprd"
echo "  kubectl get components,configurations -A"

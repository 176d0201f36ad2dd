#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian machine, and nothing twice:
#   - apt packages, by name: protoc and the well-known .proto files (code generation), Prometheus and promtool,
#     curl, iproute2 (loopback addresses for webhook calls), util-linux (setpriv)
#   - a git-ignored Python venv (.venv-tools) for the independent tools the tests use: gRPC and Kubernetes clients
#     (grpcio, kubernetes), real Helm (helm-python-sdk), manifest schemas (kubernetes-validate), JWT checks (PyJWT).
# The Kubernetes control plane the tests run against is built by scripts/kubernetes/build.sh (cached).
# Safe to run again; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/lib/apt.sh
apt_install_missing protobuf-compiler libprotobuf-dev prometheus curl openssl iproute2 util-linux

venv=.venv-tools
python_packages=(grpcio grpcio-tools kubernetes helm-python-sdk kubernetes-validate PyJWT cryptography)
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
missing=()
for package in "${python_packages[@]}"; do
  "$venv/bin/python" -m pip show -q "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "install-prerequisites: pip install ${missing[*]}"
  "$venv/bin/python" -m pip install -q "${missing[@]}"
fi

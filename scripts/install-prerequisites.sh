#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian machine, and nothing twice:
#   - apt packages, by name: protoc (code generation), promtool (metrics page checks)
#   - a git-ignored Python venv (.venv-tools) for the independent clients the tests use.
# Safe to run again; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=()
need() { command -v "$1" >/dev/null 2>&1 || apt_packages+=("$2"); }
need protoc protobuf-compiler
need promtool prometheus
need curl curl

if ((${#apt_packages[@]})); then
  echo "install-prerequisites: apt-get install ${apt_packages[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  if ! "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${apt_packages[@]}" >/dev/null 2>&1; then
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${apt_packages[@]}"
  fi
fi

venv=.venv-tools
python_packages=(grpcio grpcio-tools)
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

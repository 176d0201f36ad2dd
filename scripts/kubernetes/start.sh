#!/usr/bin/env bash
# Starts a throwaway Kubernetes 1.20 control plane on loopback (etcd, kube-apiserver, kube-controller-manager; no
# scheduler, no kubelet, so pods stay Pending) and keeps it running in the foreground until SIGTERM or SIGINT.
#
# Usage: scripts/kubernetes/start.sh [--dir DIR] [--keep] [--audit] [--service-cidr CIDR]
#   --dir DIR  state folder (certificates, kubeconfigs, logs); must be empty or not exist. Default: a new temp folder.
#   --keep     keep DIR after stopping (the etcd data, held in /dev/shm when available, is always removed).
#   --audit    write the API server's audit log to DIR/logs/audit.log: one JSON line (level Metadata) for every
#              request a service account makes, so tests can compare what a component did with what its RBAC grants.
#   --service-cidr CIDR  the Services' cluster IP range (default 10.0.0.0/24). The API server calls webhooks
#              registered as Services at their cluster IP; a local run puts the webhook Services' IPs on the loopback
#              interface so the calls arrive here, and picks a range per control plane (in 198.18.0.0/15, which no
#              real network uses) so that two control planes never share an address.
#
# When the control plane is ready, exactly one line goes to stdout:
#   READY kubeconfig=<DIR>/admin.kubeconfig server=https://127.0.0.1:<port> etcd=http://127.0.0.1:<port> dir=<DIR>
# Everything else goes to stderr. "Ready" means kube-apiserver's /readyz passes and kube-controller-manager has
# created the `default` ServiceAccount (with its token secret) in namespace `default`.
# DIR also holds:
#   env                            `export KUBECONFIG=<DIR>/admin.kubeconfig`
#   admin.kubeconfig               user CN=admin, O=system:masters (cluster admin)
#   controller-manager.kubeconfig  user CN=system:kube-controller-manager
#   pki/                           CA, serving and client certificates, service-account signing keys
#   logs/{etcd,kube-apiserver,kube-controller-manager}.log
#
# The script exits, stopping its servers, when its parent process dies (checked every second), so a crashed test
# runner leaves nothing behind; the servers also get SIGTERM if this script itself is killed (setpriv --pdeathsig),
# though a SIGKILLed script leaves DIR and the etcd data behind. Stop it with SIGTERM: a background job of a
# non-interactive shell ignores SIGINT, and bash cannot trap a signal that was ignored when it started.
# If startup fails, the tail of each log is printed and the exit status is non-zero.
set -euo pipefail

started_at=$EPOCHREALTIME
repo_root=$(cd "$(dirname "$0")/../.." && pwd)
bin_dir="$repo_root/.cache/kubernetes/bin"
parent_pid=$PPID  # when this is 1 (started detached), there is no parent to watch

# stdout is reserved for the READY line: keep it as fd 3 and send everything else to stderr.
exec 3>&1 1>&2

log() { echo "kubernetes/start: $*" >&2; }
usage() { echo "usage: $0 [--dir DIR] [--keep] [--audit] [--service-cidr CIDR]" >&2; exit 2; }

dir=""
keep=false
audit=false
service_cidr=10.0.0.0/24
while (($#)); do
  case "$1" in
    --dir) (($# >= 2)) || usage; dir=$2; shift 2 ;;
    --keep) keep=true; shift ;;
    --audit) audit=true; shift ;;
    --service-cidr) (($# >= 2)) || usage; service_cidr=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) usage ;;
  esac
done

# --- prerequisites (no-ops when already there) ------------------------------------------------------------------------
"$repo_root/scripts/kubernetes/build.sh" 3>&-

source "$repo_root/scripts/lib/apt.sh"
apt_install_missing etcd-server curl openssl

# --- state folder -------------------------------------------------------------------------------------------------------
if [ -z "$dir" ]; then
  dir=$(mktemp -d "${TMPDIR:-/tmp}/kube-control-plane.XXXXXX")
else
  # DIR is deleted on exit, so it must not hold anything else.
  if [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
    log "--dir $dir exists and is not empty"
    exit 2
  fi
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
fi
pki="$dir/pki"
logs="$dir/logs"
mkdir -p "$pki" "$logs"

# etcd's data in RAM when possible: fsync is then nearly free.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  etcd_data=$(mktemp -d /dev/shm/kube-etcd.XXXXXX)
else
  etcd_data="$dir/etcd-data"
  mkdir -p "$etcd_data"
fi

# --- process management ---------------------------------------------------------------------------------------------------
declare -A pids=()        # component name -> pid
components=()             # in start order

# start NAME COMMAND...: runs a server in the background, logging to logs/NAME.log. setpriv makes the kernel send it
# SIGTERM if this script dies without cleaning up; fd 3 (the READY pipe) is not passed on.
pdeathsig=()
setpriv --help 2>/dev/null | grep -q -- --pdeathsig && pdeathsig=(setpriv --pdeathsig TERM --)
start() {
  local name=$1
  shift
  "${pdeathsig[@]}" "$@" >"$logs/$name.log" 2>&1 3>&- </dev/null &
  pids[$name]=$!
  components+=("$name")
}

print_logs() {
  local name
  for name in "${components[@]}"; do
    echo "----- last lines of $logs/$name.log" >&2
    tail -n 25 "$logs/$name.log" >&2 || true
  done
}

stopping=false
stop_all() {
  $stopping && return
  stopping=true
  local i name pid deadline
  # Reverse start order: controller-manager, apiserver, then etcd.
  for ((i = ${#components[@]} - 1; i >= 0; i--)); do
    name=${components[i]}
    pid=${pids[$name]}
    kill -TERM "$pid" 2>/dev/null || continue
    deadline=$((SECONDS + 10))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$etcd_data"
  if $keep; then
    log "stopped; kept $dir"
  else
    rm -rf "$dir"
    log "stopped; removed $dir"
  fi
}

fail() {
  log "$*"
  print_logs
  exit 1
}

trap stop_all EXIT
trap 'log "signal received, stopping"; exit 0' TERM INT HUP

# Dies with a log tail if a component has exited; exits quietly if our parent is gone.
check_processes() {
  local name
  for name in "${components[@]}"; do
    kill -0 "${pids[$name]}" 2>/dev/null || fail "$name exited unexpectedly"
  done
  if ! kill -0 "$parent_pid" 2>/dev/null; then
    log "parent process $parent_pid is gone, stopping"
    exit 0
  fi
}

# wait_for WHAT TIMEOUT COMMAND...: polls COMMAND every 0.2 s, checking the servers as it goes.
wait_for() {
  local what=$1 timeout=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    check_processes
    ((SECONDS < deadline)) || fail "timed out after ${timeout}s waiting for $what"
    sleep 0.2
  done
}

# --- free loopback ports ------------------------------------------------------------------------------------------------
# All three sockets are bound at once so the ports differ; the kernel then hands out others for a while.
read -r api_port etcd_client_port etcd_peer_port < <(python3 -c '
import socket
sockets = [socket.socket() for _ in range(3)]
for s in sockets:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in sockets))
')
server="https://127.0.0.1:$api_port"
etcd_url="http://127.0.0.1:$etcd_client_port"
etcd_peer_url="http://127.0.0.1:$etcd_peer_port"

# --- certificates -----------------------------------------------------------------------------------------------------------
# EC P-256 keys for the CA and TLS (fast to generate); RSA 2048 for service-account tokens (RS256, widely supported).
cat >"$pki/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local, IP:10.0.0.1
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
EOF

ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# issue NAME SUBJECT EXTENSIONS: key NAME.key and certificate NAME.crt signed by the CA.
issue() {
  local name=$1 subject=$2 extensions=$3
  ec_key "$pki/$name.key"
  openssl req -new -key "$pki/$name.key" -subj "$subject" -config "$pki/openssl.cnf" -out "$pki/$name.csr"
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 30 \
    -extfile "$pki/openssl.cnf" -extensions "$extensions" -out "$pki/$name.crt" 2>/dev/null
  rm -f "$pki/$name.csr"
}

ec_key "$pki/ca.key"
openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=kubernetes-test-ca" -days 30 \
  -config "$pki/openssl.cnf" -extensions ca -out "$pki/ca.crt"
issue apiserver "/CN=kube-apiserver" server
issue admin "/O=system:masters/CN=admin" client
issue controller-manager "/CN=system:kube-controller-manager" client
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$pki/service-account.key" 2>/dev/null
openssl pkey -in "$pki/service-account.key" -pubout -out "$pki/service-account.pub"

# --- kubeconfigs --------------------------------------------------------------------------------------------------------------
# write_kubeconfig FILE USER CERT_NAME: a kubeconfig with embedded CA, client certificate and key.
write_kubeconfig() {
  local file=$1 user=$2 name=$3
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: $server
    certificate-authority-data: $(base64 -w0 "$pki/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(base64 -w0 "$pki/$name.crt")
    client-key-data: $(base64 -w0 "$pki/$name.key")
contexts:
- name: $user@local
  context:
    cluster: local
    user: $user
current-context: $user@local
EOF
  chmod 600 "$file"
}
write_kubeconfig "$dir/admin.kubeconfig" admin admin
write_kubeconfig "$dir/controller-manager.kubeconfig" system:kube-controller-manager controller-manager
echo "export KUBECONFIG=$dir/admin.kubeconfig" >"$dir/env"

# --- etcd ---------------------------------------------------------------------------------------------------------------------
# Single member, loopback only, tuned for tests: rare snapshots, a large quota, no etcd-side auto-compaction (the
# apiserver compacts by itself). etcd 3.4 has no --unsafe-no-fsync; the RAM-backed data folder serves instead.
start etcd etcd \
  --name default \
  --data-dir "$etcd_data" \
  --listen-client-urls "$etcd_url" --advertise-client-urls "$etcd_url" \
  --listen-peer-urls "$etcd_peer_url" --initial-advertise-peer-urls "$etcd_peer_url" \
  --initial-cluster "default=$etcd_peer_url" --initial-cluster-state new \
  --snapshot-count 1000000 \
  --quota-backend-bytes $((8 * 1024 * 1024 * 1024)) \
  --auto-compaction-retention 0 \
  --logger zap --log-outputs stderr
wait_for "etcd" 30 curl -sf "$etcd_url/health"

# --- kube-apiserver -------------------------------------------------------------------------------------------------------------
# The `kubernetes` Service gets ClusterIP 10.0.0.1, but no Endpoints: they may not point at loopback, so the endpoint
# reconciler is off (it would only log errors). Nothing in this cluster runs in pods, so nothing needs them.
issuer=https://kubernetes.default.svc.cluster.local
# ConfigMaps are served without the watch cache, straight from etcd, so tests can force "410 Gone" with an etcd
# compaction; every other resource keeps the cache (which is what sends watch bookmarks).
watch_cache_sizes=configmaps#0
audit_flags=()
if $audit; then
  cat >"$dir/audit-policy.yaml" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    userGroups: ["system:serviceaccounts"]
  - level: None
EOF
  audit_flags=(--audit-policy-file "$dir/audit-policy.yaml" --audit-log-path "$logs/audit.log"
    --audit-log-format json --audit-log-mode blocking)
fi
start kube-apiserver "$bin_dir/kube-apiserver" \
  "${audit_flags[@]}" \
  --etcd-servers "$etcd_url" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
  --secure-port "$api_port" --insecure-port 0 \
  --cert-dir "$pki" \
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --client-ca-file "$pki/ca.crt" \
  --service-account-key-file "$pki/service-account.pub" \
  --service-account-signing-key-file "$pki/service-account.key" \
  --service-account-issuer "$issuer" \
  --api-audiences "$issuer" \
  --authorization-mode RBAC \
  --service-cluster-ip-range "$service_cidr" \
  --allow-privileged=true \
  --endpoint-reconciler-type none \
  --watch-cache-sizes "$watch_cache_sizes" \
  --profiling=false
curl_admin=(curl -sf --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key")
wait_for "kube-apiserver /readyz" 120 "${curl_admin[@]}" "$server/readyz"

# --- kube-controller-manager ----------------------------------------------------------------------------------------------------
# Started once the apiserver is ready (1.20 gives up if the apiserver is not healthy within 10 s). Each controller
# uses its own service account (e.g. system:serviceaccount:kube-system:replicaset-controller). No serving port.
start kube-controller-manager "$bin_dir/kube-controller-manager" \
  --kubeconfig "$dir/controller-manager.kubeconfig" \
  --authentication-kubeconfig "$dir/controller-manager.kubeconfig" \
  --authorization-kubeconfig "$dir/controller-manager.kubeconfig" \
  --use-service-account-credentials=true \
  --service-account-private-key-file "$pki/service-account.key" \
  --root-ca-file "$pki/ca.crt" \
  --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
  --leader-elect=false \
  --port 0 --secure-port 0 \
  --controllers '*' \
  --profiling=false
# The service-account and token controllers running means pods can be admitted in namespace default.
default_sa_has_token() {
  "${curl_admin[@]}" "$server/api/v1/namespaces/default/serviceaccounts/default" | grep -q '"secrets"'
}
wait_for "the default ServiceAccount (kube-controller-manager)" 120 default_sa_has_token

elapsed_ms=$(((${EPOCHREALTIME/./} - ${started_at/./}) / 1000))
log "ready after $((elapsed_ms / 1000)).$(printf '%03d' $((elapsed_ms % 1000)))s (etcd $etcd_url, logs in $logs)"
echo "READY kubeconfig=$dir/admin.kubeconfig server=$server etcd=$etcd_url dir=$dir" >&3

# --- run until told to stop, the parent dies, or a server exits -------------------------------------------------------------------
while true; do
  check_processes
  # `wait` on a background sleep returns at once when a trapped signal arrives.
  sleep 1 3>&- &
  wait $! || true
done

#!/usr/bin/env bash
# The injector's webhook benchmark (issue 5), printed as Markdown for BENCHMARKS.md: the real webhook
# (InjectorWebhook, release build) and nginx answering a static AdmissionReview of the same size, each pinned to
# core 0, under wrk on core 1, over HTTPS with the same RSA certificate:
#   - kept-alive connections (1 and 32), reviews/s, p50/p99, server CPU per review;
#   - a new TLS connection per review (Connection: close), reviews/s;
#   - the same with h2load over HTTP/1.1 (one and 32 connections), a second load generator;
#   - HTTP/2 with h2load (one connection, 32 connections, 32 streams on one connection), which the webhook does not
#     offer: Hummingbird's HTTP/2 floor next to nginx's, the measurement behind serving HTTP/1.1 only;
#   - the webhook's resident memory idle and under load.
set -euo pipefail
cd "$(dirname "$0")/../.."

source scripts/lib/apt.sh
apt_install_missing wrk nginx openssl curl nghttp2-client

swift build -c release --product InjectorBenchmark 2>&1 | grep -E "error" && exit 1
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d)
chmod 755 "$work"  # nginx's worker (not root) reads the static answer from here
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=dapr-sidecar-injector.dapr-system.svc" \
  -addext "subjectAltName=IP:127.0.0.1,DNS:dapr-sidecar-injector.dapr-system.svc" \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
"$bin/InjectorBenchmark" review "$work/review.json"
"$bin/InjectorBenchmark" response "$work/review.json" "$work/response.json"
cp "$work/response.json" "$work/mutate"
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local file = io.open("$work/review.json", "rb")
wrk.body = file:read("*a")
file:close()
LUA
cp "$work/post.lua" "$work/post-close.lua"
echo 'wrk.headers["Connection"] = "close"' >>"$work/post-close.lua"

mkdir -p "$work/nginx"
cat >"$work/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log error;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx;
  proxy_temp_path $work/nginx;
  fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx;
  scgi_temp_path $work/nginx;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:NGINX_PORT ssl http2;
    ssl_certificate $work/cert.pem;
    ssl_certificate_key $work/key.pem;
    ssl_protocols TLSv1.3;
    client_max_body_size 1m;
    # A POST to a static file is 405 (\$work/mutate is a copy of the answer; without it the POST would be a 404);
    # turn the 405 into the static answer.
    location = /mutate { root $work; error_page 405 =200 /response.json; }
    location = /response.json { root $work; default_type application/json; }
  }
}
CONF

# One wrk run: prints "<requests/s> <p50 ms> <p99 ms> <requests> <server CPU µs per request>".
measure() { # pid port script connections
  local pid=$1 port=$2 script=$3 connections=$4 before after output
  before=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  output=$(taskset -c 1 wrk -t1 -c"$connections" -d10s --latency -s "$script" "https://127.0.0.1:$port/mutate")
  after=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  if grep -q "Non-2xx" <<<"$output"; then echo "wrk got answers other than 200 from port $port" >&2; exit 1; fi
  python3 - "$before" "$after" <<PY
import re, sys
text = """$output"""
def ms(label):
    m = re.search(r"^\s*%s\s+([\d.]+)(us|ms|s)" % label, text, re.M)
    if not m: return float("nan")
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
count = int(re.search(r"(\d+) requests in", text).group(1))
ticks = (float(sys.argv[2]) - float(sys.argv[1])) * 1e6 / 100
print(f"{rate:.0f} {ms('50%'):.2f} {ms('99%'):.2f} {count} {ticks / max(count, 1):.1f}")
PY
}

rss() { awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$1/status"; }

# Every server must answer the review with the webhook's own answer (status 200, the same bytes) before it is
# measured: a baseline answering anything shorter would flatter itself.
check_answer() { # port curl-version-flags...
  local port=$1 version
  shift
  for version in "$@"; do
    curl -sk "$version" -o "$work/answer.json" -w '%{http_code}' -H 'Content-Type: application/json' \
      --data-binary @"$work/review.json" "https://127.0.0.1:$port/mutate" | grep -qx 200 \
      && cmp -s "$work/answer.json" "$work/response.json" \
      || { echo "port $port did not answer the review with the webhook's answer ($version)" >&2; exit 1; }
  done
}

# One h2load run for 10 s over HTTP/1.1 (h1) or HTTP/2 (h2): prints "<requests/s> <p50 ms> <p99 ms> <requests>
# <server CPU µs per request>". Every review must succeed with status 200.
measure_h2load() { # pid port protocol connections streams-per-connection
  local pid=$1 port=$2 protocol=$3 connections=$4 streams=$5 before after output flags=() expected=h2
  [ "$protocol" = h1 ] && flags=(--h1) && expected=http/1.1
  rm -f "$work/h2load.log"  # h2load appends to its log
  before=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  output=$(taskset -c 1 h2load "${flags[@]}" -D 10 -c "$connections" -m "$streams" -d "$work/review.json" \
    -H 'content-type: application/json' --log-file "$work/h2load.log" "https://127.0.0.1:$port/mutate")
  after=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  grep -qx "Application protocol: $expected" <<<"$output" || { echo "h2load did not speak $expected" >&2; exit 1; }
  python3 - "$before" "$after" "$work/h2load.log" <<PY
import re, sys
text = """$output"""
rate = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", text).group(1))
lines = [line.split() for line in open(sys.argv[3]) if line.strip()]
failed = [line for line in lines if line[1] != "200"]
if failed: sys.exit(f"{len(failed)} of {len(lines)} reviews did not get 200")
times = sorted(int(line[2]) for line in lines)
pick = lambda q: times[min(len(times) - 1, int(q * len(times)))] / 1000
ticks = (float(sys.argv[2]) - float(sys.argv[1])) * 1e6 / 100
print(f"{rate:.0f} {pick(0.5):.2f} {pick(0.99):.2f} {len(times)} {ticks / max(len(times), 1):.1f}")
PY
}
h1_loads=("1 1" "32 1")
h2_loads=("1 1" "32 1" "1 32")
h2load_label() { # protocol connections streams
  if [ "$1" = h1 ]; then echo "h2load, HTTP/1.1, $2 connection(s)"; else echo "h2load, HTTP/2, $2 connection(s) x $3 stream(s)"; fi
}
# Runs each load of a protocol against a server and prints the rows; the rates go to the array named last.
h2load_rows() { # server-label pid port protocol result-array loads...
  local label=$1 pid=$2 port=$3 protocol=$4 load rate p50 p99 count cpu
  local -n rates=$5
  shift 5
  for load in "$@"; do
    read -r rate p50 p99 count cpu < <(measure_h2load "$pid" "$port" "$protocol" $load)
    [ -n "$rate" ] || exit 1
    rates[$load]=$rate
    echo "| $label | $(h2load_label "$protocol" $load) | $rate | $p50 ms | $p99 ms | $cpu µs |"
  done
}

echo "## Injector webhook benchmark, $(date -u +%Y-%m-%d), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
echo
echo "AdmissionReview posted: $(wc -c <"$work/review.json") bytes; answer: $(wc -c <"$work/response.json") bytes."
echo
echo "| server | load | reviews/s | p50 | p99 | server CPU per review |"
echo "|---|---|---|---|---|---|"

port=$((22000 + RANDOM % 2000))  # below the ephemeral range (32768-60999) clients connect from
NIO_SINGLETON_GROUP_LOOP_COUNT=1 taskset -c 0 "$bin/InjectorBenchmark" serve "$port" "$work/cert.pem" "$work/key.pem" &
server_pid=$!
until curl -sk -o /dev/null "https://127.0.0.1:$port/mutate" -d '{}' -H 'Content-Type: application/json'; do sleep 0.1; done
check_answer "$port" --http1.1
# Idle past the first heap check after readiness (5 s; it gives start-up's code pages back), one more request served.
sleep 6
curl -sk -o /dev/null "https://127.0.0.1:$port/mutate" -d '{}' -H 'Content-Type: application/json'
idle=$(rss "$server_pid")
declare -A webhook
for load in 1 32 close; do
  if [ "$load" = close ]; then script="$work/post-close.lua"; c=32; else script="$work/post.lua"; c=$load; fi
  read -r rate p50 p99 count cpu < <(measure "$server_pid" "$port" "$script" "$c")
  [ -n "$rate" ] || exit 1
  webhook[$load]=$rate
  label=$([ "$load" = close ] && echo "a new TLS connection per review (32 clients)" || echo "$load kept-alive connection(s)")
  echo "| injector webhook | $label | $rate | $p50 ms | $p99 ms | $cpu µs |"
  [ "$load" = 32 ] && loaded=$(rss "$server_pid")
done
declare -A webhook_h1
h2load_rows "injector webhook" "$server_pid" "$port" h1 webhook_h1 "${h1_loads[@]}"
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=""

# The floor Hummingbird and TLS set: the same server answering with the static file, reading nothing.
static_port=$((port + 2))
NIO_SINGLETON_GROUP_LOOP_COUNT=1 taskset -c 0 "$bin/InjectorBenchmark" serve-static "$static_port" "$work/cert.pem" \
  "$work/key.pem" "$work/response.json" &
server_pid=$!
until curl -sk -o /dev/null "https://127.0.0.1:$static_port/mutate" -d '{}'; do sleep 0.1; done
check_answer "$static_port" --http1.1
for load in 1 32; do
  read -r rate p50 p99 count cpu < <(measure "$server_pid" "$static_port" "$work/post.lua" "$load")
  [ -n "$rate" ] || exit 1
  echo "| Hummingbird + TLS, static answer | $load kept-alive connection(s) | $rate | $p50 ms | $p99 ms | $cpu µs |"
done
declare -A ignored
h2load_rows "Hummingbird + TLS, static answer" "$server_pid" "$static_port" h1 ignored "${h1_loads[@]}"
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=""
# The same with HTTP/2 offered as well: what serving HTTP/2 would cost before any work.
NIO_SINGLETON_GROUP_LOOP_COUNT=1 taskset -c 0 "$bin/InjectorBenchmark" serve-static "$static_port" "$work/cert.pem" \
  "$work/key.pem" "$work/response.json" h2 &
server_pid=$!
until curl -sk -o /dev/null "https://127.0.0.1:$static_port/mutate" -d '{}'; do sleep 0.1; done
check_answer "$static_port" --http2
h2load_rows "Hummingbird + TLS with HTTP/2, static answer" "$server_pid" "$static_port" h2 ignored "${h2_loads[@]}"
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=""

nginx_port=$((port + 1))
sed -i "s/NGINX_PORT/$nginx_port/" "$work/nginx.conf"
taskset -c 0 nginx -c "$work/nginx.conf" -p "$work/nginx" 2>/dev/null &
server_pid=$!
until curl -sk -o /dev/null "https://127.0.0.1:$nginx_port/mutate" -d '{}'; do sleep 0.1; done
check_answer "$nginx_port" --http1.1 --http2
worker=$(pgrep -P "$server_pid" | head -1)
declare -A static
for load in 1 32 close; do
  if [ "$load" = close ]; then script="$work/post-close.lua"; c=32; else script="$work/post.lua"; c=$load; fi
  read -r rate p50 p99 count cpu < <(measure "$worker" "$nginx_port" "$script" "$c")
  [ -n "$rate" ] || exit 1
  static[$load]=$rate
  label=$([ "$load" = close ] && echo "a new TLS connection per review (32 clients)" || echo "$load kept-alive connection(s)")
  echo "| nginx, static answer | $label | $rate | $p50 ms | $p99 ms | $cpu µs |"
done
declare -A static_h1
h2load_rows "nginx, static answer" "$worker" "$nginx_port" h1 static_h1 "${h1_loads[@]}"
h2load_rows "nginx, static answer" "$worker" "$nginx_port" h2 ignored "${h2_loads[@]}"
echo
for load in 1 32 close; do
  python3 -c "print('webhook / nginx, $load: %.3fx' % (${webhook[$load]} / ${static[$load]}))"
  echo
done
for load in "${h1_loads[@]}"; do
  python3 -c "print('webhook / nginx, $(h2load_label h1 $load): %.3fx' % (${webhook_h1[$load]} / ${static_h1[$load]}))"
  echo
done
echo "Webhook resident memory: $idle MiB idle, $loaded MiB after 10 s at 32 connections."
echo
echo "Without the network, on one core (\`InjectorBenchmark time\`):"
echo
taskset -c 1 "$bin/InjectorBenchmark" time "$work/review.json" | sed 's/^/- /'


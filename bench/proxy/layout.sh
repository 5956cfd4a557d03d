#!/usr/bin/env bash
# Item 8 design measurement: fulcrum's runtime layout at NBTHREAD threads (default 2):
# one single-threaded runtime per core with its own SO_REUSEPORT socket (default, "percore")
# against one tokio multi-thread runtime with a shared listener ("shared",
# FULCRUM_RUNTIME=shared). nginx-light backend, wrk client, alternating runs, medians.
#
#   bench/proxy/layout.sh        # RUNS=3 DURATION=8 CONNS=100 NBTHREAD=2
set -euo pipefail
RUNS=${RUNS:-3}; DURATION=${DURATION:-8}; CONNS=${CONNS:-100}; NBTHREAD=${NBTHREAD:-2}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/fulcrum-layout-XXXXXX); chmod 755 "$WORK"
NGINX_PORT=${NGINX_PORT:-19380}; HTTP_PORT=${HTTP_PORT:-19381}
cleanup() { [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
for c in nginx wrk; do command -v $c >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk >/dev/null; break; }; done
if [ -z "${FULCRUM:-}" ]; then (cd "$ROOT" && cargo build --release -q -p fulcrum); FULCRUM="${CARGO_TARGET_DIR:-$ROOT/target}/release/fulcrum"; fi
cat > "$WORK/nginx.conf" <<NGX
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 16384; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:$NGINX_PORT reuseport backlog=4096; location = /small { return 200 "hello\n"; } } }
NGX
nginx -c "$WORK/nginx.conf" -p "$WORK"
cat > "$WORK/lb.cfg" <<CFG
global
  nbthread $NBTHREAD
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend web
  bind 127.0.0.1:$HTTP_PORT
  default_backend app
backend app
  server n1 127.0.0.1:$NGINX_PORT
CFG
one() { # $1 layout, $2 "close" (a new connection per request; wrk drops `-H Connection:close`) → req/s
  local extra=(); [ "$2" = close ] && extra=(-H "Connection: close")
  FULCRUM_RUNTIME=$1 "$FULCRUM" run -f "$WORK/lb.cfg" >/dev/null 2>&1 &
  local p=$!; sleep 0.5
  wrk -t2 -c"$CONNS" -d"${DURATION}s" "${extra[@]}" "http://127.0.0.1:$HTTP_PORT/small" 2>&1 | awk '/Requests\/sec/ {print $2}'
  kill $p; wait $p 2>/dev/null || true
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
printf "%-22s %14s %14s %8s\n" "scenario ($NBTHREAD threads)" "percore req/s" "shared req/s" "ratio"
for sc in "keep-alive|" "new conn per request|close"; do
  name=${sc%%|*}; args=${sc#*|}; a=(); b=()
  for _ in $(seq 1 "$RUNS"); do a+=("$(one percore "$args")"); b+=("$(one shared "$args")"); done
  ma=$(printf '%s\n' "${a[@]}" | median); mb=$(printf '%s\n' "${b[@]}" | median)
  awk -v n="$name" -v a="$ma" -v b="$mb" 'BEGIN { printf "%-22s %14.0f %14.0f %8.2f\n", n, a, b, (b>0?a/b:0) }'
done

#!/usr/bin/env bash
# Memory per idle TCP-mode client connection: a `mode tcp` proxy (`nbthread 1`) in front of
# nginx; bench/proxy/idle.py opens N connections through it (one small HTTP request each,
# answered, then held idle: each holds a client and a server connection) and the proxy's
# anonymous RSS growth (RssAnon, kB, read after 2 s of quiet) divided by N is the figure.
#
#   FULCRUM=/path/to/fulcrum bench/proxy/idle_tcp.sh        # N=3000 CONC=1
#   HAPROXY=1 FULCRUM=... bench/proxy/idle_tcp.sh           # haproxy 2.6 on the same config after
#   NGINX_PORT=... TCP_PORT=...                            # ports (defaults 19680, 19681)
set -euo pipefail
N=${N:-3000}; CONC=${CONC:-1}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FULCRUM=${FULCRUM:-"${CARGO_TARGET_DIR:-$ROOT/target}/release/fulcrum"}
NGINX_PORT=${NGINX_PORT:-19680}; TCP_PORT=${TCP_PORT:-19681}
WORK=$(mktemp -d /tmp/fulcrum-idletcp-XXXXXX); chmod 755 "$WORK"
PID=""
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
ulimit -n $((2 * N + 3000)) # haproxy wants 2 * maxconn and some
cat > "$WORK/nginx.conf" <<NGX
worker_processes 1;
worker_rlimit_nofile $((2 * N + 1000));
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections $((N + 1000)); }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 300s;
  server { listen 127.0.0.1:$NGINX_PORT; location / { return 200 "hello from nginx\n"; } } }
NGX
nginx -c "$WORK/nginx.conf" -p "$WORK"
cat > "$WORK/lb.cfg" <<CFG
global
  nbthread 1
  maxconn $((N + 1000))
defaults
  timeout connect 5s
  timeout client 300s
  timeout server 300s
listen tcp
  mode tcp
  bind 127.0.0.1:$TCP_PORT
  server n1 127.0.0.1:$NGINX_PORT
CFG
printf "| %-8s | %6s | %12s | %12s | %14s |\n" proxy opened "RssAnon before" "RssAnon after" "bytes per conn"
printf "|---|---:|---:|---:|---:|\n"
proxies=(fulcrum); [ -n "${HAPROXY:-}" ] && proxies+=(haproxy)
for who in "${proxies[@]}"; do
  if [ "$who" = haproxy ]; then haproxy -db -f "$WORK/lb.cfg" >/dev/null 2>&1 &
  else "$FULCRUM" run -f "$WORK/lb.cfg" >/dev/null 2>&1 &
  fi
  PID=$!
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$TCP_PORT/" && break; sleep 0.05; done
  before=$(awk '/RssAnon/ {print $2}' "/proc/$PID/status")
  read -r opened _ _ after < <(python3 "$ROOT/bench/proxy/idle.py" 127.0.0.1 "$TCP_PORT" "$N" "$PID" "$CONC")
  awk -v w="$who" -v o="$opened" -v b="$before" -v a="$after" \
    'BEGIN { printf "| %-8s | %6d | %12d | %12d | %14.0f |\n", w, o, b, a, (a - b) * 1024 / o }'
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
done

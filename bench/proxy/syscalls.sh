#!/usr/bin/env bash
# System calls per request of fulcrum (strace -c on its pid, divided by wrk's request count),
# per scenario: small, 1 KB and 100 KB keep-alive, new connection per request (HTTP mode and
# TCP mode), TCP mode keep-alive. Counts, not timings (strace slows the proxy down; the calls
# it makes per request do not change).
#
#   FULCRUM=/path/to/fulcrum bench/proxy/syscalls.sh     # DURATION=2 CONNS=50
#   HAPROXY=1 ONLY="new conn" bench/proxy/syscalls.sh    # haproxy 2.6 on the same config after
set -euo pipefail
DURATION=${DURATION:-2}; CONNS=${CONNS:-50}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FULCRUM=${FULCRUM:-"${CARGO_TARGET_DIR:-$ROOT/target}/release/fulcrum"}
WORK=$(mktemp -d /tmp/fulcrum-sys-XXXXXX); chmod 755 "$WORK"
NGINX_PORT=${NGINX_PORT:-19580}; HTTP_PORT=${HTTP_PORT:-19581}; TCP_PORT=${TCP_PORT:-19582}
cleanup() { [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
need=(); for c in nginx:nginx-light wrk:wrk strace:strace; do command -v "${c%%:*}" >/dev/null || need+=("${c##*:}"); done
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; fi
mkdir -p "$WORK/www"; head -c 1024 /dev/zero | tr '\0' x > "$WORK/www/1k"
head -c 102400 /dev/zero | tr '\0' x > "$WORK/www/big"
cat > "$WORK/nginx.conf" <<NGX
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:$NGINX_PORT; root $WORK/www;
    location = /small { return 200 "hello from nginx\n"; } location = /1k { } location = /big { } } }
NGX
nginx -c "$WORK/nginx.conf" -p "$WORK"
cat > "$WORK/lb.cfg" <<CFG
global
  nbthread 1
defaults
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend web
  mode http
  bind 127.0.0.1:$HTTP_PORT
  default_backend app
backend app
  mode http
  server n1 127.0.0.1:$NGINX_PORT
listen tcp
  mode tcp
  bind 127.0.0.1:$TCP_PORT
  server n1 127.0.0.1:$NGINX_PORT
CFG
start() { # $1 fulcrum|haproxy
  if [ "$1" = haproxy ]; then haproxy -db -f "$WORK/lb.cfg" >/dev/null 2>&1 &
  else "$FULCRUM" run -f "$WORK/lb.cfg" >/dev/null 2>&1 &
  fi
  PID=$!
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$HTTP_PORT/small" && break; sleep 0.05; done
}
one() { # $1 name, $2 url, $3 "close": a new connection per request (wrk drops a header
  # written without a space after the colon: `-H Connection:close` sent nothing, so this row
  # measured keep-alive and saw no accept)
  case "$1" in *${ONLY:-}*) ;; *) return 0 ;; esac
  local extra=(); [ "$3" = close ] && extra=(-H "Connection: close")
  strace -c -f -p "$PID" -o "$WORK/strace.out" 2>/dev/null & local sp=$!
  sleep 0.3
  local n; n=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" "${extra[@]}" "$2" 2>&1 | awk '/requests in/ {print $1}')
  kill -INT "$sp"; wait "$sp" 2>/dev/null || true
  [ -n "${KEEP_STRACE:-}" ] && cp "$WORK/strace.out" "$KEEP_STRACE.$WHO.$(echo "$1" | tr -c a-z0-9 _)"
  awk -v n="$n" -v name="$WHO: $1" '$NF ~ /^[a-z_0-9]+$/ && $1 ~ /^[0-9.]+$/ && $NF != "total" {
      c[$NF]=$4; t+=$4 }
    END { s=""; for (k in c) if (c[k]/n >= 0.05) s=s sprintf("%s %.2f  ", k, c[k]/n);
          printf "%-34s %10.2f %s\n", name, t/n, s }' "$WORK/strace.out"
}
printf "%-34s %10s %s\n" scenario "calls/req" "top calls per request"
proxies=(fulcrum); [ -n "${HAPROXY:-}" ] && proxies+=(haproxy)
for WHO in "${proxies[@]}"; do
  start "$WHO"
  one "small, keep-alive" "http://127.0.0.1:$HTTP_PORT/small" ""
  one "1 KB, keep-alive" "http://127.0.0.1:$HTTP_PORT/1k" ""
  one "100 KB, keep-alive" "http://127.0.0.1:$HTTP_PORT/big" ""
  one "new conn per request" "http://127.0.0.1:$HTTP_PORT/small" "close"
  one "TCP mode, new conn per request" "http://127.0.0.1:$TCP_PORT/small" "close"
  one "TCP mode" "http://127.0.0.1:$TCP_PORT/small" ""
  kill "$PID"; wait "$PID" 2>/dev/null || true
done

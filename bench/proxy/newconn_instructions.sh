#!/usr/bin/env bash
# User-space instructions and heap allocations per new connection (one small request, then
# the close), in `mode http` and `mode tcp`, counted by callgrind: deterministic figures that a
# loaded machine does not move (issue 20's "new connection per request" and "TCP mode").
#
#   bench/proxy/newconn_instructions.sh FULCRUM_BINARY [FULCRUM_BINARY...]
#   HAPROXY=1 bench/proxy/newconn_instructions.sh BIN    # haproxy 2.6 on the same config too
#   OUT=/tmp/cg bench/proxy/newconn_instructions.sh BIN  # keep the dumps for callgrind_annotate
#
# Each proxy runs under `valgrind --tool=callgrind` (nbthread 1) in front of nginx; after $WARM
# connections the counters are zeroed, $N more connections are made one after the other by a
# python3 client (`Connection: close`, read to the end), and the dump's totals are divided by
# $N: instructions (Ir) and calls to malloc/calloc/realloc (the whole process, user space).
# (A block fulcrum's allocator takes back from its own cache, `alloc_cache`, calls none.)
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 FULCRUM_BINARY..." >&2; exit 2; }
N=${N:-2000}
WARM=${WARM:-200}
NGINX_PORT=${NGINX_PORT:-19680}
HTTP_PORT=${HTTP_PORT:-19681}
TCP_PORT=${TCP_PORT:-19682}
WORK=$(mktemp -d /tmp/fulcrum-newconn-XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
for t in valgrind callgrind_control nginx python3 curl; do
  command -v "$t" >/dev/null || { echo "$t is needed" >&2; exit 1; }
done

cat > "$WORK/nginx.conf" <<NGX
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:$NGINX_PORT reuseport backlog=4096;
    location = /small { return 200 "hello from nginx\n"; } } }
NGX
nginx -c "$WORK/nginx.conf" -p "$WORK"
cat > "$WORK/lb.cfg" <<CFG
global
  nbthread 1
  maxconn 9000
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
# N connections one after the other, each one request with `Connection: close`, read to EOF.
cat > "$WORK/conns.py" <<'PY'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
req = b"GET /small HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n"
ok = 0
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(req)
    got = b""
    while True:
        d = s.recv(4096)
        if not d:
            break
        got += d
    s.close()
    ok += got.startswith(b"HTTP/1.1 200")
if ok != n:
    sys.exit(f"{n - ok} of {n} connections were not answered 200")
PY

one() { # $1 binary or "haproxy", $2 port → "instructions allocations" per connection
  local cmd pid out dump
  if [ "$1" = haproxy ]; then cmd=(haproxy -db -f "$WORK/lb.cfg"); else cmd=("$1" run -f "$WORK/lb.cfg"); fi
  out="$WORK/cg.$$.$RANDOM"
  valgrind --tool=callgrind --compress-strings=no --callgrind-out-file="$out" "${cmd[@]}" >"$WORK/proxy.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 600); do
    curl -s -o /dev/null "http://127.0.0.1:$HTTP_PORT/small" 2>/dev/null && break
    sleep 0.1
  done
  python3 "$WORK/conns.py" "$2" "$WARM"
  callgrind_control -z "$pid" >/dev/null 2>&1
  python3 "$WORK/conns.py" "$2" "$N"
  callgrind_control -d "$pid" >/dev/null 2>&1
  kill "$pid"
  for _ in $(seq 1 600); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
  dump=$(ls -t "$out".* | head -1)
  if [ -n "${OUT:-}" ]; then
    mkdir -p "$OUT"
    cp "$dump" "$OUT/$(basename "$1")-$2.callgrind"
  fi
  # Calls to the allocator: `cfn=` lines naming malloc/calloc/realloc/posix_memalign (names
  # written out: --compress-strings=no, a dump after a zeroing names no id), then `calls=`.
  awk -v n="$N" '
    /^cfn=/ { alloc = ($0 ~ /^cfn=(malloc|calloc|realloc|posix_memalign|aligned_alloc)$/) }
    /^calls=/ { if (alloc) { split($0, a, /[= ]/); calls += a[2] } alloc = 0 }
    /^totals:/ { ir = $2 }
    END { printf "%.0f %.2f\n", ir / n, calls / n }' "$dump"
}

bins=("$@")
[ -n "${HAPROXY:-}" ] && bins+=(haproxy)
echo "instructions and allocations per new connection ($N connections, one at a time, after $WARM); load $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-50s %14s %10s %14s %10s\n" binary "http Ir/conn" "allocs" "tcp Ir/conn" "allocs"
for b in "${bins[@]}"; do
  read -r hi ha < <(one "$b" "$HTTP_PORT")
  read -r ti ta < <(one "$b" "$TCP_PORT")
  printf "%-50s %14s %10s %14s %10s\n" "$b" "$hi" "$ha" "$ti" "$ta"
done

#!/usr/bin/env bash
# User-space instructions and allocations per request of an HTTP/2 proxy (bench/h2/run.sh's
# configuration: `bind ... proto h2`, nbthread 1), counted by callgrind: deterministic, so a
# change of a few hundred instructions per request shows on a loaded machine where the CPU
# time of run.sh cannot.
#
#   bench/h2/instructions.sh FULCRUM_BINARY              # h2 → h2 (SERVER_PROTO=h2, default)
#   SERVER_PROTO=h1 bench/h2/instructions.sh BIN         # h2 → h1
#   CLIENT=h1 bench/h2/instructions.sh BIN               # h1 → h2 (h2load --h1, one request at a time per connection)
#   HAPROXY=1 bench/h2/instructions.sh BIN               # and haproxy on the same config
#   FLOOR=1 bench/h2/instructions.sh BIN                 # and the floor (bench/h2/floor: the h2
#                                                        # crate and tokio, one stream in, one
#                                                        # out; built here, or FLOOR=/path to
#                                                        # its binary): h2 → h2 only
#   OUT=/tmp/cg bench/h2/instructions.sh BIN             # keep the dumps for callgrind_annotate
#   TLS=1 SERVER_PROTO=return bench/h2/instructions.sh BIN # bench/tls/run.sh's h2-tls row: h2
#                                                        # over TLS (ECDSA P-256, ALPN h2), the
#                                                        # answer made by `http-request return`
#   ONLY="fulcrum floor" bench/h2/instructions.sh BIN    # these proxies only (default: fulcrum,
#                                                        # and those HAPROXY/FLOOR ask for)
#
# Each proxy runs under `valgrind --tool=callgrind`; after $WARM requests ($CONNS connections,
# $STREAMS streams each) the counters are zeroed, $N more requests are sent, and the dump's
# total divided by $N is the figure, with the calls to malloc/calloc/realloc per request.
set -euo pipefail

F=${1:?fulcrum binary}
N=${N:-20000}
WARM=${WARM:-5000}
CONNS=${CONNS:-10}
STREAMS=${STREAMS:-100}
SERVER_PROTO=${SERVER_PROTO:-h2}
CLIENT=${CLIENT:-h2}
NGINX_PORT=${NGINX_PORT:-19390}
H2_PORT=${H2_PORT:-19391}
WORK=$(mktemp -d /tmp/fulcrum-h2-instr-XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
for t in valgrind callgrind_control h2load nginx curl openssl; do
  command -v "$t" >/dev/null || { echo "$t is needed" >&2; exit 1; }
done
case "$SERVER_PROTO" in
  h1) NGINX_LISTEN=""; SERVER_OPTS="" ;;
  h2) NGINX_LISTEN=" http2"; SERVER_OPTS=" proto h2" ;;
  return) NGINX_LISTEN=""; SERVER_OPTS="" ;; # nginx started but never used
  *) echo "SERVER_PROTO must be h1, h2 or return" >&2; exit 2 ;;
esac
RULES=""
[ "$SERVER_PROTO" = return ] && RULES="  http-request return status 200 content-type text/plain string ok"
case "$CLIENT" in
  h1) BIND_OPTS=""; H2LOAD=(h2load --h1); CURL=(curl -s); STREAMS=1 ;; # no pipelining
  h2) BIND_OPTS=" proto h2"; H2LOAD=(h2load); CURL=(curl -s --http2-prior-knowledge) ;;
  *) echo "CLIENT must be h1 or h2" >&2; exit 2 ;;
esac
SCHEME=http
if [ -n "${TLS:-}" ]; then
  [ "$CLIENT" = h2 ] || { echo "TLS is h2 only" >&2; exit 2; }
  openssl req -x509 -nodes -days 2 -subj /CN=bench.test -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -keyout "$WORK/ec.key" -out "$WORK/ec.crt" 2>/dev/null
  cat "$WORK/ec.crt" "$WORK/ec.key" > "$WORK/ec.pem"
  BIND_OPTS=" ssl crt $WORK/ec.pem alpn h2,http/1.1"
  CURL=(curl -sk --http2)
  SCHEME=https
fi
if [ -n "${FLOOR:-}" ]; then
  [ "$SERVER_PROTO" = h2 ] && [ "$CLIENT" = h2 ] && [ -z "${TLS:-}" ] || { echo "FLOOR is h2c → h2 only" >&2; exit 2; }
  if [ "$FLOOR" = 1 ]; then
    ROOT=$(cd "$(dirname "$0")/../.." && pwd)
    FLOOR_TARGET=${FLOOR_TARGET:-${CARGO_TARGET_DIR:-$ROOT/target}-floor}
    (cd "$ROOT/bench/h2/floor" && CARGO_TARGET_DIR="$FLOOR_TARGET" cargo build --release -q)
    FLOOR="$FLOOR_TARGET/release/h2-floor"
  fi
fi

cat > "$WORK/nginx.conf" <<NGX
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 16384; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NGINX_PORT$NGINX_LISTEN reuseport backlog=4096;
    http2_max_concurrent_streams 1000;
    location = /small { return 200 "hello from nginx\n"; }
  }
}
NGX
nginx -c "$WORK/nginx.conf" -p "$WORK"

cat > "$WORK/lb.cfg" <<CFG
global
  nbthread 1
  tune.h2.max-concurrent-streams $STREAMS
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend web
  bind 127.0.0.1:$H2_PORT$BIND_OPTS
$RULES
  default_backend app
backend app
  server n1 127.0.0.1:$NGINX_PORT$SERVER_OPTS
CFG

URL="$SCHEME://127.0.0.1:$H2_PORT/small"
# The calls to the allocator's entry points in a callgrind dump (names are compressed: an id
# is named once, at its first use).
mallocs() {
  awk '
    function named(s,   id, rest) {
      if (match(s, /^\([0-9]+\)/)) {
        id = substr(s, 2, RLENGTH - 2); rest = substr(s, RLENGTH + 2)
        if (rest != "") name[id] = rest
        return name[id]
      }
      return s
    }
    /^cfn=/ { callee = named(substr($0, 5)); next }
    /^fn=/ { named(substr($0, 4)); next }
    /^calls=/ {
      if (callee == "malloc" || callee == "calloc" || callee == "realloc") {
        split(substr($0, 7), c, " "); n += c[1]
      }
    }
    END { print n + 0 }' "$1"
}
one() { # $1 fulcrum|haproxy|floor → "instructions-per-request mallocs-per-request"
  local cmd pid out
  case "$1" in
    fulcrum) cmd=("$F" run -f "$WORK/lb.cfg") ;;
    haproxy) cmd=(haproxy -db -f "$WORK/lb.cfg") ;;
    floor) cmd=("$FLOOR" "127.0.0.1:$H2_PORT" "127.0.0.1:$NGINX_PORT" "$STREAMS") ;;
  esac
  out="$WORK/cg-$1"
  valgrind --tool=callgrind --callgrind-out-file="$out" "${cmd[@]}" >"$WORK/$1.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 600); do
    "${CURL[@]}" -o /dev/null "$URL" 2>/dev/null && break
    sleep 0.1
  done
  "${H2LOAD[@]}" -c "$CONNS" -m "$STREAMS" -n "$WARM" "$URL" >/dev/null
  callgrind_control -z "$pid" >/dev/null 2>&1
  # Every request answered ("done", none errored): `h2load --h1` counts the answers of an
  # HTTP/2 server relayed to it as failed (their status line has an empty reason), for
  # haproxy and fulcrum alike.
  "${H2LOAD[@]}" -c "$CONNS" -m "$STREAMS" -n "$N" "$URL" | grep -q "$N done, .* 0 errored, 0 timeout" || {
    echo "$1: some requests failed" >&2
    exit 1
  }
  callgrind_control -d "$pid" >/dev/null 2>&1
  # The dump is taken: no need for a graceful stop (slow under valgrind), and none may be
  # left listening (SO_REUSEPORT) to take the next run's requests.
  kill -9 "$pid"
  for _ in $(seq 1 600); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
  local dump
  dump=$(ls -t "$out".* | grep -v '\.log$' | head -1)
  [ -n "${OUT:-}" ] && mkdir -p "$OUT" && cp "$dump" "$OUT/$1-$CLIENT-$SERVER_PROTO.callgrind"
  awk -v n="$N" '/^totals:/ { printf "%.0f ", $2 / n }' "$dump"
  mallocs "$dump" | awk -v n="$N" '{ printf "%.2f\n", $1 / n }'
}

proxies=(fulcrum)
[ -n "${HAPROXY:-}" ] && proxies+=(haproxy)
[ -n "${FLOOR:-}" ] && proxies+=(floor)
[ -n "${ONLY:-}" ] && read -r -a proxies <<<"$ONLY"
echo "| $CLIENT${TLS:+ over TLS} → $SERVER_PROTO ($N requests, $CONNS conns x $STREAMS streams) | instructions/req | mallocs/req |"
echo "|---|---:|---:|"
for p in "${proxies[@]}"; do
  read -r ir ma <<<"$(one "$p")"
  echo "| $p | $ir | $ma |"
done

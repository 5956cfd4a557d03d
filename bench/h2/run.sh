#!/usr/bin/env bash
# HTTP/2 on the client side (h2c, `bind ... proto h2`): fulcrum vs HAProxy on the same config,
# nginx-light as the HTTP/1 backend, h2load as the client.
#
#   bench/h2/run.sh                 # RUNS=5 DURATION=3 CONNS=10 STREAMS=100 by default
#   SERVER_PROTO=h2 bench/h2/run.sh # HTTP/2 to the server too: nginx `listen ... http2`
#                                   # (h2c), `server ... proto h2` (multiplexed connections)
#   PATHS=/small bench/h2/run.sh    # only the small answer (default: "/small /big")
#   TLS=1 bench/h2/run.sh           # HTTP/2 over TLS on the client side (`bind ... ssl crt
#                                   # FILE alpn h2,http/1.1`, an ECDSA P-256 certificate made
#                                   # here by openssl; h2load negotiates h2 by ALPN)
#   FULCRUM_BEFORE=/path/to/old/fulcrum bench/h2/run.sh
#                                   # a third proxy in every round (an older build): also
#                                   # prints the medians of its per-round ratios to fulcrum
#   SERVER_PROTO=h2 FLOOR=1 bench/h2/run.sh
#                                   # and the floor in every round: a minimal proxy on the
#                                   # same `h2` crate and tokio (bench/h2/floor: one stream in,
#                                   # one out, no rules, no logs; built here, or FLOOR=/path
#                                   # to its binary): what fulcrum's code costs above it
#
# The proxy is pinned to CPU $PROXY_CPU (default 0), h2load and nginx to CPU $LOAD_CPU
# (default 1). Rounds alternate (HAProxy then fulcrum, RUNS times), each on a freshly started
# proxy with `nbthread 1`; prints each round, the medians of requests/s and the median of the
# per-round ratios fulcrum/HAProxy, and the proxy's CPU time per request (less sensitive to a
# shared machine than requests/s). Scenarios: a small answer and a 100 KB answer, CONNS
# connections with STREAMS concurrent streams each.
set -euo pipefail

RUNS=${RUNS:-5}
DURATION=${DURATION:-3}
CONNS=${CONNS:-10}
STREAMS=${STREAMS:-100}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
PIN_PROXY="taskset -c $PROXY_CPU"
PIN_LOAD="taskset -c $LOAD_CPU"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/fulcrum-bench-h2-XXXXXX)
chmod 755 "$WORK"
NGINX_PORT=${NGINX_PORT:-19180}
H2_PORT=${H2_PORT:-19181}
SERVER_PROTO=${SERVER_PROTO:-h1}
case "$SERVER_PROTO" in
  h1) NGINX_LISTEN=""; SERVER_OPTS="" ;;
  h2) NGINX_LISTEN=" http2"; SERVER_OPTS=" proto h2" ;;
  *) echo "SERVER_PROTO must be h1 or h2" >&2; exit 2 ;;
esac
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

need=()
command -v haproxy >/dev/null || need+=(haproxy)
command -v nginx >/dev/null || need+=(nginx-light)
command -v h2load >/dev/null || need+=(nghttp2-client)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
TLS=${TLS:-0}
if [ "$TLS" = 1 ]; then
  BIND_OPTS="ssl crt $WORK/site.pem alpn h2,http/1.1"; SCHEME=https; CURL_H2=--http2
else
  BIND_OPTS="proto h2"; SCHEME=http; CURL_H2=--http2-prior-knowledge
fi
if [ -n "${FLOOR:-}" ]; then
  [ "$TLS" = 1 ] && { echo "FLOOR speaks h2c only: not with TLS=1" >&2; exit 2; }
  [ "$SERVER_PROTO" = h2 ] || { echo "FLOOR needs SERVER_PROTO=h2 (it speaks HTTP/2 to nginx)" >&2; exit 2; }
  if [ "$FLOOR" = 1 ]; then
    echo "building the floor (release)" >&2
    FLOOR_TARGET=${FLOOR_TARGET:-${CARGO_TARGET_DIR:-$ROOT/target}-floor}
    (cd "$ROOT/bench/h2/floor" && CARGO_TARGET_DIR="$FLOOR_TARGET" cargo build --release -q)
    FLOOR="$FLOOR_TARGET/release/h2-floor"
  fi
fi
echo "pinning: proxy on CPU $PROXY_CPU; h2load and nginx on CPU $LOAD_CPU ($(nproc) CPUs)" >&2

if [ -z "${FULCRUM:-}" ]; then
  echo "building fulcrum (release)" >&2
  (cd "$ROOT" && cargo build --release -q -p fulcrum)
  FULCRUM="${CARGO_TARGET_DIR:-$ROOT/target}/release/fulcrum"
fi

mkdir -p "$WORK/www"
if [ "$TLS" = 1 ]; then
  command -v openssl >/dev/null || { echo "openssl is needed for TLS=1" >&2; exit 1; }
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=localhost -keyout "$WORK/site.key" -out "$WORK/site.crt" 2>/dev/null
  cat "$WORK/site.crt" "$WORK/site.key" > "$WORK/site.pem"
fi
head -c 102400 /dev/zero | tr '\0' 'x' > "$WORK/www/big"
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
    root $WORK/www;
    location = /small { return 200 "hello from nginx\n"; }
    location = /big { }
  }
}
NGX
$PIN_LOAD nginx -c "$WORK/nginx.conf" -p "$WORK"
sleep 0.5

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
  bind 127.0.0.1:$H2_PORT $BIND_OPTS
  default_backend app
backend app
  server n1 127.0.0.1:$NGINX_PORT$SERVER_OPTS
CFG

start_proxy() { # $1 = haproxy|fulcrum → prints pid
  if [ "$1" = haproxy ]; then
    $PIN_PROXY haproxy -db -f "$WORK/lb.cfg" >/dev/null 2>&1 &
  elif [ "$1" = floor ]; then
    $PIN_PROXY "$FLOOR" "127.0.0.1:$H2_PORT" "127.0.0.1:$NGINX_PORT" "$STREAMS" >/dev/null 2>&1 &
  elif [ "$1" = before ]; then
    $PIN_PROXY "$FULCRUM_BEFORE" run -f "$WORK/lb.cfg" >/dev/null 2>&1 &
  else
    $PIN_PROXY "$FULCRUM" run -f "$WORK/lb.cfg" >/dev/null 2>&1 &
  fi
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 100); do
    if curl -sk $CURL_H2 -o /dev/null "$SCHEME://127.0.0.1:$H2_PORT/small" 2>/dev/null; then break; fi
    sleep 0.05
  done
  echo "$pid"
}

stop_proxy() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

run_h2load() { # $1 proxy, $2 path → "req/s cpu-µs-per-request"
  local pid out
  pid=$(start_proxy "$1")
  $PIN_LOAD h2load -c "$CONNS" -m "$STREAMS" -D 1 "$SCHEME://127.0.0.1:$H2_PORT$2" >/dev/null 2>&1 || true
  # The proxy's own CPU time per request during the measured run (utime+stime): less
  # sensitive than req/s to the other work on a shared machine. (`perf stat -e instructions`
  # would be steadier still, but virtual machines often lack the counter.)
  local t0 t1
  t0=$(cpu_ticks "$pid")
  out=$($PIN_LOAD h2load -c "$CONNS" -m "$STREAMS" -D "$DURATION" "$SCHEME://127.0.0.1:$H2_PORT$2" 2>&1)
  t1=$(cpu_ticks "$pid")
  stop_proxy "$pid"
  local failed done
  failed=$(echo "$out" | awk '/^requests:/ {print $10}')
  done=$(echo "$out" | awk '/^requests:/ {print $8}')
  [ "${failed:-0}" != 0 ] && echo "  ($1: $failed failed)" >&2
  local us=-
  if [ "${done:-0}" -gt 0 ] 2>/dev/null; then
    us=$(awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v n="$done" 'BEGIN {printf "%.2f", t * 1e6 / hz / n}')
  fi
  echo "$(echo "$out" | awk '/^finished in/ {print $4}') $us"
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

echo "h2load -c $CONNS -m $STREAMS, ${DURATION}s rounds, $RUNS alternating rounds, nbthread 1, client side $SCHEME (h2), server $SERVER_PROTO"
echo "(cpu: the proxy's CPU µs per request; ratios fulcrum/haproxy)"
printf '%-8s %10s %10s %6s %10s %10s %6s\n' scenario haproxy fulcrum ratio h-cpu f-cpu ratio
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a/b}'; }
for path in ${PATHS:-/small /big}; do
  h=(); f=(); r=(); hi=(); fi_=(); ri=(); b=(); bi=(); rb=(); rbi=(); fl=(); fli=(); rfl=(); rfli=()
  for i in $(seq 1 "$RUNS"); do
    read -r hr hn <<<"$(run_h2load haproxy "$path")"
    if [ -n "${FULCRUM_BEFORE:-}" ]; then
      read -r br bn <<<"$(run_h2load before "$path")"
      echo "  round $i $path: before $br req/s $bn µs/req" >&2
    fi
    if [ -n "${FLOOR:-}" ]; then
      read -r lr ln <<<"$(run_h2load floor "$path")"
      echo "  round $i $path: floor $lr req/s $ln µs/req" >&2
    fi
    read -r fr fn <<<"$(run_h2load fulcrum "$path")"
    echo "  round $i $path: haproxy $hr req/s $hn µs/req, fulcrum $fr req/s $fn µs/req" >&2
    h+=("$hr"); f+=("$fr"); r+=("$(ratio "$fr" "$hr")")
    if [ "$hn" != - ] && [ "$fn" != - ]; then
      hi+=("$hn"); fi_+=("$fn"); ri+=("$(ratio "$fn" "$hn")")
    fi
    if [ -n "${FULCRUM_BEFORE:-}" ] && [ "$bn" != - ] && [ "$fn" != - ]; then
      b+=("$br"); bi+=("$bn"); rb+=("$(ratio "$fr" "$br")"); rbi+=("$(ratio "$fn" "$bn")")
    fi
    if [ -n "${FLOOR:-}" ] && [ "$ln" != - ] && [ "$hn" != - ]; then
      fl+=("$lr"); fli+=("$ln"); rfl+=("$(ratio "$lr" "$hr")"); rfli+=("$(ratio "$ln" "$hn")")
    fi
  done
  med() { if [ $# -gt 0 ]; then printf '%s\n' "$@" | median; else echo -; fi; }
  printf '%-8s %10s %10s %6s %10s %10s %6s\n' "$path" \
    "$(med "${h[@]}")" "$(med "${f[@]}")" "$(med "${r[@]}")" \
    "$(med "${hi[@]}")" "$(med "${fi_[@]}")" "$(med "${ri[@]}")"
  if [ -n "${FULCRUM_BEFORE:-}" ]; then
    printf '%-8s before: %s req/s, %s µs/req; fulcrum/before: req/s %s, cpu %s\n' "$path" \
      "$(med "${b[@]}")" "$(med "${bi[@]}")" "$(med "${rb[@]}")" "$(med "${rbi[@]}")"
  fi
  if [ -n "${FLOOR:-}" ]; then
    printf '%-8s floor: %s req/s, %s µs/req; floor/haproxy: req/s %s, cpu %s\n' "$path" \
      "$(med "${fl[@]}")" "$(med "${fli[@]}")" "$(med "${rfl[@]}")" "$(med "${rfli[@]}")"
  fi
done

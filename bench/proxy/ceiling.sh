#!/usr/bin/env bash
# The load side's ceiling at few and many connections (issue 20 deliverable 4): wrk straight
# to nginx (no proxy), then through HAProxy and fulcrum, at each connection count, with each
# side's CPU.
#
#   bench/proxy/ceiling.sh                      # CONNS_LIST="50 9000" RUNS=3 DURATION=8
#   FULCRUM=/path/to/fulcrum CONNS_LIST=9000 RUNS=2 bench/proxy/ceiling.sh
#   WHO="direct fulcrum" bench/proxy/ceiling.sh  # a subset of direct, haproxy, fulcrum
#
# As run.sh: the proxy (`nbthread 1`) pinned to CPU $PROXY_CPU (0), wrk (1 thread) and nginx
# (1 worker) to CPU $LOAD_CPU (1). "direct" runs the same wrk against nginx with the proxy's
# CPU idle: what the load CPU serves alone. Through a proxy the load CPU does the same work
# per request (wrk's client connections, nginx's server ones: one per client with
# `http-reuse safe`), so when the load CPU is full in both, the direct row's req/s is the
# ceiling the proxied rows are read against.
#
# wrk runs with `--timeout $WRK_TIMEOUT` (10s): wrk leaves a request that timed out out of its
# latency figures, so with its default of 2 s a round whose slowest 1% waited longer showed a
# p99 under 2 s beside thousands of timeouts.
#
# Columns: req/s, p50/p99 latency (ms), wrk's timeouts (a request waited over $WRK_TIMEOUT), the
# busy share of each CPU over the timed run (/proc/stat: all but idle and iowait, whoever
# used it), the CPU time of the proxy and of the load (wrk and nginx's worker together) over
# the run (% of one CPU) and per request (µs: what a busy machine disturbs least), and the
# listen queue overflows the kernel counted (`nstat` ListenOverflows: SYNs dropped because an
# accept queue was full; wrk's kernel sends them again after 1 s, 3 s...).
#
# Each round: a fresh proxy, a 1 s warm-up at the same count, then the timed run (wrk makes
# all its connections anew at its start: a round opens with C connects at once). Rounds
# alternate direct, haproxy, fulcrum. Ports NGINX_PORT (19080), HTTP_PORT (19081). NICE=-10
# runs the proxy, wrk and nginx at that niceness (root): on a machine others are building on,
# the measured processes then get most of their CPUs (say so with the figures).
set -euo pipefail

RUNS=${RUNS:-3}
DURATION=${DURATION:-8}
CONNS_LIST=${CONNS_LIST:-50 9000}
WHO=${WHO:-direct haproxy fulcrum}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
NICE=${NICE:-0}
WRK_TIMEOUT=${WRK_TIMEOUT:-10s}
PIN_PROXY="nice -n $NICE taskset -c $PROXY_CPU"
PIN_LOAD="nice -n $NICE taskset -c $LOAD_CPU"
NGINX_PORT=${NGINX_PORT:-19080}
HTTP_PORT=${HTTP_PORT:-19081}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/fulcrum-ceiling-XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
FDS=$(ulimit -n)
MAXCONN=$(( (FDS - 200) / 2 )); [ "$MAXCONN" -gt 50000 ] && MAXCONN=50000
if [ -z "${FULCRUM:-}" ]; then
  echo "building fulcrum (release)" >&2
  (cd "$ROOT" && cargo build --release -q -p fulcrum)
  FULCRUM="${CARGO_TARGET_DIR:-$ROOT/target}/release/fulcrum"
fi
echo "pinning: proxy (nbthread 1) on CPU $PROXY_CPU; wrk (1 thread) and nginx (1 worker) on CPU $LOAD_CPU; descriptors $FDS, maxconn $MAXCONN, niceness $NICE"
echo "fulcrum binary: $FULCRUM; load now: $(cut -d' ' -f1-3 /proc/loadavg)"

cat > "$WORK/nginx.conf" <<NGX
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 32768; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NGINX_PORT reuseport backlog=4096;
    location = /small { return 200 "hello from nginx\n"; }
  }
}
NGX
$PIN_LOAD nginx -c "$WORK/nginx.conf" -p "$WORK"
sleep 0.5
NGINX_WORKER=$(pgrep -P "$(cat "$WORK/nginx.pid")" | head -1)

cat > "$WORK/lb.cfg" <<CFG
global
  nbthread 1
  maxconn $MAXCONN
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
CFG

start_proxy() { # $1 haproxy|fulcrum → pid
  if [ "$1" = haproxy ]; then
    $PIN_PROXY haproxy -db -f "$WORK/lb.cfg" >/dev/null 2>&1 &
  else
    $PIN_PROXY "$FULCRUM" run -f "$WORK/lb.cfg" >/dev/null 2>&1 &
  fi
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$HTTP_PORT/small" 2>/dev/null && break
    sleep 0.05
  done
  echo "$pid"
}

ticks() { # utime+stime of pid $1 (clock ticks), 0 when none
  if [ -n "$1" ] && [ -r "/proc/$1/stat" ]; then awk '{print $14+$15}' "/proc/$1/stat"; else echo 0; fi
}
cpu_times() { # "busy total" of CPU $1 in /proc/stat's units
  awk -v c="cpu$1" '$1==c { t=0; for (i=2;i<=NF;i++) t+=$i; print t-$5-$6, t }' /proc/stat
}
HZ=$(getconf CLK_TCK)

round() { # $1 direct|haproxy|fulcrum, $2 connections → one row
  local who=$1 c=$2 pid="" port=$HTTP_PORT out p0 p1 l0 l1 x0 x1 n0 n1 w t0 t1 ovf
  if [ "$who" = direct ]; then port=$NGINX_PORT; else pid=$(start_proxy "$who"); fi
  local url="http://127.0.0.1:$port/small"
  $PIN_LOAD wrk -t1 -c"$c" -d1s "$url" >/dev/null 2>&1 || true
  nstat -n >/dev/null 2>&1 || true
  read -r p0 t0 < <(cpu_times "$PROXY_CPU"); read -r l0 _ < <(cpu_times "$LOAD_CPU")
  x0=$(ticks "$pid"); n0=$(ticks "$NGINX_WORKER")
  out=$($PIN_LOAD /usr/bin/time -f "wrkcpu %U %S" wrk -t1 -c"$c" -d"${DURATION}s" --timeout "$WRK_TIMEOUT" --latency "$url" 2>&1)
  read -r p1 t1 < <(cpu_times "$PROXY_CPU"); read -r l1 _ < <(cpu_times "$LOAD_CPU")
  x1=$(ticks "$pid"); n1=$(ticks "$NGINX_WORKER")
  ovf=$(nstat 2>/dev/null | awk '$1=="TcpExtListenOverflows" {print $2}')
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  w=$(echo "$out" | awk '$1=="wrkcpu" {print $2+$3}')
  echo "$out" | awk -v who="$who" -v c="$c" -v dt=$((t1 - t0)) -v pb=$((p1 - p0)) -v lb=$((l1 - l0)) \
      -v x=$((x1 - x0)) -v ng=$((n1 - n0)) -v w="${w:-0}" -v hz="$HZ" -v d="$DURATION" -v ovf="${ovf:-0}" '
    function ms(v,  n, u) { n=v; sub(/[a-z]+$/,"",n); u=v; sub(/^[0-9.]+/,"",u);
      if (u=="us") n/=1000; else if (u=="s") n*=1000; else if (u=="m") n*=60000; return n }
    /Requests\/sec/ {rps=$2} $1=="50%" {p50=ms($2)} $1=="99%" {p99=ms($2)}
    /Socket errors/ {e=$0; sub(/.*timeout /,"",e); tmo=e+0}
    END { n=rps*d; lw=w+ng/hz;
      printf "%-8s %6d %9.0f %8.2f %8.2f %8d %5.0f%% %5.0f%% %6.0f%% %6.0f%% %7.1f %7.1f %9.0f\n",
        who, c, rps, p50, p99, tmo, (dt>0?100*pb/dt:0), (dt>0?100*lb/dt:0), 100*x/hz/d, 100*lw/d,
        (n>0?1e6*x/hz/n:0), (n>0?1e6*lw/n:0), ovf }'
}

printf "%-8s %6s %9s %8s %8s %8s %6s %6s %7s %7s %7s %7s %9s\n" who conns "req/s" "p50 ms" "p99 ms" \
  timeouts "cpu$PROXY_CPU" "cpu$LOAD_CPU" proxy load "us/req" "us/req" overflows
printf "%-8s %6s %9s %8s %8s %8s %6s %6s %7s %7s %7s %7s %9s\n" "" "" "" "" "" "" busy busy \
  "%cpu" "%cpu" proxy load ""
for c in $CONNS_LIST; do
  if [ "$c" -gt $((MAXCONN - 100)) ]; then
    echo "$c connections need about $((2 * c + 200)) descriptors; this machine allows $FDS: measuring $((MAXCONN - 100)) instead"
    c=$((MAXCONN - 100))
  fi
  for _ in $(seq 1 "$RUNS"); do
    for who in $WHO; do round "$who" "$c"; done
  done
done
echo "load now: $(cut -d' ' -f1-3 /proc/loadavg)"

#!/usr/bin/env bash
# Where a proxy's kernel time goes, per request: HAProxy 2.6 and fulcrum side by side on
# run.sh's config (nbthread 1; the proxy pinned to CPU $PROXY_CPU, wrk and nginx to CPU
# $LOAD_CPU), alternating rounds. Per request: the proxy's user and kernel µs (/proc, all its
# threads), page faults, voluntary and involuntary context switches (/proc/PID/task/*/status),
# and the software events and tracepoints this VM exposes (no hardware counters here):
# wakeups the proxy issues (`sched:sched_waking` in its context), IPIs it sends, packets it
# delivers on loopback (`net:netif_rx`), socket data-ready callbacks, system calls, epoll_waits.
# Counts are what to compare (equal counts with unequal kernel µs point at the cost of each).
#
#   FULCRUM=/path/to/fulcrum bench/proxy/events.sh            # RUNS=2 DURATION=5 URL_PATH=small
#   NGINX_PORT=23080 HTTP_PORT=23081 URL_PATH=big bench/proxy/events.sh
#   CLOSE=1 MODE=tcp bench/proxy/events.sh                   # new connection per request, mode tcp
set -euo pipefail
RUNS=${RUNS:-2}; DURATION=${DURATION:-5}; CONNS=${CONNS:-50}; URL_PATH=${URL_PATH:-small}
# CLOSE=1: a new connection per request (`Connection: close`); MODE=tcp: through `mode tcp`.
WRK_EXTRA=(); [ -n "${CLOSE:-}" ] && WRK_EXTRA=(-H "Connection: close")
PROXY_CPU=${PROXY_CPU:-0}; LOAD_CPU=${LOAD_CPU:-1}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FULCRUM=${FULCRUM:-"${CARGO_TARGET_DIR:-$ROOT/target}/release/fulcrum"}
NGINX_PORT=${NGINX_PORT:-19680}; HTTP_PORT=${HTTP_PORT:-19681}
WORK=$(mktemp -d /tmp/fulcrum-events-XXXXXX); chmod 755 "$WORK"
PID=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
EVENTS=page-faults,context-switches,sched:sched_waking,ipi:ipi_send_cpu,net:netif_rx,sock:sk_data_ready,raw_syscalls:sys_enter,syscalls:sys_enter_epoll_wait
mkdir -p "$WORK/www"; head -c 102400 /dev/zero | tr '\0' x > "$WORK/www/big"
cat > "$WORK/nginx.conf" <<NGX
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:$NGINX_PORT; root $WORK/www;
    location = /small { return 200 "hello from nginx\n"; } location = /big { } } }
NGX
taskset -c "$LOAD_CPU" nginx -c "$WORK/nginx.conf" -p "$WORK"
cat > "$WORK/lb.cfg" <<CFG
global
  nbthread 1
  maxconn 4000
defaults
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend web
  mode ${MODE:-http}
  bind 127.0.0.1:$HTTP_PORT
  default_backend app
backend app
  mode ${MODE:-http}
  server n1 127.0.0.1:$NGINX_PORT
CFG
URL="http://127.0.0.1:$HTTP_PORT/$URL_PATH"
echo "pinning: proxy on CPU $PROXY_CPU; wrk and nginx on CPU $LOAD_CPU; $CONNS connections, /$URL_PATH; load now: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
cpu() { cat /proc/"$PID"/task/*/stat | awk '{u += $14; s += $15} END {print u, s}'; }
ctx() { cat /proc/"$PID"/task/*/status | awk '/^voluntary_ctxt/ {v += $2} /^nonvoluntary_ctxt/ {n += $2} END {print v, n}'; }
one() { # $1 haproxy|fulcrum → one line per request
  if [ "$1" = haproxy ]; then taskset -c "$PROXY_CPU" haproxy -db -f "$WORK/lb.cfg" >/dev/null 2>&1 &
  else taskset -c "$PROXY_CPU" "$FULCRUM" run -f "$WORK/lb.cfg" >/dev/null 2>&1 &
  fi
  PID=$!
  for _ in $(seq 1 100); do curl -s -o /dev/null "$URL" && break; sleep 0.05; done
  taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d1s "${WRK_EXTRA[@]}" "$URL" >/dev/null 2>&1
  local u0 s0 v0 n0 u1 s1 v1 n1 out n
  read -r u0 s0 < <(cpu); read -r v0 n0 < <(ctx)
  perf stat -x, -e "$EVENTS" -p "$PID" -o "$WORK/perf.csv" 2>/dev/null & local ps=$!
  out=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${DURATION}s" "${WRK_EXTRA[@]}" "$URL" 2>&1)
  kill -INT "$ps"; wait "$ps" 2>/dev/null || true
  read -r u1 s1 < <(cpu); read -r v1 n1 < <(ctx)
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  awk -F, -v who="$1" -v n="${n:-0}" -v hz="$(getconf CLK_TCK)" -v u=$((u1 - u0)) -v s=$((s1 - s0)) \
      -v vol=$((v1 - v0)) -v inv=$((n1 - n0)) -v d="$DURATION" '
    $1 ~ /^[0-9.]+$/ { sub(/^[a-z_]+:/, "", $3); e[$3] = $1 / n }
    END { if (n == 0) { print who ": no request"; exit }
      printf "%-8s %7.0f req/s  user %5.2f  kernel %5.2f µs  faults %.3f  vcs %.3f  ivcs %.3f  wakeups %.3f  ipis %.3f  netif_rx %.2f  data_ready %.2f  syscalls %.2f  epoll_wait %.3f\n",
        who, n / d, u * 1e6 / hz / n, s * 1e6 / hz / n, e["page-faults"], vol / n, inv / n,
        e["sched_waking"], e["ipi_send_cpu"], e["netif_rx"], e["sk_data_ready"], e["sys_enter"], e["sys_enter_epoll_wait"] }' "$WORK/perf.csv"
}
for _ in $(seq 1 "$RUNS"); do one haproxy; one fulcrum; done

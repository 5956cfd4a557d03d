#!/usr/bin/env bash
# Two fulcrum binaries compared on the same scenarios, by the proxy's CPU time per request
# (less sensitive than req/s when the machine is shared: a busy neighbour slows both the load
# and the proxy, but the proxy's own CPU per request moves much less).
#
#   bench/proxy/ab.sh BEFORE_BINARY AFTER_BINARY
#   RUNS=7 DURATION=3 ONLY=small bench/proxy/ab.sh /tmp/before /tmp/after
#
# Same backend (nginx-light) and config as run.sh; the proxy pinned to CPU $PROXY_CPU, wrk and
# nginx to CPU $LOAD_CPU. Rounds alternate (before, after) RUNS times on freshly started
# proxies; each round's figure is (utime+stime of the proxy during the wrk run) / requests.
# Prints per scenario the median µs/request of each binary, the ratio of the medians, the
# median of the per-round ratios, and every round. With IDLE=N (N > 0) it also measures the anonymous RSS
# growth per idle keep-alive client over N clients (bench/proxy/idle.py), each binary IDLE_RUNS
# times; IDLE_CONC=K (default 1) opens K connections at a time (bench/proxy/idle.py).
# A_GLOBAL / B_GLOBAL: extra `global` lines for the before / after binary (e.g. B_GLOBAL=nosplice
# with the same binary twice compares splicing with copying; `\n` separates lines).
set -euo pipefail

A=${1:?before binary}
B=${2:?after binary}
RUNS=${RUNS:-7}
DURATION=${DURATION:-3}
CONNS=${CONNS:-50}
IDLE=${IDLE:-0}
IDLE_RUNS=${IDLE_RUNS:-3}
IDLE_CONC=${IDLE_CONC:-1}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
PIN_PROXY="taskset -c $PROXY_CPU"
PIN_LOAD="taskset -c $LOAD_CPU"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/fulcrum-ab-XXXXXX)
chmod 755 "$WORK"
NGINX_PORT=${NGINX_PORT:-19480}
HTTP_PORT=${HTTP_PORT:-19481}
TCP_PORT=${TCP_PORT:-19482}
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
# Two builds from different worktrees sharing one CARGO_TARGET_DIR can come out identical
# (cargo keys path crates by their place in the workspace and trusts file times): say so.
if cmp -s "$A" "$B" && [ "${A_GLOBAL:-}" = "${B_GLOBAL:-}" ]; then echo "warning: $A and $B are the same binary" >&2; fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "pinning: proxy on CPU $PROXY_CPU; wrk and nginx on CPU $LOAD_CPU ($(nproc) CPUs); load now: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

mkdir -p "$WORK/www"
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
    listen 127.0.0.1:$NGINX_PORT reuseport backlog=4096;
    root $WORK/www;
    location = /small { return 200 "hello from nginx\n"; }
    location = /big { }
  }
}
NGX
$PIN_LOAD nginx -c "$WORK/nginx.conf" -p "$WORK"
lb_cfg() { # $1 extra global lines → config on stdout
cat <<CFG
global
  nbthread 1
  maxconn 30000
$(printf '%b' "$1" | sed 's/^/  /')
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
}
lb_cfg "${A_GLOBAL:-}" > "$WORK/lb-a.cfg"
lb_cfg "${B_GLOBAL:-}" > "$WORK/lb-b.cfg"

start_proxy() { # $1 binary, $2 config → pid
  $PIN_PROXY "$1" run -f "$2" >/dev/null 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$HTTP_PORT/small" 2>/dev/null && break
    sleep 0.05
  done
  echo "$pid"
}
stop_proxy() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
median() { sort -g | awk '{a[NR]=$1} END { if (NR==0) {print 0} else if (NR%2) {print a[(NR+1)/2]} else {printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2} }'; }

one() { # $1 binary, $2 url, $3 "close" (a new connection per request) or "", $4 config → µs of proxy CPU per request
  # (wrk drops `-H Connection:close`, written without a space: the header goes as an array)
  local extra=(); [ "$3" = close ] && extra=(-H "Connection: close")
  local pid t0 t1 out n
  pid=$(start_proxy "$1" "$4")
  $PIN_LOAD wrk -t1 -c"$CONNS" -d1s "${extra[@]}" "$2" >/dev/null 2>&1 || true
  t0=$(ticks "$pid")
  out=$($PIN_LOAD wrk -t1 -c"$CONNS" -d"${DURATION}s" "${extra[@]}" "$2" 2>&1)
  t1=$(ticks "$pid")
  stop_proxy "$pid"
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  awk -v a="$t0" -v b="$t1" -v n="${n:-0}" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { if (n > 0) printf "%.2f\n", (b - a) * 1e6 / hz / n; else print 0 }'
}

scenario() { # $1 name, $2 url, $3 "close" or ""
  case "$1" in *${ONLY:-}*) ;; *) return 0 ;; esac
  local a=() b=() r=()
  for _ in $(seq 1 "$RUNS"); do
    a+=("$(one "$A" "$2" "$3" "$WORK/lb-a.cfg")")
    b+=("$(one "$B" "$2" "$3" "$WORK/lb-b.cfg")")
    r+=("$(awk -v x="${a[-1]}" -v y="${b[-1]}" 'BEGIN { if (x > 0) printf "%.4f\n", y / x }')")
  done
  local ma mb
  ma=$(printf '%s\n' "${a[@]}" | median); mb=$(printf '%s\n' "${b[@]}" | median)
  printf "%-22s CPU µs/request: before %8.2f  after %8.2f  ratio of medians %.3f  median of round ratios %.3f\n" \
    "$1" "$ma" "$mb" "$(awk -v x="$ma" -v y="$mb" 'BEGIN { print (x > 0 ? y / x : 0) }')" \
    "$(printf '%s\n' "${r[@]}" | median)"
  echo "   before: ${a[*]}"
  echo "   after:  ${b[*]}"
}

scenario "small, keep-alive" "http://127.0.0.1:$HTTP_PORT/small" ""
scenario "100 KB, keep-alive" "http://127.0.0.1:$HTTP_PORT/big" ""
scenario "new conn per request" "http://127.0.0.1:$HTTP_PORT/small" "close"
scenario "TCP mode" "http://127.0.0.1:$TCP_PORT/small" ""
scenario "TCP mode, new conn" "http://127.0.0.1:$TCP_PORT/small" "close"

idle() { # $1 binary, $2 config → bytes per idle connection (growth of the anonymous RSS: see idle.py)
  local pid base out
  pid=$(start_proxy "$1" "$2")
  base=$(awk '/RssAnon/ {print $2}' "/proc/$pid/status")
  out=$($PIN_LOAD python3 "$ROOT/bench/proxy/idle.py" 127.0.0.1 "$HTTP_PORT" "$IDLE" "$pid" "$IDLE_CONC")
  stop_proxy "$pid"
  awk -v o="$out" -v base="$base" 'BEGIN { split(o, a, " "); printf "%.0f\n", (a[4] - base) * 1024 / (a[1] > 0 ? a[1] : 1) }'
}
if [ "$IDLE" -gt 0 ]; then
  ia=(); ib=()
  for _ in $(seq 1 "$IDLE_RUNS"); do ia+=("$(idle "$A" "$WORK/lb-a.cfg")"); ib+=("$(idle "$B" "$WORK/lb-b.cfg")"); done
  printf "%-22s B/idle conn (%s):  before %s  after %s\n" "idle keep-alive" "$IDLE" \
    "$(printf '%s\n' "${ia[@]}" | median)" "$(printf '%s\n' "${ib[@]}" | median)"
  echo "   before: ${ia[*]}"
  echo "   after:  ${ib[*]}"
fi

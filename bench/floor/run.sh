#!/usr/bin/env bash
# The I/O floor per core (issue 20): how fast can a proxy that does nothing but accept,
# connect and forward bytes go on each I/O model, next to HAProxy and fulcrum on the same
# machine, load and pinning as bench/proxy/run.sh.
#
#   bench/floor/run.sh                      # RUNS=4 DURATION=8 CONNS=50, every proxy, both scenarios
#   ONLY=new PROXIES="haproxy-http uring" bench/floor/run.sh
#   FULCRUM=/path/to/fulcrum bench/floor/run.sh   # default: /tmp/fulcrum-before-b6081bba, else
#                                                 # $CARGO_TARGET_DIR/release/fulcrum (built if absent)
#
# Proxies (PROXIES, default all): haproxy-http / haproxy-tcp (haproxy 2.6, `nbthread 1`, `mode
# http` / `mode tcp`), fulcrum-http / fulcrum-tcp (the same config), and the floor programs of
# bench/floor/src: tokio (fulcrum's runtime), mio (a bare epoll loop), uring (io_uring without a
# runtime, a recv and a send submitted per read), uring-multi (io_uring, multishot receives into
# a provided buffer ring: only the sends submitted), monoio (the io_uring thread-per-core runtime a
# port would use). The floors forward bytes without parsing, one backend connection per client
# connection, and close both at the first end (see src/main.rs).
#
# Scenarios: small keep-alive (CONNS connections) and a new connection per request
# (`Connection: close`: nginx closes, so every request is accept + connect + 2 closes). Each
# round runs every proxy once, freshly started, in turn; RUNS rounds. Printed per proxy: medians of
# req/s, p50 and p99, CPU µs per request of the proxy's pid split into user and kernel time
# (/proc/PID/stat utime/stime over the timed run), system calls per request (perf's
# raw_syscalls:sys_enter on the pid, SYSCALLS=1, the default), and the median of the per-round
# ratios to haproxy-http (req/s, and CPU per request: below 1 is cheaper).
#
# PROFILE=DIR: also `perf record -g` each proxy's timed run (the last round's stays, as
# DIR/PROXY-SCENARIO.data) and print per proxy the kernel/user split of the samples and the top
# symbols (perf report --sort sym).
#
# The proxy is pinned to CPU $PROXY_CPU (default 0), wrk and nginx to CPU $LOAD_CPU (default 1);
# the output says so and gives the load average before and after. Results and what they mean:
# bench/floor/README.md.
set -euo pipefail

RUNS=${RUNS:-4}
DURATION=${DURATION:-8}
CONNS=${CONNS:-50}
SYSCALLS=${SYSCALLS:-1}
PROXIES=${PROXIES:-haproxy-http haproxy-tcp fulcrum-http fulcrum-tcp tokio mio monoio uring uring-multi}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
PIN_PROXY="taskset -c $PROXY_CPU"
PIN_LOAD="taskset -c $LOAD_CPU"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/fulcrum-floor-XXXXXX)
chmod 755 "$WORK"   # nginx workers (www-data) read the files
NGINX_PORT=${NGINX_PORT:-19680}
PORT=${PORT:-19681}
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
command -v wrk >/dev/null || need+=(wrk)
if [ "$SYSCALLS" = 1 ] && ! command -v perf >/dev/null; then need+=(linux-perf); fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ -z "${PROFILE:-}" ] || mkdir -p "$PROFILE"

echo "building the floor programs (release)" >&2
cargo build --release -q --manifest-path "$ROOT/bench/floor/Cargo.toml"
FLOOR="${CARGO_TARGET_DIR:-$ROOT/bench/floor/target}/release/floor"
case " $PROXIES " in *" fulcrum-"*)
  if [ -z "${FULCRUM:-}" ]; then
    if [ -x /tmp/fulcrum-before-b6081bba ]; then FULCRUM=/tmp/fulcrum-before-b6081bba
    else
      echo "building fulcrum (release)" >&2
      (cd "$ROOT" && cargo build --release -q -p fulcrum)
      FULCRUM="${CARGO_TARGET_DIR:-$ROOT/target}/release/fulcrum"
    fi
  fi
  echo "fulcrum binary: $FULCRUM" >&2 ;;
esac
echo "pinning: proxy on CPU $PROXY_CPU; wrk (1 thread) and nginx on CPU $LOAD_CPU ($(nproc) CPUs); load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- backend: nginx-light, one worker ---------------------------------------------------------
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
    location = /small { return 200 "hello from nginx\n"; }
  }
}
NGX
$PIN_LOAD nginx -c "$WORK/nginx.conf" -p "$WORK"

lb_cfg() { # $1 mode → haproxy.cfg on stdout (fulcrum reads the same)
cat <<CFG
global
  nbthread 1
  maxconn 8000
defaults
  timeout connect 5s
  timeout client 30s
  timeout server 30s
listen lb
  mode $1
  bind 127.0.0.1:$PORT
  server n1 127.0.0.1:$NGINX_PORT
CFG
}
lb_cfg http > "$WORK/http.cfg"
lb_cfg tcp > "$WORK/tcp.cfg"

start_proxy() { # $1 proxy name → pid
  case "$1" in
    haproxy-http) $PIN_PROXY haproxy -db -f "$WORK/http.cfg" >/dev/null 2>&1 & ;;
    haproxy-tcp) $PIN_PROXY haproxy -db -f "$WORK/tcp.cfg" >/dev/null 2>&1 & ;;
    fulcrum-http) $PIN_PROXY "$FULCRUM" run -f "$WORK/http.cfg" >/dev/null 2>&1 & ;;
    fulcrum-tcp) $PIN_PROXY "$FULCRUM" run -f "$WORK/tcp.cfg" >/dev/null 2>&1 & ;;
    tokio|mio|monoio|uring|uring-multi) $PIN_PROXY "$FLOOR" "$1" "127.0.0.1:$PORT" "127.0.0.1:$NGINX_PORT" >/dev/null 2>&1 & ;;
    *) echo "unknown proxy $1" >&2; exit 2 ;;
  esac
  local pid=$! up=0
  PIDS+=("$pid")
  for _ in $(seq 1 200); do
    if curl -s -o /dev/null "http://127.0.0.1:$PORT/small" 2>/dev/null; then up=1; break; fi
    sleep 0.05
  done
  [ "$up" = 1 ] || { echo "$1 did not answer on port $PORT" >&2; exit 1; }
  echo "$pid"
}
stop_proxy() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }

to_ms() { # wrk latency like 1.23ms / 850.00us / 1.02s → ms
  awk -v v="$1" 'BEGIN { n=v; sub(/[a-z]+$/,"",n); u=v; sub(/^[0-9.]+/,"",u);
    if (u=="us") n/=1000; else if (u=="s") n*=1000; else if (u=="m") n*=60000; printf "%.3f", n }'
}

one() { # $1 proxy, $2 "close" or "", $3 scenario tag (PROFILE's file name) → "rps p50 p99 user_us/req sys_us/req syscalls/req"
  local extra=(); [ "$2" = close ] && extra=(-H "Connection: close")
  local pid t0 t1 out n perfpid="" spr=0
  pid=$(start_proxy "$1")
  $PIN_LOAD wrk -t1 -c"$CONNS" -d1s "${extra[@]}" "http://127.0.0.1:$PORT/small" >/dev/null 2>&1 || true
  if [ "$SYSCALLS" = 1 ]; then
    rm -f "$WORK/perf.out"
    perf stat -e raw_syscalls:sys_enter -x, -p "$pid" -o "$WORK/perf.out" 2>/dev/null &
    perfpid=$!
  fi
  local recpid=""
  if [ -n "${PROFILE:-}" ]; then
    perf record -q -F 1999 -g -p "$pid" -o "$PROFILE/$1-$3.data" >/dev/null 2>&1 &
    recpid=$!
  fi
  t0=$(ticks "$pid")
  out=$($PIN_LOAD wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "${extra[@]}" "http://127.0.0.1:$PORT/small" 2>&1)
  t1=$(ticks "$pid")
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  if [ -n "$perfpid" ]; then
    # perf stat can miss a SIGINT that comes while it is still starting: signal until it wrote.
    for _ in $(seq 1 50); do
      kill -INT "$perfpid" 2>/dev/null || break
      [ -s "$WORK/perf.out" ] && grep -q sys_enter "$WORK/perf.out" && break
      sleep 0.1
    done
    kill -KILL "$perfpid" 2>/dev/null || true; wait "$perfpid" 2>/dev/null || true
    # (counted over a little more than the timed run: the figure is an upper bound)
    spr=$(awk -F, -v n="${n:-0}" '$3 ~ /sys_enter/ && n > 0 && $1 ~ /^[0-9.]+$/ {printf "%.2f", $1/n}' "$WORK/perf.out")
  fi
  if [ -n "$recpid" ]; then kill -INT "$recpid" 2>/dev/null || true; wait "$recpid" 2>/dev/null || true; fi
  stop_proxy "$pid"
  local errs; errs=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')
  [ -n "$errs" ] && echo "  ($1: $errs)" >&2
  awk -v a="$t0" -v b="$t1" -v n="${n:-0}" -v hz="$(getconf CLK_TCK)" -v spr="${spr:-0}" \
    -v rps="$(echo "$out" | awk '/Requests\/sec/ {print $2}')" \
    -v p50="$(to_ms "$(echo "$out" | awk '$1=="50%" {print $2}')")" \
    -v p99="$(to_ms "$(echo "$out" | awk '$1=="99%" {print $2}')")" \
    'BEGIN { split(a, x, " "); split(b, y, " ");
      if (n > 0) printf "%s %s %s %.3f %.3f %s\n", rps, p50, p99, (y[1]-x[1])*1e6/hz/n, (y[2]-x[2])*1e6/hz/n, spr;
      else print "0 0 0 0 0 0" }'
}

median() { sort -g | awk '{a[NR]=$1} END { if (NR==0) {print 0} else if (NR%2) {print a[(NR+1)/2]} else {printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2} }'; }

scenario() { # $1 name, $2 "close" or "", $3 tag
  case "$1" in *${ONLY:-}*) ;; *) return 0 ;; esac
  declare -A res=()
  local p r
  for r in $(seq 1 "$RUNS"); do
    for p in $PROXIES; do res[$p.$r]=$(one "$p" "$2" "$3"); done
  done
  echo
  echo "$1 ($CONNS connections, $RUNS rounds of ${DURATION}s; load average now $(cut -d' ' -f1-3 /proc/loadavg))"
  printf "%-13s %10s %8s %8s %9s %9s %9s %9s %10s %10s %12s\n" proxy "req/s" "p50 ms" "p99 ms" "user us" "kern us" "CPU us" "sys/req" "x req/s" "x CPU/req" "(its range)"
  for p in $PROXIES; do
    local rows=() cpu=() rr=() cr=()
    for r in $(seq 1 "$RUNS"); do
      rows+=("${res[$p.$r]}")
      local mine="${res[$p.$r]}" base="${res[haproxy-http.$r]:-}"
      cpu+=("$(awk -v m="$mine" 'BEGIN { split(m, a, " "); print a[4] + a[5] }')")
      if [ -n "$base" ]; then
        rr+=("$(awk -v m="$mine" -v b="$base" 'BEGIN { split(m, a, " "); split(b, c, " "); if (c[1] > 0) printf "%.4f\n", a[1] / c[1] }')")
        cr+=("$(awk -v m="$mine" -v b="$base" 'BEGIN { split(m, a, " "); split(b, c, " "); if (c[4] + c[5] > 0) printf "%.4f\n", (a[4] + a[5]) / (c[4] + c[5]) }')")
      fi
    done
    col() { printf '%s\n' "${rows[@]}" | awk -v c="$1" '{print $c}' | median; }
    printf "%-13s %10.0f %8.3f %8.3f %9.2f %9.2f %9.2f %9.2f %10s %10s %12s\n" "$p" "$(col 1)" "$(col 2)" "$(col 3)" "$(col 4)" "$(col 5)" \
      "$(printf '%s\n' "${cpu[@]}" | median)" "$(col 6)" \
      "$( [ ${#rr[@]} -gt 0 ] && printf '%.3f' "$(printf '%s\n' "${rr[@]}" | median)" || echo -)" \
      "$( [ ${#cr[@]} -gt 0 ] && printf '%.3f' "$(printf '%s\n' "${cr[@]}" | median)" || echo -)" \
      "$( [ ${#cr[@]} -gt 0 ] && printf '%s\n' "${cr[@]}" | sort -g | awk 'NR==1 {a=$1} {b=$1} END {printf "%.2f-%.2f", a, b}' || echo -)"
  done
}

echo "columns: medians over the rounds; user/kern/CPU us = the proxy's CPU time per request; sys/req = its system calls per request (perf, an upper bound);"
echo "x req/s, x CPU/req = median of the per-round ratios to haproxy-http (the same round); its range: the lowest and highest round"
scenario "small, keep-alive" "" keepalive
scenario "new conn per request" close newconn

if [ -n "${PROFILE:-}" ]; then
  for f in "$PROFILE"/*.data; do
    [ -s "$f" ] || continue
    echo; echo "== $(basename "$f" .data): samples in the kernel / in user space, top symbols"
    perf report -i "$f" --stdio --no-children --sort dso -g none 2>/dev/null |
      awk '/%/ && !/^#/ { v=$1; sub(/%/,"",v); if ($2 ~ /kernel/) k+=v; else u+=v }
           END { printf "   kernel %.1f%%, user space %.1f%% of the samples\n", k, u }'
    perf report -i "$f" --stdio --no-children --sort sym -g none --percent-limit 1.5 2>/dev/null | awk '/%/ && !/^#/ {print "   " $0}' | head -14
  done
fi

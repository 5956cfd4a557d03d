#!/usr/bin/env bash
# fulcrum vs HAProxy 2.6 (Debian's, OpenSSL 3) terminating TLS, same config, nbthread 1.
#
#   bench/tls/run.sh                    # RUNS=3 DURATION=4 CONNS=50 by default
#   ONLY=handshake bench/tls/run.sh     # scenarios whose name contains the word
#   FULCRUM=/path/to/fulcrum bench/tls/run.sh   # that build (nothing is built)
#   PROFILE=DIR bench/tls/run.sh        # also perf profiles of both proxies (PERF_FREQ Hz, 499)
#   SYSCALLS=1 bench/tls/run.sh         # also each round's system calls per operation of the
#                                       # proxy (perf stat on the syscalls tracepoints), to stderr
#   QUOTA=25 bench/tls/run.sh           # each proxy limited to 25% of its CPU (a CPU cgroup,
#                                       # v1 or v2; root): the proxy, not the client, sets the
#                                       # rate (see "Which figure to read" below)
#   BUSY_POLLING=1 bench/tls/run.sh     # both proxies with `busy-polling` in `global` (their
#                                       # event loop never sleeps: its CPU runs full)
#   CPUS=1 bench/tls/run.sh             # also each round's busy time per operation of the
#                                       # proxy's CPU and of the client's (/proc/stat: every task
#                                       # and softirq on it), to stderr: when the client's CPU is
#                                       # full, what the proxy makes the client do sets the rate
#
# Scenarios (wrk or h2load as the client, answers made by the proxy itself with `http-request
# return`, so only the proxy's TLS and HTTP path is measured):
#   handshake-ecdsa   full TLS handshakes/s, ECDSA P-256 certificate (wrk, Connection: close).
#                     wrk keeps each slot's TLS session across its reconnects (SSL_clear keeps
#                     it), so on its own it resumes nearly every handshake: here it runs with
#                     bench/tls/no_resume.c preloaded (built with cc), which forgets the session,
#                     so every connection is a full handshake
#   handshake-rsa     the same with an RSA 2048 certificate
#   resumed-tls13     resumed handshakes/s, TLS 1.3 (PSK with (EC)DHE, tickets): wrk on its own,
#                     CONNS connections, Connection: close
#   resumed-tls12     the same with TLS 1.2 (wrk's OpenSSL capped at TLS 1.2 by an OPENSSL_CONF;
#                     session tickets)
#   keepalive-ecdsa   keep-alive HTTPS requests/s on CONNS connections
#   keepalive-100k    keep-alive HTTPS requests/s for a 100 KB answer from a server (nginx
#                     on the client's CPU serves the file over plain HTTP to both proxies)
#   h2-tls            HTTP/2 over TLS (ALPN h2): h2load -c H2_CONNS (10) -m H2_STREAMS (100)
#                     requests/s, small answers made by the proxy (no server in the row)
#   idle-memory       bytes of RSS per idle TLS connection after one request (IDLE_CONNS
#                     connections, bench/tls/idle_tls.py); lower is better: its ratio is
#                     fulcrum/HAProxy too, so below 1.0 is fulcrum using less. The guard: the
#                     script fails when fulcrum's median is above IDLE_TLS_MAX_RATIO (default
#                     1.0) times HAProxy's (`ONLY=idle IDLE_CONNS=300 RUNS=1` is a quick check)
#   serial-tls13      resumed handshakes one at a time (bench/tls/resume_tls.py: each connection
#                     offers the previous one's session; the round fails unless the proxy
#                     resumed nearly all of them): latency-bound, mostly the cost of waking up
#   serial-tls12      the same with TLS 1.2 (tickets)
# and, with `openssl s_time` (one connection at a time: latency-bound, both proxies alike):
#   s_time-new        new handshakes per second. (`s_time -reuse` is not measured: with TLS 1.3
#                     it resumed nothing, on either proxy.)
# Every handshake and resumed round checks what the proxy counted (`show stat` on its stats
# socket: the frontend's ssl_sess and ssl_reused_sess): a handshake round fails above 10%
# resumed, a resumed one below 90%.
# Which figure to read: the client (one wrk or h2load on one CPU) is often the limit, not the
# proxy (a TLS client verifies the server's ECDSA signature at a cost close to the signing);
# then both proxies run below 100% of their CPU and the rates say little: read the CPU per
# operation columns. The serial and s_time rows are latency-bound: read their CPU columns.
# QUOTA=PCT makes the rates the proxy's: each proxy runs in a CPU cgroup limited to PCT% of one
# CPU (cfs quota over 20 ms periods), so a client with a whole CPU is no longer the limit in
# the handshake and resumed rows (wrk spends ~400 µs per ECDSA handshake, more than either
# proxy): the rate is then what the proxy sustains on PCT% of a core. Each throughput round
# checks that the quota throttled the proxy (else the client was still the limit: it says so).
# The proxy is pinned to CPU $PROXY_CPU (default 0) and the client to CPU $LOAD_CPU (default 1).
# Each scenario alternates rounds (HAProxy then fulcrum, RUNS times) on freshly started
# proxies and prints medians and the median of per-round ratios fulcrum/HAProxy.
# The machine may be shared: keep rounds short and read the ratios, not the absolute numbers.
# Besides the rates, each scenario prints the proxy's CPU time per request or handshake (user +
# system of its threads over the round, from /proc/PID/task/*/schedstat): what sharing disturbs
# least. Its ratio is fulcrum/HAProxy too, so below 1.0 is fulcrum spending less.
set -euo pipefail

RUNS=${RUNS:-3}
DURATION=${DURATION:-4}
CONNS=${CONNS:-50}
H2_CONNS=${H2_CONNS:-10}
H2_STREAMS=${H2_STREAMS:-100}
IDLE_CONNS=${IDLE_CONNS:-2000}
IDLE_TLS_MAX_RATIO=${IDLE_TLS_MAX_RATIO:-1.0}
ONLY=${ONLY:-}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
PIN_PROXY="taskset -c $PROXY_CPU"
PIN_LOAD="taskset -c $LOAD_CPU"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/fulcrum-bench-tls-XXXXXX)
PORT=${PORT:-19443}
PID=""
CGROUP=""
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
  rm -rf "$WORK"
  if [ -n "$CGROUP" ]; then sleep 0.2; rmdir "$CGROUP" 2>/dev/null || true; fi
}
trap cleanup EXIT

need=()
command -v haproxy >/dev/null || need+=(haproxy)
command -v wrk >/dev/null || need+=(wrk)
command -v openssl >/dev/null || need+=(openssl)
command -v nginx >/dev/null || need+=(nginx-light)
command -v python3 >/dev/null || need+=(python3)
command -v h2load >/dev/null || need+=(nghttp2-client)
command -v socat >/dev/null || need+=(socat)
command -v cc >/dev/null || need+=(gcc)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "pinning: proxy on CPU $PROXY_CPU, client on CPU $LOAD_CPU ($(nproc) CPUs); $(haproxy -v | head -1)" >&2

# FULCRUM=PATH (as bench/h2 and bench/proxy take it; FULCRUM_BIN is its older spelling): that
# binary, nothing built. Otherwise a release build into $CARGO_TARGET_DIR (NOBUILD=1: the
# release binary already built there).
FULCRUM=${FULCRUM:-${FULCRUM_BIN:-}}
if [ -z "$FULCRUM" ]; then
  TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
  if [ -z "${NOBUILD:-}" ]; then
    echo "building fulcrum (release)" >&2
    (cd "$ROOT" && cargo build --release -q -p fulcrum)
  fi
  FULCRUM=$TARGET/release/fulcrum
fi
[ -x "$FULCRUM" ] || { echo "no fulcrum binary at $FULCRUM" >&2; exit 2; }

# Certificates (self-signed: wrk and s_time do not verify).
openssl req -x509 -nodes -days 2 -subj /CN=bench.test -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
  -keyout "$WORK/ec.key" -out "$WORK/ec.crt" 2>/dev/null
openssl req -x509 -nodes -days 2 -subj /CN=bench.test -newkey rsa:2048 \
  -keyout "$WORK/rsa.key" -out "$WORK/rsa.crt" 2>/dev/null
cat "$WORK/ec.crt" "$WORK/ec.key" > "$WORK/ec.pem"
cat "$WORK/rsa.crt" "$WORK/rsa.key" > "$WORK/rsa.pem"

# wrk without resumption (see handshake-ecdsa above), and wrk capped at TLS 1.2.
cc -O2 -shared -fPIC -o "$WORK/no_resume.so" "$ROOT/bench/tls/no_resume.c" -ldl
cat > "$WORK/tls12.cnf" <<CNF
openssl_conf = conf
[conf]
ssl_conf = ssl
[ssl]
system_default = sys
[sys]
MaxProtocol = TLSv1.2
CNF

# The 100 KB answer's server: nginx on the client's CPU, plain HTTP.
NGINX_PORT=$((PORT + 1))
mkdir -p "$WORK/www"
head -c 76800 /dev/urandom | base64 -w 0 > "$WORK/www/100k"   # 102,400 bytes, no SIGPIPE
cat > "$WORK/nginx.conf" <<NGX
daemon off;
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx.err;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $WORK/ngx-body;
  proxy_temp_path $WORK/ngx-proxy;
  fastcgi_temp_path $WORK/ngx-fcgi;
  uwsgi_temp_path $WORK/ngx-uwsgi;
  scgi_temp_path $WORK/ngx-scgi;
  server { listen 127.0.0.1:$NGINX_PORT; root $WORK/www; }
}
NGX
$PIN_LOAD nginx -c "$WORK/nginx.conf" -p "$WORK" >/dev/null 2>&1 &
NGINX_PID=$!
trap 'kill $NGINX_PID 2>/dev/null || true; cleanup' EXIT

# QUOTA=PCT: a CPU cgroup (v2's cpu.max, or v1's cfs quota) the proxies are moved into.
if [ -n "${QUOTA:-}" ]; then
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    echo "+cpu" > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
    CGROUP=/sys/fs/cgroup/fulcrum-bench-$$
    mkdir "$CGROUP" && echo "$((QUOTA * 200)) 20000" > "$CGROUP/cpu.max"
  else
    CGROUP=/sys/fs/cgroup/cpu/fulcrum-bench-$$
    mkdir "$CGROUP" && echo 20000 > "$CGROUP/cpu.cfs_period_us" \
      && echo "$((QUOTA * 200))" > "$CGROUP/cpu.cfs_quota_us"
  fi || { echo "QUOTA: cannot make a CPU cgroup (root and a cpu controller needed)" >&2; exit 2; }
  echo "quota: each proxy limited to ${QUOTA}% of CPU $PROXY_CPU (cgroup $CGROUP): rates are the proxy's" >&2
fi
# How many times the cgroup's quota stopped the proxy so far (0 without QUOTA).
throttled() {
  [ -n "$CGROUP" ] || { echo 0; return; }
  awk '$1 == "nr_throttled" {print $2}' "$CGROUP/cpu.stat"
}

config() { # $1: certificate
  cat <<CFG
global
  nbthread 1
  maxconn 5000
  stats socket $WORK/stats.sock level admin${BUSY_POLLING:+
  busy-polling}
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend bench
  bind 127.0.0.1:$PORT ssl crt $1 alpn ${2:-http/1.1}
  http-request return status 200 content-type text/plain string ok unless { path /100k }
  use_backend files if { path /100k }
backend files
  server nginx 127.0.0.1:$NGINX_PORT
CFG
}

start() { # $1: haproxy|fulcrum, $2: certificate, $3: ALPN list
  config "$2" "${3:-}" > "$WORK/p.cfg"
  if [ "$1" = haproxy ]; then
    $PIN_PROXY haproxy -db -f "$WORK/p.cfg" >"$WORK/p.log" 2>&1 &
  else
    FULCRUM_LOG=warn $PIN_PROXY "$FULCRUM" run -f "$WORK/p.cfg" >"$WORK/p.log" 2>&1 &
  fi
  PID=$!
  for _ in $(seq 100); do
    if echo | timeout 2 openssl s_client -connect 127.0.0.1:$PORT >/dev/null 2>&1; then
      [ -z "$CGROUP" ] || echo "$PID" > "$CGROUP/cgroup.procs"
      return
    fi
    sleep 0.05
  done
  echo "$1 did not start:" >&2; cat "$WORK/p.log" >&2; exit 1
}

stop() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=""; }

# wrk's "N requests in" and "Requests/sec: R" -> "R N".
wrk_rate() { awk '/requests in/ {n=$1} /Requests\/sec/ {r=$2} END {print r, n}'; }

measure() { # $1: scenario -> prints "rate operations" (operations: requests or handshakes)
  case $1 in
    handshake-*)
      LD_PRELOAD="$WORK/no_resume.so" $PIN_LOAD wrk -t1 -c"$CONNS" -d"${DURATION}s" \
        -H "Connection: close" "https://127.0.0.1:$PORT/" | wrk_rate ;;
    resumed-tls13)
      $PIN_LOAD wrk -t1 -c"$CONNS" -d"${DURATION}s" -H "Connection: close" "https://127.0.0.1:$PORT/" \
        | wrk_rate ;;
    resumed-tls12)
      OPENSSL_CONF="$WORK/tls12.cnf" $PIN_LOAD wrk -t1 -c"$CONNS" -d"${DURATION}s" \
        -H "Connection: close" "https://127.0.0.1:$PORT/" | wrk_rate ;;
    h2-tls)
      local out
      out=$($PIN_LOAD h2load -c "$H2_CONNS" -m "$H2_STREAMS" -D "$DURATION" "https://127.0.0.1:$PORT/" 2>&1)
      echo "$out" | grep -q "Application protocol: h2" || { echo "h2load did not speak h2:" >&2; echo "$out" >&2; exit 1; }
      echo "$out" | awk '/^finished in/ {r=$4} /^requests:/ {n=$8; f=$10} END {
        if (f > 0) print f " failed" > "/dev/stderr"; print r, n}' ;;
    keepalive-100k)
      $PIN_LOAD wrk -t1 -c"$CONNS" -d"${DURATION}s" "https://127.0.0.1:$PORT/100k" | wrk_rate ;;
    keepalive-*)
      $PIN_LOAD wrk -t1 -c"$CONNS" -d"${DURATION}s" "https://127.0.0.1:$PORT/" | wrk_rate ;;
    idle-memory)
      $PIN_LOAD python3 "$ROOT/bench/tls/idle_tls.py" 127.0.0.1 "$PORT" "$IDLE_CONNS" "$PID" \
        | awk '{print $2, 0}' ;;
    serial-*)
      local v=1.3; [ "$1" = serial-tls12 ] && v=1.2
      $PIN_LOAD python3 "$ROOT/bench/tls/resume_tls.py" 127.0.0.1 "$PORT" "$DURATION" "$v" \
        | awk '{ if ($3 < 0.9 * ($2 - 1)) { print "only " $3 " of " $2 " resumed" > "/dev/stderr"; exit 1 }
                 print $1, $2 }' ;;
    s_time-*)
      local mode=-new
      local t0 t1 n
      t0=$(date +%s.%N)
      n=$($PIN_LOAD openssl s_time -connect 127.0.0.1:$PORT $mode -time "$DURATION" 2>/dev/null \
        | awk '/connections in [0-9.]+s;/ {print $1; exit}')
      t1=$(date +%s.%N)
      awk -v n="${n:-0}" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f %d\n", n / (b - a), n }' ;;
  esac
}

# The proxy's CPU time so far, in ns: the sum over its threads of the time they ran
# (/proc/PID/task/*/schedstat; /proc/PID/stat counts 10 ms ticks, too coarse for short rounds).
cpu_ns() { cat /proc/"$PID"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'; }

# The share (%) of the proxy's handshakes so far that were resumed: its frontend's `ssl_sess`
# (full) and `ssl_reused_sess` (resumed) in `show stat`.
reuse_pct() {
  echo "show stat" | socat - "UNIX-CONNECT:$WORK/stats.sock" 2>/dev/null | awk -F, '
    NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "ssl_sess") s = i; if ($i == "ssl_reused_sess") r = i } }
    $1 == "bench" && $2 == "FRONTEND" && s && r && $s + $r > 0 { printf "%d\n", 100 * $r / ($s + $r) }'
}

# One round of scenario $1 on the running proxy: "rate cpu_us_per_operation"; a handshake
# round that resumed, or a resumed one that did not, is marked failed ($WORK/failed).
# Busy time (user, nice, system, irq, softirq, steal) of CPUs $PROXY_CPU and $LOAD_CPU so far,
# in 10 ms ticks, and the softirq part of each: "proxy_cpu load_cpu proxy_softirq load_softirq".
cpus_busy() {
  awk -v p="cpu$PROXY_CPU" -v l="cpu$LOAD_CPU" '$1 == p { a = $2 + $3 + $4 + $7 + $8 + $9; c = $8 }
    $1 == l { b = $2 + $3 + $4 + $7 + $8 + $9; d = $8 } END { print a, b, c, d }' /proc/stat
}

round() {
  local c0 out c1 pct b0 b1
  local sys=""
  if [ -n "${SYSCALLS:-}" ]; then
    perf stat -x, -e 'syscalls:sys_enter_*' -p "$PID" -o "$WORK/sys" >/dev/null 2>&1 &
    sys=$!
    sleep 0.2
  fi
  local t0; t0=$(throttled)
  b0=$(cpus_busy); c0=$(cpu_ns); out=$(measure "$1"); c1=$(cpu_ns); b1=$(cpus_busy)
  # (The serial, s_time and idle rows are latency-bound: a quota is not what limits them.)
  if [ -n "$CGROUP" ] && [[ $1 != serial-* && $1 != s_time-* && $1 != idle-* ]] \
    && [ "$(throttled)" -le $((t0 + DURATION)) ]; then
    echo "  $1 on $(ps -o comm= -p "$PID"): the quota seldom throttled the proxy: the client was the limit" >&2
  fi
  if [ -n "${CPUS:-}" ]; then
    echo "$b0 $b1 $(echo "$out" | awk '{print $2}')" | awk -v who="$(ps -o comm= -p "$PID")" \
      '$9 > 0 { printf "  busy us/op with %s (%d ops): proxy CPU %.2f (softirq %.2f), client CPU %.2f (softirq %.2f)\n",
        who, $9, ($5 - $1) * 1e4 / $9, ($7 - $3) * 1e4 / $9, ($6 - $2) * 1e4 / $9, ($8 - $4) * 1e4 / $9 }' >&2
  fi
  if [ -n "$sys" ]; then
    kill -INT "$sys"; wait "$sys" || true
    # The calls per operation, most frequent first (those above 0.001).
    local n who
    n=$(echo "$out" | awk '{print $2}'); who=$(ps -o comm= -p "$PID")
    awk -F, -v n="$n" 'n > 0 && $1 + 0 >= 0.001 * n { sub("syscalls:sys_enter_", "", $3); printf "%.3f %s\n", $1 / n, $3 }' "$WORK/sys" \
      | sort -gr | awk -v who="$who" -v n="$n" '{ l = l " " $2 " " $1 } END { print "  syscalls/op " who " (" n " ops):" l }' >&2
  fi
  case $1 in
    handshake-*|resumed-*)
      pct=$(reuse_pct)
      if [[ $1 == handshake-* && ${pct:-100} -gt 10 ]] || [[ $1 == resumed-* && ${pct:-0} -lt 90 ]]; then
        echo "$1: the proxy resumed ${pct:-?}% of its handshakes" >&2
        echo "$1" >> "$WORK/failed"
      fi ;;
  esac
  echo "$out" | awk -v a="$c0" -v b="$c1" \
    '{ if ($2 > 0) printf "%s %.2f\n", $1, (b - a) / 1e3 / $2; else printf "%s nan\n", $1 }'
}

# PROFILE=DIR: perf records each proxy over its round (the last round's profile is kept):
# DIR/SCENARIO.perf.data (fulcrum) and DIR/SCENARIO.haproxy.perf.data, with a summary of each
# beside it (.perf.txt, self time by symbol).
profile() { # $1: the profile's name
  PERF=""
  [ -n "${PROFILE:-}" ] || return 0
  mkdir -p "$PROFILE"
  PERF_OUT="$PROFILE/$1.perf"
  perf record -q -F "${PERF_FREQ:-499}" -g -p "$PID" -o "$PERF_OUT.data" -- sleep "$DURATION" >/dev/null 2>&1 &
  PERF=$!
}
profiled() {
  [ -n "$PERF" ] || return 0
  wait "$PERF" || true
  perf report -i "$PERF_OUT.data" --no-children --percent-limit 1.5 --stdio 2>/dev/null \
    | grep -E '^ +[0-9.]+%' > "$PERF_OUT.txt" || true
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "nan"; exit} m=int((NR+1)/2); if (NR%2) print a[m]; else print (a[m]+a[m+1])/2}'; }

printf "%-16s %10s %10s %7s %12s %12s %7s\n" scenario "haproxy/s" "fulcrum/s" ratio "h CPU us/op" "f CPU us/op" "ratio"
for sc in handshake-ecdsa handshake-rsa resumed-tls13 resumed-tls12 keepalive-ecdsa keepalive-100k \
  h2-tls idle-memory serial-tls13 serial-tls12 s_time-new; do
  [ -n "$ONLY" ] && [[ $sc != *$ONLY* ]] && continue
  cert="$WORK/ec.pem"; [[ $sc == *rsa* ]] && cert="$WORK/rsa.pem"
  alpn=http/1.1; [ "$sc" = h2-tls ] && alpn=h2,http/1.1
  : > "$WORK/h"; : > "$WORK/f"; : > "$WORK/r"; : > "$WORK/hc"; : > "$WORK/fc"; : > "$WORK/rc"
  for _ in $(seq "$RUNS"); do
    start haproxy "$cert" "$alpn"; profile "$sc.haproxy"; read -r h hc < <(round "$sc"); profiled; stop
    start fulcrum "$cert" "$alpn"; profile "$sc"; read -r f fc < <(round "$sc"); profiled; stop
    echo "$h" >> "$WORK/h"; echo "$f" >> "$WORK/f"; echo "$hc" >> "$WORK/hc"; echo "$fc" >> "$WORK/fc"
    awk -v h="$h" -v f="$f" 'BEGIN { if (h > 0) printf "%.3f\n", f / h }' >> "$WORK/r"
    awk -v h="$hc" -v f="$fc" 'BEGIN { if (h > 0 && f != "nan") printf "%.3f\n", f / h }' >> "$WORK/rc"
    [ -n "${VERBOSE:-}" ] && echo "  round $sc: haproxy $h/s ${hc}us, fulcrum $f/s ${fc}us ($(cut -d' ' -f1 /proc/loadavg))" >&2
    [ -s "$WORK/failed" ] && { echo "FAIL: a round did not measure what it names" >&2; exit 1; }
  done
  printf "%-16s %10s %10s %7s %12s %12s %7s\n" "$sc" "$(median < "$WORK/h")" "$(median < "$WORK/f")" \
    "$(median < "$WORK/r")" "$(median < "$WORK/hc")" "$(median < "$WORK/fc")" "$(median < "$WORK/rc")"
  if [ "$sc" = idle-memory ]; then
    # The guard: fulcrum's bytes per idle TLS connection against HAProxy's in the same run.
    if ! awk -v h="$(median < "$WORK/h")" -v f="$(median < "$WORK/f")" -v m="$IDLE_TLS_MAX_RATIO" \
      'BEGIN { exit !(h > 0 && f > 0 && f <= m * h) }'; then
      echo "FAIL: fulcrum holds more than $IDLE_TLS_MAX_RATIO x HAProxy's bytes per idle TLS connection" >&2
      IDLE_FAILED=1
    fi
  fi
done
echo "(medians of $RUNS alternating rounds of ${DURATION}s, $CONNS connections (h2-tls: $H2_CONNS x $H2_STREAMS streams); nbthread 1${QUOTA:+; each proxy limited to $QUOTA% of a CPU}; load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
[ "${IDLE_FAILED:-0}" = 0 ] || exit 1

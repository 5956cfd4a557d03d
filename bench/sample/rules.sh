#!/usr/bin/env bash
# The cost of the sample language under load: a frontend with a 20-rule `http-request` chain
# (headers set from fetches and converters, variables, ACL-guarded denies), a map lookup
# choosing the backend (`use_backend %[req.hdr(host),lower,map(FILE)]`, 100 entries) and a
# custom `log-format`, against the same frontend without them (`option httplog`), for
# fulcrum and for haproxy doing the same work.
#
#   bench/sample/rules.sh FULCRUM_BINARY
#   RUNS=5 DURATION=2 bench/sample/rules.sh target/release/fulcrum
#
# Figure: the proxy's CPU time (utime+stime from /proc) per request during a wrk run, each
# proxy pinned to CPU $PROXY_CPU, wrk and nginx (the backend) to CPU $LOAD_CPU. Rounds
# alternate the four setups (fulcrum plain, fulcrum rules, haproxy plain, haproxy rules)
# RUNS times on freshly started proxies; prints each setup's median µs/request and the ratios
# of the medians (rules/plain per proxy; fulcrum/haproxy per config). Both log to a UDP
# socket a `socat` reads and drops.
set -euo pipefail

F=${1:?fulcrum binary}
RUNS=${RUNS:-5}
DURATION=${DURATION:-2}
CONNS=${CONNS:-20}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
PIN_PROXY="taskset -c $PROXY_CPU"
PIN_LOAD="taskset -c $LOAD_CPU"
WORK=$(mktemp -d /tmp/fulcrum-rules-bench-XXXXXX)
chmod 755 "$WORK"
NGINX_PORT=${NGINX_PORT:-19280}
PORT=${PORT:-19281}
LOG_PORT=${LOG_PORT:-19282}
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
command -v haproxy >/dev/null || { echo "haproxy is needed" >&2; exit 1; }
echo "pinning: proxy on CPU $PROXY_CPU; wrk and nginx on CPU $LOAD_CPU ($(nproc) CPUs); load now: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# shellcheck source=bench/sample/configs.sh
. "$(dirname "$0")/configs.sh"
write_nginx_conf "$WORK"
$PIN_LOAD nginx -c "$WORK/nginx.conf" -p "$WORK"
socat -u "UDP-RECV:$LOG_PORT,bind=127.0.0.1" /dev/null &
PIDS+=("$!")

write_configs "$WORK"
"$F" check -f "$WORK/rules.cfg" >/dev/null
haproxy -c -q -f "$WORK/rules.cfg"

start() { # $1 fulcrum|haproxy, $2 cfg → pid
  if [ "$1" = fulcrum ]; then
    $PIN_PROXY "$F" run -f "$2" >/dev/null 2>&1 &
  else
    $PIN_PROXY haproxy -db -f "$2" >/dev/null 2>&1 &
  fi
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/x" 2>/dev/null && break
    sleep 0.05
  done
  echo "$pid"
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
median() { sort -g | awk '{a[NR]=$1} END { if (NR==0) {print 0} else if (NR%2) {print a[(NR+1)/2]} else {printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2} }'; }

one() { # $1 proxy, $2 cfg → µs of proxy CPU per request
  local pid t0 t1 out n
  pid=$(start "$1" "$2")
  $PIN_LOAD wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:$PORT/shop/item.html?id=7" >/dev/null 2>&1 || true
  t0=$(ticks "$pid")
  out=$($PIN_LOAD wrk -t1 -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:$PORT/shop/item.html?id=7" 2>&1)
  t1=$(ticks "$pid")
  kill "$pid" 2>/dev/null || true
  # Started in a subshell: not our child to wait for; the port must be free for the next one.
  for _ in $(seq 1 200); do [ -d "/proc/$pid" ] || break; sleep 0.05; done
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  awk -v a="$t0" -v b="$t1" -v n="${n:-0}" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { if (n > 0) printf "%.2f\n", (b - a) * 1e6 / hz / n; else print 0 }'
}

declare -A R
for _ in $(seq 1 "$RUNS"); do
  for setup in fulcrum:plain fulcrum:rules haproxy:plain haproxy:rules; do
    R[$setup]+="$(one "${setup%%:*}" "$WORK/${setup##*:}.cfg") "
  done
done
med() { echo "${R[$1]}" | tr ' ' '\n' | grep -v '^$' | median; }
fp=$(med fulcrum:plain); fr=$(med fulcrum:rules); hp=$(med haproxy:plain); hr=$(med haproxy:rules)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
echo "| µs proxy CPU per request (median of $RUNS x ${DURATION}s, $CONNS conns) | fulcrum | haproxy | fulcrum/haproxy |"
echo "|---|---|---|---|"
echo "| plain (option httplog) | $fp | $hp | $(ratio "$fp" "$hp") |"
echo "| 20 rules + map + log-format | $fr | $hr | $(ratio "$fr" "$hr") |"
echo "| rules/plain | $(ratio "$fr" "$fp") | $(ratio "$hr" "$hp") | |"
for k in fulcrum:plain fulcrum:rules haproxy:plain haproxy:rules; do echo "rounds $k: ${R[$k]}"; done

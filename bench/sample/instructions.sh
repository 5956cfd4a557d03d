#!/usr/bin/env bash
# User-space instructions per request of bench/sample/rules.sh's two configurations
# (`option httplog`; 20 rules + map + log-format), counted by callgrind: deterministic, so a
# change of a few hundred instructions per request shows on a loaded machine where the CPU
# time of rules.sh cannot.
#
#   bench/sample/instructions.sh FULCRUM_BINARY        # fulcrum only
#   HAPROXY=1 bench/sample/instructions.sh FULCRUM_BINARY   # and haproxy on the same configs
#   OUT=/tmp/cg bench/sample/instructions.sh BIN        # keep the dumps for callgrind_annotate
#   CONFIGS="bare plain tcp" bench/sample/instructions.sh BIN  # these configs, one row each
#     (bare: bench/proxy/run.sh's HTTP config, no log and no rule: the plain HTTP/1 path)
#
# Each proxy runs under `valgrind --tool=callgrind` with one thread; after $WARM keep-alive
# requests (h2load --h1, $CONNS connections) the counters are zeroed, $N more requests are
# sent, and the dump's total divided by $N is the figure (the proxy's whole process, all its
# threads, user space only).
set -euo pipefail

F=${1:?fulcrum binary}
N=${N:-3000}
WARM=${WARM:-300}
CONNS=${CONNS:-20}
NGINX_PORT=${NGINX_PORT:-19290}
PORT=${PORT:-19291}
LOG_PORT=${LOG_PORT:-19292}
WORK=$(mktemp -d /tmp/fulcrum-instr-bench-XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
for t in valgrind callgrind_control h2load nginx socat; do
  command -v "$t" >/dev/null || { echo "$t is needed" >&2; exit 1; }
done

# shellcheck source=bench/sample/configs.sh
. "$(dirname "$0")/configs.sh"
write_nginx_conf "$WORK"
nginx -c "$WORK/nginx.conf" -p "$WORK"
socat -u "UDP-RECV:$LOG_PORT,bind=127.0.0.1" /dev/null &
PIDS+=("$!")

write_configs "$WORK"
"$F" check -f "$WORK/rules.cfg" >/dev/null

URL="http://127.0.0.1:$PORT/shop/item.html?id=7"
one() { # $1 fulcrum|haproxy, $2 config name → instructions per request
  local cmd pid out
  if [ "$1" = fulcrum ]; then cmd=("$F" run -f "$WORK/$2.cfg"); else cmd=(haproxy -db -f "$WORK/$2.cfg"); fi
  out="$WORK/cg-$1-$2"
  valgrind --tool=callgrind --callgrind-out-file="$out" "${cmd[@]}" >"$WORK/$1-$2.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 600); do
    curl -s -o /dev/null "$URL" 2>/dev/null && break
    sleep 0.1
  done
  h2load --h1 -c "$CONNS" -n "$WARM" "$URL" >/dev/null
  callgrind_control -z "$pid" >/dev/null 2>&1
  h2load --h1 -c "$CONNS" -n "$N" "$URL" | grep -q "succeeded, 0 failed" || {
    echo "$1 $2: some requests failed" >&2
    exit 1
  }
  callgrind_control -d "$pid" >/dev/null 2>&1
  kill "$pid"
  for _ in $(seq 1 600); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
  local dump
  dump=$(ls -t "$out".* | grep -v '\.log$' | head -1)
  [ -n "${OUT:-}" ] && mkdir -p "$OUT" && cp "$dump" "$OUT/$1-$2.callgrind"
  awk -v n="$N" '/^totals:/ { printf "%.0f\n", $2 / n }' "$dump"
}

proxies=(fulcrum)
[ -n "${HAPROXY:-}" ] && proxies+=(haproxy)
if [ -n "${CONFIGS:-}" ]; then
  echo "| instructions per request ($N requests, $CONNS conns) | config | instr/req |"
  echo "|---|---|---:|"
  for p in "${proxies[@]}"; do
    for c in $CONFIGS; do echo "| $p | $c | $(one "$p" "$c") |"; done
  done
  exit 0
fi
echo "| instructions per request ($N requests, $CONNS conns) | plain | rules | rules - plain | rules/plain |"
echo "|---|---:|---:|---:|---:|"
for p in "${proxies[@]}"; do
  plain=$(one "$p" plain)
  rules=$(one "$p" rules)
  awk -v p="$p" -v a="$plain" -v b="$rules" \
    'BEGIN { printf "| %s | %d | %d | %d | %.2f |\n", p, a, b, b - a, b / a }'
done

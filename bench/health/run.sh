#!/usr/bin/env bash
# A server killed under load: fulcrum vs HAProxy, same config, same servers, same load.
#
#   bench/health/run.sh        # RUNS=5 CONNS=20 INTER=100 FALL=3 by default
#
# Two demo servers (fulcrum processes answering with `http-request return`, identical for both
# proxies) sit behind the proxy under test (`option httpchk`, `inter $INTER fall $FALL`,
# `retries 3`, `option redispatch`). wrk sends keep-alive requests for 6 s; after 2 s app-1 is
# SIGKILLed. Measured per run: the time from the kill to the proxy's "Server app_pool/app-1 is
# DOWN" line (both print it on stderr), against inter × fall, and the failed requests (non-2xx
# + socket errors) wrk saw. Runs alternate HAProxy, fulcrum, HAProxy, ...; medians are printed.
# (Through the real `fulcrum run`, so it replaces the health crate's former detect_bench and
# kill_under_load examples, which wired health into the proxy by hand.)
set -euo pipefail

RUNS=${RUNS:-5}
CONNS=${CONNS:-20}
INTER=${INTER:-100}
FALL=${FALL:-3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/fulcrum-bench-health-XXXXXX)
FRONT=${FRONT:-19381}
APP1=${APP1:-19382}
APP2=${APP2:-19383}
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

need=()
command -v haproxy >/dev/null || need+=(haproxy)
command -v wrk >/dev/null || need+=(wrk)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
(cd "$ROOT" && cargo build --release -q -p fulcrum)
FULCRUM="${CARGO_TARGET_DIR:-$ROOT/target}/release/fulcrum"

app_cfg() { # name port
  cat > "$WORK/$1.cfg" <<CFG
defaults
  mode http
  timeout connect 1s
  timeout client 10s
  timeout server 10s
frontend $1
  bind 127.0.0.1:$2
  http-request return status 200 content-type text/plain string $1
CFG
}
app_cfg app-1 "$APP1"
app_cfg app-2 "$APP2"

cat > "$WORK/lb.cfg" <<CFG
global
  nbthread 1
defaults
  mode http
  retries 3
  option redispatch
  timeout connect 500ms
  timeout client 10s
  timeout server 2s
  timeout check 500ms
frontend www
  bind 127.0.0.1:$FRONT
  default_backend app_pool
backend app_pool
  balance roundrobin
  option httpchk GET /
  default-server check inter $INTER fall $FALL rise 2
  server app-1 127.0.0.1:$APP1
  server app-2 127.0.0.1:$APP2
CFG

start_app() { "$FULCRUM" run -f "$WORK/$1.cfg" >/dev/null 2>&1 & echo $!; }

# stamp: prefix each stderr line with the time it was read (seconds, ns).
stamp() { while IFS= read -r l; do printf '%s %s\n' "$(date +%s.%N)" "$l"; done; }

one_run() { # proxy → prints "detect_ms failed requests"
  local which=$1 log="$WORK/$1.log"
  : > "$log"
  local a1 a2 lb
  a1=$(start_app app-1); a2=$(start_app app-2)
  sleep 0.3
  if [ "$which" = haproxy ]; then
    haproxy -db -f "$WORK/lb.cfg" 2> >(stamp > "$log") & lb=$!
  else
    FULCRUM_LOG=info "$FULCRUM" run -f "$WORK/lb.cfg" 2> >(stamp > "$log") & lb=$!
  fi
  PIDS+=("$lb")
  sleep 1
  wrk -t 2 -c "$CONNS" -d 6s "http://127.0.0.1:$FRONT/" > "$WORK/wrk.out" 2>&1 & local w=$!
  sleep 2
  local killed
  killed=$(date +%s.%N)
  kill -9 "$a1"
  wait "$w" || true
  kill "$lb" "$a2" 2>/dev/null || true
  wait "$lb" 2>/dev/null || true
  sleep 0.2
  local down
  down=$(grep -m1 'app_pool/app-1 is DOWN' "$log" | cut -d' ' -f1 || true)
  local detect=NA
  [ -n "$down" ] && detect=$(awk -v d="$down" -v k="$killed" 'BEGIN { printf "%d", (d - k) * 1000 }')
  local non2xx errs total
  non2xx=$(grep -oP 'Non-2xx or 3xx responses: \K[0-9]+' "$WORK/wrk.out" || echo 0)
  errs=$(grep -oP 'Socket errors: connect \K[0-9]+, read [0-9]+, write [0-9]+, timeout [0-9]+' "$WORK/wrk.out" | tr -d ',' | awk '{print $1+$3+$5+$7}' || true)
  total=$(grep -oP '^\s*\K[0-9]+(?= requests in)' "$WORK/wrk.out" || echo 0)
  echo "$detect $(( non2xx + ${errs:-0} )) $total"
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "NA"; else print a[int((NR+1)/2)]}'; }

declare -A DET FAIL TOT
for r in $(seq 1 "$RUNS"); do
  for p in haproxy fulcrum; do
    read -r d f t < <(one_run "$p")
    echo "run $r $p: DOWN after ${d} ms, ${f} failed of ${t}" >&2
    DET[$p]+="$d "; FAIL[$p]+="$f "; TOT[$p]+="$t "
  done
done

echo
echo "inter × fall = $((INTER * FALL)) ms, $CONNS keep-alive connections, $RUNS runs each, medians"
echo "| proxy | kill → DOWN | failed requests | requests in 6 s |"
echo "|---|---|---|---|"
for p in haproxy fulcrum; do
  echo "| $p | $(tr ' ' '\n' <<<"${DET[$p]}" | grep -v '^$' | median) ms | $(tr ' ' '\n' <<<"${FAIL[$p]}" | grep -v '^$' | median) | $(tr ' ' '\n' <<<"${TOT[$p]}" | grep -v '^$' | median) |"
done

#!/usr/bin/env bash
# Many servers checked: fulcrum vs HAProxy doing the same health checks, same servers.
#
#   bench/health/many.sh        # N=1000 SECS=10 RUNS=3 KIND=tcp by default
#   BEFORE=/path/to/old/fulcrum bench/health/many.sh   # also measures an older build, alternating
#   FULCRUM=/path/to/fulcrum bench/health/many.sh      # that build, without building
#
# The checker runs pinned to CPU $PIN (default 1) and the servers to the other CPUs (taskset),
# so a checker's CPU time is its own and the runs do not migrate.
#
# N loopback listeners (one Python asyncio process that answers "+PONG\r\n" to anything, so
# KIND=redis runs `option redis-check`, KIND=tcp a plain connect check) sit behind one backend
# with `check inter 1s` on every server. Each run starts the checker (HAProxy or `fulcrum run`,
# alternating), lets it settle 2 s, then samples its CPU time (nanoseconds on CPU, every thread: /proc/PID/task/*/schedstat) over
# SECS seconds, its context switches a second (all threads: its wake-ups, roughly) and its
# RSS and anonymous memory (RssAnon) at the end. Printed: medians per checker and the fulcrum/HAProxy ratios. The machine may be shared: keep runs short and read ratios, not absolute numbers.
set -euo pipefail

N=${N:-1000}
SECS=${SECS:-10}
RUNS=${RUNS:-3}
KIND=${KIND:-tcp}
PIN=${PIN:-1}
BEFORE=${BEFORE:-}
# taskset execs the checker: the pid measured is the checker's own
PINCMD=()
command -v taskset >/dev/null && PINCMD=(taskset -c "$PIN")
others=$(python3 -c "import os; print(','.join(str(c) for c in sorted(os.sched_getaffinity(0)) if c != $PIN) or '0')")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/fulcrum-bench-many-XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

command -v haproxy >/dev/null || { echo "haproxy is needed (scripts/install-deps.sh)"; exit 1; }
# FULCRUM=/path/to/fulcrum measures that build as is (no cargo build)
if [ -z "${FULCRUM:-}" ]; then
  (cd "$ROOT" && cargo build --release -q -p fulcrum)
  FULCRUM="${CARGO_TARGET_DIR:-$ROOT/target}/release/fulcrum"
fi

# The servers: N listeners on free loopback ports, ports written to a file once all listen.
cat > "$WORK/servers.py" <<'PY'
import asyncio, socket, sys
n, out = int(sys.argv[1]), sys.argv[2]
async def handle(r, w):
    try:
        while await r.read(4096):
            w.write(b"+PONG\r\n")
            await w.drain()
    except Exception:
        pass
    w.close()
async def main():
    ports = []
    for _ in range(n):
        s = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=64)
        ports.append(s.sockets[0].getsockname()[1])
    open(out + ".tmp", "w").write("".join(f"{p}\n" for p in ports))
    import os; os.rename(out + ".tmp", out)
    await asyncio.Event().wait()
asyncio.run(main())
PY
if command -v taskset >/dev/null; then
  taskset -c "$others" python3 "$WORK/servers.py" "$N" "$WORK/ports" & PIDS+=($!)
else
  python3 "$WORK/servers.py" "$N" "$WORK/ports" & PIDS+=($!)
fi
for _ in $(seq 100); do [ -f "$WORK/ports" ] && break; sleep 0.1; done
[ -f "$WORK/ports" ] || { echo "servers did not start"; exit 1; }
FRONT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

{
  echo "global"
  echo "  nbthread 1"
  echo "defaults"
  echo "  mode tcp"
  echo "  timeout connect 1s"
  echo "  timeout client 10s"
  echo "  timeout server 10s"
  echo "  timeout check 1s"
  echo "frontend fe"
  echo "  bind 127.0.0.1:$FRONT"
  echo "  default_backend pool"
  echo "backend pool"
  [ "$KIND" = redis ] && echo "  option redis-check"
  i=0
  while read -r port; do
    echo "  server s$i 127.0.0.1:$port check inter 1s"
    i=$((i + 1))
  done < "$WORK/ports"
} > "$WORK/lb.cfg"

# CPU time in nanoseconds, every thread (the scheduler's own count: utime+stime in clock
# ticks is too coarse for a ~4% load over seconds, 1 tick = 0.125% of an 8 s window)
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'; }
# context switches of every thread of the process (its wake-ups, roughly)
ctx_switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^(non)?voluntary_ctxt_switches/ {s += $2} END {print s + 0}'; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
# anonymous memory only (VmRSS also counts the binary's file pages, which differ between builds)
anon_kb() { awk '/RssAnon/ {print $2}' "/proc/$1/status"; }

measure() { # name cmd...
  local name=$1; shift
  "$@" > "$WORK/$name.log" 2>&1 & local pid=$!
  PIDS+=("$pid")
  sleep 2
  local t0; t0=$(cpu_ns "$pid")
  local c0; c0=$(ctx_switches "$pid")
  sleep "$SECS"
  local t1; t1=$(cpu_ns "$pid")
  local c1; c1=$(ctx_switches "$pid")
  local rss; rss=$(rss_kb "$pid")
  local anon; anon=$(anon_kb "$pid")
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  # CPU as percent of one core over the window; RSS in MiB; context switches a second;
  # anonymous memory in MiB
  echo "$name $(awk -v d=$((t1 - t0)) -v s="$SECS" 'BEGIN{printf "%.3f", 100*d/1e9/s}') $(awk -v r="$rss" 'BEGIN{printf "%.1f", r/1024}') $(( (c1 - c0) / SECS )) $(awk -v r="$anon" 'BEGIN{printf "%.1f", r/1024}')"
}

load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
: > "$WORK/results"
for r in $(seq "$RUNS"); do
  measure haproxy "${PINCMD[@]}" haproxy -db -f "$WORK/lb.cfg" >> "$WORK/results"
  measure fulcrum "${PINCMD[@]}" "$FULCRUM" run -f "$WORK/lb.cfg" >> "$WORK/results"
  [ -n "$BEFORE" ] && measure before "${PINCMD[@]}" "$BEFORE" run -f "$WORK/lb.cfg" >> "$WORK/results"
done

median() { sort -n | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2 }'; }
hc=$(awk '$1=="haproxy"{print $2}' "$WORK/results" | median)
fc=$(awk '$1=="fulcrum"{print $2}' "$WORK/results" | median)
hr=$(awk '$1=="haproxy"{print $3}' "$WORK/results" | median)
fr=$(awk '$1=="fulcrum"{print $3}' "$WORK/results" | median)
hx=$(awk '$1=="haproxy"{print $4}' "$WORK/results" | median)
fx=$(awk '$1=="fulcrum"{print $4}' "$WORK/results" | median)
ha=$(awk '$1=="haproxy"{print $5}' "$WORK/results" | median)
fa=$(awk '$1=="fulcrum"{print $5}' "$WORK/results" | median)
echo "servers=$N inter=1s kind=$KIND window=${SECS}s runs=$RUNS (alternating); load average at start: $load_at_start, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$WORK/results"
printf "%-8s %10s %10s %10s %10s\n" "" "CPU %" "RSS MiB" "ctxsw/s" "anon MiB"
printf "%-8s %10s %10s %10s %10s\n" haproxy "$hc" "$hr" "$hx" "$ha"
printf "%-8s %10s %10s %10s %10s\n" fulcrum "$fc" "$fr" "$fx" "$fa"
if [ -n "$BEFORE" ]; then
  bc=$(awk '$1=="before"{print $2}' "$WORK/results" | median)
  br=$(awk '$1=="before"{print $3}' "$WORK/results" | median)
  bx=$(awk '$1=="before"{print $4}' "$WORK/results" | median)
  ba=$(awk '$1=="before"{print $5}' "$WORK/results" | median)
  printf "%-8s %10s %10s %10s %10s\n" before "$bc" "$br" "$bx" "$ba"
  printf "%-8s %10s %10s\n" "before/h" "$(awk -v a="$bc" -v b="$hc" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "n/a"}')" \
    "$(awk -v a="$br" -v b="$hr" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "n/a"}')"
fi
# each round's fulcrum/haproxy CPU ratio (the same load around both), then their median
rr=$(awk '$1=="haproxy"{h=$2} $1=="fulcrum" && h>0 {printf "%.3f\n", $2/h}' "$WORK/results" | median)
echo "CPU ratio, median of the per-round ratios: $rr"
if [ -n "$BEFORE" ]; then
  br_=$(awk '$1=="haproxy"{h=$2} $1=="before" && h>0 {printf "%.3f\n", $2/h}' "$WORK/results" | median)
  echo "CPU ratio of the BEFORE build, median of the per-round ratios: $br_"
  fb_=$(awk '$1=="fulcrum"{f=$2} $1=="before" && $2>0 {printf "%.3f\n", f/$2}' "$WORK/results" | median)
  echo "CPU ratio fulcrum/BEFORE, median of the per-round ratios: $fb_"
fi
printf "%-8s %10s %10s %10s %10s\n" ratio "$(awk -v a="$fc" -v b="$hc" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "n/a"}')" \
  "$(awk -v a="$fr" -v b="$hr" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "n/a"}')" "" \
  "$(awk -v a="$fa" -v b="$ha" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "n/a"}')"

#!/usr/bin/env bash
# Scaling (issue 20 deliverable 4), fulcrum against HAProxy on run.sh's config and backend:
#
#   bench/proxy/scale.sh                 # both parts
#   PART=threads bench/proxy/scale.sh    # or PART=many
#   FULCRUM=/path/to/fulcrum bench/proxy/scale.sh
#
# threads: `nbthread 2` for both proxies on both CPUs, small keep-alive and a new connection
#   per request. wrk (2 threads) and nginx run on the same two CPUs: the proxies share the
#   cores with the load generator and the backend, so req/s is the machine's, and the ratio
#   fulcrum/HAProxy (and CPU µs per request, the proxy's pid only) is what compares them.
# many: one proxy thread pinned to CPU 0, the load on CPU 1 (as run.sh): small keep-alive at
#   $CONNS connections, at $MANY busy connections (wrk -c$MANY) and with $HOLD idle keep-alive
#   clients held open beside the $CONNS busy ones; each proxy's req/s and p99 against its own
#   $CONNS-connection figures. The descriptor limits of wrk, nginx and the proxies are raised to
#   the hard limit (run.sh); a machine whose hard limit cannot hold 2 x $MANY measures fewer
#   (said in the output).
#
# Ports come from NGINX_PORT, HTTP_PORT, TCP_PORT (run.sh's defaults otherwise); RUNS,
# DURATION, PERF, IDLE_CONC as run.sh.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PART=${PART:-threads many}
export RUNS=${RUNS:-4} DURATION=${DURATION:-8}
echo "load now: $(cut -d' ' -f1-3 /proc/loadavg)"
for part in $PART; do
  case "$part" in
    threads)
      echo
      echo "== nbthread 2, both proxies on CPUs 0,1; wrk (2 threads) and nginx on the same CPUs =="
      NBTHREAD=2 PROXY_CPU=0,1 LOAD_CPU=0,1 WRK_THREADS=2 IDLE=0 MANY=0 HOLD=0 \
        ONLY='^small, keep-alive$|^new conn per request$' "$HERE/run.sh"
      ;;
    many)
      echo
      echo "== ${MANY:-10000} busy connections, ${HOLD:-10000} idle ones beside ${CONNS:-50} busy: one proxy thread on CPU 0, the load on CPU 1 =="
      IDLE=0 MANY=${MANY:-10000} HOLD=${HOLD:-10000} IDLE_CONC=${IDLE_CONC:-32} \
        WRK_THREADS=${WRK_THREADS:-2} ONLY='^small, ' "$HERE/run.sh"
      ;;
    *) echo "unknown part '$part' (threads, many)" >&2; exit 2 ;;
  esac
done

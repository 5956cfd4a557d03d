#!/bin/sh
# LVS benchmark: connections/s through fulcrum's LVS NAT and DR (nftables) against fulcrum's
# own TCP proxy (mode tcp) on the same namespaces and real servers, and the cost of a
# 1,000-real-server ruleset update (needs root, iproute2, nftables, wrk).
#   bench/lvs/run.sh            # 3 alternating runs per path, 2s each
#   BENCH_RUNS=5 bench/lvs/run.sh
set -eu
cd "$(dirname "$0")/../.."
exec cargo test --release -p fulcrum --test lvs_bench -- --ignored --nocapture --test-threads=1

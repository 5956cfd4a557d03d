#!/bin/sh
# VRRP failover benchmark: fulcrum+fulcrum against keepalived+HAProxy on the same
# network-namespace topology (needs root, iproute2, keepalived, haproxy).
#   bench/vrrp/run.sh            # 3 runs per case
#   BENCH_RUNS=5 bench/vrrp/run.sh
set -eu
cd "$(dirname "$0")/../.."
exec cargo test --release -p fulcrum --test vrrp_bench -- --ignored --nocapture --test-threads=1

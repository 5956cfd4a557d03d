#!/bin/sh
# Cluster-mode failover: three fulcrum nodes with a three-member etcd in network namespaces,
# twelve VIPs; each node is killed in turn (link down + every process killed) ROUNDS times;
# prints, per kill, the time until every VIP of the dead node answers from another node and the
# client's failed probes, then the median and max. Needs root, iproute2, etcd-server,
# etcd-client (scripts/install-deps.sh installs them).
#   bench/cluster/run.sh             # 2 rounds: 6 kills
#   ROUNDS=5 bench/cluster/run.sh
set -eu
cd "$(dirname "$0")/../.."
bash scripts/install-deps.sh
FULCRUM_REQUIRE_NETNS=1 FULCRUM_CLUSTER_ROUNDS="${ROUNDS:-2}" \
    exec cargo test --release -p fulcrum --test cluster_etcd cluster_spreads_fails_over_and_rebalances -- --nocapture

#!/usr/bin/env bash
# Installs the Debian packages the test suite talks to (the real haproxy and keepalived to
# compare against, iproute2 for network namespaces), when they are missing and we are root.
# One `apt-get update`, then one `apt-get install -y`. Prints what it does; never fails the
# caller when not root (tests then skip loudly, unless FULCRUM_REQUIRE_NETNS=1).
set -u
need=()
command -v haproxy    >/dev/null 2>&1 || need+=(haproxy)
command -v keepalived >/dev/null 2>&1 || need+=(keepalived)
command -v ip         >/dev/null 2>&1 || need+=(iproute2)
command -v curl       >/dev/null 2>&1 || need+=(curl)
command -v openssl    >/dev/null 2>&1 || need+=(openssl)      # SSL_GET test's TLS server
command -v ping       >/dev/null 2>&1 || need+=(iputils-ping) # LBaaS PING monitors (Octavia's ping-wrapper.sh)
command -v promtool   >/dev/null 2>&1 || need+=(prometheus)   # promtool check metrics
command -v systemd-socket-activate >/dev/null 2>&1 || need+=(systemd)  # socket activation test
command -v socat      >/dev/null 2>&1 || need+=(socat)        # runtime socket tests
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)  # protocol checks against a real redis
command -v hatop      >/dev/null 2>&1 || need+=(hatop)        # hatop against the stats socket
command -v tmux       >/dev/null 2>&1 || need+=(tmux)         # hatop runs inside tmux
command -v chromium   >/dev/null 2>&1 || need+=(chromium fonts-dejavu-core)  # the stats page in a real browser (with a font to draw it)
command -v prometheus-haproxy-exporter >/dev/null 2>&1 || need+=(prometheus-haproxy-exporter)  # reads the stats CSV
command -v protoc     >/dev/null 2>&1 || need+=(protobuf-compiler)  # etcd-client's build script (cluster mode)
command -v etcd       >/dev/null 2>&1 || need+=(etcd-server)  # cluster mode's etcd members in the tests
command -v etcdctl    >/dev/null 2>&1 || need+=(etcd-client)  # the cluster tests find the etcd leader
command -v arping     >/dev/null 2>&1 || need+=(iputils-arping)  # cluster tests: who answers ARP for a VIP
command -v openstack  >/dev/null 2>&1 || need+=(python3-openstackclient python3-octaviaclient)  # `openstack loadbalancer ...` against the LBaaS API
command -v nft        >/dev/null 2>&1 || need+=(nftables)     # LVS virtual servers (fulcrum-lvs programs nft)
command -v conntrack  >/dev/null 2>&1 || need+=(conntrack)    # LVS expire_nodest_conn: a dead real server's NAT flows are deleted
command -v cc         >/dev/null 2>&1 || need+=(gcc)          # builds testlab's fake_ipvs.so: the real keepalived's checkers run without IPVS
command -v h2load     >/dev/null 2>&1 || need+=(nghttp2-client)  # HTTP/2 load (bind ... proto h2)
for extra in "$@"; do
    command -v "${extra%%:*}" >/dev/null 2>&1 || need+=("${extra##*:}")
done
if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing ${need[*]} and not root: tests that need them will skip" >&2
    exit 0
fi
echo "install-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends "${need[@]}" >&2

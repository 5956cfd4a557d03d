#!/usr/bin/env bash
# Runs every test of the workspace: unit, property, integration (real sockets, real processes,
# network namespaces when root), and the comparisons with the real haproxy and keepalived.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
bash scripts/install-deps.sh
# The daemons we compare against must not be running as services on the test machine.
if [ "$(id -u)" = 0 ] && command -v systemctl >/dev/null 2>&1; then
    systemctl stop haproxy keepalived >/dev/null 2>&1 || true
fi
# The tree stays formatted and clippy-clean (issue 12): checked before any test runs.
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# Every test binary runs even after one fails: a run reports all its failures at once (the
# exit status is still the failure's).
cargo test --workspace --no-fail-fast "$@"

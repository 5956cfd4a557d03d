#!/usr/bin/env bash
# LBaaS API bench (issue 18): time from `POST .../members` to the new member serving traffic
# through the VIP (median, p90, p99 over ROUNDS sequential creates, each deleted again), and
# the API's GET requests per second. PROFILE=debug skips the release build (say so when quoting).
#
#   bench/api/run.sh            # ROUNDS=100 GET_SECONDS=3 PROFILE=release
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PROFILE=${PROFILE:-release}
if [ "$PROFILE" = release ]; then
  (cd "$ROOT" && cargo build --release -q -p fulcrum)
else
  (cd "$ROOT" && cargo build -q -p fulcrum)
fi
FULCRUM="${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE/fulcrum"
python3 "$ROOT/bench/api/bench.py" "$FULCRUM" "${ROUNDS:-100}" "${GET_SECONDS:-3}"

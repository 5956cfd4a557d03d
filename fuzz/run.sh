#!/bin/sh
# Runs every fuzz target for FUZZ_SECONDS (default 60) each, with coverage feedback
# (libFuzzer), growing fuzz/corpus/TARGET and writing any crash to fuzz/artifacts/TARGET.
# Needs the nightly toolchain (rustup toolchain install nightly) and a C++ compiler.
#   fuzz/run.sh                     # every target, 60 s each
#   FUZZ_SECONDS=600 fuzz/run.sh vrrp_packet
# The saved corpus and crashes are replayed on stable by ordinary tests:
#   cargo test -p fulcrum-config --test fuzz_replay; cargo test -p fulcrum-vrrp --test fuzz_replay
#   cargo test -p fulcrum-proxy --test fuzz_replay; cargo test -p fulcrum-stats --test fuzz_replay
set -eu
cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-60}"
targets="${*:-haproxy_config keepalived_config vrrp_packet http_request http_response chunked proxy_header cookie stats_admin_form}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
# An explicit --target keeps the coverage flags off build scripts and proc macros.
triple="$(rustc +nightly -vV | sed -n 's/^host: //p')"
RUSTFLAGS="--cfg fuzzing -Cdebug-assertions -Coverflow-checks \
 -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares" \
  cargo +nightly build --release --bins --target "$triple"
status=0
for t in $targets; do
  mkdir -p "corpus/$t" "artifacts/$t"
  # Seeds: the repo's own configs (read-only copies live in seeds/).
  echo "== $t: ${seconds}s"
  "$CARGO_TARGET_DIR/$triple/release/$t" "corpus/$t" "seeds/$t" \
    -max_total_time="$seconds" -max_len=8192 -timeout=10 \
    -artifact_prefix="artifacts/$t/" -print_final_stats=1 || status=$?
done
exit $status

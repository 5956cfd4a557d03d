#!/bin/sh
# Cost of stick-table replication on the request path: the same fulcrum config with `stick on
# src` on a table replicated to a second fulcrum (peers section) and on a table that is not,
# alternating ROUNDS times, wrk for SECS seconds each (the backend is a fulcrum `http-request
# return`). Prints req/s per round and the ratio of medians (replicated / not replicated).
#   bench/peers/run.sh                       # release build, 3 rounds of 5 s
#   BIN=target/debug/fulcrum ROUNDS=3 SECS=3 bench/peers/run.sh
set -eu
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
ROUNDS="${ROUNDS:-3}"
SECS="${SECS:-5}"
if [ -z "${BIN:-}" ]; then
    (cd "$ROOT" && cargo build --release -q -p fulcrum)
    BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/fulcrum"
fi
command -v wrk >/dev/null || { echo "wrk is needed (scripts/install-deps.sh)"; exit 1; }
DIR="$(mktemp -d)"
PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null || true; done; rm -rf "$DIR"; }
trap cleanup EXIT INT TERM
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
APP=$(port); PA=$(port); PB=$(port); FR=$(port); FN=$(port)
cat > "$DIR/app.cfg" <<CFG
global
    nbthread 1
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend app
    bind 127.0.0.1:$APP
    http-request return status 200 content-type text/plain string ok
CFG
lb() { # NAME PEERS-ARG PORT
    cat > "$DIR/$1.cfg" <<CFG
global
    nbthread 1
    localpeer a
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
peers mesh
    peer a 127.0.0.1:$PA
    peer b 127.0.0.1:$PB
frontend f
    bind 127.0.0.1:$3
    default_backend db
backend db
    stick-table type ip size 100k expire 30m $2
    stick on src
    server s1 127.0.0.1:$APP
CFG
}
lb repl "peers mesh" "$FR"
lb plain "" "$FN"
sed -e "s/localpeer a/localpeer b/" -e "s/127.0.0.1:$FR/127.0.0.1:$(port)/" "$DIR/repl.cfg" > "$DIR/peer.cfg"
"$BIN" run --control "$DIR/app.sock" -f "$DIR/app.cfg" 2>/dev/null & PIDS="$PIDS $!"
"$BIN" run --control "$DIR/peer.sock" -f "$DIR/peer.cfg" 2>/dev/null & PIDS="$PIDS $!"
sleep 1
rps() { wrk -t1 -c20 -d"${SECS}s" "http://127.0.0.1:$1/" | awk '/Requests\/sec/ {print $2}'; }
R=""; N=""
for i in $(seq 1 "$ROUNDS"); do
    for kind in repl plain; do
        "$BIN" run --control "$DIR/$kind.sock" -f "$DIR/$kind.cfg" 2>/dev/null & pid=$!
        p=$FN; [ "$kind" = repl ] && p=$FR
        for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$p/" && break; sleep 0.1; done
        v=$(rps "$p")
        kill "$pid"; wait "$pid" 2>/dev/null || true
        echo "round $i $kind: $v req/s"
        if [ "$kind" = repl ]; then R="$R $v"; else N="$N $v"; fi
    done
done
med() { echo "$@" | tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
MR=$(med $R); MN=$(med $N)
echo "median req/s: replicated $MR, not replicated $MN, ratio $(echo "$MR $MN" | awk '{printf "%.3f", $1/$2}')"

#!/bin/sh
# Asks the real haproxy what each sample expression of a list gives, and writes the table
# the sample crate's unit tests read (crates/sample/src/manual_cases.txt):
#   scripts/sample-oracle.sh EXPRESSIONS [PORT] > TABLE
# (the expressions of the current table: `cut -f1 crates/sample/src/manual_cases.txt`)
# EXPRESSIONS: one expression a line (`#` lines are copied as they are). Each becomes an
# `http-request return ... lf-string "%[EXPR]"` rule, and the body haproxy answers is the
# expected value (a missing value is empty, as in any lf-string); an expression haproxy
# refuses at startup (`haproxy -c`) is written `<refused>`. Variables the cases read:
# txn.a = "abc", txn.n = 5. `\` and `"` are escaped for the config line here. haproxy runs
# in crates/sample/src, where the map files the cases name are (`manual_cases/*.map`).
set -eu
list=$(realpath "$1")
cd "$(dirname "$(realpath "$0")")/../crates/sample/src"
port=${2:-${PORT:-22080}}
dir=$(mktemp -d)
pid=
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
{
    printf 'defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n'
    printf 'frontend f\n  bind 127.0.0.1:%s\n' "$port"
    printf '  http-request set-var(txn.a) str(abc)\n  http-request set-var(txn.n) int(5)\n'
} > "$dir/head.cfg"
rule() {
    q=$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')
    printf '  http-request return status 200 content-type text/plain lf-string "%%[%s]" if { path /%s }\n' "$q" "$2"
}
cp "$dir/head.cfg" "$dir/h.cfg"
: > "$dir/refused"
n=0
grep -v '^#' "$list" | while IFS= read -r e; do
    n=$((n + 1))
    { cat "$dir/head.cfg"; rule "$e" "$n"; } > "$dir/one.cfg"
    if haproxy -c -q -f "$dir/one.cfg" >/dev/null 2>&1; then
        rule "$e" "$n" >> "$dir/h.cfg"
    else
        echo "$n" >> "$dir/refused"
    fi
done
haproxy -f "$dir/h.cfg" -db >"$dir/log" 2>&1 &
pid=$!
i=0
until curl -s -o /dev/null "http://127.0.0.1:$port/0"; do
    i=$((i + 1))
    [ $i -lt 100 ] || { cat "$dir/log" >&2; exit 1; }
    sleep 0.1
done
n=0
while IFS= read -r e; do
    case $e in
    '#'*) printf '%s\n' "$e"; continue ;;
    esac
    n=$((n + 1))
    if grep -qx "$n" "$dir/refused"; then
        printf '%s\t<refused>\n' "$e"
        continue
    fi
    got=$(curl -s "http://127.0.0.1:$port/$n")
    printf '%s\t%s\n' "$e" "$got"
done < "$list"

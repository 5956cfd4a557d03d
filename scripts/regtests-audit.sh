#!/usr/bin/env bash
# Audit: HAProxy's own reg-test configs through `haproxy -c` and `fulcrum check`.
#
#   scripts/regtests-audit.sh DIR [FULCRUM]
#
# DIR holds one file per `haproxy hN -conf { ... }` block of a reg-test (.vtc), named
# FOLDER__TEST.hN.cfg, as written in the test (with its ${...} macros). The configs are not in
# this repository (they are HAProxy's test suite's; see the closing note for where the last
# audit's copy is). Nothing here uses the network: each macro becomes a local value —
# `fd@${NAME}` a 127.0.0.1 port, `${sN_addr}`/`${sN_port}` 127.0.0.1 and a port,
# `${testdir}`/`${tmpdir}` a scratch directory where every file a config names there is created
# empty, `${NAME-DEFAULT}` its default — and each config is checked by both.
#
# Prints one line per config: `haproxy=ok|fail fulcrum=ok|fail NAME`, then every error
# `fulcrum check` gives for a config haproxy accepts (the gaps), then a count per message.
set -u
dir=${1:?usage: regtests-audit.sh DIR [FULCRUM]}
fulcrum=${2:-fulcrum}
command -v haproxy >/dev/null || { echo "haproxy is not installed" >&2; exit 2; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
gaps=$scratch/gaps.txt
: >"$gaps"
loose=$scratch/loose.txt
: >"$loose"
n=0 hok=0 both=0
for cfg in "$dir"/*.cfg; do
    name=$(basename "$cfg" .cfg)
    work=$scratch/$name
    mkdir -p "$work"
    # files the config names under ${testdir} / ${tmpdir}: created empty (a .pem: a
    # self-signed certificate and its key)
    grep -oE '\$\{(testdir|tmpdir)\}/[A-Za-z0-9_./-]*' "$cfg" | sed 's/^[^/]*\///' | sort -u |
        while read -r f; do
            mkdir -p "$work/$(dirname "$f")"
            case $f in
            *.pem)
                openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=www.test1.com -days 30 \
                    -keyout "$work/$f.key" -out "$work/$f" 2>/dev/null && cat "$work/$f.key" >>"$work/$f"
                ;;
            *) : >"$work/$f" ;;
            esac
        done
    WORK=$work perl -pe '
        BEGIN { $p = 20000 + int(rand(20000)); }
        sub port { my $k = shift; $P{$k} //= $p++; return $P{$k}; }
        s/"?fd\@\$\{(\w+)\}"?/"127.0.0.1:" . port($1)/ge;
        s/\$\{(\w+)_addr\}/127.0.0.1/g;
        s/\$\{(\w+)_port\}/port($1)/ge;
        s/\$\{(testdir|tmpdir)\}/$ENV{WORK}/g;
        s/\$\{no-htx\}/#/g;
        s/\$\{\w+-([^}]*)\}/$1/g;
    ' <"$cfg" >"$work/h.cfg"
    n=$((n + 1))
    haproxy -c -f "$work/h.cfg" >"$work/haproxy.out" 2>&1
    rc=$?
    # exit 2 "will not start (no listener)": valid, only nothing to listen on
    if [ $rc = 0 ] || { [ $rc = 2 ] && grep -q 'no listener' "$work/haproxy.out"; }; then
        h=ok
        hok=$((hok + 1))
    else
        h=fail
    fi
    if "$fulcrum" check -f "$work/h.cfg" >"$work/fulcrum.out" 2>&1; then f=ok; else f=fail; fi
    echo "haproxy=$h fulcrum=$f $name"
    if [ "$h" = ok ] && [ "$f" = ok ]; then both=$((both + 1)); fi
    if [ "$h" = fail ] && [ "$f" = ok ]; then
        echo "$name: $(grep -m1 ALERT "$work/haproxy.out" | sed 's/^.*: config : //')" >>"$loose"
    fi
    if [ "$h" = ok ] && [ "$f" = fail ]; then
        grep ': error: ' "$work/fulcrum.out" | sed "s#^[^:]*:\([0-9]*\): error: #$name:\1: #" >>"$gaps"
    fi
done
echo
echo "configs: $n; haproxy accepts: $hok; fulcrum accepts too: $both"
echo
echo "== fulcrum errors on configs haproxy accepts =="
cat "$gaps"
echo
echo "== configs fulcrum accepts and haproxy refuses (haproxy's first alert) =="
cat "$loose"
echo
echo "== count per gap (lines, then configs) =="
# one key per error: the fetch, converter, keyword or action named, else the message's start
sed 's/^\([^:]*\):[0-9]*: /\1\t/' "$gaps" | sed -E \
    -e "s/\t.*unknown (fetch|converter) '([^']*)'.*/\tunknown \1 \2/" \
    -e "s/\t.*fetch '([^']*)' is not run.*/\tfetch \1 not run/" \
    -e "s/\t.*'str' expects at least 1 argument.*/\tstr() without argument/" \
    -e "s/\t'return hdr [^']*': log-format in return header values.*/\treturn hdr with log-format value/" \
    -e "s/\t'redirect prefix' with a log-format target.*/\tredirect prefix with log-format target/" \
    -e "s/\t'redirect' expects location, prefix or scheme, found '([^']*)'.*/\tredirect with '\1' before the target/" \
    -e "s/\t(.{0,70}).*/\t\1/" |
    awk -F'\t' '{ n[$2]++; if (!seen[$2 FS $1]++) c[$2]++ } END { for (k in n) printf "%4d lines %3d configs  %s\n", n[k], c[k], k }' |
    sort -rn

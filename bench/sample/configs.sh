# The two configurations of bench/sample/rules.sh (sourced by it and by instructions.sh),
# and the backend's: `write_nginx_conf DIR` writes DIR/nginx.conf (one worker answering
# "hello" on 127.0.0.1:$NGINX_PORT, pid and error log in DIR).
#
# `write_configs DIR` writes DIR/plain.cfg (`option httplog`), DIR/rules.cfg (20
# `http-request` rules, a 100-entry map in `use_backend`, a custom `log-format`),
# DIR/bare.cfg (bench/proxy/run.sh's HTTP config: no log, no rule), DIR/tcp.cfg (bare.cfg in
# `mode tcp`) and DIR/hosts.map, for a proxy on 127.0.0.1:$PORT in front of a server on $NGINX_PORT,
# logging to 127.0.0.1:$LOG_PORT.

write_nginx_conf() {
  cat > "$1/nginx.conf" <<NGX
worker_processes 1;
pid $1/nginx.pid;
error_log $1/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NGINX_PORT reuseport;
    location / { return 200 "hello\n"; }
  }
}
NGX
}

write_configs() {
local WORK=$1
for i in $(seq 1 99); do echo "host$i.example.com other"; done > "$WORK/hosts.map"
echo "127.0.0.1:$PORT app" >> "$WORK/hosts.map"

common() { # what both configs share
  cat <<CFG
global
  nbthread 1
  maxconn 4000
  log 127.0.0.1:$LOG_PORT local0
defaults
  mode http
  log global
  timeout connect 5s
  timeout client 30s
  timeout server 30s
backend app
  server n1 127.0.0.1:$NGINX_PORT
backend other
  server n1 127.0.0.1:$NGINX_PORT
CFG
}
{ common; cat <<CFG
frontend web
  bind 127.0.0.1:$PORT
  option httplog
  default_backend app
CFG
} > "$WORK/plain.cfg"
# bench/proxy/run.sh's frontend and backend: nothing logged, nothing configured per request
cat > "$WORK/bare.cfg" <<CFG
global
  nbthread 1
  maxconn 4000
defaults
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend web
  mode http
  bind 127.0.0.1:$PORT
  default_backend app
backend app
  mode http
  server n1 127.0.0.1:$NGINX_PORT
CFG
# bare.cfg's proxy in TCP mode (bench/proxy/run.sh's TCP row): bytes forwarded, no HTTP parsing
sed 's/mode http/mode tcp/' "$WORK/bare.cfg" > "$WORK/tcp.cfg"
{ common; cat <<CFG
frontend web
  bind 127.0.0.1:$PORT
  log-format "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %{+Q}r %[var(txn.host)]"
  acl is_api path_beg /api /v2
  acl is_static path_end .css .js .png
  acl host_ok hdr(host) -m reg ^[a-z0-9.:]+\$
  http-request set-var(txn.host) req.hdr(host),lower
  http-request set-var(txn.path) path
  http-request set-header X-Forwarded-Proto http
  http-request del-header X-Debug
  http-request deny if { req.hdr(x-bad) -m found }
  http-request set-header X-Api 1 if is_api
  http-request set-header X-Static 1 if is_static
  http-request add-header X-Host %[var(txn.host)]
  http-request set-header X-Path-Len %[path,length]
  http-request deny if !host_ok
  http-request set-header X-Client %[src]
  http-request del-header X-Forwarded-Host
  http-request set-header X-Method %[method]
  http-request set-var(txn.ua) req.hdr(user-agent),lower
  http-request set-header X-UA-Len %[var(txn.ua),length]
  http-request deny if { path_sub /admin }
  http-request set-header X-Q %[query]
  http-request set-header X-Upper %[path,upper]
  http-request del-header X-Unused
  http-request set-header X-Sum %[path,crc32]
  use_backend %[req.hdr(host),lower,map($WORK/hosts.map,app)]
  default_backend app
CFG
} > "$WORK/rules.cfg"
[ "$(grep -c '^  http-request' "$WORK/rules.cfg")" = 20 ] || { echo "expected 20 rules" >&2; return 1; }
}

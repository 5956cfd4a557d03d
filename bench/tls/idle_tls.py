#!/usr/bin/env python3
"""Memory per idle TLS connection: opens N TLS connections to HOST:PORT (no certificate check),
sends one keep-alive request on each and reads its answer, then holds them all idle and prints
the proxy's RSS growth per connection (bytes), measured against the RSS after a first warm-up
connection.

Usage: idle_tls.py HOST PORT N PID
Prints: "opened bytes_per_connection".
"""
import socket, ssl, sys, time

host, port, n, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
REQ = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(["http/1.1"])

def rss():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0

def one():
    s = ctx.wrap_socket(socket.create_connection((host, port), timeout=5), server_hostname="bench.test")
    s.sendall(REQ)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            raise OSError("closed before the answer")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    while len(body) < length:
        body += s.recv(4096)
    return s

warm = [one() for _ in range(20)]
time.sleep(1.0)
base = rss()
socks = []
for i in range(n):
    try:
        socks.append(one())
    except OSError as e:
        print(f"connection {i} failed: {e}", file=sys.stderr)
        break
time.sleep(2.0)  # let the proxy settle (buffers given back); nothing to observe
grown = rss() - base
print(len(socks), grown // max(1, len(socks)))
for s in socks + warm:
    s.close()

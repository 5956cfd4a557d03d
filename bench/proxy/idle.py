#!/usr/bin/env python3
"""Opens N keep-alive client connections to HOST:PORT, sends one request on each and reads its
answer, then holds them all idle and prints the proxy's RSS and peak RSS (kB).

Usage: idle.py HOST PORT N PID
Prints: "opened VmRSS VmHWM". Each connection is an idle keep-alive client after one request,
the state a busy front door holds most of its connections in.
"""
import socket, sys, time

host, port, n, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
REQ = b"GET /small HTTP/1.1\r\nHost: bench\r\n\r\n"

def one_request(s):
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
        chunk = s.recv(4096)
        if not chunk:
            raise OSError("closed in the body")
        body += chunk

socks = []
for i in range(n):
    try:
        s = socket.create_connection((host, port), timeout=5)
        one_request(s)
        socks.append(s)
    except OSError as e:
        print(f"connection {i} failed: {e}", file=sys.stderr)
        break
time.sleep(2.0)  # let the proxy settle (buffers given back, timers armed); nothing to observe
def status(field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0
print(len(socks), status("VmRSS:"), status("VmHWM:"))
for s in socks:
    s.close()

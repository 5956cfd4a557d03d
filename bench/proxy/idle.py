#!/usr/bin/env python3
"""Opens N idle TCP connections to HOST:PORT, holds them, prints the proxy's peak RSS (kB).

Usage: idle.py HOST PORT N PID
Each connection is accepted by the proxy but sends nothing (an idle client connection).
"""
import socket, sys, time

host, port, n, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
socks = []
for i in range(n):
    try:
        s = socket.create_connection((host, port), timeout=5)
        socks.append(s)
    except OSError as e:
        print(f"connect {i} failed: {e}", file=sys.stderr)
        break
time.sleep(2.0)
def status(field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0
print(len(socks), status("VmRSS:"), status("VmHWM:"))
for s in socks:
    s.close()

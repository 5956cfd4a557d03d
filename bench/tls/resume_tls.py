#!/usr/bin/env python3
"""Resumed TLS handshakes: for DURATION seconds, one connection after another to HOST:PORT, each
offering the session (ticket or id) of the previous one, sending one request with
`Connection: close` and reading the answer to its end (so TLS 1.3 tickets sent after the
handshake are in before the next connection). No certificate check.

Usage: resume_tls.py HOST PORT DURATION [1.2|1.3]
Prints: "connections_per_second connections resumed" (the first connection is a full handshake;
`resumed` says how many of the others the server did resume).
"""
import socket, ssl, sys, time

host, port, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
version = sys.argv[4] if len(sys.argv) > 4 else "1.3"
REQ = b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(["http/1.1"])
v = ssl.TLSVersion.TLSv1_2 if version == "1.2" else ssl.TLSVersion.TLSv1_3
ctx.minimum_version = v
ctx.maximum_version = v

session, n, resumed = None, 0, 0
start = time.monotonic()
end = start + duration
while time.monotonic() < end:
    raw = socket.create_connection((host, port), timeout=5)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle wait behind a delayed ACK
    s = ctx.wrap_socket(raw, server_hostname="bench.test", session=session)
    s.sendall(REQ)
    while s.recv(65536):
        pass
    if s.session_reused:
        resumed += 1
    session = s.session
    s.close()
    n += 1
elapsed = time.monotonic() - start
print(f"{n / elapsed:.1f} {n} {resumed}")

#!/usr/bin/env python3
"""Opens N keep-alive client connections to HOST:PORT, sends one request on each and reads its
answer, then holds them all idle and prints the proxy's RSS and peak RSS (kB).

Usage: idle.py HOST PORT N PID [CONC [hold]]
Prints: "opened VmRSS VmHWM RssAnon" (kB; RssAnon leaves out the binary's own pages, which
vary with how much of the file the page cache holds, so memory per connection is counted on
it). Each connection is an idle keep-alive client after one request,
the state a busy front door holds most of its connections in. CONC (default 1) opens that many
connections at a time: connections that open faster than the proxy parks them hold their
session's task for a while, so CONC stresses that window (the figure depends less on how fast
this script runs on a busy machine). With "hold", the connections stay open after the line is
printed, until the script is killed (run.sh's HOLD scenario measures a load beside them).
"""
import asyncio, socket, sys, time

host, port, n, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
conc = int(sys.argv[5]) if len(sys.argv) > 5 else 1
hold = len(sys.argv) > 6 and sys.argv[6] == "hold"
REQ = b"GET /small HTTP/1.1\r\nHost: bench\r\n\r\n"

def content_length(head):
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            return int(v.strip())
    return 0

def one_request(s):
    s.sendall(REQ)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            raise OSError("closed before the answer")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = content_length(head)
    while len(body) < length:
        chunk = s.recv(4096)
        if not chunk:
            raise OSError("closed in the body")
        body += chunk

def status(field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0

def sequential():
    socks = []
    for i in range(n):
        try:
            s = socket.create_connection((host, port), timeout=5)
            one_request(s)
            socks.append(s)
        except OSError as e:
            print(f"connection {i} failed: {e}", file=sys.stderr)
            break
    return socks

async def concurrent():
    held = []
    async def one():
        r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
        w.write(REQ)
        head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 5)
        length = content_length(head)
        if length:
            await asyncio.wait_for(r.readexactly(length), 5)
        held.append(w)
    async def worker(k):
        for _ in range(k):
            await one()
    try:
        await asyncio.gather(*(worker(n // conc + (i < n % conc)) for i in range(conc)))
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
        print(f"a connection failed: {e!r}", file=sys.stderr)
    await asyncio.sleep(2.0)
    print(len(held), status("VmRSS:"), status("VmHWM:"), status("RssAnon:"), flush=True)
    while hold:
        await asyncio.sleep(3600)
    for w in held:
        w.close()

if conc > 1:
    asyncio.run(concurrent())
    sys.exit(0)
socks = sequential()
time.sleep(2.0)  # let the proxy settle (buffers given back, timers armed); nothing to observe
print(len(socks), status("VmRSS:"), status("VmHWM:"), status("RssAnon:"), flush=True)
while hold:
    time.sleep(3600)
for s in socks:
    s.close()

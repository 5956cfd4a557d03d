#!/usr/bin/env python3
"""Holds N idle TCP connections on loopback between two sockets of its own (a listener on
127.0.0.1:PORT and N clients), each after one small exchange, until killed: the control of
bench/proxy/run.sh's held-idle row (the same count of idle sockets on the machine, none of them
through the proxy). Prints the number held once they are all open.

Usage: sockhold.py N PORT
"""
import socket, sys, threading, time

n, port = int(sys.argv[1]), int(sys.argv[2])
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", port))
listener.listen(4096)
accepted = []

def accept_all():
    while len(accepted) < n:
        accepted.append(listener.accept()[0])

t = threading.Thread(target=accept_all)
t.start()
clients = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /small HTTP/1.1\r\nHost: bench\r\n\r\n")
    clients.append(s)
t.join(60)
for s in accepted:
    s.recv(4096)
    s.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 17\r\n\r\nhello from nginx\n")
for s in clients:
    s.recv(4096)
print(len(clients), flush=True)
while True:
    time.sleep(3600)

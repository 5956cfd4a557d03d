#!/usr/bin/env python3
"""LBaaS API bench: time from the API call to the new member serving traffic, over N
sequential member creates (each followed by its delete), and GET requests per second.

Usage: bench.py FULCRUM_BINARY [ROUNDS] [GET_SECONDS]. Everything on 127.0.0.1; every loop
bounded in count and time. Prints a table (median, p90, p99, max in ms) and the GET rate.
"""
import http.client, json, os, socket, statistics, subprocess, sys, tempfile, time

FULCRUM = sys.argv[1]
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 100
GET_SECONDS = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0
work = tempfile.mkdtemp(prefix="fulcrum-bench-api-")
procs = []


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start(name, text):
    path = os.path.join(work, name + ".cfg")
    with open(path, "w") as f:
        f.write(text)
    p = subprocess.Popen([FULCRUM, "run", "-f", path, "--control", os.path.join(work, name + ".sock")],
                         stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, name + ".log"), "w"))
    procs.append(p)
    return p


def wait_port(port, host="127.0.0.1", limit=20):
    end = time.time() + limit
    while time.time() < end:
        try:
            socket.create_connection((host, port), 0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise SystemExit(f"port {port} never opened")


def app(name, port):
    start(name, f"defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n"
                f"frontend {name}\n bind 127.0.0.1:{port}\n http-request return status 200 content-type text/plain string {name}\n")
    wait_port(port)


api_conn = None


def api(method, path, body=None):
    global api_conn
    data = json.dumps(body) if body is not None else None
    for _ in range(2):
        try:
            api_conn.request(method, "/v2/lbaas/" + path, body=data, headers={"Content-Type": "application/json"})
            r = api_conn.getresponse()
            raw = r.read()
            return r.status, (json.loads(raw) if raw and r.getheader("content-type", "").startswith("application/json") else None)
        except (http.client.HTTPException, OSError):
            api_conn = http.client.HTTPConnection("127.0.0.1", API, timeout=5)
    raise SystemExit("api unreachable")


def wait_active(lb, limit=10):
    end = time.time() + limit
    while time.time() < end:
        s, v = api("GET", f"loadbalancers/{lb}")
        if v["loadbalancer"]["provisioning_status"] == "ACTIVE":
            return
        time.sleep(0.002)
    raise SystemExit("not ACTIVE")


def through_vip(host, port):
    try:
        c = socket.create_connection((host, port), 1)
        c.sendall(b"GET / HTTP/1.1\r\nHost: vip\r\nConnection: close\r\n\r\n")
        out = b""
        while True:
            b = c.recv(4096)
            if not b:
                break
            out += b
        c.close()
        return out.split(b"\r\n\r\n", 1)[-1].decode()
    except OSError:
        return ""


HAPROXY = subprocess.run(["sh", "-c", "command -v haproxy"], capture_output=True).returncode == 0


def api_text(path):
    api_conn.request("GET", "/v2/lbaas/" + path)
    r = api_conn.getresponse()
    return r.read().decode()


def haproxy_rounds(cfg_without, cfg_with, vip, vport, rounds):
    # Another port on the same VIP: fulcrum keeps its own listener.
    hport = free_port()
    # (global maxconn lowered: this machine allows 20000 descriptors, Octavia raises the limit)
    move = lambda t: t.replace(f"{vip}:{vport}", f"{vip}:{hport}").replace("global\n    maxconn 50000", "global\n    maxconn 4000")
    cur = os.path.join(work, "haproxy.cfg")
    with open(cur, "w") as f:
        f.write(move(cfg_without))
    master = subprocess.Popen(["haproxy", "-W", "-f", cur], stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "haproxy.log"), "w"))
    procs.append(master)
    try:
        wait_port(hport, vip)
    except SystemExit:
        print(open(cur).read(), open(os.path.join(work, "haproxy.log")).read())
        raise
    log = os.path.join(work, "haproxy.log")

    def loaded(n, limit=10):
        end = time.time() + limit
        while time.time() < end:
            if open(log).read().count("Loading success") >= n:
                # The master re-executes itself on reload: a signal sent before it is back
                # in its loop is lost, so give it a moment (not timed).
                time.sleep(0.3)
                return
            time.sleep(0.005)
        raise SystemExit("haproxy did not load")

    loaded(1)  # the master handles SIGUSR2 once it has loaded
    times = []
    for r in range(rounds):
        with open(cur, "w") as f:
            f.write(move(cfg_with))
        t0 = time.perf_counter()
        master.send_signal(12)  # SIGUSR2: master-worker reload
        for _ in range(20000):
            if through_vip(vip, hport) == "app1":
                break
        else:  # (never reached in the runs quoted)
            print(open(os.path.join(work, "haproxy.log")).read()[-3000:], open(cur).read()[-600:])
            raise SystemExit("haproxy: the new member never served")
        times.append((time.perf_counter() - t0) * 1000)
        with open(cur, "w") as f:
            f.write(move(cfg_without))
        loaded(2 * r + 2)
        master.send_signal(12)
        loaded(2 * r + 3)
        quiet = 0
        for _ in range(20000):
            quiet = quiet + 1 if through_vip(vip, hport) == "app0" else 0
            if quiet >= 6:
                break
    return times


try:
    A0, A1, API, VPORT = free_port(), free_port(), free_port(), free_port()
    VIP = "127.0.77.%d" % (2 + os.getpid() % 250)
    app("app0", A0)
    app("app1", A1)
    start("api", f"api\n bind 127.0.0.1:{API}\n auth noauth\n")
    wait_port(API)
    api_conn = http.client.HTTPConnection("127.0.0.1", API, timeout=5)
    _, v = api("POST", "loadbalancers", {"loadbalancer": {"vip_address": VIP, "vip_subnet_id": "s"}})
    lb = v["loadbalancer"]["id"]
    wait_active(lb)
    _, v = api("POST", "listeners", {"listener": {"loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": VPORT}})
    lid = v["listener"]["id"]
    wait_active(lb)
    _, v = api("POST", "pools", {"pool": {"listener_id": lid, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}})
    pool = v["pool"]["id"]
    wait_active(lb)
    api("POST", f"pools/{pool}/members", {"member": {"address": "127.0.0.1", "protocol_port": A0}})
    wait_active(lb)
    assert through_vip(VIP, VPORT) == "app0"
    serving, active = [], []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        s, v = api("POST", f"pools/{pool}/members", {"member": {"address": "127.0.0.1", "protocol_port": A1}})
        assert s == 201, v
        mid = v["member"]["id"]
        seen = False
        for _ in range(20000):
            if through_vip(VIP, VPORT) == "app1":
                seen = True
                break
        assert seen, "the new member never served"
        serving.append((time.perf_counter() - t0) * 1000)
        wait_active(lb)
        active.append((time.perf_counter() - t0) * 1000)
        s, _ = api("DELETE", f"pools/{pool}/members/{mid}")
        assert s == 204
        wait_active(lb)
    # The same change made the way an amphora does it: HAProxy (master-worker) reloaded with the
    # rendered config (SIGUSR2), timed from the signal to the new member serving. The rendering
    # comes from fulcrum's own API (GET .../haproxy.cfg), with and without the member.
    _, _ = api("GET", f"loadbalancers/{lb}")
    cfg_without = api_text(f"loadbalancers/{lb}/haproxy.cfg")
    s, v = api("POST", f"pools/{pool}/members", {"member": {"address": "127.0.0.1", "protocol_port": A1}})
    mid = v["member"]["id"]
    wait_active(lb)
    cfg_with = api_text(f"loadbalancers/{lb}/haproxy.cfg")
    api("DELETE", f"pools/{pool}/members/{mid}")
    wait_active(lb)
    haproxy_times = haproxy_rounds(cfg_without, cfg_with, VIP, VPORT + 0, ROUNDS) if HAPROXY else []
    gets = 0
    end = time.perf_counter() + GET_SECONDS
    while time.perf_counter() < end:
        s, _ = api("GET", f"loadbalancers/{lb}")
        assert s == 200
        gets += 1
    list_gets = 0
    end = time.perf_counter() + GET_SECONDS
    while time.perf_counter() < end:
        s, _ = api("GET", f"pools/{pool}/members")
        assert s == 200
        list_gets += 1

    def q(xs, p):
        xs = sorted(xs)
        return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]

    print(f"rounds={ROUNDS}")
    print("| measure | median ms | p90 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|")
    for name, xs in [("API call -> new member serves through the VIP", serving),
                     ("API call -> provisioning_status ACTIVE seen", active)]:
        print(f"| {name} | {statistics.median(xs):.1f} | {q(xs, 90):.1f} | {q(xs, 99):.1f} | {max(xs):.1f} |")
    if haproxy_times:
        xs = haproxy_times
        print(f"| haproxy 2.6 -W reload (SIGUSR2) with the rendered config -> new member serves | {statistics.median(xs):.1f} | {q(xs, 90):.1f} | {q(xs, 99):.1f} | {max(xs):.1f} |")
        print(f"ratio of medians (haproxy reload / fulcrum API call): {statistics.median(xs) / statistics.median(serving):.1f}x")
    print(f"GET loadbalancers/ID: {gets / GET_SECONDS:.0f} req/s (one keep-alive client, sequential)")
    print(f"GET pools/ID/members: {list_gets / GET_SECONDS:.0f} req/s (one keep-alive client, sequential)")
finally:
    for p in procs:
        p.kill()
        p.wait()
    subprocess.run(["rm", "-rf", work])

#!/usr/bin/env python3
"""Clients for scripts/reliability: the parts of the fault matrix wrk and hey cannot do.

Each subcommand talks to one address on loopback, is bounded in count and time, and prints one JSON
object on stdout as its result (progress lines, when any, go to stderr). Backends answer every HTTP
request with their name as the body (nginx `return 200 NAME`), which is how a connection learns where
it went. Standard library only.

  held       N keep-alive connections, one request each, then a request on every live one every PERIOD
             until the stop file appears or DURATION ends; failures per backend
  probe      COUNT sequential new connections with one request each; outcome and time of each
  until-ok   new connections every 50 ms until one is answered; seconds until then
  slowloris  N connections that send a header byte every second and never finish (for DURATION)
  halfclose  N requests sent followed by shutdown(SHUT_WR); whether each got its whole answer
  maxconn    N connections, one request each; how many were answered, then how many more once K close
  many       N connections held open, one request each (small-heap row)
  udpecho    UDP echo server on one address, for LIFETIME seconds
  udpflood   FLOWS datagrams from distinct source tuples, then one probe datagram that must come back
  admin      the admin API edges: pipelining, oversized header, HTTP/9.9, HEAD, half-close
  health     polls the admin API's /status every 50 ms until BACKEND is up (or down); seconds since SINCE
  healthwatch  polls /status every 100 ms until the stop file appears or DURATION ends; which backends were seen
             down, and when
"""
import argparse
import json
import os
import re
import select
import socket
import sys
import time


def addr(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def request_bytes(host, path="/", close=False):
    extra = "Connection: close\r\n" if close else ""
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode()


def read_response(sock, deadline):
    """Reads one HTTP/1.1 response with Content-Length; returns (status, body) or raises."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("eof before the response head")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    while len(body) < length:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("eof inside the body")
        body += chunk
    return status, body[:length]


def classify(exc):
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionResetError):
        return "reset"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(exc, ConnectionError):
        return "eof"
    if isinstance(exc, BrokenPipeError):
        return "reset"
    return type(exc).__name__


def one_request(target, timeout, close=True):
    start = time.monotonic()
    deadline = start + timeout
    s = socket.socket()
    try:
        s.settimeout(timeout)
        s.connect(target)
        s.sendall(request_bytes(target[0], close=close))
        status, body = read_response(s, deadline)
        return ("ok" if status == 200 else f"http{status}"), body.decode().strip(), time.monotonic() - start
    except Exception as e:  # every outcome is a result here
        return classify(e), None, time.monotonic() - start
    finally:
        s.close()


def cmd_held(a):
    target = addr(a.addr)
    conns = []
    stats = {}
    for _ in range(a.n):
        s = socket.socket()
        s.settimeout(a.timeout)
        try:
            s.connect(target)
            s.sendall(request_bytes(target[0]))
            status, body = read_response(s, time.monotonic() + a.timeout)
            name = body.decode().strip() if status == 200 else "?"
        except Exception:
            s.close()
            stats.setdefault("(setup)", {"conns": 0, "failed": 0})["failed"] += 1
            continue
        conns.append([s, name, True])
        stats.setdefault(name, {"conns": 0, "failed": 0})["conns"] += 1
    print(json.dumps({"ready": len(conns)}), file=sys.stderr, flush=True)
    if a.ready_file:
        with open(a.ready_file, "w") as f:
            f.write(json.dumps(stats))
    end = time.monotonic() + a.duration
    rounds = 0
    while True:
        stopping = (a.stop_file and os.path.exists(a.stop_file)) or time.monotonic() >= end
        rounds += 1
        for c in conns:
            if not c[2]:
                continue
            s = c[0]
            try:
                s.sendall(request_bytes(target[0]))
                status, body = read_response(s, time.monotonic() + a.timeout)
                if status != 200:
                    raise ConnectionError(f"status {status}")
            except Exception:
                c[2] = False
                stats[c[1]]["failed"] += 1
                s.close()
        if stopping:
            break
        time.sleep(a.period)
    for c in conns:
        c[0].close()
    print(json.dumps({"rounds": rounds, "backends": stats}))


def cmd_probe(a):
    target = addr(a.addr)
    outcomes = {}
    worst = 0.0
    for _ in range(a.count):
        outcome, _, elapsed = one_request(target, a.timeout)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        worst = max(worst, elapsed)
    print(json.dumps({"outcomes": outcomes, "max_seconds": round(worst, 3)}))


def cmd_until_ok(a):
    target = addr(a.addr)
    start = time.monotonic()
    attempts = 0
    while time.monotonic() - start < a.deadline:
        attempts += 1
        outcome, _, _ = one_request(target, 2.0)
        if outcome == "ok":
            print(json.dumps({"ok": True, "seconds": round(time.monotonic() - start, 3), "attempts": attempts}))
            return
        time.sleep(0.05)
    print(json.dumps({"ok": False, "seconds": round(time.monotonic() - start, 3), "attempts": attempts}))


def cmd_slowloris(a):
    target = addr(a.addr)
    socks = []
    for _ in range(a.n):
        s = socket.socket()
        s.settimeout(2)
        try:
            s.connect(target)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            socks.append(s)
        except Exception:
            s.close()
    opened = len(socks)
    end = time.monotonic() + a.duration
    sent = 0
    while time.monotonic() < end and socks:
        alive = []
        for s in socks:
            try:
                s.sendall(b"X")
                sent += 1
                alive.append(s)
            except Exception:
                s.close()
        socks = alive
        time.sleep(1)
    still = len(socks)
    for s in socks:
        s.close()
    print(json.dumps({"opened": opened, "open_at_end": still, "bytes_trickled": sent}))


def cmd_halfclose(a):
    target = addr(a.addr)
    whole = 0
    failures = {}
    for _ in range(a.n):
        s = socket.socket()
        s.settimeout(a.timeout)
        try:
            s.connect(target)
            s.sendall(request_bytes(target[0], a.path, close=a.close))
            s.shutdown(socket.SHUT_WR)
            status, body = read_response(s, time.monotonic() + a.timeout)
            if status == 200 and body:
                whole += 1
            else:
                failures[f"http{status}"] = failures.get(f"http{status}", 0) + 1
        except Exception as e:
            k = classify(e)
            failures[k] = failures.get(k, 0) + 1
        finally:
            s.close()
    print(json.dumps({"requests": a.n, "whole": whole, "failures": failures}))


def cmd_maxconn(a):
    target = addr(a.addr)
    socks = []
    for _ in range(a.n):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(target)
        except BlockingIOError:
            pass
        socks.append(s)
    # every connect completes in the kernel (listen backlog); send each request once writable
    pending = set(socks)
    deadline = time.monotonic() + 5
    while pending and time.monotonic() < deadline:
        _, w, _ = select.select([], list(pending), [], 0.2)
        for s in w:
            try:
                s.send(request_bytes(target[0]))
            except OSError:
                pass
            pending.discard(s)
    answered = set()
    bufs = {s: b"" for s in socks}

    def collect(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            waiting = [s for s in socks if s not in answered and s.fileno() >= 0]
            if not waiting:
                return
            r, _, _ = select.select(waiting, [], [], 0.1)
            for s in r:
                try:
                    chunk = s.recv(4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    s.close()
                    continue
                bufs[s] += chunk
                if b"\r\n\r\n" in bufs[s]:
                    answered.add(s)

    collect(a.wait)
    first = len(answered)
    if a.ready_file:
        with open(a.ready_file, "w") as f:
            f.write(str(first))
        end = time.monotonic() + 30
        while a.go_file and not os.path.exists(a.go_file) and time.monotonic() < end:
            time.sleep(0.05)
    released = list(answered)[: a.release]
    for s in released:
        s.close()
        answered.discard(s)
    before = len(answered)
    collect(a.wait)
    later = len(answered) - before
    for s in socks:
        s.close()
    print(json.dumps({"connections": a.n, "answered_first": first, "released": len(released),
                      "answered_after_release": later}))


def cmd_many(a):
    target = addr(a.addr)
    socks = []
    answered = 0
    failed = {}
    start = time.monotonic()
    batch = 200
    for i in range(0, a.n, batch):
        group = []
        for _ in range(min(batch, a.n - i)):
            s = socket.socket()
            s.settimeout(a.timeout)
            try:
                s.connect(target)
                s.sendall(request_bytes(target[0]))
                group.append(s)
            except Exception as e:
                k = classify(e)
                failed[k] = failed.get(k, 0) + 1
                s.close()
        # one deadline for the whole batch: connections still waiting in the listen backlog all time out
        # together instead of one after the other
        batch_deadline = time.monotonic() + a.timeout
        for s in group:
            try:
                status, _ = read_response(s, batch_deadline)
                if status == 200:
                    answered += 1
                    socks.append(s)
                    continue
                failed[f"http{status}"] = failed.get(f"http{status}", 0) + 1
            except Exception as e:
                k = classify(e)
                failed[k] = failed.get(k, 0) + 1
            s.close()
        if time.monotonic() - start > a.deadline:
            break
    print(json.dumps({"held": answered}), file=sys.stderr, flush=True)
    if a.ready_file:
        with open(a.ready_file, "w") as f:
            f.write(str(answered))
    end = time.monotonic() + a.hold
    while a.stop_file and not os.path.exists(a.stop_file) and time.monotonic() < end:
        time.sleep(0.1)
    # one more request on every held connection: they must all still work
    still = 0
    for s in socks:
        try:
            s.sendall(request_bytes(target[0]))
            status, _ = read_response(s, time.monotonic() + a.timeout)
            still += status == 200
        except Exception:
            pass
        s.close()
    print(json.dumps({"connections": a.n, "answered": answered, "failed": failed, "answered_again": still,
                      "seconds": round(time.monotonic() - start, 1)}))


def cmd_udpecho(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(addr(a.bind))
    end = time.monotonic() + a.lifetime
    s.settimeout(0.5)
    while time.monotonic() < end:
        try:
            data, peer = s.recvfrom(65535)
            s.sendto(data, peer)
        except socket.timeout:
            pass
        except OSError:
            pass


def probe_held(vip, seconds):
    """A new flow every 0.5 s, each socket kept open until the window ends: a reply that comes late, behind
    the burst the daemon and the echo backends are still working through, still counts. Returns (answered,
    seconds from the first send to the first reply)."""
    start = time.monotonic()
    socks = []
    next_send = 0.0
    try:
        while time.monotonic() - start < seconds:
            if time.monotonic() - start >= next_send:
                p = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                p.setblocking(False)
                socks.append(p)
                try:
                    p.sendto(b"probe", vip)
                except OSError:
                    pass
                next_send += 0.5
            ready, _, _ = select.select(socks, [], [], 0.05)
            for p in ready:
                try:
                    if b"probe" in p.recv(2048):
                        return True, round(time.monotonic() - start, 2)
                except OSError:
                    pass
        return False, None
    finally:
        for p in socks:
            p.close()


def cmd_udpflood(a):
    vip = addr(a.addr)
    sent = 0
    errors = 0
    start = time.monotonic()
    per_ip = (a.flows + len(a.sources) - 1) // len(a.sources)
    done = False
    for ip in a.sources:
        for port in range(a.first_port, a.first_port + per_ip):
            if sent >= a.flows or time.monotonic() - start > a.deadline:
                done = True
                break
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.bind((ip, port))
                s.sendto(b"flood", vip)
                sent += 1
            except OSError:
                errors += 1
            finally:
                s.close()
        if done:
            break
    elapsed = time.monotonic() - start
    # a fresh flow afterwards must still be forwarded and answered
    answered = False
    probe_start = time.monotonic()
    if a.probe_hold:
        answered, latency = probe_held(vip, a.probe_seconds)
        print(json.dumps({"flows_sent": sent, "send_errors": errors, "seconds": round(elapsed, 1),
                          "probe_answered": answered, "probe_latency": latency}))
        return
    while time.monotonic() - probe_start < a.probe_seconds and not answered:
        p = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        p.settimeout(0.5)
        try:
            p.sendto(b"probe", vip)
            data, _ = p.recvfrom(2048)
            answered = data.endswith(b"probe") or b"probe" in data
        except OSError:
            pass
        finally:
            p.close()
    print(json.dumps({"flows_sent": sent, "send_errors": errors, "seconds": round(elapsed, 1),
                      "probe_answered": answered}))


def admin_exchange(target, payload, timeout, shut_wr=False):
    """Sends payload, reads until EOF or timeout; returns (bytes, closed_by_server, seconds)."""
    s = socket.socket()
    s.settimeout(timeout)
    start = time.monotonic()
    data = b""
    closed = False
    try:
        s.connect(target)
        s.sendall(payload)
        if shut_wr:
            s.shutdown(socket.SHUT_WR)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            data += chunk
    except (socket.timeout, TimeoutError):
        pass
    except OSError:
        closed = True
    finally:
        s.close()
    return data, closed, time.monotonic() - start


def statuses(data):
    """Status codes of every response in data (a body need not end in CRLF, so search, do not split lines)."""
    return [int(m) for m in re.findall(rb"HTTP/1\.[01] ([1-5][0-9][0-9]) ", data)]


def cmd_admin(a):
    target = addr(a.addr)
    host = a.addr
    result = {}
    req = f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    data, closed, secs = admin_exchange(target, req * a.pipeline, 5)
    st = statuses(data)
    result["pipelined"] = {"sent": a.pipeline, "answers": len(st), "statuses": sorted(set(st)),
                           "closed": closed}
    big = f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nX-Big: {'a' * 100_000}\r\n\r\n".encode()
    data, closed, secs = admin_exchange(target, big, 10)
    st = statuses(data)
    result["oversized_header"] = {"status": st[0] if st else None, "closed": closed, "seconds": round(secs, 2)}
    data, closed, secs = admin_exchange(target, f"GET /healthz HTTP/9.9\r\nHost: {host}\r\n\r\n".encode(), 3)
    st = statuses(data)
    result["http_9_9"] = {"status": st[0] if st else None}
    data, closed, secs = admin_exchange(
        target, f"HEAD /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode(), 3)
    st = statuses(data)
    result["head"] = {"status": st[0] if st else None}
    data, closed, secs = admin_exchange(target, req, 3, shut_wr=True)
    st = statuses(data)
    result["half_close"] = {"status": st[0] if st else None, "seconds": round(secs, 2)}
    print(json.dumps(result))


def backend_states(admin):
    """{backend: healthy} over every VIP of GET /status, or None when the admin API did not answer."""
    import urllib.request
    try:
        with urllib.request.urlopen(f"http://{admin}/status", timeout=2) as r:
            d = json.load(r)
    except Exception:
        return None
    return {b["name"]: bool(b.get("healthy")) for v in d.get("vips", []) for b in v.get("backends", [])}


def cmd_health(a):
    want = a.want == "up"
    end = time.monotonic() + a.deadline
    polls = 0
    while time.monotonic() < end:
        polls += 1
        states = backend_states(a.admin)
        if states is not None and states.get(a.backend) == want:
            print(json.dumps({"reached": True, "seconds": round(time.time() - a.since, 3), "polls": polls}))
            return
        time.sleep(0.05)
    print(json.dumps({"reached": False, "seconds": round(time.time() - a.since, 3), "polls": polls}))


def cmd_healthwatch(a):
    start = time.monotonic()
    end = start + a.duration
    polls = unanswered = 0
    down = {}
    while time.monotonic() < end and not (a.stop_file and os.path.exists(a.stop_file)):
        polls += 1
        states = backend_states(a.admin)
        if states is None:
            unanswered += 1
        else:
            for name, healthy in states.items():
                if not healthy:
                    down.setdefault(name, round(time.monotonic() - start, 1))
        time.sleep(0.1)
    print(json.dumps({"polls": polls, "unanswered": unanswered, "down_seen": down}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("held")
    s.add_argument("--addr", required=True)
    s.add_argument("--n", type=int, default=100)
    s.add_argument("--period", type=float, default=0.2)
    s.add_argument("--duration", type=float, default=30)
    s.add_argument("--timeout", type=float, default=5)
    s.add_argument("--ready-file")
    s.add_argument("--stop-file")
    s = sub.add_parser("probe")
    s.add_argument("--addr", required=True)
    s.add_argument("--count", type=int, default=20)
    s.add_argument("--timeout", type=float, default=10)
    s = sub.add_parser("until-ok")
    s.add_argument("--addr", required=True)
    s.add_argument("--deadline", type=float, default=30)
    s = sub.add_parser("slowloris")
    s.add_argument("--addr", required=True)
    s.add_argument("--n", type=int, default=200)
    s.add_argument("--duration", type=float, default=10)
    s = sub.add_parser("halfclose")
    s.add_argument("--addr", required=True)
    s.add_argument("--n", type=int, default=100)
    s.add_argument("--path", default="/")
    s.add_argument("--close", action="store_true")
    s.add_argument("--timeout", type=float, default=5)
    s = sub.add_parser("maxconn")
    s.add_argument("--addr", required=True)
    s.add_argument("--n", type=int, default=80)
    s.add_argument("--wait", type=float, default=3)
    s.add_argument("--release", type=int, default=10)
    s.add_argument("--ready-file")
    s.add_argument("--go-file")
    s = sub.add_parser("many")
    s.add_argument("--addr", required=True)
    s.add_argument("--n", type=int, default=5000)
    s.add_argument("--timeout", type=float, default=10)
    s.add_argument("--deadline", type=float, default=120)
    s.add_argument("--hold", type=float, default=30)
    s.add_argument("--ready-file")
    s.add_argument("--stop-file")
    s = sub.add_parser("udpecho")
    s.add_argument("--bind", required=True)
    s.add_argument("--lifetime", type=float, default=600)
    s = sub.add_parser("udpflood")
    s.add_argument("--addr", required=True)
    s.add_argument("--flows", type=int, default=250_000)
    s.add_argument("--sources", nargs="+", required=True)
    s.add_argument("--first-port", type=int, default=10000)
    s.add_argument("--deadline", type=float, default=120)
    s.add_argument("--probe-seconds", type=float, default=10)
    s.add_argument("--probe-hold", action="store_true",
                   help="keep every probe socket open for the whole window (late replies count)")
    s = sub.add_parser("admin")
    s.add_argument("--addr", required=True)
    s.add_argument("--pipeline", type=int, default=20)
    s = sub.add_parser("health")
    s.add_argument("--admin", required=True)
    s.add_argument("--backend", required=True)
    s.add_argument("--want", choices=("up", "down"), required=True)
    s.add_argument("--since", type=float, required=True, help="epoch seconds the time is counted from")
    s.add_argument("--deadline", type=float, default=15)
    s = sub.add_parser("healthwatch")
    s.add_argument("--admin", required=True)
    s.add_argument("--duration", type=float, default=60)
    s.add_argument("--stop-file")
    a = p.parse_args()
    globals()["cmd_" + a.cmd.replace("-", "_")](a)


if __name__ == "__main__":
    main()

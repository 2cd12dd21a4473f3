#!/usr/bin/python3
"""Idle TCP clients for the HTTP server's connection caps (test-http-idle.sh).

usage: idle-clients.py PORT READY_FILE RESULT_FILE HOLD_S [--reopen S] GROUP...

GROUP is SRC:N, N connections bound to source address SRC (127.0.0.2, ...)
to 127.0.0.1:PORT; groups are opened in order, each once the previous one's
connections are established. None of them ever sends a byte. READY_FILE is
created once every connection is established. The clients then watch their
sockets for HOLD_S seconds and note when the server closed each (EOF or
reset). With --reopen S, a connection the server closed is opened again S
seconds later (an attacker keeping its connections up) until HOLD_S ends.
Everything is closed at the end; RESULT_FILE gets a JSON object:

  groups: per group, in order: {src, n, opened, conns: [[established,
          closed], ...]}: CLOCK_MONOTONIC seconds (comparable with
          http-get.py's) when each connection was established and when the
          server closed it, closed null if still open at the end
  connect_failures: connections not established within 3 s
  connects: connections attempted
  ready, ended: CLOCK_MONOTONIC seconds

Bounded: every wait has a deadline, at most 20,000 connections in all, and
SIGALRM ends the process after HOLD_S + 30 s.
"""

import errno
import json
import selectors
import signal
import socket
import sys
import time

MAX_CONNECTS = 20000
CONNECT_TIMEOUT = 3.0


class Conn:
    def __init__(self, group, src):
        self.group = group
        self.src = src
        self.sock = None
        self.established = None   # monotonic time
        self.pending_since = None
        self.reopen_at = None


def start_connect(c, port, counters):
    if counters["connects"] >= MAX_CONNECTS:
        return False
    counters["connects"] += 1
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.bind((c.src, 0))
    rc = s.connect_ex(("127.0.0.1", port))
    if rc not in (0, errno.EINPROGRESS):
        s.close()
        raise OSError(rc, "connect from %s: %s" % (c.src, errno.errorcode.get(rc, rc)))
    c.sock = s
    c.pending_since = time.monotonic()
    c.established = None
    return True


def main(argv):
    port, ready_file, result_file, hold = int(argv[1]), argv[2], argv[3], float(argv[4])
    rest = argv[5:]
    reopen = None
    if rest and rest[0] == "--reopen":
        reopen = float(rest[1])
        rest = rest[2:]
    signal.alarm(int(hold) + 30)
    counters = {"connects": 0}
    groups = []
    for spec in rest:
        src, n = spec.rsplit(":", 1)
        groups.append({"src": src, "n": int(n), "opened": 0, "conns": []})

    sel = selectors.DefaultSelector()
    conns = []
    connect_failures = 0

    def closed_by_server(c, now):
        g = groups[c.group]
        sel.unregister(c.sock)
        c.sock.close()
        c.sock = None
        g["conns"].append([round(c.established, 4), round(now, 4)])
        if reopen is not None:
            c.reopen_at = now + reopen

    def established(c, now):
        g = groups[c.group]
        c.established = now
        c.pending_since = None
        g["opened"] += 1
        sel.modify(c.sock, selectors.EVENT_READ, c)

    def poll(timeout):
        nonlocal connect_failures
        now = time.monotonic()
        for key, ev in sel.select(timeout):
            c = key.data
            now = time.monotonic()
            if c.established is None:
                err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    sel.unregister(c.sock)
                    c.sock.close()
                    c.sock = None
                    connect_failures += 1
                    continue
                established(c, now)
                # A close that came with the handshake shows up as readable next.
                continue
            try:
                data = c.sock.recv(1)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            except BlockingIOError:
                continue
            if not data:
                closed_by_server(c, now)
        for c in conns:
            if c.sock is not None and c.established is None and now - c.pending_since > CONNECT_TIMEOUT:
                sel.unregister(c.sock)
                c.sock.close()
                c.sock = None
                connect_failures += 1

    # Open the groups in order.
    for gi, g in enumerate(groups):
        mine = [Conn(gi, g["src"]) for _ in range(g["n"])]
        conns.extend(mine)
        for c in mine:
            if start_connect(c, port, counters):
                sel.register(c.sock, selectors.EVENT_WRITE, c)
        deadline = time.monotonic() + CONNECT_TIMEOUT + 1
        while time.monotonic() < deadline and any(c.sock is not None and c.established is None for c in mine):
            poll(0.05)
    ready = time.monotonic()
    open(ready_file, "w").close()

    end = time.monotonic() + hold
    while time.monotonic() < end:
        poll(0.05)
        if reopen is not None:
            now = time.monotonic()
            for c in conns:
                if c.sock is None and c.reopen_at is not None and now >= c.reopen_at:
                    c.reopen_at = None
                    if start_connect(c, port, counters):
                        sel.register(c.sock, selectors.EVENT_WRITE, c)
    ended = time.monotonic()
    for c in conns:
        if c.sock is not None:
            if c.established is not None:
                groups[c.group]["conns"].append([round(c.established, 4), None])
            c.sock.close()
    with open(result_file, "w") as f:
        json.dump({"groups": groups, "connect_failures": connect_failures, "connects": counters["connects"],
                   "ready": round(ready, 4), "ended": round(ended, 4)}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

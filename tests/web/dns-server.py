#!/usr/bin/env python3
"""A tiny authoritative DNS server on UDP 127.0.0.1:PORT: every A query gets
one answer (ADDRESS, TTL 30), every other type an empty NOERROR.
Usage: dns-server.py PORT ADDRESS READY_FILE. Exits by itself after 170 s."""

import signal
import socket
import struct
import sys


def answer(query, addr):
    if len(query) < 12:
        return None
    qid, flags, qdcount = struct.unpack("!HHH", query[:6])
    if flags & 0x8000 or qdcount != 1:
        return None
    # walk the question name
    i = 12
    while i < len(query) and query[i] != 0:
        i += 1 + query[i]
    if i + 5 > len(query):
        return None
    qtype = struct.unpack("!H", query[i + 1:i + 3])[0]
    question = query[12:i + 5]
    rd = flags & 0x0100
    if qtype == 1:
        rr = struct.pack("!HHHIH", 0xC00C, 1, 1, 30, 4) + socket.inet_aton(addr)
        return struct.pack("!HHHHHH", qid, 0x8480 | rd, 1, 1, 0, 0) + question + rr
    return struct.pack("!HHHHHH", qid, 0x8480 | rd, 1, 0, 0, 0) + question


def main():
    port, addr, ready = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    signal.alarm(170)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    open(ready, "w").close()
    while True:
        data, peer = s.recvfrom(4096)
        reply = answer(data, addr)
        if reply:
            s.sendto(reply, peer)


if __name__ == "__main__":
    main()

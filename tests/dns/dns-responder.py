#!/usr/bin/python3
"""A tiny UDP DNS responder for netcanary's DNS tests: answers every query
with one A record (192.0.2.10) after DELAY seconds, one query at a time.
With SECTIONS "sections", the answer also carries one NS record in the
authority section and two A records (192.0.2.53, 192.0.2.54) in the
additional section, all owned by the question's name.

usage: dns-responder.py ADDR PORT DELAY READY-FILE [SECTIONS]
Exits by itself after 170 s so it never outlives a test run."""
import signal
import socket
import struct
import sys
import time

addr, port, delay, ready = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
sections = len(sys.argv) > 5 and sys.argv[5] == "sections"
signal.alarm(170)
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, port))
open(ready, "w").close()
while True:
    q, peer = s.recvfrom(4096)
    if len(q) < 12:
        continue
    qid, flags, qd = struct.unpack("!HHH", q[:6])
    i = 12
    while i < len(q) and q[i] != 0:  # the question name, uncompressed
        i += 1 + q[i]
    question = q[12:i + 5]
    time.sleep(delay)
    rd = flags & 0x0100
    head = struct.pack("!HHHHHH", qid, 0x8080 | rd, 1, 1, 1 if sections else 0, 2 if sections else 0)
    answer = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton("192.0.2.10")
    if sections:
        # authority: NS (the question's name, by pointer); additional: two A records
        answer += struct.pack("!HHHIHH", 0xC00C, 2, 1, 60, 2, 0xC00C)
        for a in ("192.0.2.53", "192.0.2.54"):
            answer += struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(a)
    s.sendto(head + question + answer, peer)

#!/usr/bin/python3
"""One HTTP/1.1 GET from a chosen source address (test-http-idle.sh).

usage: http-get.py SRC PORT PATH TIMEOUT_S

Connects from SRC to 127.0.0.1:PORT, sends GET PATH with Connection: close
and reads the answer until the server closes, at most TIMEOUT_S seconds in
all. Prints one JSON object: {"status": 200 or 0 (no answer), "bytes": length
of the answer, "start": ..., "end": ...} with CLOCK_MONOTONIC seconds
(comparable with idle-clients.py's).
"""
import json
import socket
import sys
import time


def main(argv):
    src, port, path, timeout = argv[1], int(argv[2]), argv[3], float(argv[4])
    start = time.monotonic()
    deadline = start + timeout
    data = b""
    status = 0
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((src, 0))
        s.settimeout(timeout)
        s.connect(("127.0.0.1", port))
        s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" % path).encode())
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
    except OSError:
        pass
    end = time.monotonic()
    line = data.split(b"\r\n", 1)[0].split()
    if len(line) >= 2 and line[0].startswith(b"HTTP/") and line[1].isdigit() and end < deadline:
        status = int(line[1])
    print(json.dumps({"status": status, "bytes": len(data), "start": round(start, 4), "end": round(end, 4)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
"""A stand-in for the daemon's HTTP side, for page states a live agent cannot
easily be put in (several identities, a failing API, a flapping API).

Usage: fixture-server.py ASSET_DIR PORT MODE MATRIX_JSON READY_FILE
  ASSET_DIR  the page's files as the daemon served them (index.html, app.js, ...)
  MODE       ok     api/v1/matrix answers MATRIX_JSON every time
             fail   api/v1/matrix answers 503 every time
             stale  the first answer is MATRIX_JSON, every later one 503
Serves on 127.0.0.1 only; exits by itself after 170 s."""

import http.server
import os
import signal
import sys

TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
       "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def main():
    root, port, mode, matrix_file, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    signal.alarm(170)
    with open(matrix_file, "rb") as f:
        matrix = f.read()
    state = {"api_calls": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        def send(self, code, ctype, body):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Security-Policy", CSP)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path == "/":
                state["api_calls"] = 0  # each page load starts with a good answer
            if path == "/api/v1/matrix":
                state["api_calls"] += 1
                if mode == "fail" or (mode == "stale" and state["api_calls"] > 1):
                    self.send(503, "text/plain", b"fixture: api down\n")
                else:
                    self.send(200, "application/json", matrix)
                return
            name = "index.html" if path == "/" else path[1:]
            full = os.path.join(root, name)
            if "/" in name or not os.path.isfile(full):
                self.send(404, "text/plain", b"not found\n")
                return
            with open(full, "rb") as f:
                self.send(200, TYPES.get(os.path.splitext(name)[1], "application/octet-stream"), f.read())

        def log_message(self, fmt, *args):
            sys.stderr.write("fixture-server: " + (fmt % args) + "\n")

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    open(ready, "w").close()
    srv.serve_forever()


if __name__ == "__main__":
    main()

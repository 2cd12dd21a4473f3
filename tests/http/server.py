#!/usr/bin/python3
"""Test HTTP(S) server for netcanary's http probe tests (issue 4).

Serves on loopback (or inside a network namespace the test made):

  GET/HEAD /ok          200, body "netcanary-ok: hello from the test server\n"
  GET      /notfound    404 (and every unknown path)
  GET      /slow        sleeps --slow seconds (default 3), then 200: longer
                        than any probe timeout the tests use
  GET      /cut         200 with Content-Length: 1000, sends 10 bytes, closes
  GET      /redirect    302 Location: /ok?via=redirect
  GET      /loop        302 Location: /loop (a redirect loop)
  GET      /big         200 with a 100000-byte body ("x" * 100000)
  GET      /needs-header  200 if the request has "X-Canary: yes", else 403
  GET      /chunked     200, Transfer-Encoding: chunked, no Content-Length,
                        the /ok body in two chunks
  GET      /http10      200 answered as HTTP/1.0 (connection closed after)

With --hold-port P, a plain TCP listener on P accepts and never says a word
(the connection stays open until the client closes it): a TLS handshake or an
HTTP request to it stalls until the prober's timeout.

Every request is appended to --log as "METHOD PATH HOST" (one line, flushed)
so a test can prove what the prober sent (e.g. HEAD, Host).

  server.py --addr 127.0.0.1 --http-port P [--https-port Q --cert C --key K]
            [--hold-port R] [--log FILE] [--ready FILE] [--slow SECONDS]

--ready FILE is created once every listener is bound. The server exits on its
own after --lifetime seconds (default 170) so it never outlives a test run.
"""

import argparse
import http.server
import os
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time

BODY_OK = b"netcanary-ok: hello from the test server\n"
BIG = b"x" * 100000

ARGS = None
LOG_LOCK = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nctest/1"

    def log_message(self, fmt, *args):  # quiet: requests go to --log
        pass

    def record(self):
        if ARGS.log:
            line = "%s %s %s\n" % (self.command, self.path, self.headers.get("Host", "-"))
            with LOG_LOCK:
                with open(ARGS.log, "a") as f:
                    f.write(line)

    def send(self, code, body=b"", headers=(), ctype="text/plain"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
        self.wfile.flush()

    def route(self):
        self.record()
        path = self.path.split("?", 1)[0]
        if path == "/ok":
            self.send(200, BODY_OK)
        elif path == "/slow":
            time.sleep(ARGS.slow)
            try:
                self.send(200, BODY_OK)
            except OSError:
                pass  # the prober gave up long ago
        elif path == "/cut":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"0123456789")
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        elif path == "/redirect":
            self.send(302, b"moved\n", headers=[("Location", "/ok?via=redirect")])
        elif path == "/loop":
            self.send(302, b"again\n", headers=[("Location", "/loop")])
        elif path == "/big":
            self.send(200, BIG)
        elif path == "/chunked":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if self.command != "HEAD":
                half = len(BODY_OK) // 2
                for part in (BODY_OK[:half], BODY_OK[half:]):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        elif path == "/http10":
            self.protocol_version = "HTTP/1.0"
            self.close_connection = True
            self.send(200, BODY_OK)
        elif path == "/needs-header":
            if self.headers.get("X-Canary") == "yes":
                self.send(200, BODY_OK)
            else:
                self.send(403, b"missing X-Canary: yes\n")
        else:
            self.send(404, b"not found\n")

    def do_GET(self):
        self.route()

    def do_HEAD(self):
        self.route()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, port, tls_ctx=None):
        self.address_family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        self.tls_ctx = tls_ctx
        super().__init__((addr, port), Handler)

    def get_request(self):
        conn, peer = self.socket.accept()
        if self.tls_ctx is not None:
            # The handshake runs in the handler's thread (first read), so a
            # client that rejects our certificate never stalls accept().
            conn = self.tls_ctx.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        return conn, peer

    def handle_error(self, request, client_address):
        pass  # TLS handshakes rejected by the prober, resets: expected here


def hold(port):
    fam = socket.AF_INET6 if ":" in ARGS.addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ARGS.addr, port))
    s.listen(128)
    return s


def hold_serve(s):
    def drain(c):
        try:
            while c.recv(4096):
                pass
        except OSError:
            pass
        c.close()

    while True:
        c, _ = s.accept()
        threading.Thread(target=drain, args=(c,), daemon=True).start()


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--https-port", type=int)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--hold-port", type=int)
    ap.add_argument("--log")
    ap.add_argument("--ready")
    ap.add_argument("--slow", type=float, default=3.0)
    ap.add_argument("--lifetime", type=int, default=170)
    ARGS = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.alarm(ARGS.lifetime)

    servers = [Server(ARGS.addr, ARGS.http_port)]
    if ARGS.https_port:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.cert, ARGS.key)
        servers.append(Server(ARGS.addr, ARGS.https_port, ctx))
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    if ARGS.hold_port:
        threading.Thread(target=hold_serve, args=(hold(ARGS.hold_port),), daemon=True).start()
    if ARGS.ready:
        open(ARGS.ready, "w").close()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())

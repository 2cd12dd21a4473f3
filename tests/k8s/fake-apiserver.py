#!/usr/bin/python3
"""A fake Kubernetes API server for netcanary's k8s client tests (issue 7).

HTTPS on loopback only, on the first free port of --ports (20500-20599 by
default; the port is written to --ready once listening). It serves a few
collections the way kube-apiserver does:

  /api/v1/namespaces                                   NamespaceList
  /apis/networking.k8s.io/v1/networkpolicies           NetworkPolicyList
  /apis/networking.k8s.io/v1/namespaces/NS/networkpolicies
  /apis/discovery.k8s.io/v1/endpointslices             EndpointSliceList
  /apis/discovery.k8s.io/v1/namespaces/NS/endpointslices

  GET ?limit=N[&continue=T][&labelSelector=S]   a List: items without kind and
      apiVersion, metadata.resourceVersion (the snapshot), continue and
      remainingItemCount while more pages remain; gzip when asked and large.
  GET ?watch=1&resourceVersion=RV[&timeoutSeconds=T][&allowWatchBookmarks=true]
      a chunked stream, one JSON event per line ({"type": ADDED|MODIFIED|
      DELETED|BOOKMARK|ERROR, "object": {...}}), events after RV first, then
      live ones; ends cleanly after timeoutSeconds. A resourceVersion older
      than the last compaction gets an ERROR event with a 410 Status (what
      the watch cache answers), or HTTP 410 when the test asked for that.

Every request needs "Authorization: Bearer TOKEN" with the current token
(--token, changed by the test); otherwise 401 with a Status body.

The test drives it through an unauthenticated control endpoint:

  POST /_ctl {"op": ...}   -> {"ok": true, "rv": CURRENT_RV}
    reset                                 empty store, faults, stats, token = --token
    put {resource, object[, silent]}      create or update (rv assigned, metadata
                                          filled in like the API server does);
                                          silent: no watch event (a change a
                                          disconnected client missed)
    delete {resource, namespace?, name[, silent]}
    bookmark {resource}                   a BOOKMARK at a new resourceVersion
    compact                               every resourceVersion so far is too old:
                                          watches behind get ERROR 410 and end
    gone_http {count}                     the next COUNT watches get HTTP 410
    fail {status, count, kind}            the next COUNT requests of kind
                                          (list|watch|any) get STATUS
    drop                                  cut every watch stream mid-chunk
    close                                 end every watch stream cleanly
    token {token}                         accept only this token from now on
    slow {seconds}                        delay list responses (before headers)
    trickle {seconds}                     send list bodies in 10 pieces over SECONDS
    split {on}                            write each watch event in 3 chunks and
                                          sometimes two events in one chunk
    raw {resource, line | bytes}          a raw line to current watchers: LINE,
                                          or a valid ADDED event of BYTES bytes
  GET /_stats -> {"lists", "pages", "watches", "unauthorized", "gone",
                  "failed", "requests": [{"kind", "path", "query", "status",
                  "t"}...]}

It exits by itself after --lifetime seconds.
"""

import argparse
import base64
import copy
import gzip
import http.server
import json
import os
import socket
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse
import uuid

RESOURCES = {
    # resource: (group path, list kind, apiVersion, item kind, namespaced)
    "namespaces": ("/api/v1", "NamespaceList", "v1", "Namespace", False),
    "networkpolicies": ("/apis/networking.k8s.io/v1", "NetworkPolicyList",
                        "networking.k8s.io/v1", "NetworkPolicy", True),
    "endpointslices": ("/apis/discovery.k8s.io/v1", "EndpointSliceList",
                       "discovery.k8s.io/v1", "EndpointSlice", True),
}

ARGS = None
COND = threading.Condition()
STATE = None


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def new_state(token):
    return {
        "rv": 1000,
        "store": {r: {} for r in RESOURCES},      # resource -> key -> object
        "log": [],                                # {seq, rv, resource, type, obj | line}
        "compacted": 0,                           # RVs below this are gone
        "token": token,
        "gone_http": 0,
        "fail": None,                             # {status, count, kind}
        "slow": 0.0,
        "trickle": 0.0,
        "split": False,
        "drop_gen": 0,
        "close_gen": 0,
        "snapshots": {},                          # continue id -> (rv, [items])
        "stats": {"lists": 0, "pages": 0, "watches": 0, "unauthorized": 0,
                  "gone": 0, "failed": 0, "requests": []},
    }


def obj_key(obj):
    md = obj.get("metadata", {})
    ns = md.get("namespace")
    return "%s/%s" % (ns, md["name"]) if ns else md["name"]


def status_body(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": message, "reason": reason,
            "code": code}


def parse_selector(sel):
    """Equality-based label selectors: k=v, k==v, k!=v, k, !k."""
    reqs = []
    for part in filter(None, (p.strip() for p in (sel or "").split(","))):
        if "!=" in part:
            k, v = part.split("!=", 1)
            reqs.append(("ne", k.strip(), v.strip()))
        elif "==" in part:
            k, v = part.split("==", 1)
            reqs.append(("eq", k.strip(), v.strip()))
        elif "=" in part:
            k, v = part.split("=", 1)
            reqs.append(("eq", k.strip(), v.strip()))
        elif part.startswith("!"):
            reqs.append(("absent", part[1:].strip(), None))
        else:
            reqs.append(("exists", part, None))
    return reqs


def selector_matches(reqs, obj):
    labels = obj.get("metadata", {}).get("labels") or {}
    for op, k, v in reqs:
        if op == "eq" and labels.get(k) != v:
            return False
        if op == "ne" and labels.get(k) == v:
            return False
        if op == "exists" and k not in labels:
            return False
        if op == "absent" and k in labels:
            return False
    return True


def route(path):
    """-> (resource, namespace or None) or None."""
    for res, (prefix, _, _, _, namespaced) in RESOURCES.items():
        if path == "%s/%s" % (prefix, res):
            return res, None
        if namespaced and path.startswith(prefix + "/namespaces/") and path.endswith("/" + res):
            ns = path[len(prefix + "/namespaces/"):-len("/" + res)]
            if ns and "/" not in ns:
                return res, ns
    return None


def full_object(resource, obj):
    """The object as a watch event carries it: with kind and apiVersion."""
    _, _, api_version, kind, _ = RESOURCES[resource]
    o = copy.deepcopy(obj)
    o["kind"] = kind
    o["apiVersion"] = api_version
    return o


def list_item(obj):
    o = copy.deepcopy(obj)
    o.pop("kind", None)
    o.pop("apiVersion", None)
    return o


# ------------------------------------------------------------------ mutations


def bump():
    STATE["rv"] += 1
    return STATE["rv"]


def append_log(entry):
    entry["seq"] = len(STATE["log"])
    STATE["log"].append(entry)
    COND.notify_all()


def op_put(resource, obj, silent=False):
    store = STATE["store"][resource]
    obj = copy.deepcopy(obj)
    md = obj.setdefault("metadata", {})
    _, _, api_version, kind, namespaced = RESOURCES[resource]
    if not namespaced:
        md.pop("namespace", None)
    key = obj_key(obj)
    prev = store.get(key)
    rv = bump()
    md["resourceVersion"] = str(rv)
    if prev:
        pmd = prev["metadata"]
        md["uid"] = pmd["uid"]
        md["creationTimestamp"] = pmd["creationTimestamp"]
        md["generation"] = pmd.get("generation", 1) + 1
    else:
        md.setdefault("uid", str(uuid.uuid4()))
        md.setdefault("creationTimestamp", now_rfc3339())
        md["generation"] = 1
    if resource == "namespaces":
        md.setdefault("labels", {})["kubernetes.io/metadata.name"] = md["name"]
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        obj.setdefault("status", {"phase": "Active"})
    md["managedFields"] = [{
        "manager": "kubectl-client-side-apply", "operation": "Update",
        "apiVersion": api_version, "time": md["creationTimestamp"],
        "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {}}},
    }]
    obj["kind"] = kind
    obj["apiVersion"] = api_version
    store[key] = obj
    if not silent:
        append_log({"rv": rv, "resource": resource,
                    "type": "MODIFIED" if prev else "ADDED", "obj": obj})
    return rv


def op_delete(resource, namespace, name, silent=False):
    store = STATE["store"][resource]
    key = "%s/%s" % (namespace, name) if namespace else name
    obj = store.pop(key, None)
    if obj is None:
        return STATE["rv"]
    rv = bump()
    obj = copy.deepcopy(obj)
    obj["metadata"]["resourceVersion"] = str(rv)
    if not silent:
        append_log({"rv": rv, "resource": resource, "type": "DELETED", "obj": obj})
    return rv


# ------------------------------------------------------------------- handler


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-kube-apiserver/1"

    def setup(self):
        # The TLS handshake runs here, in the request's thread, so a slow or
        # broken client never stalls the accepting thread.
        self.request.settimeout(30)
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError):
            self.request.close()
            raise
        super().setup()

    def handle(self):
        try:
            super().handle()
        except (ssl.SSLError, ConnectionError, BrokenPipeError, socket.timeout, OSError):
            pass

    def log_message(self, fmt, *args):  # quiet
        pass

    # -- helpers

    def send_json(self, code, obj, headers=()):
        body = json.dumps(obj).encode()
        enc = None
        if len(body) > 1024 and "gzip" in (self.headers.get("Accept-Encoding") or ""):
            body = gzip.compress(body)
            enc = "gzip"
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        if enc:
            self.send_header("Content-Encoding", enc)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with COND:
            trickle = STATE["trickle"] if code == 200 else 0
        if trickle > 0 and len(body) >= 10:
            step = (len(body) + 9) // 10
            for i in range(0, len(body), step):
                self.wfile.write(body[i:i + step])
                self.wfile.flush()
                time.sleep(trickle / 10)
        else:
            self.wfile.write(body)
        self.wfile.flush()

    def record(self, kind, query, status):
        with COND:
            reqs = STATE["stats"]["requests"]
            reqs.append({"kind": kind, "path": urllib.parse.urlsplit(self.path).path,
                         "query": query, "status": status, "t": time.monotonic()})
            del reqs[:-500]

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    # -- control

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if urllib.parse.urlsplit(self.path).path != "/_ctl":
            return self.send_json(404, status_body(404, "NotFound", "not found"))
        try:
            cmd = json.loads(body)
            res = self.control(cmd)
        except (KeyError, ValueError, TypeError) as e:
            return self.send_json(400, {"ok": False, "error": repr(e)})
        self.send_json(200, res)

    def control(self, cmd):
        global STATE
        op = cmd["op"]
        with COND:
            if op == "reset":
                gens = (STATE["drop_gen"] + 1, STATE["close_gen"] + 1)
                STATE = new_state(ARGS.token)
                # streams of the previous test end cleanly
                STATE["drop_gen"], STATE["close_gen"] = gens
                COND.notify_all()
            elif op == "put":
                op_put(cmd["resource"], cmd["object"], cmd.get("silent", False))
            elif op == "delete":
                op_delete(cmd["resource"], cmd.get("namespace"), cmd["name"], cmd.get("silent", False))
            elif op == "bookmark":
                res = cmd["resource"]
                rv = bump()
                _, _, api_version, kind, _ = RESOURCES[res]
                append_log({"rv": rv, "resource": res, "type": "BOOKMARK",
                            "obj": {"kind": kind, "apiVersion": api_version,
                                    "metadata": {"resourceVersion": str(rv)}}})
            elif op == "compact":
                STATE["compacted"] = STATE["rv"]
                COND.notify_all()
            elif op == "gone_http":
                STATE["gone_http"] = int(cmd["count"])
            elif op == "fail":
                STATE["fail"] = {"status": int(cmd["status"]), "count": int(cmd["count"]),
                                 "kind": cmd.get("kind", "any")}
            elif op == "drop":
                STATE["drop_gen"] += 1
                COND.notify_all()
            elif op == "close":
                STATE["close_gen"] += 1
                COND.notify_all()
            elif op == "token":
                STATE["token"] = cmd["token"]
            elif op == "slow":
                STATE["slow"] = float(cmd["seconds"])
            elif op == "trickle":
                STATE["trickle"] = float(cmd["seconds"])
            elif op == "split":
                STATE["split"] = bool(cmd["on"])
            elif op == "raw":
                if "line" in cmd:
                    line = cmd["line"]
                else:
                    res = cmd["resource"]
                    _, _, api_version, kind, _ = RESOURCES[res]
                    ev = {"type": "ADDED", "object": {
                        "kind": kind, "apiVersion": api_version,
                        "metadata": {"name": "huge", "namespace": "default",
                                     "resourceVersion": str(STATE["rv"]),
                                     "annotations": {"blob": ""}}}}
                    pad = int(cmd["bytes"]) - len(json.dumps(ev))
                    ev["object"]["metadata"]["annotations"]["blob"] = "x" * max(pad, 0)
                    line = json.dumps(ev)
                append_log({"rv": STATE["rv"], "resource": cmd["resource"], "type": "RAW",
                            "line": line})
            else:
                raise ValueError("unknown op " + op)
            return {"ok": True, "rv": STATE["rv"]}

    # -- the API

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        if url.path == "/_stats":
            with COND:
                stats = copy.deepcopy(STATE["stats"])
                stats["rv"] = STATE["rv"]
            return self.send_json(200, stats)
        watch = query.get("watch") in ("1", "true")
        kind = "watch" if watch else "list"

        with COND:
            token = STATE["token"]
        auth = self.headers.get("Authorization") or ""
        if auth != "Bearer " + token:
            with COND:
                STATE["stats"]["unauthorized"] += 1
            self.record(kind, query, 401)
            return self.send_json(401, status_body(401, "Unauthorized", "Unauthorized"))

        r = route(url.path)
        if r is None:
            self.record(kind, query, 404)
            return self.send_json(404, status_body(404, "NotFound", "the server could not find the requested resource"))
        resource, namespace = r

        with COND:
            f = STATE["fail"]
            if f and f["count"] > 0 and f["kind"] in ("any", kind):
                f["count"] -= 1
                STATE["stats"]["failed"] += 1
                code = f["status"]
            else:
                code = 0
        if code:
            self.record(kind, query, code)
            reason = {500: "InternalError", 503: "ServiceUnavailable", 403: "Forbidden",
                      429: "TooManyRequests"}.get(code, "Unknown")
            return self.send_json(code, status_body(code, reason, "injected failure %d" % code))

        if watch:
            return self.serve_watch(resource, namespace, query)
        return self.serve_list(resource, namespace, query)

    def serve_list(self, resource, namespace, query):
        _, list_kind, api_version, _, _ = RESOURCES[resource]
        reqs = parse_selector(query.get("labelSelector"))
        limit = int(query.get("limit") or 0)
        cont = query.get("continue")
        with COND:
            slow = STATE["slow"]
        if slow > 0:
            time.sleep(slow)
        with COND:
            if cont:
                snap = STATE["snapshots"].get(cont)
                if snap is None or snap[0] < STATE["compacted"]:
                    STATE["stats"]["gone"] += 1
                    self.record("list", query, 410)
                    return self.send_json(410, status_body(
                        410, "Expired", "The provided continue parameter is too old"))
                rv, items = snap
            else:
                STATE["stats"]["lists"] += 1
                rv = STATE["rv"]
                items = [list_item(o) for k, o in sorted(STATE["store"][resource].items())
                         if (namespace is None or o["metadata"].get("namespace") == namespace)
                         and selector_matches(reqs, o)]
            STATE["stats"]["pages"] += 1
            md = {"resourceVersion": str(rv)}
            page = items
            if limit > 0 and len(items) > limit:
                page = items[:limit]
                token = base64.urlsafe_b64encode(json.dumps(
                    {"rv": rv, "start": len(STATE["snapshots"])}).encode()).decode()
                STATE["snapshots"][token] = (rv, items[limit:])
                md["continue"] = token
                md["remainingItemCount"] = len(items) - limit
        self.record("list", query, 200)
        self.send_json(200, {"kind": list_kind, "apiVersion": api_version, "metadata": md,
                             "items": page})

    def serve_watch(self, resource, namespace, query):
        reqs = parse_selector(query.get("labelSelector"))
        try:
            since = int(query.get("resourceVersion") or 0)
        except ValueError:
            since = 0
        timeout = float(query.get("timeoutSeconds") or 1800)
        with COND:
            STATE["stats"]["watches"] += 1
            gone = since < STATE["compacted"]
            if STATE["gone_http"] > 0:
                STATE["gone_http"] -= 1
                gone = True
                http_gone = True
            else:
                http_gone = False
            if gone:
                STATE["stats"]["gone"] += 1
            drop_gen, close_gen = STATE["drop_gen"], STATE["close_gen"]
            log = STATE["log"]
            cursor = len(log)
            for e in log:
                if e["rv"] > since:
                    cursor = e["seq"]
                    break
        if http_gone:
            self.record("watch", query, 410)
            return self.send_json(410, status_body(
                410, "Expired", "too old resource version: %d" % since))
        self.record("watch", query, 200)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        if gone:
            self.send_event({"type": "ERROR", "object": status_body(
                410, "Expired", "too old resource version: %d (%d)" % (since, STATE["compacted"]))})
            return self.end_stream()

        deadline = time.monotonic() + timeout
        while True:
            with COND:
                while True:
                    if STATE["drop_gen"] != drop_gen:
                        return self.drop_stream()
                    if STATE["close_gen"] != close_gen or time.monotonic() >= deadline:
                        return self.end_stream()
                    if since < STATE["compacted"] and STATE["rv"] > since:
                        gone_msg = "too old resource version: %d (%d)" % (since, STATE["compacted"])
                        STATE["stats"]["gone"] += 1
                        break
                    if cursor < len(STATE["log"]):
                        gone_msg = None
                        break
                    COND.wait(0.05)
                pending = STATE["log"][cursor:]
                cursor = len(STATE["log"])
                split = STATE["split"]
            if gone_msg:
                self.send_event({"type": "ERROR", "object": status_body(410, "Expired", gone_msg)})
                return self.end_stream()
            lines = []
            for e in pending:
                if e["resource"] != resource:
                    continue
                if e["type"] == "RAW":
                    lines.append(e["line"].encode() + b"\n")
                    continue
                if e["type"] != "BOOKMARK":
                    o = e["obj"]
                    if namespace is not None and o["metadata"].get("namespace") != namespace:
                        continue
                    if not selector_matches(reqs, o):
                        continue
                    if e["rv"] <= since:
                        continue
                elif query.get("allowWatchBookmarks") != "true":
                    continue
                lines.append(json.dumps({"type": e["type"], "object": e["obj"]}).encode() + b"\n")
                since = max(since, e["rv"])
            self.send_lines(lines, split)

    def send_event(self, ev):
        self.chunk(json.dumps(ev).encode() + b"\n")

    def send_lines(self, lines, split):
        if not split:
            for line in lines:
                self.chunk(line)
            return
        # Lines cut across chunks, and pairs of lines in one chunk.
        data = b"".join(lines)
        i = 0
        n = 0
        while i < len(data):
            step = max(1, [7, 1, 300, 2, 4096][n % 5])
            self.chunk(data[i:i + step])
            i += step
            n += 1
            time.sleep(0.001)

    def end_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def drop_stream(self):
        # A chunk announced but cut short, then the TCP connection goes away
        # without a TLS close_notify.
        try:
            self.wfile.write(b"400\r\n{\"type\":\"MODIFIED\",\"obj")
            self.wfile.flush()
            self.request.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, ctx):
        super().__init__(addr, Handler, bind_and_activate=False)
        self.ctx = ctx
        self.server_bind()
        self.server_activate()

    def get_request(self):
        sock, addr = self.socket.accept()
        return self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr


def main():
    global ARGS, STATE
    p = argparse.ArgumentParser()
    p.add_argument("--addr", default="127.0.0.1")
    p.add_argument("--ports", default="20500-20599")
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--ready", required=True)
    p.add_argument("--lifetime", type=float, default=150)
    ARGS = p.parse_args()
    if ARGS.addr not in ("127.0.0.1", "::1"):
        sys.exit("loopback only")
    STATE = new_state(ARGS.token)

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ARGS.cert, ARGS.key)
    ctx.set_alpn_protocols(["http/1.1"])
    lo, hi = (int(x) for x in ARGS.ports.split("-"))
    srv = None
    for port in range(lo, hi + 1):
        try:
            srv = Server((ARGS.addr, port), ctx)
            break
        except OSError:
            continue
    if srv is None:
        sys.exit("no free port in %s" % ARGS.ports)
    tmp = ARGS.ready + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, ARGS.ready)
    threading.Timer(ARGS.lifetime, lambda: os._exit(0)).start()
    srv.serve_forever(poll_interval=0.1)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Classifies every request in a Chromium net-log (--log-net-log=FILE).

Usage: netlog-requests.py NETLOG ORIGIN      (ORIGIN e.g. http://127.0.0.1:19800)

Prints one line per request: "PAGE url" for requests the page made to its own
origin, "FOREIGN url" for requests the page made anywhere else, "BROWSER url"
for Chromium's own traffic (component updater, time sync, account checks:
not the page's doing, and kept off the network by the test's namespace).
A request belongs to the page when its initiator is the page's origin, or its
network isolation key is the page's site (subresources, fetch(), favicons),
or it is the main-frame navigation itself."""

import json
import sys
from urllib.parse import urlsplit


def origin_of(url):
    u = urlsplit(url)
    if not u.scheme or not u.netloc:
        return None
    return f"{u.scheme}://{u.netloc}"


def main():
    path, origin = sys.argv[1], sys.argv[2]
    site = origin.rsplit(":", 1)[0] if origin.count(":") > 1 else origin  # scheme://host, no port
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    try:
        log = json.loads(text)
    except json.JSONDecodeError:
        # Chromium killed before it closed the file: the events list is cut short.
        log = json.loads(text.rstrip().rstrip(",") + "]}")
    types = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    for ev in log.get("events", []):
        if types.get(ev.get("type")) != "URL_REQUEST_START_JOB":
            continue
        p = ev.get("params") or {}
        url = p.get("url", "")
        if url.startswith(("data:", "blob:", "about:", "chrome:")):
            continue
        initiator = p.get("initiator", "")
        nik = (p.get("network_isolation_key") or "").split(" ")
        page = (initiator == origin or (nik and nik[0] == site)
                or (p.get("request_type") == "main frame" and origin_of(url) == origin))
        if not page:
            kind = "BROWSER"
        elif origin_of(url) == origin:
            kind = "PAGE"
        else:
            kind = "FOREIGN"
        print(kind, url)


if __name__ == "__main__":
    main()

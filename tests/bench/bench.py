#!/usr/bin/python3
"""Helpers of the benchmark suite (tests/bench/bench.sh): configs, metric
arithmetic, the /api/v1/matrix sampler and the final table. Standard library
only; every network access is to 127.0.0.1.

  bench.py config OUT LISTEN PROTO ROWS INTERVAL TIMEOUT TARGET-PORT [MAX-IN-FLIGHT [RESPONDER-PORT]]
      netcanary config: ROWS rows '*' -> PROTO target i (tcp/udp 127.0.0.1:PORT,
      dns www.nctest.example A at 127.0.0.1:PORT, http GET http://127.0.0.1:PORT/ok);
      ROWS 0 = an empty matrix. INTERVAL/TIMEOUT like "100ms".
  bench.py probes METRICS-FILE              sum of netcanary_probes_total
  bench.py outcomes METRICS-FILE            netcanary_probes_total by outcome (JSON)
  bench.py lag BEFORE AFTER                 scheduler lag from the histogram delta:
                                            "count p50 p99 frac_over_5ms" (seconds)
  bench.py sample PORT SECS POLL-MS         per-probe duration_seconds (µs, connected
                                            only, once per row and round) from /api/v1/matrix
  bench.py stats FILE                       "n median p90 min max" of one number a line
  bench.py smaps PID                        Rss of [heap], the sum of anonymous Rss, and Pss (KiB)
  bench.py cputime CMD ARGS...              runs CMD; "cpu-seconds count summary" (count: the
                                            argument before the last, as the bare clients take it)
  bench.py table RESULTS-TSV                the final Markdown table (stdout), then the
                                            missed targets and the missing figures
"""
import json
import re
import statistics
import sys
import time
import urllib.request

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def cmd_config(out, listen, proto, rows, interval, timeout, port, max_in_flight="256", responder="0"):
    rows, port = int(rows), int(port)
    specs = {
        "tcp": {"tcp": {"host": "127.0.0.1", "port": port}},
        "udp": {"udp": {"host": "127.0.0.1", "port": port}},
        "dns": {"dns": {"name": "www.nctest.example", "type": "A", "servers": ["127.0.0.1:%d" % port]}},
        "http": {"http": {"url": "http://127.0.0.1:%d/ok" % port, "status": [200]}},
    }
    targets = {"%s-%d" % (proto, i): specs[proto] for i in range(rows)}
    matrix = [{"from": "*", "to": "%s-%d" % (proto, i), "expect": "allow"} for i in range(rows)]
    cfg = {
        "agent": {"identity": "bench", "listen": "127.0.0.1:%s" % listen,
                  "responder": {"port": int(responder)}, "max_in_flight": int(max_in_flight)},
        "defaults": {"interval": interval, "timeout": timeout, "confirm": 1},
        "targets": targets,
        "matrix": matrix,
    }
    with open(out, "w") as f:
        json.dump(cfg, f, indent=0)


SERIES = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)')


def series(path, name):
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("#"):
                continue
            m = SERIES.match(line)
            if m and m.group(1) == name:
                yield (m.group(2) or ""), float(m.group(3))


def cmd_probes(path):
    print("%d" % sum(v for _, v in series(path, "netcanary_probes_total")))


def cmd_outcomes(path):
    out = {}
    for labels, v in series(path, "netcanary_probes_total"):
        m = re.search(r'outcome="([^"]*)"', labels)
        k = m.group(1) if m else "?"
        out[k] = out.get(k, 0) + int(v)
    print(json.dumps(out, sort_keys=True))


def buckets(path):
    b = {}
    for labels, v in series(path, "netcanary_scheduler_lag_seconds_bucket"):
        m = re.search(r'le="([^"]*)"', labels)
        b[float("inf") if m.group(1) == "+Inf" else float(m.group(1))] = v
    return b


def quantile(q, bounds, cum):
    """histogram_quantile as Prometheus computes it (linear within a bucket)."""
    total = cum[-1]
    if total <= 0:
        return float("nan")
    rank = q * total
    prev_b, prev_c = 0.0, 0.0
    for b, c in zip(bounds, cum):
        if c >= rank:
            if b == float("inf"):
                return prev_b
            return prev_b + (b - prev_b) * ((rank - prev_c) / (c - prev_c) if c > prev_c else 0)
        prev_b, prev_c = b, c
    return bounds[-2]


def cmd_lag(before, after):
    b0, b1 = buckets(before), buckets(after)
    bounds = sorted(b1)
    cum = [b1[b] - b0.get(b, 0) for b in bounds]
    total = cum[-1] if cum else 0
    under5 = max([c for b, c in zip(bounds, cum) if b <= 0.005] or [0])
    frac = (total - under5) / total if total else float("nan")
    print("%d %.6f %.6f %.5f" % (total, quantile(.5, bounds, cum), quantile(.99, bounds, cum), frac))


def cmd_sample(port, secs, poll_ms):
    url = "http://127.0.0.1:%d/api/v1/matrix" % int(port)
    seen, other, polls = {}, {}, 0
    end = time.monotonic() + float(secs)
    while time.monotonic() < end:
        try:
            doc = json.load(OPENER.open(url, timeout=5))
        except Exception as e:  # one lost sample, not a failure
            print("sample failed: %s" % e, file=sys.stderr)
            time.sleep(int(poll_ms) / 1000)
            continue
        polls += 1
        for row in doc["rows"]:
            key = (row["index"], row["rounds"])
            if key in seen or not row.get("addresses"):
                continue
            a = row["addresses"][0]
            if polls == 1:  # the rounds in progress when we started: skip
                seen[key] = None
                continue
            if a["outcome"] == "connected":
                seen[key] = a["duration_seconds"] * 1e6
            else:
                seen[key] = None
                other[a["outcome"]] = other.get(a["outcome"], 0) + 1
        time.sleep(int(poll_ms) / 1000)
    for v in seen.values():
        if v is not None:
            print("%.3f" % v)
    print("%d polls, %d rounds seen, not connected: %s" % (polls, len(seen), json.dumps(other)), file=sys.stderr)


def q(v, f):
    return v[min(len(v) - 1, int(f * len(v)))]


def cmd_stats(path):
    v = sorted(float(x) for x in open(path) if x.strip())
    if not v:
        print("0 nan nan nan nan")
        return
    print("%d %.3f %.3f %.3f %.3f" % (len(v), statistics.median(v), q(v, .9), v[0], v[-1]))


def cmd_cputime(*argv):
    """Runs argv; prints its CPU seconds (user+system), the count asked (the
    argument before the last) and its summary line."""
    import resource
    import subprocess
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    print("%.4f %s %s" % (cpu, argv[-2], p.stderr.strip().replace("\n", "; ")))
    sys.exit(p.returncode)


def cmd_smaps(pid):
    heap, anon, cur = 0, 0, None
    with open("/proc/%s/smaps" % pid) as f:
        for line in f:
            if re.match(r'^[0-9a-f]+-[0-9a-f]+ ', line):
                parts = line.split()
                cur = parts[5] if len(parts) > 5 else ""
            elif line.startswith("Rss:") and cur == "[heap]":
                heap += int(line.split()[1])
            elif line.startswith("Anonymous:"):
                anon += int(line.split()[1])
    pss = 0
    with open("/proc/%s/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
    print("%d %d %d" % (heap, anon, pss))


# ---------------------------------------------------------------- the table

def load_results(path):
    r = {}
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 2:
                continue
            try:
                r.setdefault(parts[0], []).append(float(parts[1]))
            except ValueError:
                pass
    return r


def fmt(v, unit="", prec=None):
    if v is None:
        return "n/a"
    if prec is None:
        a = abs(v)
        prec = 0 if a >= 100 else 1 if a >= 10 else 2 if a >= 1 else 3 if a >= 0.01 else 4
    return ("%.*f" % (prec, v)) + unit


def agg(r, key, unit="", prec=None):
    """'median [min–max]' of a key's rounds, and the median."""
    v = [x for x in r.get(key, []) if x == x]
    if not v:
        return "n/a", None
    m = statistics.median(v)
    if len(v) == 1:
        return fmt(m, unit, prec), m
    return "%s [%s–%s]" % (fmt(m, unit, prec), fmt(min(v), "", prec), fmt(max(v), "", prec)), m


def verdict(ok):
    if ok is None:
        return "n/a"
    return "met" if ok else "**MISSED**"


def cmd_table(path):
    r = load_results(path)
    rows = []
    rows.append(("figure", "netcanary", "reference", "ratio / difference", "target", "result"))
    for p in ("tcp", "dns", "http"):
        nc, _ = agg(r, "cpu.%s.nc" % p, " s")
        bb, _ = agg(r, "cpu.%s.bb" % p, " s")
        ra, m = agg(r, "cpu.%s.ratio" % p, "×", 1)
        n, _ = agg(r, "cpu.%s.probes" % p, "", 0)
        ke, _ = agg(r, "cpu.%s.kernel" % p, "%", 0)
        fl, _ = agg(r, "cpu.%s.bare" % p, " s")
        rows.append(("CPU s per 1,000 probes, %s (%s probes a side, 500/s)" % (p, n), "%s (kernel %s)" % (nc, ke),
                     "blackbox %s; bare client (floor) %s" % (bb, fl),
                     "blackbox/netcanary " + ra, "≥ 10×", verdict(None if m is None else m >= 10)))
    pk, m = agg(r, "peak.tcp", "/s", 0)
    cpu, _ = agg(r, "peak.cpu", "%", 0)
    bare, _ = agg(r, "peak.bare", "/s", 0)
    lagp, _ = agg(r, "peak.lag99", " ms", 2)
    onc, _ = agg(r, "peak.oncpu", " µs", 1)
    ceil, _ = agg(r, "peak.ceiling", "/s", 0)
    rqw, _ = agg(r, "peak.fail.rqwait", "%", 0)
    rows.append(("peak tcp probes/s on one core (lag p99 ≤ 5 ms)",
                 "%s (CPU %s, p99 %s; %s on-CPU per probe → %s if the core were ours; at the first failing step it waited for the core %s of the time)"
                 % (pk, cpu, lagp, onc, ceil, rqw),
                 "bare blocking connect() loop on that core " + bare, "", "≥ 10,000/s",
                 verdict(None if m is None else m >= 10000)))
    for key, name, tgt in (("idle", "RSS idle (empty matrix)", 4096), ("1k", "RSS 1,000 tcp rows (500 probes/s)", 8192),
                           ("10k", "RSS 10,000 tcp rows (5,000 probes/s)", None)):
        rss, m = agg(r, "rss.%s.rss" % key, "", 0)
        hwm, _ = agg(r, "rss.%s.hwm" % key, "", 0)
        heap, _ = agg(r, "rss.%s.heap" % key, "", 0)
        anon, _ = agg(r, "rss.%s.anon" % key, "", 0)
        pss, _ = agg(r, "rss.%s.pss" % key, "", 0)
        rows.append((name + " (KiB)", "VmRSS %s; VmHWM %s; [heap] Rss %s; anonymous %s; Pss %s" % (rss, hwm, heap, anon, pss), "", "",
                     "≤ %d KiB" % tgt if tgt else "(informative)",
                     verdict(None if (m is None or tgt is None) else m <= tgt)))
    bb, _ = agg(r, "rss.bb.rss", "", 0)
    bbh, _ = agg(r, "rss.bb.hwm", "", 0)
    bba, _ = agg(r, "rss.bb.anon", "", 0)
    nca, _ = agg(r, "rss.1k.anon", "", 0)
    nc, _ = agg(r, "rss.1k.rss", "", 0)
    ra, m = agg(r, "rss.ratio", "×", 1)
    rows.append(("RSS under the same load (500 tcp probes/s; netcanary with 1,000 rows) (KiB)", "VmRSS %s; anonymous %s" % (nc, nca),
                 "blackbox VmRSS %s; VmHWM %s; anonymous %s" % (bb, bbh, bba), "blackbox/netcanary (VmRSS) " + ra, "≥ 5×",
                 verdict(None if m is None else m >= 5)))
    for p, tgt, base in (("tcp", 20, "bare connect()"), ("dns", 20, "bare UDP query (dns-rtt)"),
                         ("http", 40, "bare GET (http-get)")):
        nc, _ = agg(r, "lat.%s.nc" % p, " µs")
        ba, _ = agg(r, "lat.%s.bare" % p, " µs")
        d, m = agg(r, "lat.%s.diff" % p, " µs", 1)
        rows.append(("reported latency − bare, %s (medians)" % p, nc, base + " " + ba, "+" + d if not d.startswith("-") else d,
                     "≤ %d µs" % tgt, verdict(None if m is None else m <= tgt)))
    l1, m = agg(r, "lag.wrk.p99", " ms", 2)
    l0, _ = agg(r, "lag.base.p99", " ms", 2)
    f1, _ = agg(r, "lag.wrk.frac", "%", 2)
    rps, _ = agg(r, "lag.wrk.rps", "/s", 0)
    busy, _ = agg(r, "lag.wrk.busy", "%", 0)
    rqw, _ = agg(r, "lag.wrk.rqwait", "%", 0)
    rows.append(("scheduler lag p99, 1,000 probes/s while wrk scrapes /metrics (1,000 rows)",
                 "%s (%s of probes > 5 ms; wrk %s scrapes; loop thread on the CPU %s, waiting for it %s)" % (l1, f1, rps, busy, rqw),
                 "without scraping " + l0, "", "≤ 5 ms", verdict(None if m is None else m <= 5)))
    c, m = agg(r, "render.cpu.ms", " ms", 1)
    t, _ = agg(r, "render.ms", " ms", 1)
    tg, _ = agg(r, "render.gz.ms", " ms", 1)
    b, _ = agg(r, "render.bytes", "", 0)
    g, _ = agg(r, "render.gz.bytes", "", 0)
    rows.append(("/metrics with 10,000 rows after 20 rounds: render time (loop time in the metrics cursor, median of reps)",
                 "render %s; wall (curl time_total, streamed) plain %s, gzip %s" % (c, t, tg),
                 "bytes plain %s / gzip %s" % (b, g), "", "≤ 20 ms", verdict(None if m is None else m <= 20)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    def line(row):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |"
    print(line(rows[0]))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows[1:]:
        print(line(row))
    missed = [row[0] for row in rows[1:] if "MISSED" in row[5]]
    required = ["cpu.%s.%s" % (p, k) for p in ("tcp", "dns", "http") for k in ("nc", "bb", "ratio")] + [
        "peak.tcp", "peak.bare"] + ["rss.%s.%s" % (k, f) for k in ("idle", "1k", "10k", "bb") for f in ("rss", "hwm", "heap")] + [
        "rss.ratio"] + ["lat.%s.diff" % p for p in ("tcp", "dns", "http")] + [
        "lag.wrk.p99", "lag.base.p99", "render.cpu.ms", "render.ms", "render.bytes", "render.gz.bytes"]
    absent = [k for k in required if not [x for x in r.get(k, []) if x == x]]
    print()
    print("figures missing: %s" % (" ".join(absent) if absent else "-"))
    print("targets missed: %d%s" % (len(missed), (" — " + "; ".join(missed)) if missed else ""))


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    cmd, args = sys.argv[1], sys.argv[2:]
    f = globals().get("cmd_" + cmd)
    if not f:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    f(*args)


if __name__ == "__main__":
    main()

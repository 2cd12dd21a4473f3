// tests/deploy: every PromQL expression of the dashboard and of the rules,
// run against a real Prometheus scraping real netcanary agents (contract §7.4).
//
// Scenario, all on 127.0.0.1, ports 19700-19799:
//   Prometheus :19700, scrape and rule evaluation every 1 s, the rule file of
//   deploy/prometheus and the relabeling of deploy/prometheus/prometheus.yml
//   (kubernetes_sd_configs replaced by file_sd_configs whose targets carry the
//   __meta_kubernetes_* labels Kubernetes discovery would give: so the
//   shipped relabeling really makes job/namespace/pod/node/cluster).
//   Three agents sharing one matrix (only the agent section differs):
//     platform   :19710, responder :19711  (node-1)
//     customer-a :19720, responder :19721  (node-1)
//     customer-b :19730, responder :19731  (node-2)
//   A slow UDP echo (:19740, answers after 300 ms), standing in for a target
//   that a NetworkPolicy lets through for platform only: platform's allow row
//   (timeout 900 ms) reaches it, customer-a's deny row (timeout 150 ms) does
//   not. Ports 19750 (tcp) and 19751 (udp) are closed. A small DNS server
//   (:19752) answers A 127.0.0.1, or SERVFAIL for names under "servfail.",
//   for the dns rows (DNS latency and error metrics).
//   Rows: met allow rows (platform -> customer-a, -b, -b-udp, -b-slow), a
//   met deny row verified by another agent (customer-a -> customer-b-slow),
//   met deny rows without a working control (customer-a -> closed: platform's
//   allow row to it fails = an unexpected_deny; customer-b -> closed-udp: no
//   allow row at all), and a leak (customer-a -> customer-b: unexpected_allow,
//   loopback has no policy). An http row (customer-a -> platform's /metrics)
//   and dns rows ("*" -> cluster-dns, platform -> dns-servfail) feed the
//   netcanary_http_* and netcanary_dns_* families where the build has them.
//
// What is asserted:
//   * every expression parses (the Prometheus API answers "success");
//   * metric names: an expression whose metrics are absent from the scrape
//     passes on parsing alone ONLY for the families not implemented yet
//     (netcanary_dns_*, netcanary_http_*): "no data yet (family not
//     exported)"; any other absent name is a failure (a typo, a renamed metric);
//   * data: dashboard expressions and recording rules must return series.
//     Alert expressions legitimately return nothing while they do not fire,
//     so for them the expression with its final threshold comparisons removed
//     (lib/promql.mjs stripThresholds: `X > 0.25` -> `X`) must return series,
//     i.e. the alert compares something that exists;
//   * the scenario's truths: the recording rules' verified/unverified rows,
//     NetcanaryUnexpectedAllow firing for the leak only, NetcanaryDenyUnverified
//     and NetcanaryUnexpectedDeny pending where they must be, the relabeled
//     labels, the dropped decoy targets.
import { spawn } from "node:child_process";
import dgram from "node:dgram";
import { createWriteStream, existsSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import YAML from "yaml";
import { P, check, fail, fatal, finish, log, makeTmp, pass, readYaml, which } from "./lib/common.mjs";
import { metricNames, stripThresholds, syntaxErrors } from "./lib/promql.mjs";

const PORT = {
  prom: 19700,
  platform: 19710,
  "customer-a": 19720,
  "customer-b": 19730,
  slowUdp: 19740,
  closedTcp: 19750,
  closedUdp: 19751,
  dns: 19752,
};
const RESPONDER = { platform: 19711, "customer-a": 19721, "customer-b": 19731 };
const NODE = { platform: "node-1", "customer-a": "node-1", "customer-b": "node-2" };
const NOT_YET_EXPORTED = /^netcanary_(dns|http)_/;
// Dashboard variables: concrete values of the scenario (a matcher on a label
// the scrape does not make would then match nothing and fail), the multi-value
// form Grafana sends for several values.
const VARS = {
  datasource: "prometheus",
  cluster: "default",
  namespace: "(customer-a|customer-b|platform)",
  node: "(node-1|node-2)",
  server: ".*",
  __rate_interval: "1m",
  __interval: "5s",
  __interval_ms: "5000",
  __range: "5m",
  __range_s: "300",
  __range_ms: "300000",
};

const NETCANARY = process.env.NETCANARY;
if (!NETCANARY || !existsSync(NETCANARY)) fatal("NETCANARY is not set to the netcanary binary");
const PROMETHEUS = process.env.PROMETHEUS || which("prometheus");
if (!PROMETHEUS) fatal("prometheus not found (apt-get install prometheus)");

// Children are killed before makeTmp's exit handler removes their files.
const children = [];
let slowServer = null;
let dnsServer = null;

function cleanup() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const srv of [slowServer, dnsServer]) {
    try {
      srv?.close();
    } catch {
      /* closed */
    }
  }
}
process.on("exit", cleanup);
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));
const tmp = makeTmp("live");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* Polls fn() (async, truthy = done) every 250 ms for at most ms. */
async function waitFor(desc, ms, fn) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e.message;
    }
    await sleep(250);
  }
  return null;
}

async function httpGet(url, timeoutMs = 3000) {
  const ctl = new AbortController();
  const t = setTimeout(() => ctl.abort(), timeoutMs);
  try {
    const r = await fetch(url, { signal: ctl.signal });
    return { status: r.status, body: await r.text() };
  } finally {
    clearTimeout(t);
  }
}

async function prom(path, params = {}) {
  const qs = new URLSearchParams(params).toString();
  const r = await httpGet(`http://127.0.0.1:${PORT.prom}${path}${qs ? "?" + qs : ""}`, 10000);
  let j;
  try {
    j = JSON.parse(r.body);
  } catch {
    return { status: "error", error: `HTTP ${r.status}: ${r.body.slice(0, 200)}` };
  }
  return j;
}
const query = (q) => prom("/api/v1/query", { query: q });

function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}
function udpPortFree(port) {
  return new Promise((resolve) => {
    const s = dgram.createSocket("udp4");
    s.once("error", () => resolve(false));
    s.bind(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

function startProcess(name, cmd, args) {
  const logPath = join(tmp, `${name}.log`);
  const out = createWriteStream(logPath);
  const c = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  c.stdout.pipe(out);
  c.stderr.pipe(out);
  c.logPath = logPath;
  c.name = name;
  children.push(c);
  return c;
}

function dumpLogs() {
  for (const c of children) {
    try {
      const lines = readFileSync(c.logPath, "utf8").trimEnd().split("\n").slice(-15);
      process.stderr.write(`----- last lines of ${c.name}.log -----\n${lines.join("\n")}\n`);
    } catch {
      /* none */
    }
  }
}

// A DNS server for the dns rows: every question gets A 127.0.0.1 (TTL 30),
// names starting with "servfail." get SERVFAIL. Plain RFC 1035 over UDP.
function dnsAnswer(q) {
  if (q.length < 17 || q[2] & 0x80) return null; // not a query
  let i = 12;
  const labels = [];
  while (i < q.length && q[i] !== 0) {
    if (q[i] & 0xc0) return null;
    labels.push(q.subarray(i + 1, i + 1 + q[i]).toString("latin1"));
    i += q[i] + 1;
  }
  const qEnd = i + 5; // zero label, qtype, qclass
  if (qEnd > q.length) return null;
  const qtype = q.readUInt16BE(i + 1);
  const servfail = labels[0]?.toLowerCase() === "servfail";
  const answer = !servfail && qtype === 1;
  const hdr = Buffer.alloc(12);
  q.copy(hdr, 0, 0, 2); // id
  hdr[2] = 0x80 | (q[2] & 0x01) | 0x04; // QR, RD copied, AA
  hdr[3] = 0x80 | (servfail ? 2 : 0); // RA, rcode
  hdr.writeUInt16BE(1, 4);
  hdr.writeUInt16BE(answer ? 1 : 0, 6);
  const rr = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 127, 0, 0, 1]);
  return Buffer.concat([hdr, q.subarray(12, qEnd), answer ? rr : Buffer.alloc(0)]);
}

// ---------------------------------------------------------------- set-up
for (const p of [PORT.prom, PORT.platform, PORT["customer-a"], PORT["customer-b"], ...Object.values(RESPONDER), PORT.closedTcp]) {
  if (!(await portFree(p))) fatal(`port ${p} on 127.0.0.1 is in use (tests/deploy owns 19700-19799)`);
}
for (const p of [...Object.values(RESPONDER), PORT.slowUdp, PORT.closedUdp, PORT.dns]) {
  if (!(await udpPortFree(p))) fatal(`udp port ${p} on 127.0.0.1 is in use`);
}

// The slow echo: same bytes back, 300 ms later.
slowServer = dgram.createSocket("udp4");
slowServer.on("message", (msg, rinfo) => {
  setTimeout(() => slowServer.send(msg, rinfo.port, rinfo.address, () => {}), 300);
});
await new Promise((r) => slowServer.bind(PORT.slowUdp, "127.0.0.1", r));
dnsServer = dgram.createSocket("udp4");
dnsServer.on("message", (msg, rinfo) => {
  const a = dnsAnswer(msg);
  if (a) dnsServer.send(a, rinfo.port, rinfo.address, () => {});
});
await new Promise((r) => dnsServer.bind(PORT.dns, "127.0.0.1", r));

const shared = {
  defaults: { interval: "1s", timeout: "500ms", confirm: 2 },
  targets: {
    "customer-a": { tcp: { host: "127.0.0.1", port: RESPONDER["customer-a"] } },
    "customer-b": { tcp: { host: "127.0.0.1", port: RESPONDER["customer-b"] } },
    "customer-b-udp": { udp: { host: "127.0.0.1", port: RESPONDER["customer-b"] } },
    "customer-b-slow": { udp: { host: "127.0.0.1", port: PORT.slowUdp } },
    closed: { tcp: { host: "127.0.0.1", port: PORT.closedTcp } },
    "closed-udp": { udp: { host: "127.0.0.1", port: PORT.closedUdp } },
    "platform-metrics": { http: { url: `http://127.0.0.1:${PORT.platform}/metrics`, status: [200] } },
    "cluster-dns": { dns: { name: "kubernetes.default.svc.cluster.local", type: "A", servers: [`127.0.0.1:${PORT.dns}`] } },
    "dns-servfail": { dns: { name: "servfail.cluster.local", type: "A", servers: [`127.0.0.1:${PORT.dns}`] } },
  },
  matrix: [
    { from: "platform", to: "customer-a", expect: "allow" },
    { from: "platform", to: "customer-b", expect: "allow" },
    { from: "platform", to: "customer-b-udp", expect: "allow" },
    { from: "platform", to: "customer-b-slow", expect: "allow", timeout: "900ms" },
    { from: "platform", to: "closed", expect: "allow" },
    { from: "customer-a", to: "customer-b", expect: "deny" },
    { from: "customer-a", to: "customer-b-slow", expect: "deny", timeout: "150ms" },
    { from: "customer-a", to: "closed", expect: "deny" },
    { from: "customer-a", to: "platform-metrics", expect: "allow" },
    { from: "customer-b", to: "closed-udp", expect: "deny" },
    { from: "platform", to: "dns-servfail", expect: "allow" },
    { from: "*", to: "cluster-dns", expect: "allow" },
  ],
};
for (const id of ["platform", "customer-a", "customer-b"]) {
  const cfg = {
    agent: { identity: id, listen: `127.0.0.1:${PORT[id]}`, responder: { port: RESPONDER[id] } },
    ...shared,
  };
  const path = join(tmp, `${id}.json`);
  writeFileSync(path, JSON.stringify(cfg, null, 2));
  startProcess(id, NETCANARY, ["run", "--config", path]);
}

// Prometheus: the shipped scrape job, fed by file_sd with Kubernetes' meta labels.
const example = readYaml(P.promConfig);
const job = example.scrape_configs.find((j) => j.job_name === "netcanary");
delete job.kubernetes_sd_configs;
job.scrape_interval = "1s";
job.scrape_timeout = "1s";
job.file_sd_configs = [{ files: [join(tmp, "targets.json")], refresh_interval: "1s" }];
const meta = (ns, pod, node, port, portName = "http-metrics", phase = "Running", name = "netcanary") => ({
  targets: [`127.0.0.1:${port}`],
  labels: {
    __meta_kubernetes_namespace: ns,
    __meta_kubernetes_pod_name: pod,
    __meta_kubernetes_pod_node_name: node,
    __meta_kubernetes_pod_phase: phase,
    __meta_kubernetes_pod_container_port_name: portName,
    __meta_kubernetes_pod_label_app_kubernetes_io_name: name,
    __meta_kubernetes_pod_label_app_kubernetes_io_component: "agent",
  },
});
const targets = [
  ...["platform", "customer-a", "customer-b"].map((id) => meta(id, `netcanary-${id}-x1`, NODE[id], PORT[id])),
  // decoys the relabeling must drop: the responder port, a pending pod, another app
  meta("customer-a", "netcanary-customer-a-x1", "node-1", RESPONDER["customer-a"], "responder-tcp"),
  meta("customer-b", "netcanary-customer-b-x2", "node-2", 19798, "http-metrics", "Pending"),
  meta("customer-b", "web-1", "node-2", 19797, "http-metrics", "Running", "web"),
];
writeFileSync(join(tmp, "targets.json"), JSON.stringify(targets, null, 2));
const promCfg = {
  global: { scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
  rule_files: [P.rules],
  scrape_configs: [job],
};
writeFileSync(join(tmp, "prometheus.yml"), YAML.stringify(promCfg));
const promProc = startProcess("prometheus", PROMETHEUS, [
  `--config.file=${join(tmp, "prometheus.yml")}`,
  `--storage.tsdb.path=${join(tmp, "tsdb")}`,
  `--web.listen-address=127.0.0.1:${PORT.prom}`,
  "--storage.tsdb.retention.time=1h",
  "--log.level=warn",
]);

// ---------------------------------------------------------------- waits
for (const id of ["platform", "customer-a", "customer-b"]) {
  const ok = await waitFor(`${id} ready`, 15000, async () => (await httpGet(`http://127.0.0.1:${PORT[id]}/readyz`)).status === 200);
  if (!check(ok, `agent ${id} is ready (/readyz 200)`)) {
    dumpLogs();
    finish();
  }
}
if (!check(await waitFor("prometheus ready", 30000, async () => (await httpGet(`http://127.0.0.1:${PORT.prom}/-/ready`)).status === 200), "Prometheus is ready")) {
  dumpLogs();
  finish();
}

// Enough scrapes and rule evaluations for rate() windows, confirmed verdicts,
// and the cross-agent join (all bounded).
const conditions = {
  "three agents up": 'count(up{job="netcanary"} == 1) == 3',
  "verified deny row (customer-a -> customer-b-slow)": 'netcanary:expectation_verified{from="customer-a", to="customer-b-slow"} == 1',
  "NetcanaryUnexpectedAllow firing": 'ALERTS{alertname="NetcanaryUnexpectedAllow", alertstate="firing"}',
  "three rate() samples": 'count(count_over_time(netcanary_probes_total{job="netcanary"}[1m]) >= 4) > 0',
  "unverified deny rows pending": 'count(ALERTS{alertname="NetcanaryDenyUnverified", alertstate="pending"}) >= 2',
};
for (const [desc, q] of Object.entries(conditions)) {
  const ok = await waitFor(desc, 60000, async () => {
    const r = await query(q);
    return r.status === "success" && r.data.result.length > 0;
  });
  if (!check(ok, `scenario: ${desc}`, q)) {
    dumpLogs();
    finish();
  }
}

// ---------------------------------------------------------------- scenario truths
async function vec(q) {
  const r = await query(q);
  if (r.status !== "success") throw new Error(`${q}: ${r.error}`);
  return r.data.result;
}
const one = async (q) => {
  const v = await vec(q);
  return v.length === 1 ? Number(v[0].value[1]) : v.length === 0 ? undefined : NaN;
};

check((await one('netcanary:expectation_verified{from="customer-a", to="closed"}')) === 0, "recording rule: deny row towards a target whose control fails is unverified");
check((await one('netcanary:expectation_verified{from="customer-b", to="closed-udp"}')) === 0, "recording rule: deny row with no allow row towards its target is unverified");
check((await one('netcanary:expectation_verified{from="customer-a", to="customer-b"}')) === 0, "recording rule: a leaking deny row is unverified");
check((await one('netcanary:target_reached:max5m{to="customer-b-slow"}')) === 1, "recording rule: platform reaches customer-b-slow (positive control)");
check((await one('netcanary:target_reached:max5m{to="closed"}')) === 0, "recording rule: the control towards closed exists and fails");
check((await one('netcanary:target_reached:max5m{to="closed-udp"}')) === undefined, "recording rule: no control series for closed-udp");
{
  const firing = await vec('ALERTS{alertname="NetcanaryUnexpectedAllow", alertstate="firing"}');
  check(
    firing.length === 1 && firing[0].metric.from === "customer-a" && firing[0].metric.to === "customer-b" && firing[0].metric.severity === "critical",
    "alert: NetcanaryUnexpectedAllow fires for customer-a -> customer-b only",
    JSON.stringify(firing.map((f) => f.metric)),
  );
  const pending = await vec('ALERTS{alertname="NetcanaryDenyUnverified"}');
  const got = pending.map((p) => `${p.metric.from}->${p.metric.to}:${p.metric.control}:${p.metric.severity}`).sort();
  check(
    JSON.stringify(got) === JSON.stringify(["customer-a->closed:failing:warning", "customer-b->closed-udp:missing:info"]),
    "alert: NetcanaryDenyUnverified pending for the uncontrolled rows only (not the leak, not the verified row)",
    got.join(", "),
  );
  const deny = await vec('ALERTS{alertname="NetcanaryUnexpectedDeny"}');
  check(
    deny.length === 1 && deny[0].metric.from === "platform" && deny[0].metric.to === "closed" && deny[0].metric.verdict === "denied",
    "alert: NetcanaryUnexpectedDeny pending for platform -> closed only",
    JSON.stringify(deny.map((f) => f.metric)),
  );
}
{
  const bi = await vec("netcanary_build_info");
  const labels = bi.map((s) => `${s.metric.job} ${s.metric.cluster} ${s.metric.namespace} ${s.metric.node} ${s.metric.pod}`).sort();
  check(
    JSON.stringify(labels) ===
      JSON.stringify([
        "netcanary default customer-a node-1 netcanary-customer-a-x1",
        "netcanary default customer-b node-2 netcanary-customer-b-x1",
        "netcanary default platform node-1 netcanary-platform-x1",
      ]),
    "relabeling of prometheus.yml: job, cluster, namespace, node, pod on every agent's series",
    labels.join("\n"),
  );
  const t = await prom("/api/v1/targets");
  check(
    t.status === "success" && t.data.activeTargets.length === 3 && t.data.droppedTargets.length === 3,
    "relabeling of prometheus.yml: keeps the 3 agents' metrics ports, drops the responder port, a pending pod, another app",
    `active ${t.data?.activeTargets?.length}, dropped ${t.data?.droppedTargets?.length}`,
  );
}

// ---------------------------------------------------------------- expressions
const present = new Set((await prom("/api/v1/label/__name__/values")).data || []);
check(present.has("netcanary_verdict") && present.has("netcanary:expectation_verified"), `Prometheus has ${present.size} metric names`);

function substitute(expr) {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)/g, (m, a, b, c) => {
    const k = a || b || c;
    return k in VARS ? VARS[k] : m;
  });
}

/* Runs one expression; mode "data" (must return series) or "alert". */
async function checkExpr(where, raw, mode) {
  const expr = substitute(raw);
  const short = expr.replace(/\s+/g, " ").slice(0, 140);
  if (/\$\w/.test(expr)) {
    fail(`${where}: unknown variable left in: ${short}`);
    return;
  }
  const errs = syntaxErrors(expr);
  const r = await query(expr);
  if (!check(r.status === "success", `${where}: parses and evaluates: ${short}`, `${r.errorType || ""} ${r.error || ""}`)) return;
  if (errs.length) fail(`${where}: the PromQL grammar (lezer) reports syntax errors at ${errs.join(",")}: ${short}`);
  const names = metricNames(expr);
  const missing = names.filter((n) => !present.has(n));
  const notYet = missing.filter((n) => NOT_YET_EXPORTED.test(n));
  const unknown = missing.filter((n) => !NOT_YET_EXPORTED.test(n));
  if (unknown.length) {
    fail(`${where}: reads metrics that nothing exports: ${unknown.join(", ")}`);
    return;
  }
  if (notYet.length) {
    pass(`${where}: no data yet (family not exported): ${notYet.join(", ")}`);
    return;
  }
  let dataExpr = expr;
  if (mode === "alert") dataExpr = stripThresholds(expr);
  const d = await query(dataExpr);
  const n = d.status === "success" ? (d.data.resultType === "scalar" ? 1 : d.data.result.length) : -1;
  check(
    n > 0,
    `${where}: returns data (${n} series)${mode === "alert" ? " without its thresholds" : ""}`,
    `${dataExpr.replace(/\s+/g, " ")}\n${d.status} ${d.error || ""}`,
  );
}

// Rules
const rules = readYaml(P.rules);
for (const g of rules.groups) {
  for (const r of g.rules) {
    if (r.record) await checkExpr(`rule ${r.record}`, r.expr, "data");
    else await checkExpr(`alert ${r.alert}`, r.expr, "alert");
  }
}

// Dashboard
const dash = JSON.parse(readFileSync(P.dashboard, "utf8"));
const panels = [];
const walk = (ps) => {
  for (const p of ps || []) {
    panels.push(p);
    walk(p.panels);
  }
};
walk(dash.panels);
let nExpr = 0;
for (const p of panels) {
  for (const t of p.targets || []) {
    if (typeof t.expr !== "string") continue;
    nExpr++;
    await checkExpr(`panel "${p.title}" ${t.refId}`, t.expr, "data");
  }
}
check(nExpr >= 20, `dashboard: ${nExpr} panel expressions checked`);
for (const a of dash.annotations?.list || []) {
  if (typeof a.expr === "string" && a.expr) await checkExpr(`annotation "${a.name}"`, a.expr, "data");
}
// Template variables: label_values(selector, label) runs the selector and
// needs the label on its series; label_values(label) lists the label;
// query_result(expr) runs expr.
for (const v of dash.templating?.list || []) {
  if (v.type !== "query") continue;
  const q = typeof v.query === "string" ? v.query : v.query?.query;
  let m;
  if ((m = /^\s*label_values\(\s*(.+)\s*,\s*(\w+)\s*\)\s*$/s.exec(q))) {
    const sel = substitute(m[1]);
    const names = metricNames(sel);
    const r = await query(sel);
    if (!check(r.status === "success", `variable ${v.name}: selector parses: ${sel}`, r.error)) continue;
    if (names.some((n) => NOT_YET_EXPORTED.test(n) && !present.has(n))) {
      pass(`variable ${v.name}: no data yet (family not exported): ${names.join(", ")}`);
      continue;
    }
    const vals = new Set(r.data.result.map((s) => s.metric[m[2]]).filter(Boolean));
    check(vals.size > 0, `variable ${v.name}: label_values gives ${[...vals].join(", ")}`);
  } else if ((m = /^\s*label_values\(\s*(\w+)\s*\)\s*$/.exec(q))) {
    const r = await prom(`/api/v1/label/${m[1]}/values`);
    check(r.status === "success" && r.data.length > 0, `variable ${v.name}: label ${m[1]} has values`);
  } else if ((m = /^\s*query_result\((.+)\)\s*$/s.exec(q))) {
    await checkExpr(`variable ${v.name}`, m[1], "data");
  } else {
    fail(`variable ${v.name}: query form not understood: ${q}`);
  }
}

// ---------------------------------------------------------------- shut down
for (const c of children) c.kill("SIGTERM");
const stopped = await waitFor("processes exit", 5000, async () => children.every((c) => c.exitCode !== null || c.signalCode !== null));
check(stopped, "agents and Prometheus stop on SIGTERM");
for (const c of children.filter((c) => c !== promProc)) check(c.exitCode === 0, `agent ${c.name} exits 0 on SIGTERM`, `exit ${c.exitCode} signal ${c.signalCode}`);
finish();

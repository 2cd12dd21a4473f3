// tests/deploy: static checks of dashboards/netcanary.json (live.mjs runs its
// queries against a real Prometheus).
//
// - current Grafana schema (schemaVersion >= 39), unique panel ids, grid
//   positions inside the 24-column grid;
// - the datasource is the variable ${datasource}, everywhere: no panel,
//   query, variable or annotation names a datasource uid of one installation;
// - variables cluster, namespace, node (and DNS server) query Prometheus and
//   their "All" is the regex .* (which also matches series without the label);
// - every query parses (PromQL grammar) and filters every netcanary series on
//   $cluster/$namespace/$node (so the variables really select), and process
//   and scrape series also on job="netcanary";
// - the panels the issue asks for are there.
import { readFileSync } from "node:fs";
import { P, check, fatal, finish } from "./lib/common.mjs";
import { metricNames, syntaxErrors } from "./lib/promql.mjs";
import { parser } from "@prometheus-io/lezer-promql";

let dash;
try {
  dash = JSON.parse(readFileSync(P.dashboard, "utf8"));
} catch (e) {
  fatal(`dashboards/netcanary.json is not JSON: ${e.message}`);
}

check(Number.isInteger(dash.schemaVersion) && dash.schemaVersion >= 39, `schemaVersion ${dash.schemaVersion} >= 39`);
check(dash.uid === "netcanary" && dash.title, "stable uid and a title");
check(!("id" in dash) || dash.id === null, "no installation-specific dashboard id");
check(!("__inputs" in dash), "no import-time datasource inputs (the datasource is a variable)");

const vars = Object.fromEntries((dash.templating?.list || []).map((v) => [v.name, v]));
check(vars.datasource?.type === "datasource" && vars.datasource.query === "prometheus", "variable datasource: a Prometheus datasource picker");
for (const name of ["cluster", "namespace", "node", "server"]) {
  const v = vars[name];
  const q = typeof v?.query === "string" ? v.query : v?.query?.query;
  check(v?.type === "query" && v.datasource?.uid === "${datasource}", `variable ${name}: a query on \${datasource}`);
  check(v?.includeAll === true && v.allValue === ".*" && v.multi === true, `variable ${name}: multi-value, All = .*`);
  check(typeof q === "string" && /^label_values\(.+,\s*\w+\)$/.test(q), `variable ${name}: label_values(...) query`, q);
}

// Every datasource reference is the variable (or Grafana's built-in one).
const badDs = [];
(function walk(o, path) {
  if (Array.isArray(o)) return o.forEach((x, i) => walk(x, `${path}[${i}]`));
  if (!o || typeof o !== "object") return;
  if (o.datasource && typeof o.datasource === "object") {
    const uid = o.datasource.uid;
    if (uid !== "${datasource}" && uid !== "-- Grafana --") badDs.push(`${path}: ${JSON.stringify(o.datasource)}`);
  } else if (typeof o.datasource === "string") badDs.push(`${path}: ${o.datasource}`);
  for (const [k, v] of Object.entries(o)) if (k !== "datasource") walk(v, `${path}.${k}`);
})(dash, "$");
check(badDs.length === 0, "every datasource reference is ${datasource}", badDs.join("\n"));

const panels = [];
(function walk(ps) {
  for (const p of ps || []) {
    panels.push(p);
    walk(p.panels);
  }
})(dash.panels);
const ids = panels.map((p) => p.id);
check(new Set(ids).size === ids.length && ids.every(Number.isInteger), "panel ids are unique integers");
for (const p of panels) {
  const g = p.gridPos || {};
  check(g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0 && g.y >= 0, `panel "${p.title}": inside the 24-column grid`);
  if (p.type !== "row") {
    check(p.title && p.description, `panel "${p.title}": has a title and a description`);
    check((p.targets || []).length > 0, `panel "${p.title}": has queries`);
  }
}

// Queries: grammar, and the variables' label filters on every series.
const FILTERS = ['cluster=~"$cluster"', 'namespace=~"$namespace"', 'node=~"$node"'];
function selectors(expr) {
  const out = [];
  parser.parse(expr).iterate({
    enter(n) {
      if (n.name !== "VectorSelector") return;
      const id = n.node.getChild("Identifier");
      out.push({ name: id ? expr.slice(id.from, id.to) : "", text: expr.slice(n.from, n.to).replace(/\s+/g, " ") });
    },
  });
  return out;
}
const exprs = [];
for (const p of panels) for (const t of p.targets || []) if (typeof t.expr === "string") exprs.push({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr });
for (const a of dash.annotations?.list || []) if (a.expr) exprs.push({ where: `annotation "${a.name}"`, expr: a.expr });
// Grafana's interval variables stand where PromQL wants a duration.
const durations = (e) => e.replace(/\$\{?__(rate_interval|interval|range)\}?/g, "5m");
for (const { where, expr } of exprs) {
  check(syntaxErrors(durations(expr)).length === 0, `${where}: PromQL parses (interval variables as 5m)`, expr);
  for (const s of selectors(expr)) {
    let need = FILTERS;
    if (s.name === "netcanary:target_reached:max5m") need = [FILTERS[0]]; // aggregated by (cluster, to)
    if (s.name === "ALERTS") need = [FILTERS[0]];
    if (/^(up|process_|scrape_)/.test(s.name)) need = ['job="netcanary"', ...FILTERS];
    const missing = need.filter((f) => !s.text.includes(f));
    check(missing.length === 0, `${where}: ${s.name} filtered by ${need.join(", ")}`, `missing ${missing.join(", ")} in ${s.text}`);
  }
}

// What the issue asks the dashboard to show.
const has = (pred) => panels.some(pred);
const reads = (p, re) => (p.targets || []).some((t) => typeof t.expr === "string" && metricNames(t.expr).some((n) => re.test(n)));
const exprHas = (p, re) => (p.targets || []).some((t) => re.test(t.expr || ""));
check(has((p) => p.type === "table" && reads(p, /^netcanary_verdict$/) && reads(p, /^netcanary_expectation_met$/)), "matrix: expected vs observed per from → to (table)");
check(has((p) => p.type === "state-timeline" && reads(p, /^netcanary_verdict$/) && exprHas(p, /expect="deny"/)), "matrix: observed verdict over time for deny rows (state timeline)");
check(has((p) => p.type === "state-timeline" && reads(p, /^netcanary_verdict$/) && exprHas(p, /expect="allow"/)), "matrix: observed verdict over time for allow rows (state timeline)");
check(has((p) => p.type === "timeseries" && reads(p, /^netcanary_mismatches_total$/)), "mismatches over time");
check(has((p) => reads(p, /^netcanary:expectation_verified$/) && p.type === "timeseries"), "deny rows unverified over time");
check(has((p) => p.type === "heatmap" && reads(p, /^netcanary_dns_lookup_duration_seconds_bucket$/) && p.repeat === "server"), "DNS latency heatmap per server");
check(has((p) => exprHas(p, /histogram_quantile\(0\.5,[^]*dns_lookup[^]*by \(server, le\)|histogram_quantile\(0\.5, sum by \(server, le\)/) && exprHas(p, /histogram_quantile\(0\.99, sum by \(server, le\)/)), "DNS latency p50 and p99 per server");
check(has((p) => exprHas(p, /histogram_quantile\(0\.99, sum by \(protocol, le\) \(rate\(netcanary_probe_duration_seconds_bucket/)), "probe latency by protocol");
check(has((p) => reads(p, /^up$/)), "agent health (up)");
check(has((p) => reads(p, /^netcanary_config_last_reload_successful$/)), "config reload status");

finish();

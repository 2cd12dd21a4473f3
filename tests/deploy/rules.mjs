// tests/deploy: the Prometheus rules and the scrape config.
//
// 1. `promtool check rules` is clean (no error, no warning).
// 2. `promtool test rules deploy/prometheus/tests/*.test.yml` passes, and
//    those tests cover every alert both firing and silent, and every
//    recording rule.
// 3. The PrometheusRule holds the same groups as the plain rule file.
// 4. Every alert has a severity, a summary, a description naming its rows or
//    its subject, and a runbook_url whose anchor is a section of RUNBOOK.md.
// 5. deploy/prometheus/prometheus.yml: `promtool check config` on it with
//    kubernetes_sd_configs swapped for file_sd_configs (Debian's Prometheus
//    is built without Kubernetes service discovery); the live test runs its
//    relabeling for real.
import { readFileSync, readdirSync, writeFileSync, copyFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { P, check, deepEqual, fatal, finish, makeTmp, markdownAnchors, readYaml, run, which } from "./lib/common.mjs";

const promtool = process.env.PROMTOOL || which("promtool");
if (!promtool) fatal("promtool not found (apt-get install prometheus)");

const tmp = makeTmp("rules");

// 1. check rules
{
  const r = run(promtool, ["check", "rules", P.rules]);
  const out = r.stdout + r.stderr;
  check(r.status === 0 && /SUCCESS/.test(out) && !/WARN/i.test(out), "promtool check rules: clean", out);
}

// 2. test rules
const testFiles = readdirSync(P.ruleTests)
  .filter((f) => f.endsWith(".test.yml"))
  .map((f) => join(P.ruleTests, f))
  .sort();
check(testFiles.length > 0, `rule unit tests found: ${testFiles.length}`);
{
  const r = run(promtool, ["test", "rules", ...testFiles], { cwd: P.ruleTests });
  check(r.status === 0, "promtool test rules: all unit tests pass", r.stdout + r.stderr);
}

const rules = readYaml(P.rules);
const allRules = rules.groups.flatMap((g) => g.rules);
const alerts = allRules.filter((r) => r.alert);
const records = allRules.filter((r) => r.record);
{
  const fires = new Set();
  const silent = new Set();
  const exprTested = new Set();
  for (const f of testFiles) {
    const t = readYaml(f);
    for (const tc of t.tests || []) {
      for (const a of tc.alert_rule_test || []) {
        if ((a.exp_alerts || []).length > 0) fires.add(a.alertname);
        else silent.add(a.alertname);
      }
      for (const e of tc.promql_expr_test || []) for (const rec of records) if (e.expr.includes(rec.record)) exprTested.add(rec.record);
    }
  }
  for (const a of alerts) {
    check(fires.has(a.alert), `unit tests: ${a.alert} fires when it must`);
    check(silent.has(a.alert), `unit tests: ${a.alert} stays silent when it must not fire`);
  }
  for (const rec of records) check(exprTested.has(rec.record), `unit tests: recording rule ${rec.record} is tested`);
}

// 3. PrometheusRule == rule file
{
  const docs = YAML.parseAllDocuments(readFileSync(P.prometheusRule, "utf8")).map((d) => d.toJS());
  const pr = docs.find((d) => d?.kind === "PrometheusRule");
  check(
    pr && deepEqual(pr.spec.groups, rules.groups),
    "PrometheusRule (deploy/kustomize/monitoring/prometheusrule.yaml) has the same groups as deploy/prometheus/netcanary-rules.yml",
    "they differ: run tests/deploy/run-node.sh sync-rules.mjs",
  );
}

// 4. annotations and runbook
{
  const anchors = markdownAnchors(readFileSync(P.runbook, "utf8"));
  // Alerts on matrix rows name the row; the others name their subject.
  const mustName = {
    NetcanaryUnexpectedAllow: ["from", "to"],
    NetcanaryUnexpectedDeny: ["from", "to"],
    NetcanaryDenyUnverified: ["from", "to"],
    NetcanaryProbesStale: ["from", "to"],
    NetcanaryDNSLatencyHigh: ["server"],
    NetcanaryDNSErrors: ["server"],
    NetcanaryAgentDown: ["pod"],
    NetcanaryConfigReloadFailed: ["pod"],
  };
  for (const name of Object.keys(mustName)) check(alerts.some((a) => a.alert === name), `alert ${name} exists`);
  for (const a of alerts) {
    const ann = a.annotations || {};
    check(["critical", "warning", "info"].some((s) => (a.labels?.severity || "").includes(s)), `${a.alert}: has a severity`);
    check(ann.summary && ann.description, `${a.alert}: has summary and description`);
    for (const l of mustName[a.alert] || []) {
      check(new RegExp(`\\$labels\\.${l}\\b`).test(ann.description || ""), `${a.alert}: description names {{ $labels.${l} }}`);
    }
    const m = /^deploy\/RUNBOOK\.md#(.+)$/.exec(ann.runbook_url || "");
    check(m && anchors.has(m[1]) && m[1] === a.alert.toLowerCase(), `${a.alert}: runbook_url points to its section of deploy/RUNBOOK.md`, ann.runbook_url);
  }
  check(deepEqual(alerts.map((a) => a.alert).sort(), Object.keys(mustName).sort()), "the alerts are exactly the issue's eight");
}

// 5. scrape config example
{
  const cfg = readYaml(P.promConfig);
  const job = (cfg.scrape_configs || []).find((j) => j.job_name === "netcanary");
  check(job, 'prometheus.yml: has the scrape job "netcanary" (the job the alerts and dashboard use)');
  if (job) {
    const sd = job.kubernetes_sd_configs || [];
    check(sd.length === 1 && sd[0].role === "pod", "prometheus.yml: discovers pods with kubernetes_sd_configs");
    const targets = (job.relabel_configs || []).map((r) => r.target_label).filter(Boolean);
    for (const l of ["namespace", "pod", "node", "cluster"]) check(targets.includes(l), `prometheus.yml: relabeling sets ${l}`);
    // promtool: same file with file_sd in place of kubernetes_sd.
    delete job.kubernetes_sd_configs;
    job.file_sd_configs = [{ files: [join(tmp, "targets.json")] }];
    writeFileSync(join(tmp, "targets.json"), "[]");
    copyFileSync(P.rules, join(tmp, "netcanary-rules.yml"));
    writeFileSync(join(tmp, "prometheus.yml"), YAML.stringify(cfg));
    const r = run(promtool, ["check", "config", join(tmp, "prometheus.yml")]);
    check(r.status === 0, "promtool check config: prometheus.yml (kubernetes_sd_configs swapped for file_sd_configs) and its rule file", r.stdout + r.stderr);
  }
}

finish();

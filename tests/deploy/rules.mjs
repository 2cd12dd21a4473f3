// tests/deploy: the Prometheus rules and the scrape config.
//
// 1. `promtool check rules` is clean (no error, no warning).
// 2. `promtool test rules deploy/prometheus/tests/*.test.yml` passes, and
//    those tests cover every alert both firing and silent, and every
//    recording rule.
// 3. The PrometheusRule holds the same groups as the plain rule file.
// 4. Every alert has a severity, a summary, a description naming its rows or
//    its subject, and a runbook_url whose anchor is a section of RUNBOOK.md.
// 5. deploy/prometheus/prometheus.yml. Debian's Prometheus and promtool are
//    built without Kubernetes service discovery (NEWS.Debian, 1.5.0+ds-1:
//    "Kubernetes support has been completely removed"), so `promtool check
//    config` on the file as shipped fails there with "field
//    kubernetes_sd_configs not found in type config.ScrapeConfig". Checked:
//    a. promtool on the file as shipped passes (a promtool with Kubernetes SD)
//       or fails with that one error and no other;
//    b. the kubernetes_sd_configs block against the fields of Prometheus
//       2.42's kubernetes_sd_config (what promtool would have parsed);
//    c. every __meta_kubernetes_* label the relabeling reads is one the pod
//       role sets, and the keep rule selects the DaemonSet's metrics port and
//       nothing else of its pods;
//    d. promtool on the file with kubernetes_sd_configs swapped for
//       file_sd_configs: everything else, the rule file included.
//    The live test (live.mjs) runs the relabeling in a real Prometheus.
import { readFileSync, readdirSync, writeFileSync, copyFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { P, check, deepEqual, fatal, finish, makeTmp, markdownAnchors, readYaml, run, which } from "./lib/common.mjs";
import { checkKubernetesSD, podTargetsOf, relabelKeep } from "./lib/kubernetes-sd.mjs";

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

    // a. promtool on the file as shipped (next to its rule file, as shipped).
    {
      const r = run(promtool, ["check", "config", P.promConfig]);
      const out = r.stdout + r.stderr;
      const errors = out.split("\n").filter((l) => /^\s*line \d+:/.test(l));
      const debianOnly =
        r.status !== 0 && errors.length === 1 && /field kubernetes_sd_configs not found in type config\.ScrapeConfig/.test(errors[0]);
      check(
        r.status === 0 || debianOnly,
        r.status === 0
          ? "promtool check config: prometheus.yml as shipped (this promtool has Kubernetes SD)"
          : "promtool check config: prometheus.yml as shipped fails only for kubernetes_sd_configs (promtool without Kubernetes SD, as Debian's)",
        out,
      );
    }
    // b. the SD block, field by field.
    for (const problem of checkKubernetesSD(sd)) check(false, `prometheus.yml: kubernetes_sd_configs: ${problem}`);
    check(checkKubernetesSD(sd).length === 0, "prometheus.yml: kubernetes_sd_configs has only fields and values of kubernetes_sd_config");
    // c. the meta labels read, and what the keep rule selects of the DaemonSet's pods.
    {
      const read = (job.relabel_configs || []).flatMap((r) => r.source_labels || []).filter((l) => l.startsWith("__meta_kubernetes_"));
      const podLabel = /^__meta_kubernetes_(namespace|pod_(name|ip|label_\w+|labelpresent_\w+|annotation_\w+|annotationpresent_\w+|container_init|container_name|container_id|container_image|container_port_name|container_port_number|container_port_protocol|ready|phase|node_name|host_ip|uid|controller_kind|controller_name))$/;
      for (const l of read) check(podLabel.test(l), `prometheus.yml: relabeling reads ${l}, a label of the pod role`);
      const ds = YAML.parseAllDocuments(readFileSync(join(P.kustomize, "base/daemonset.yaml"), "utf8"))
        .map((d) => d.toJS())
        .find((d) => d?.kind === "DaemonSet");
      const pods = podTargetsOf(ds);
      const kept = pods.filter((t) => relabelKeep(job.relabel_configs || [], t)).map((t) => t.__meta_kubernetes_pod_container_port_name);
      check(
        deepEqual(kept, ["http-metrics"]),
        `prometheus.yml: of the DaemonSet's pod targets (ports ${pods.map((t) => t.__meta_kubernetes_pod_container_port_name).join(", ")}), only http-metrics is scraped`,
        `kept: ${JSON.stringify(kept)}`,
      );
    }

    // d. promtool: same file with file_sd in place of kubernetes_sd.
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

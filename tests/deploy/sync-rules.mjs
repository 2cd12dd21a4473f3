// Writes deploy/kustomize/monitoring/prometheusrule.yaml from the plain rule
// file deploy/prometheus/netcanary-rules.yml (the one to edit), so that both
// hold the same groups; rules.mjs checks that they do.
//
//   tests/deploy/run-node.sh sync-rules.mjs
import { writeFileSync } from "node:fs";
import YAML from "yaml";
import { P, readYaml } from "./lib/common.mjs";

const rules = readYaml(P.rules);
const obj = {
  apiVersion: "monitoring.coreos.com/v1",
  kind: "PrometheusRule",
  metadata: {
    name: "netcanary",
    labels: { "app.kubernetes.io/name": "netcanary" },
  },
  spec: { groups: rules.groups },
};
const header = `# GENERATED from deploy/prometheus/netcanary-rules.yml: edit that file, then
# run \`tests/deploy/run-node.sh sync-rules.mjs\` (tests/deploy checks both agree).
# Comments explaining the rules are in that file. Runbook: deploy/RUNBOOK.md.
`;
writeFileSync(P.prometheusRule, header + YAML.stringify(obj, { lineWidth: 0 }));
console.log(`wrote ${P.prometheusRule}`);

// Kubernetes service discovery as Prometheus sees it, for checking
// deploy/prometheus/prometheus.yml where Debian's promtool cannot: it is built
// without Kubernetes SD and refuses kubernetes_sd_configs outright.
//
// checkKubernetesSD(list)  problems in a kubernetes_sd_configs list, against
//                          the fields of kubernetes_sd_config (Prometheus 2.42)
// podTargetsOf(daemonSet)  the targets the pod role makes of a workload's pod
//                          template: one per container port, with its
//                          __meta_kubernetes_* labels
// relabelKeep(rules, lbls) whether a target with labels `lbls` survives
//                          relabel_configs `rules` (keep, drop, replace,
//                          labelkeep, labeldrop, labelmap)

const ROLES = ["node", "service", "pod", "endpoints", "endpointslice", "ingress"];
// kubernetes_sd_config's own fields, then the HTTP client's (common/config).
const FIELDS = {
  role: "string",
  api_server: "string",
  kubeconfig_file: "string",
  namespaces: "object",
  selectors: "array",
  attach_metadata: "object",
  basic_auth: "object",
  authorization: "object",
  oauth2: "object",
  proxy_url: "string",
  tls_config: "object",
  follow_redirects: "boolean",
  enable_http2: "boolean",
};

function typeOf(v) {
  return Array.isArray(v) ? "array" : v === null ? "null" : typeof v;
}

export function checkKubernetesSD(list) {
  const problems = [];
  if (!Array.isArray(list)) return ["not a list"];
  list.forEach((sd, i) => {
    const at = `[${i}]`;
    if (typeOf(sd) !== "object") {
      problems.push(`${at}: not a mapping`);
      return;
    }
    for (const [k, v] of Object.entries(sd)) {
      if (!(k in FIELDS)) problems.push(`${at}: unknown field ${k}`);
      else if (typeOf(v) !== FIELDS[k]) problems.push(`${at}.${k}: a ${typeOf(v)}, want a ${FIELDS[k]}`);
    }
    if (!ROLES.includes(sd.role)) problems.push(`${at}.role: ${JSON.stringify(sd.role)}, want one of ${ROLES.join(", ")}`);
    if (sd.api_server !== undefined && sd.kubeconfig_file !== undefined)
      problems.push(`${at}: api_server and kubeconfig_file are mutually exclusive`);
    if (typeOf(sd.namespaces) === "object") {
      for (const [k, v] of Object.entries(sd.namespaces)) {
        if (k === "own_namespace" ? typeof v !== "boolean" : k === "names" ? !Array.isArray(v) || v.some((n) => typeof n !== "string") : true)
          problems.push(`${at}.namespaces.${k}: want own_namespace (a boolean) or names (a list of strings)`);
      }
    }
    (Array.isArray(sd.selectors) ? sd.selectors : []).forEach((s, j) => {
      if (typeOf(s) !== "object" || !ROLES.includes(s.role) || Object.keys(s).some((k) => !["role", "label", "field"].includes(k)))
        problems.push(`${at}.selectors[${j}]: want {role, label, field} with a valid role`);
    });
    if (typeOf(sd.attach_metadata) === "object" && Object.entries(sd.attach_metadata).some(([k, v]) => k !== "node" || typeof v !== "boolean"))
      problems.push(`${at}.attach_metadata: want {node: true|false}`);
  });
  return problems;
}

// Prometheus' label name sanitizing of Kubernetes label and annotation names.
const sanitize = (s) => s.replace(/[^a-zA-Z0-9_]/g, "_");

export function podTargetsOf(workload, { namespace = "netcanary", node = "node-1", phase = "Running" } = {}) {
  const tmpl = workload?.spec?.template ?? {};
  const base = {
    __meta_kubernetes_namespace: namespace,
    __meta_kubernetes_pod_name: `${workload?.metadata?.name ?? "pod"}-x1`,
    __meta_kubernetes_pod_node_name: node,
    __meta_kubernetes_pod_phase: phase,
    __meta_kubernetes_pod_ready: "true",
  };
  for (const [k, v] of Object.entries(tmpl.metadata?.labels ?? {})) {
    base[`__meta_kubernetes_pod_label_${sanitize(k)}`] = String(v);
    base[`__meta_kubernetes_pod_labelpresent_${sanitize(k)}`] = "true";
  }
  for (const [k, v] of Object.entries(tmpl.metadata?.annotations ?? {})) {
    base[`__meta_kubernetes_pod_annotation_${sanitize(k)}`] = String(v);
    base[`__meta_kubernetes_pod_annotationpresent_${sanitize(k)}`] = "true";
  }
  const targets = [];
  for (const c of tmpl.spec?.containers ?? []) {
    for (const p of c.ports ?? []) {
      targets.push({
        ...base,
        __meta_kubernetes_pod_container_name: c.name,
        __meta_kubernetes_pod_container_image: c.image ?? "",
        __meta_kubernetes_pod_container_init: "false",
        __meta_kubernetes_pod_container_port_name: p.name ?? "",
        __meta_kubernetes_pod_container_port_number: String(p.containerPort),
        __meta_kubernetes_pod_container_port_protocol: p.protocol ?? "TCP",
      });
    }
  }
  return targets;
}

// Prometheus anchors relabel regexes at both ends.
const anchored = (re) => new RegExp(`^(?:${re ?? "(.*)"})$`);

export function relabelKeep(rules, labels) {
  const l = { ...labels };
  for (const r of rules) {
    const action = r.action ?? "replace";
    const value = (r.source_labels ?? []).map((n) => l[n] ?? "").join(r.separator ?? ";");
    const re = anchored(r.regex);
    switch (action) {
      case "keep":
        if (!re.test(value)) return false;
        break;
      case "drop":
        if (re.test(value)) return false;
        break;
      case "replace": {
        const m = re.exec(value);
        if (!m) break;
        const out = (r.replacement ?? "$1").replace(/\$\{?(\d+)\}?/g, (_, d) => m[Number(d)] ?? "");
        if (out === "") delete l[r.target_label];
        else l[r.target_label] = out;
        break;
      }
      case "labelkeep":
        for (const n of Object.keys(l)) if (!re.test(n)) delete l[n];
        break;
      case "labeldrop":
        for (const n of Object.keys(l)) if (re.test(n)) delete l[n];
        break;
      case "labelmap":
        for (const [n, v] of Object.entries(l)) {
          const m = re.exec(n);
          if (m) l[(r.replacement ?? "$1").replace(/\$\{?(\d+)\}?/g, (_, d) => m[Number(d)] ?? "")] = v;
        }
        break;
      default:
        throw new Error(`relabel action ${action} not modelled here`);
    }
  }
  return true;
}

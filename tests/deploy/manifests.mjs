// tests/deploy: the Kubernetes manifests of deploy/kustomize.
//
// 1. The matrix the base mounts is byte-identical to probes/seed-scenario.json
//    and passes `netcanary check`.
// 2. A real kustomize (`kustomize`, else `kubectl kustomize`; $KUSTOMIZE
//    overrides) renders the base, each overlay, the monitoring and extras
//    kustomizations, and a tenant composed from the small-footprint overlay.
// 3. Every rendered object (and monitoring/servicemonitor.yaml, which no
//    kustomization lists) is validated against the Kubernetes API schemas
//    (lib/k8s-validate.mjs: kubernetes-models + strict fields with tsc). The
//    validator must reject deliberately broken objects (a typo'd field, a
//    wrong type), so a validator that accepts everything cannot pass.
// 4. What the issue asks of the objects: the image tag of meson.build's
//    version (deploy/image.sh's tag), hardened DaemonSet, services that
//    select the pods, per-tenant agents for every `from` of the matrix whose
//    Service names match the matrix's targets, a Deployment for small
//    footprint, monitoring objects that select the agents.
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  P,
  ROOT,
  check,
  deepEqual,
  fail,
  fatal,
  finish,
  log,
  makeTmp,
  parseJsonc,
  parseYamlDocs,
  run,
  which,
} from "./lib/common.mjs";
import { describe, schemaValidate, strictTypeCheck } from "./lib/k8s-validate.mjs";

const tmp = makeTmp("manifests");

// ---------------------------------------------------------------- the matrix
const seedBytes = readFileSync(P.seed);
const baseBytes = readFileSync(P.baseMatrix);
check(
  seedBytes.equals(baseBytes),
  "deploy/kustomize/base/matrix.json is byte-identical to probes/seed-scenario.json",
  "they differ: cp probes/seed-scenario.json deploy/kustomize/base/matrix.json",
);
const seed = parseJsonc(seedBytes.toString("utf8"));
if (process.env.NETCANARY) {
  const r = run(process.env.NETCANARY, ["check", "--config", P.baseMatrix]);
  check(r.status === 0, "`netcanary check` accepts the base's matrix.json", r.stderr);
} else {
  fail("NETCANARY is not set (path of the netcanary binary)");
}

// ---------------------------------------------------------------- renderer
function findKustomize() {
  if (process.env.KUSTOMIZE) return process.env.KUSTOMIZE.split(" ");
  if (which("kustomize")) return ["kustomize", "build"];
  if (which("kubectl")) return ["kubectl", "kustomize"];
  return null;
}
const kz = findKustomize();
if (!kz) fatal("no kustomize: install kubectl (kubectl kustomize) or kustomize, or set KUSTOMIZE='/path/kustomize build'");
{
  const v = kz[0] === "kubectl" ? run("kubectl", ["version", "--client"]) : run(kz[0], ["version"]);
  log(`renderer: ${kz.join(" ")} (${(v.stdout + v.stderr).replace(/\s+/g, " ").trim()})`);
}

// A tenant composed from the small-footprint overlay, as its README comment
// describes; rendered from a copy of deploy/kustomize (no files are written
// into the source tree).
const kcopy = join(tmp, "kustomize");
cpSync(P.kustomize, kcopy, { recursive: true });
mkdirSync(join(kcopy, "overlays/per-tenant/customer-small"), { recursive: true });
writeFileSync(
  join(kcopy, "overlays/per-tenant/customer-small/kustomization.yaml"),
  `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: customer-small
resources: [../../small-footprint]
components: [../../../components/tenant]
`,
);

const builds = {
  base: "base",
  "per-tenant": "overlays/per-tenant",
  "small-footprint": "overlays/small-footprint",
  monitoring: "monitoring",
  "extras/kubernetes-dns-servers": "extras/kubernetes-dns-servers",
  "extras/policy-audit": "extras/policy-audit",
  "per-tenant/customer-small (small-footprint in a tenant)": "overlays/per-tenant/customer-small",
};
const rendered = {};
for (const [name, dir] of Object.entries(builds)) {
  const r = run(kz[0], [...kz.slice(1), join(kcopy, dir)], { timeoutMs: 60000 });
  if (!check(r.status === 0, `kustomize renders ${name}`, r.stderr)) continue;
  try {
    rendered[name] = parseYamlDocs(r.stdout, name);
    check(rendered[name].length > 0, `${name}: ${rendered[name].length} objects`);
  } catch (e) {
    fail(`${name}: output is not YAML: ${e.message}`);
  }
}

// ---------------------------------------------------------------- schemas
const all = [];
for (const [name, objs] of Object.entries(rendered)) for (const o of objs) all.push({ from: name, o });
for (const o of parseYamlDocs(readFileSync(join(P.kustomize, "monitoring/servicemonitor.yaml"), "utf8"), "servicemonitor.yaml"))
  all.push({ from: "monitoring/servicemonitor.yaml", o });

for (const { from, o } of all) {
  const err = await schemaValidate(o);
  check(err === null, `schema: ${from}: ${describe(o)}`, err);
}
{
  const { errors, fatal: tscFatal } = strictTypeCheck(
    all.map((x) => x.o),
    tmp,
  );
  if (tscFatal) fail(`strict field check: tsc did not run:\n${tscFatal}`);
  else {
    all.forEach(({ from, o }, i) => {
      check(!errors.has(i), `strict fields: ${from}: ${describe(o)}`, (errors.get(i) || []).join("\n"));
    });
  }
}

// The validator must catch what the API server would reject.
{
  const ds = structuredClone(rendered.base?.find((o) => o.kind === "DaemonSet"));
  if (ds) {
    const typo = structuredClone(ds);
    typo.spec.template.spec.containers[0].readinesProbe = { periodSeconds: 5 };
    const badType = structuredClone(ds);
    badType.spec.template.spec.containers[0].ports[0].containerPort = "9890";
    const badEnum = structuredClone(ds);
    badEnum.spec.template.spec.containers[0].ports[2].protocol = "QUIC";
    const noName = structuredClone(ds);
    delete noName.spec.template.spec.containers[0].name;
    const { errors } = strictTypeCheck([typo], join(tmp, "neg"));
    check(errors.has(0), "validator rejects an unknown field (readinesProbe)");
    check((await schemaValidate(badType)) !== null, "validator rejects a string containerPort");
    check((await schemaValidate(badEnum)) !== null, "validator rejects protocol QUIC");
    check((await schemaValidate(noName)) !== null, "validator rejects a container without a name");
  }
}

// ---------------------------------------------------------------- content
const byKind = (objs, kind) => (objs || []).filter((o) => o.kind === kind);
const selects = (selector, labels) =>
  !!selector && Object.entries(selector).every(([k, v]) => labels && labels[k] === v);

// The image deploy/image.sh builds and tags: netcanary:<meson.build version>.
const mesonVersion = /^\s*version:\s*'([^']+)'/m.exec(readFileSync(join(ROOT, "meson.build"), "utf8"))?.[1];

function checkPodTemplate(where, tpl) {
  const spec = tpl?.spec || {};
  const psc = spec.securityContext || {};
  const c = (spec.containers || [])[0] || {};
  const sc = c.securityContext || {};
  check(c.image === `netcanary:${mesonVersion}`, `${where}: image netcanary:${mesonVersion} (the version in meson.build, what deploy/image.sh tags)`, `image: ${c.image}`);
  check(psc.runAsNonRoot === true && Number.isInteger(psc.runAsUser) && psc.runAsUser > 0, `${where}: runs as a numeric non-root user`);
  check(psc.seccompProfile?.type === "RuntimeDefault", `${where}: seccompProfile RuntimeDefault`);
  check(sc.readOnlyRootFilesystem === true, `${where}: read-only root filesystem`);
  check(sc.allowPrivilegeEscalation === false, `${where}: no privilege escalation`);
  check(JSON.stringify(sc.capabilities?.drop) === '["ALL"]' && !sc.capabilities?.add, `${where}: all capabilities dropped`);
  const res = c.resources || {};
  check(res.requests?.cpu && res.requests?.memory && res.limits?.cpu && res.limits?.memory, `${where}: cpu/memory requests and limits`);
  const ports = Object.fromEntries((c.ports || []).map((p) => [p.name, p]));
  const portNum = (p) => (typeof p === "number" ? p : ports[p]?.containerPort);
  check(
    ports["http-metrics"]?.containerPort === 9890 &&
      ports["responder-tcp"]?.containerPort === 9891 &&
      ports["responder-tcp"]?.protocol === "TCP" &&
      ports["responder-udp"]?.containerPort === 9891 &&
      ports["responder-udp"]?.protocol === "UDP",
    `${where}: ports 9890/TCP (metrics), 9891/TCP and 9891/UDP (responder)`,
  );
  check(c.livenessProbe?.httpGet?.path === "/healthz" && portNum(c.livenessProbe.httpGet.port) === 9890, `${where}: liveness GET /healthz :9890`);
  check(c.readinessProbe?.httpGet?.path === "/readyz" && portNum(c.readinessProbe.httpGet.port) === 9890, `${where}: readiness GET /readyz :9890`);
  const env = Object.fromEntries((c.env || []).map((e) => [e.name, e]));
  check(env.POD_NAMESPACE?.valueFrom?.fieldRef?.fieldPath === "metadata.namespace", `${where}: POD_NAMESPACE from the downward API`);
  check(env.NODE_NAME?.valueFrom?.fieldRef?.fieldPath === "spec.nodeName", `${where}: NODE_NAME from the downward API`);
  check(!env.NETCANARY_IDENTITY, `${where}: identity not pinned (NETCANARY_IDENTITY would override POD_NAMESPACE)`);
  const args = c.args || [];
  const ci = args.indexOf("--config");
  check(ci >= 0 && args[ci + 1] === "/etc/netcanary/config.json", `${where}: --config /etc/netcanary/config.json`);
  const mount = (c.volumeMounts || []).find((m) => m.mountPath === "/etc/netcanary");
  const vol = (spec.volumes || []).find((v) => v.name === mount?.name);
  check(mount && !mount.subPath && vol?.configMap?.name, `${where}: ConfigMap mounted as the directory /etc/netcanary (no subPath: updates reach the pod)`);
  check(spec.automountServiceAccountToken === false, `${where}: no service account token (no API access needed)`);
  return vol?.configMap?.name;
}

// base
{
  const objs = rendered.base || [];
  const kinds = objs.map((o) => o.kind).sort();
  check(
    deepEqual(kinds, ["ConfigMap", "DaemonSet", "Namespace", "NetworkPolicy", "Service", "Service", "ServiceAccount"]),
    "base: Namespace, ServiceAccount, ConfigMap, DaemonSet, two Services, NetworkPolicy (no RBAC: the seed needs none)",
    kinds.join(", "),
  );
  const ds = byKind(objs, "DaemonSet")[0];
  if (ds) {
    const cmName = checkPodTemplate("base DaemonSet", ds.spec.template);
    const cm = byKind(objs, "ConfigMap").find((o) => o.metadata.name === cmName);
    check(cm && cm.data?.["config.json"] === seedBytes.toString("utf8"), "base: the mounted ConfigMap's config.json is the seed matrix");
    check(ds.spec.updateStrategy?.type === "RollingUpdate", "base DaemonSet: rolling update");
    check((ds.spec.template.spec.tolerations || []).some((t) => t.operator === "Exists" && !t.key), "base DaemonSet: tolerates every taint (every node)");
    check(selects(ds.spec.selector.matchLabels, ds.spec.template.metadata.labels), "base DaemonSet: selector matches its pod labels");
    const podLabels = ds.spec.template.metadata.labels;
    const svcs = byKind(objs, "Service");
    const headless = svcs.find((s) => s.spec.clusterIP === "None");
    check(headless?.metadata.name === "netcanary", "base: headless Service named netcanary (netcanary.<ns>.svc.cluster.local)");
    check(headless && selects(headless.spec.selector, podLabels), "base: headless Service selects the agents");
    check(
      headless && deepEqual(headless.spec.ports.map((p) => `${p.port}/${p.protocol}`).sort(), ["9891/TCP", "9891/UDP"]),
      "base: headless Service exposes the responder on 9891 TCP and UDP",
    );
    const metrics = svcs.find((s) => s !== headless);
    check(metrics && selects(metrics.spec.selector, podLabels) && metrics.spec.ports.some((p) => p.port === 9890), "base: metrics Service selects the agents on 9890");
    const np = byKind(objs, "NetworkPolicy")[0];
    check(np && selects(np.spec.podSelector.matchLabels, podLabels), "base: NetworkPolicy selects the agents");
    check(
      np && np.spec.policyTypes.includes("Ingress") && np.spec.policyTypes.includes("Egress"),
      "base: NetworkPolicy restricts ingress (scrape, responder) and egress (DNS, responders)",
    );
    const egressPorts = (np?.spec.egress || []).flatMap((e) => (e.ports || []).map((p) => `${p.port}/${p.protocol}`));
    check(egressPorts.includes("53/UDP") && egressPorts.includes("53/TCP"), "base: NetworkPolicy lets DNS out");
  }
}

// per-tenant: one agent DaemonSet per `from` identity of the matrix
{
  const objs = rendered["per-tenant"] || [];
  const identities = [...new Set(seed.matrix.map((r) => r.from).filter((f) => f !== "*"))].sort();
  const dsNamespaces = byKind(objs, "DaemonSet").map((d) => d.metadata.namespace).sort();
  check(deepEqual(dsNamespaces, identities), `per-tenant: one DaemonSet in each matrix identity's namespace (${identities.join(", ")})`, dsNamespaces.join(", "));
  check(byKind(objs, "Namespace").length === 0, "per-tenant: does not create (or own) the tenants' namespaces");
  check(byKind(objs, "NetworkPolicy").length === 0, "per-tenant: ships no NetworkPolicy into tenant namespaces (it would change what is measured)");
  for (const ds of byKind(objs, "DaemonSet")) checkPodTemplate(`per-tenant DaemonSet ${ds.metadata.namespace}`, ds.spec.template);
  const cms = byKind(objs, "ConfigMap");
  check(
    cms.length === identities.length && cms.every((c) => c.data?.["config.json"] === seedBytes.toString("utf8")),
    "per-tenant: every agent mounts the same matrix (the seed)",
  );
  // Every tcp/udp target that names a netcanary headless Service must find it.
  for (const [name, t] of Object.entries(seed.targets)) {
    const proto = t.tcp ? "TCP" : t.udp ? "UDP" : null;
    const spec = t.tcp || t.udp;
    const m = spec && /^netcanary\.([^.]+)\.svc\.cluster\.local$/.exec(spec.host);
    if (!m) continue;
    const svc = byKind(objs, "Service").find((s) => s.metadata.name === "netcanary" && s.metadata.namespace === m[1]);
    check(
      svc && svc.spec.clusterIP === "None" && svc.spec.ports.some((p) => p.port === spec.port && p.protocol === proto),
      `per-tenant: target ${name} (${spec.host}:${spec.port}/${proto}) is a headless Service of the overlay`,
    );
  }
}

// small-footprint: a Deployment with the base's pod, no DaemonSet
for (const name of ["small-footprint", "per-tenant/customer-small (small-footprint in a tenant)"]) {
  const objs = rendered[name] || [];
  const deps = byKind(objs, "Deployment");
  check(byKind(objs, "DaemonSet").length === 0 && deps.length === 1, `${name}: one Deployment, no DaemonSet`);
  const d = deps[0];
  if (!d) continue;
  check(d.spec.replicas === 1, `${name}: one replica`);
  check(selects(d.spec.selector.matchLabels, d.spec.template.metadata.labels), `${name}: selector matches its pod labels`);
  checkPodTemplate(`${name} Deployment`, d.spec.template);
  const baseTpl = structuredClone(byKind(rendered.base, "DaemonSet")[0]?.spec.template);
  const tpl = structuredClone(d.spec.template);
  if (baseTpl) {
    delete baseTpl.spec.tolerations;
    delete baseTpl.spec.containers[0].resources;
    delete tpl.spec.containers[0].resources;
    check(deepEqual(baseTpl, tpl), `${name}: same pod as the DaemonSet but for tolerations and resources`);
  }
  const svc = byKind(objs, "Service").find((s) => s.spec.clusterIP === "None");
  check(svc && selects(svc.spec.selector, d.spec.template.metadata.labels), `${name}: headless Service selects the Deployment's pod`);
}
{
  const objs = rendered["per-tenant/customer-small (small-footprint in a tenant)"] || [];
  check(
    objs.length > 0 && objs.every((o) => o.metadata.namespace === "customer-small") && !byKind(objs, "Namespace").length && !byKind(objs, "NetworkPolicy").length,
    "small-footprint in a tenant: everything in the tenant's namespace, no Namespace, no NetworkPolicy",
  );
}

// monitoring
{
  const objs = rendered.monitoring || [];
  const podLabels = byKind(rendered.base, "DaemonSet")[0]?.spec.template.metadata.labels;
  const pm = byKind(objs, "PodMonitor")[0];
  check(pm && pm.spec.namespaceSelector?.any === true, "monitoring: PodMonitor looks in every namespace");
  check(pm && selects(pm.spec.selector.matchLabels, podLabels), "monitoring: PodMonitor selects the agent pods");
  check(pm && pm.spec.jobLabel && podLabels?.[pm.spec.jobLabel] === "netcanary", 'monitoring: PodMonitor job label is "netcanary" (what the rules and dashboard use)');
  const ep = pm?.spec.podMetricsEndpoints?.[0];
  const relabeled = (ep?.relabelings || []).map((r) => r.targetLabel);
  check(ep?.port === "http-metrics" && relabeled.includes("node") && relabeled.includes("cluster"), "monitoring: PodMonitor scrapes http-metrics and adds node and cluster");
  const sm = all.find((x) => x.o.kind === "ServiceMonitor")?.o;
  const metricsSvc = byKind(rendered.base, "Service").find((s) => s.spec.clusterIP !== "None");
  check(sm && selects(sm.spec.selector.matchLabels, metricsSvc?.metadata.labels), "monitoring: ServiceMonitor selects the metrics Service");
  check(sm && metricsSvc?.metadata.labels?.[sm.spec.jobLabel] === "netcanary", 'monitoring: ServiceMonitor job label is "netcanary"');
  check(byKind(objs, "PrometheusRule").length === 1, "monitoring: one PrometheusRule (its groups are checked by the rules test)");
}

// extras
{
  const objs = rendered["extras/kubernetes-dns-servers"] || [];
  const role = byKind(objs, "Role")[0];
  const rules = role?.rules || [];
  check(
    role?.metadata.namespace === "kube-system" &&
      rules.length === 1 &&
      deepEqual(rules[0].resources, ["endpointslices"]) &&
      rules[0].verbs.every((v) => ["get", "list", "watch"].includes(v)),
    "extras/kubernetes-dns-servers: read-only EndpointSlices in kube-system, nothing else",
  );
  check(byKind(objs, "ClusterRole").length === 0 && byKind(objs, "ClusterRoleBinding").length === 0, "extras/kubernetes-dns-servers: no cluster-wide RBAC");
}
{
  const objs = rendered["extras/policy-audit"] || [];
  const role = byKind(objs, "ClusterRole")[0];
  const rules = role?.rules || [];
  const resources = rules.flatMap((r) => r.resources).sort();
  check(
    deepEqual(resources, ["namespaces", "networkpolicies"]) &&
      rules.every((r) => r.verbs.every((v) => ["get", "list", "watch"].includes(v))),
    "extras/policy-audit: read-only namespaces and networkpolicies, nothing else",
  );
  check(byKind(objs, "ClusterRoleBinding").length === 1, "extras/policy-audit: one ClusterRoleBinding");
}

finish();

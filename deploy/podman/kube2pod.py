#!/usr/bin/python3
"""Turns a workload of a kustomize render into what `podman kube play` runs,
the way the Kubernetes control plane hands it to the kubelet (podman 4.3 plays
neither DaemonSets nor downward-API env). Used by tests/image and to try the
shipped pod locally (deploy/README.md, "Image").

  kube2pod.py workloads RENDER.yaml
      one line per DaemonSet/Deployment: KIND NAMESPACE NAME

  kube2pod.py pod RENDER.yaml KIND NAMESPACE NAME POD_NAME NODE_NAME OUTDIR
      OUTDIR/kube.yaml   the ConfigMap the pod mounts, then the Pod: what to
                         give `podman kube play`
      OUTDIR/pod.json    the kind: Pod alone. Its spec is the workload's pod
                         template UNCHANGED, except that env values taken
                         from the downward API (fieldRef/resourceFieldRef)
                         are filled in as the kubelet does and that the
                         informational containerPorts are left out (see
                         below); metadata is the template's plus name and
                         namespace.
      OUTDIR/configmap.json  the ConfigMap the pod mounts, as rendered
      OUTDIR/shipped-config.json   the ConfigMap's config file, comments
                         stripped (so jq can read it)
      OUTDIR/template-spec.json, pod-spec.json  both specs, keys sorted, for
                         tests/image to compare
      OUTDIR/facts.json  what tests/image asserts against, read from the
                         manifest: ports by name, probe paths and ports,
                         grace period, limits in bytes/millicores, users,
                         the config volume's ConfigMap name and mount path.

Only python3-yaml (Debian) is needed; run with /usr/bin/python3.
"""
import copy
import json
import os
import re
import sys

import yaml


def die(msg):
    sys.stderr.write(f"kube2pod.py: {msg}\n")
    sys.exit(2)


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the matrix) as literal blocks, readable in kube.yaml."""


_Dumper.add_representer(
    str, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", v, style="|" if "\n" in v else None))


def load(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def strip_jsonc(text):
    """JSON with // and /* */ comments (netcanary's config format) -> JSON."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                die("unterminated /* comment in the ConfigMap's config")
            i = j + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


QUANTITY = re.compile(r"^([0-9.]+)([A-Za-z]*)$")
SUFFIX = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "m": 10**-3}


def quantity(q):
    m = QUANTITY.match(str(q))
    if not m or m.group(2) not in SUFFIX:
        die(f"cannot read the quantity {q!r}")
    return float(m.group(1)) * SUFFIX[m.group(2)]


def find_workload(docs, kind, namespace, name):
    for d in docs:
        md = d.get("metadata", {})
        if d.get("kind") == kind and md.get("name") == name and md.get("namespace", "default") == namespace:
            return d
    die(f"no {kind} {namespace}/{name} in the render")


def downward(field, pod, node):
    """The value the kubelet puts in an env var with valueFrom.fieldRef."""
    md = pod["metadata"]
    values = {
        "metadata.name": md["name"],
        "metadata.namespace": md["namespace"],
        "metadata.uid": md.get("uid", ""),
        "spec.nodeName": node,
        "spec.serviceAccountName": pod["spec"].get("serviceAccountName", "default"),
        "status.hostIP": "127.0.0.1",
        "status.podIP": "127.0.0.1",
    }
    m = re.match(r"^metadata\.(labels|annotations)\['([^']+)'\]$", field)
    if m:
        return md.get(m.group(1), {}).get(m.group(2), "")
    if field not in values:
        die(f"env valueFrom.fieldRef {field!r}: not a field this test knows how to fill in")
    return values[field]


def resource_value(ref, container):
    res = container.get("resources", {})
    kind, _, what = ref["resource"].partition(".")
    q = res.get(kind, {}).get(what)
    if q is None:
        die(f"resourceFieldRef {ref['resource']}: not set in the manifest")
    divisor = quantity(ref.get("divisor", "1"))
    v = quantity(q) / divisor
    return str(int(-(-v // 1)))  # the kubelet rounds up


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "workloads":
        for d in load(sys.argv[2]):
            if d.get("kind") in ("DaemonSet", "Deployment"):
                md = d["metadata"]
                print(d["kind"], md.get("namespace", "default"), md["name"])
        return
    if len(sys.argv) != 9 or sys.argv[1] != "pod":
        die(__doc__)
    _, _, render, kind, namespace, name, pod_name, node, outdir = sys.argv
    docs = load(render)
    wl = find_workload(docs, kind, namespace, name)
    tpl = wl["spec"]["template"]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name,
            "namespace": namespace,
            "labels": copy.deepcopy(tpl.get("metadata", {}).get("labels", {})),
        },
        "spec": copy.deepcopy(tpl["spec"]),
    }
    if tpl.get("metadata", {}).get("annotations"):
        pod["metadata"]["annotations"] = copy.deepcopy(tpl["metadata"]["annotations"])
    spec = pod["spec"]
    if len(spec.get("containers", [])) != 1:
        die("expected one container in the pod template")
    for c in spec["containers"]:
        for e in c.get("env", []):
            vf = e.get("valueFrom")
            if not vf:
                continue
            if "fieldRef" in vf:
                e["value"] = downward(vf["fieldRef"]["fieldPath"], pod, node)
            elif "resourceFieldRef" in vf:
                e["value"] = resource_value(vf["resourceFieldRef"], c)
            else:
                continue  # configMapKeyRef/secretKeyRef: podman resolves these itself
            del e["valueFrom"]

    c = spec["containers"][0]
    ports = {p["name"]: p for p in c.get("ports", []) if "name" in p}
    # The one other difference: podman 4.3's kube play publishes every
    # containerPort as a host port, which it refuses unless the pod has its
    # own bridge/slirp4netns network ("PortMappings can only be used with
    # Bridge or slirp4netns networking"); the test runs the pod in a network
    # namespace of its own instead. In Kubernetes a containerPort without
    # hostPort publishes nothing (the list is informational), so without it
    # the container runs as the kubelet would run it. The probes' named port
    # is resolved from the manifest below.
    for cont in spec["containers"]:
        cont.pop("ports", None)

    def port_of(p):
        if isinstance(p, int):
            return p
        if p not in ports:
            die(f"probe port {p!r} is no named port of the container")
        return ports[p]["containerPort"]

    def probe(kind_):
        pr = c.get(kind_) or die(f"no {kind_}")
        hg = pr.get("httpGet") or die(f"{kind_} is not httpGet")
        return {"path": hg.get("path", "/"), "port": port_of(hg["port"]), "period": pr.get("periodSeconds", 10),
                "timeout": pr.get("timeoutSeconds", 1), "failureThreshold": pr.get("failureThreshold", 3)}

    mounts = c.get("volumeMounts", [])
    vols = {v["name"]: v for v in spec.get("volumes", [])}
    cfg_mount = next((m for m in mounts if "configMap" in vols.get(m["name"], {})), None)
    if not cfg_mount:
        die("no ConfigMap volume mounted")
    cm_name = vols[cfg_mount["name"]]["configMap"]["name"]
    cm = next((d for d in docs if d.get("kind") == "ConfigMap" and d["metadata"]["name"] == cm_name
               and d["metadata"].get("namespace", "default") == namespace), None)
    if not cm:
        die(f"the ConfigMap {namespace}/{cm_name} the pod mounts is not in the render")
    args = c.get("args", [])
    if "--config" not in args:
        die("the container's args name no --config")
    config_path = args[args.index("--config") + 1]
    key = os.path.relpath(config_path, cfg_mount["mountPath"])
    if key.startswith("..") or key not in cm.get("data", {}):
        die(f"--config {config_path} is not a key of the ConfigMap mounted at {cfg_mount['mountPath']}")

    psc = spec.get("securityContext", {})
    csc = c.get("securityContext", {})
    lim = c.get("resources", {}).get("limits", {})
    facts = {
        "kind": kind,
        "namespace": namespace,
        "name": name,
        "pod": pod_name,
        "node": node,
        "container": c["name"],
        "image": c["image"],
        "args": args,
        "env": {e["name"]: e.get("value") for e in c.get("env", [])},
        "ports": {n: {"port": p["containerPort"], "protocol": p.get("protocol", "TCP")} for n, p in ports.items()},
        "liveness": probe("livenessProbe"),
        "readiness": probe("readinessProbe"),
        "terminationGracePeriodSeconds": spec.get("terminationGracePeriodSeconds", 30),
        "memoryLimitBytes": int(quantity(lim["memory"])) if "memory" in lim else None,
        "cpuLimitMillicores": int(round(quantity(lim["cpu"]) * 1000)) if "cpu" in lim else None,
        "runAsUser": csc.get("runAsUser", psc.get("runAsUser")),
        "runAsGroup": csc.get("runAsGroup", psc.get("runAsGroup")),
        "readOnlyRootFilesystem": csc.get("readOnlyRootFilesystem", False),
        "configMap": cm_name,
        "configMountPath": cfg_mount["mountPath"],
        "configKey": key,
        "configMapKeys": sorted(cm.get("data", {}).keys()),
    }
    os.makedirs(outdir, exist_ok=True)
    shipped = json.loads(strip_jsonc(cm["data"][key]))
    with open(os.path.join(outdir, "shipped-config.json"), "w", encoding="utf-8") as f:
        json.dump(shipped, f, indent=1)
    cm_out = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": copy.deepcopy(cm["metadata"]),
              "data": copy.deepcopy(cm["data"])}
    with open(os.path.join(outdir, "configmap.json"), "w", encoding="utf-8") as f:
        json.dump(cm_out, f, indent=1)
    with open(os.path.join(outdir, "kube.yaml"), "w", encoding="utf-8") as f:
        yaml.dump_all([cm_out, pod], f, Dumper=_Dumper, sort_keys=False, allow_unicode=True)
    with open(os.path.join(outdir, "pod.json"), "w", encoding="utf-8") as f:
        json.dump(pod, f, indent=1)
    with open(os.path.join(outdir, "facts.json"), "w", encoding="utf-8") as f:
        json.dump(facts, f, indent=1)
    # The pod template itself, for the test to prove it ran unchanged.
    with open(os.path.join(outdir, "template-spec.json"), "w", encoding="utf-8") as f:
        json.dump(tpl["spec"], f, sort_keys=True)
    with open(os.path.join(outdir, "pod-spec.json"), "w", encoding="utf-8") as f:
        json.dump(spec, f, sort_keys=True)


if __name__ == "__main__":
    main()

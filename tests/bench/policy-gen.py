#!/usr/bin/env python3
"""Writes a synthetic cluster for `netcanary policy` benchmarks (issue 16):

    policy-gen.py PODS POLICIES OUT.json [NAMESPACES]

One List, shaped like `kubectl get ns,pods,netpol -A -o json`: NAMESPACES
namespaces (default PODS/30, at least 1) labelled team=t<i%5> and
env=prod|dev, PODS pods spread over them (labels app=app<k%10>,
tier=web|api|db, container ports http 8080/TCP, metrics 9090/TCP, dns 53/UDP,
IPv4 and IPv6 pod IPs), and POLICIES NetworkPolicies mixing what real
clusters hold: default-deny (ingress, or both), allow from a namespace
selector and a pod selector (ANDed) on a named port, matchExpressions
In/NotIn/Exists, egress to an ipBlock with except, endPort ranges, allow-all.
Deterministic: the same arguments give the same file.
"""
import json
import random
import sys


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    n_pods, n_pol, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    n_ns = int(sys.argv[4]) if len(sys.argv) == 5 else max(1, n_pods // 30)
    rnd = random.Random(16)
    items = []
    names = [f"ns{i:03d}" for i in range(n_ns)]
    for i, ns in enumerate(names):
        items.append({"apiVersion": "v1", "kind": "Namespace",
                      "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns,
                                                          "team": f"t{i % 5}",
                                                          "env": "prod" if i % 2 else "dev"}}})
    for p in range(n_pods):
        ns = names[p % n_ns]
        items.append({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"pod{p:05d}", "namespace": ns,
                         "labels": {"app": f"app{p % 10}", "tier": ["web", "api", "db"][p % 3]}},
            "spec": {"containers": [{"name": "main", "image": "registry.example/app:1",
                                     "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                                               {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
                                               {"name": "dns", "containerPort": 53, "protocol": "UDP"}]}]},
            "status": {"phase": "Running", "podIP": f"10.{p // 65536}.{p // 256 % 256}.{p % 256}",
                       "podIPs": [{"ip": f"10.{p // 65536}.{p // 256 % 256}.{p % 256}"},
                                  {"ip": f"fd00::{p:x}"}]}})
    for k in range(n_pol):
        ns = names[rnd.randrange(n_ns)]
        kind = k % 7
        app = f"app{rnd.randrange(10)}"
        if kind == 0:
            spec = {"podSelector": {}, "policyTypes": ["Ingress"] if rnd.random() < 0.7 else ["Ingress", "Egress"]}
        elif kind == 1:
            spec = {"podSelector": {"matchLabels": {"app": app}},
                    "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": f"t{rnd.randrange(5)}"}},
                                           "podSelector": {"matchLabels": {"tier": "web"}}}],
                                 "ports": [{"port": "http"}]}]}
        elif kind == 2:
            spec = {"podSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["api", "db"]}]},
                    "ingress": [{"from": [{"podSelector": {"matchExpressions": [
                        {"key": "app", "operator": "NotIn", "values": [app]}]}}],
                        "ports": [{"port": 8000, "endPort": 8100}, {"port": "metrics"}]}]}
        elif kind == 3:
            spec = {"podSelector": {"matchLabels": {"app": app}}, "policyTypes": ["Egress"],
                    "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/16", "except": [f"10.0.{rnd.randrange(4)}.0/24"]}}]},
                               {"to": [{"namespaceSelector": {}}], "ports": [{"port": 53, "protocol": "UDP"}]}]}
        elif kind == 4:
            spec = {"podSelector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]},
                    "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"env": "prod"}}}]}]}
        elif kind == 5:
            spec = {"podSelector": {"matchLabels": {"tier": "db"}},
                    "ingress": [{"from": [{"podSelector": {"matchLabels": {"tier": "api"}}}], "ports": [{"port": 8080}]},
                                {"from": [{"ipBlock": {"cidr": "fd00::/112"}}]}]}
        else:
            spec = {"podSelector": {"matchLabels": {"app": app}}, "ingress": [{}]}
        items.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                      "metadata": {"name": f"pol{k:05d}", "namespace": ns}, "spec": spec})
    with open(out, "w") as f:
        json.dump({"apiVersion": "v1", "kind": "List", "items": items}, f)


if __name__ == "__main__":
    main()

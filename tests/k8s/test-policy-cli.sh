#!/usr/bin/env bash
# k8s-policy-cli: `netcanary policy matrix|explain` (contract §11) as outside
# tests use it: exit codes, the JSON shape (checked with jq), the table, the
# explanation, and error messages naming file, object and field. Objects come
# as a List (kubectl get ns,pods -A -o json), a NetworkPolicyList and a single
# object, through several --objects. No network. Exit 77 without jq.
set -uo pipefail

NETCANARY=${NETCANARY:?set NETCANARY to the netcanary binary}
command -v jq >/dev/null 2>&1 || { echo "skip: jq not installed"; exit 77; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/nc-policy-cli.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cd "$TMP" || exit 2

FAILED=0
fail() { echo "FAIL: $*"; FAILED=1; }
ok() { echo "ok: $*"; }
expect_eq() { # NAME GOT WANT
        if [[ $2 == "$3" ]]; then ok "$1"; else fail "$1: got '$2', want '$3'"; fi
}
expect_grep() { # NAME FILE FIXED-STRING
        if grep -qF -- "$3" "$2"; then ok "$1"; else fail "$1: '$3' not in $2:"; sed 's/^/    /' "$2"; fi
}
# run OUT ARGS...: stdout -> OUT, stderr -> OUT.err, RC set
run() {
        local out=$1
        shift
        timeout 30 "$NETCANARY" policy "$@" >"$out" 2>"$out.err" </dev/null
        RC=$?
}

# Namespaces x (ns=x) and y (ns=y), pods x/a x/b y/a; x/a serves "http" on 8080/TCP.
cat >cluster.json <<'EOF'
{"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": [
  {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "labels": {"ns": "x", "kubernetes.io/metadata.name": "x"}}},
  {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "y", "labels": {"ns": "y", "kubernetes.io/metadata.name": "y"}}},
  {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "x", "labels": {"pod": "a"}},
   "spec": {"containers": [{"name": "web", "image": "nginx", "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]}]},
   "status": {"phase": "Running", "podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.1"}]}},
  {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "b", "namespace": "x", "labels": {"pod": "b"}},
   "spec": {"containers": [{"name": "client", "image": "busybox"}]},
   "status": {"phase": "Running", "podIP": "10.0.0.2", "podIPs": [{"ip": "10.0.0.2"}]}},
  {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "x"}, "spec": {"ports": [{"port": 80}]}}
]}
EOF
# A third pod as a single object in its own file.
cat >pod-ya.json <<'EOF'
{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "y", "labels": {"pod": "a"}},
 "spec": {"containers": [{"name": "client", "image": "busybox"}]},
 "status": {"phase": "Running", "podIP": "10.0.1.1", "podIPs": [{"ip": "10.0.1.1"}]}}
EOF
# x is default-deny ingress; x/a takes the named port "http" from namespace y.
cat >policies.json <<'EOF'
{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicyList", "items": [
  {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "deny-all", "namespace": "x"},
   "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}},
  {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "web", "namespace": "x"},
   "spec": {"podSelector": {"matchLabels": {"pod": "a"}},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}], "ports": [{"port": 9999}]},
                        {"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}], "ports": [{"port": "http"}]}]}}
]}
EOF
OBJ=(--objects cluster.json --objects pod-ya.json --objects policies.json)

# ------------------------------------------------------------ matrix, JSON
run m.json matrix "${OBJ[@]}" --port 8080 --protocol TCP --format json
expect_eq "matrix json: exit code" "$RC" 0
expect_eq "matrix json: stderr empty" "$(cat m.json.err)" ""
expect_eq "matrix json: 3 pods -> 9 rows, self-pairs included" "$(jq '.rows | length' m.json)" 9
expect_eq "matrix json: self-pair x/a -> x/a present" \
        "$(jq '[.rows[] | select(.from == "x/a" and .to == "x/a")] | length' m.json)" 1
expect_eq "matrix json: every row has the contract's keys" \
        "$(jq '[.rows[] | (keys - ["from","to","port","protocol","verdict","reason"]) | length] | add' m.json)" 0
expect_eq "matrix json: port and protocol" "$(jq -r '[.rows[] | "\(.port)/\(.protocol)"] | unique | join(",")' m.json)" \
        "8080/TCP"
expect_eq "matrix json: verdicts in order (from, then to)" \
        "$(jq -r '[.rows[] | "\(.from)>\(.to)=\(.verdict)"] | join(" ")' m.json)" \
        "x/a>x/a=deny x/a>x/b=deny x/a>y/a=allow x/b>x/a=deny x/b>x/b=deny x/b>y/a=allow y/a>x/a=allow y/a>x/b=deny y/a>y/a=allow"
expect_eq "matrix json: the allowing rule of y/a -> x/a" \
        "$(jq -c '.rows[] | select(.from == "y/a" and .to == "x/a") | .reason.ingress.allowed_by' m.json)" \
        '[{"policy":"x/web","rule":1}]'
expect_eq "matrix json: isolating policies of x/a" \
        "$(jq -c '.rows[] | select(.from == "y/a" and .to == "x/a") | .reason.ingress.policies' m.json)" \
        '["x/deny-all","x/web"]'
expect_eq "matrix json: a side no policy selects" \
        "$(jq -c '.rows[] | select(.from == "y/a" and .to == "x/a") | .reason.egress | [.isolated, .allowed, .policies]' m.json)" \
        '[false,true,[]]'

# Another port: the named port is 8080 only.
run m80.json matrix "${OBJ[@]}" --port 80 --protocol TCP --format json
expect_eq "matrix json, port 80: y/a -> x/a denied" \
        "$(jq -r '.rows[] | select(.from == "y/a" and .to == "x/a") | .verdict' m80.json)" deny
run m9999.json matrix "${OBJ[@]}" --port 9999 --protocol TCP --format json
expect_eq "matrix json, port 9999: x/b -> x/a allowed by web ingress[0]" \
        "$(jq -c '.rows[] | select(.from == "x/b" and .to == "x/a") | [.verdict, .reason.ingress.allowed_by]' m9999.json)" \
        '["allow",[{"policy":"x/web","rule":0}]]'
run mudp.json matrix "${OBJ[@]}" --port 8080 --protocol UDP --format json
expect_eq "matrix json, 8080/UDP: y/a -> x/a denied (http is TCP)" \
        "$(jq -r '.rows[] | select(.from == "y/a" and .to == "x/a") | "\(.protocol) \(.verdict)"' mudp.json)" "UDP deny"

# ------------------------------------------------------------ matrix, table
run m.txt matrix "${OBJ[@]}" --port 8080 --protocol TCP
expect_eq "matrix table: exit code" "$RC" 0
expect_grep "matrix table: header" m.txt "policy matrix, port 8080/TCP: 3 pods, 2 policies; rows: from, columns: to"
expect_grep "matrix table: row x/b" m.txt "2  x/b X X ."
expect_grep "matrix table: row y/a" m.txt "3  y/a . X ."
expect_grep "matrix table: legend" m.txt "legend: . allowed, X denied (row pod -> column pod); 4 of 9 pairs allowed"
run m2.txt matrix "${OBJ[@]}" --port 8080 --protocol TCP --format table
expect_eq "matrix --format table = default" "$(cmp -s m.txt m2.txt && echo same)" same

# ------------------------------------------------------------ explain
run e1 explain "${OBJ[@]}" --from y/a --to x/a --port 8080 --protocol TCP
expect_eq "explain allowed: exit 0" "$RC" 0
expect_grep "explain allowed: verdict" e1 "y/a -> x/a port 8080/TCP: allowed"
expect_grep "explain allowed: egress side" e1 "egress from y/a: allowed (no policy selects it for egress)"
expect_grep "explain allowed: isolating" e1 "isolated by: x/deny-all, x/web"
expect_grep "explain allowed: allowing rule" e1 "allowed by: x/web ingress[1]"
run e2 explain "${OBJ[@]}" --from x/b --to x/a --port 8080 --protocol TCP
expect_eq "explain denied: exit 1" "$RC" 1
expect_grep "explain denied: verdict" e2 "x/b -> x/a port 8080/TCP: denied"
expect_grep "explain denied: no rule" e2 "no ingress rule of these policies allows it"
run e3 explain "${OBJ[@]}" --from x/b --to x/zz --port 8080 --protocol TCP
expect_eq "explain, unknown pod: exit 2" "$RC" 2
expect_grep "explain, unknown pod: named" e3.err "x/zz: no such pod in the objects given"
run e4 explain "${OBJ[@]}" --from x --to x/a --port 8080 --protocol TCP
expect_eq "explain, --from without a slash: exit 2" "$RC" 2
expect_grep "explain, --from without a slash: message" e4.err "--from: want NS/POD, got 'x'"

# ------------------------------------------------------------ usage errors: exit 2
usage_case() { # NAME EXPECTED-STDERR ARGS...
        local name=$1 want=$2
        shift 2
        run u "$@"
        expect_eq "usage, $name: exit 2" "$RC" 2
        expect_grep "usage, $name: message" u.err "$want"
}
usage_case "no command" "needs a command: matrix or explain"
usage_case "unknown command" "unknown command 'graph'" graph --objects cluster.json
usage_case "no --objects" "needs --objects FILE" matrix --port 80 --protocol TCP
usage_case "no --port" "needs --port N" matrix --objects cluster.json --protocol TCP
usage_case "bad --port" "--port: want 1-65535, got '0'" matrix --objects cluster.json --port 0 --protocol TCP
usage_case "no --protocol" "needs --protocol TCP|UDP|SCTP" matrix --objects cluster.json --port 80
usage_case "bad --protocol" "--protocol: want TCP, UDP or SCTP, got 'ICMP'" \
        matrix --objects cluster.json --port 80 --protocol ICMP
usage_case "bad --format" "--format: want table or json, got 'yaml'" \
        matrix --objects cluster.json --port 80 --protocol TCP --format yaml
usage_case "explain without --to" "explain needs --from NS/POD and --to NS/POD" \
        explain --objects cluster.json --from x/a --port 80 --protocol TCP
usage_case "--format on explain" "--format only applies to 'matrix'" \
        explain --objects cluster.json --from x/a --to x/b --port 80 --protocol TCP --format json

# ------------------------------------------------------------ object errors: exit 2, file/object/field named
cat >bad-op.json <<'EOF'
{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}},
  {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "y"}},
  {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "x"}},
  {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "deny-all", "namespace": "x"},
   "spec": {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}},
            {"podSelector": {"matchExpressions": [{"key": "pod", "operator": "In ", "values": ["a"]}]}}]}]}}
]}
EOF
run b1 matrix --objects bad-op.json --port 80 --protocol TCP
expect_eq "bad operator: exit 2" "$RC" 2
expect_eq "bad operator: message" "$(cat b1.err)" \
        'error: bad-op.json: items[3] (NetworkPolicy x/deny-all): spec.ingress[0].from[1].podSelector.matchExpressions[0].operator: unknown operator "In " (In, NotIn, Exists, DoesNotExist)'
expect_eq "bad operator: nothing on stdout" "$(wc -c <b1)" 0

echo '{"kind": "NetworkPolicy", "metadata": {"name": "p", "namespace": "x"}, "spec": {"podSelector": {}, "egress": [{"ports": [{"port": 80, "endPort": 70}]}]}}' >bad-end.json
run b2 matrix --objects cluster.json --objects bad-end.json --port 80 --protocol TCP
expect_eq "bad endPort in the 2nd file: exit 2" "$RC" 2
expect_eq "bad endPort: message" "$(cat b2.err)" \
        'error: bad-end.json: NetworkPolicy x/p: spec.egress[0].ports[0].endPort: must be 80-65535 (at least port)'

run b3 matrix --objects cluster.json --objects cluster.json --port 80 --protocol TCP
expect_eq "the same objects twice: exit 2" "$RC" 2
expect_grep "the same objects twice: duplicate named" b3.err "duplicate of cluster.json items["

printf '{"kind": "List", "items": [' >trunc.json
run b4 matrix --objects trunc.json --port 80 --protocol TCP
expect_eq "truncated JSON: exit 2" "$RC" 2
expect_grep "truncated JSON: message" b4.err "error: trunc.json: not JSON"

printf '{"kind": "List", "items": []} {"kind": "Pod"}' >two.json
run b5 matrix --objects two.json --port 80 --protocol TCP
expect_eq "two JSON values in one file: exit 2" "$RC" 2
expect_grep "two JSON values in one file: message" b5.err "error: two.json: trailing data after the JSON value"

run b6 matrix --objects does-not-exist.json --port 80 --protocol TCP
expect_eq "missing file: exit 2" "$RC" 2
expect_grep "missing file: message" b6.err "error: does-not-exist.json: No such file or directory"

# An empty cluster is not an error: no rows.
echo '{"kind": "List", "items": []}' >empty.json
run m0.json matrix --objects empty.json --port 80 --protocol TCP --format json
expect_eq "empty cluster: exit 0" "$RC" 0
expect_eq "empty cluster: no rows" "$(jq -c '.rows' m0.json)" "[]"

run m0.txt matrix --objects empty.json --port 80 --protocol TCP
expect_eq "empty cluster, table: two lines" "$(wc -l <m0.txt)" 2

printf '5' >number.json
run b7 matrix --objects number.json --port 80 --protocol TCP
expect_eq "a bare number: exit 2" "$RC" 2
expect_grep "a bare number: message names the file" b7.err "error: number.json"

# Control characters in names never reach the terminal as such (the table
# shows '?'); JSON keeps the exact name, escaped.
echo '{"kind": "List", "items": [{"kind": "Pod", "metadata": {"name": "a\u001b[2Jb", "namespace": "x"}}]}' >esc.json
run esc.txt matrix --objects esc.json --port 80 --protocol TCP
expect_grep "control characters: '?' in the table" esc.txt "1  x/a?[2Jb ."
expect_eq "control characters: no ESC byte in the table" "$(tr -dc '\033' <esc.txt | wc -c)" 0
run esc.json.out matrix --objects esc.json --port 80 --protocol TCP --format json
expect_eq "control characters: JSON keeps the name" "$(jq -r '.rows[0].to' esc.json.out | od -An -c | tr -s ' ')" \
        "$(printf 'x/a\033[2Jb\n' | od -An -c | tr -s ' ')"

# ------------------------------------------------------------ caps at N and N+1
# --objects: 256 files are read, 257 refused.
many=()
for ((i = 0; i < 256; i++)); do many+=(--objects empty.json); done
run c1.json matrix "${many[@]}" --port 80 --protocol TCP --format json
expect_eq "256 --objects: exit 0" "$RC" 0
run c2 matrix "${many[@]}" --objects empty.json --port 80 --protocol TCP
expect_eq "257 --objects: exit 2" "$RC" 2
expect_grep "257 --objects: message" c2.err "more than 256 --objects files"
# JSON nesting: 64 levels are parsed (the object is then refused for its
# missing kind), 65 are not.
nest() { # LEVELS: a List whose items[0] nests down to LEVELS levels in all
        local d=$1 open="" close="" i
        for ((i = 0; i < d - 2; i++)); do open+='{"x":'; close+='}'; done
        printf '{"kind":"List","items":[%s1%s]}' "$open" "$close"
}
nest 64 >nest64.json
nest 65 >nest65.json
run n64 matrix --objects nest64.json --port 80 --protocol TCP
expect_eq "64 levels of JSON: parsed" "$(cat n64.err)" "error: nest64.json: items[0]: kind: missing"
run n65 matrix --objects nest65.json --port 80 --protocol TCP
expect_grep "65 levels of JSON: refused" n65.err "error: nest65.json: not JSON (byte"
expect_grep "65 levels of JSON: why" n65.err "nesting too deep"
# A List inside a List is an error, not silently skipped.
echo '{"kind": "List", "items": [{"kind": "PodList", "items": []}]}' >nested-list.json
run n2 matrix --objects nested-list.json --port 80 --protocol TCP
expect_eq "a List in a List: message" "$(cat n2.err)" \
        "error: nested-list.json: items[0] (PodList): a List inside a List is not read"

# ------------------------------------------------------------ YAML (builds with libyaml)
# The same cluster as multi-document YAML (an empty document, comments, flow
# and block style): the same matrix as the JSON files.
cat >cluster.yaml <<'YAML'
# x and y, as kept in a repository
apiVersion: v1
kind: Namespace
metadata: {name: x, labels: {ns: x}}
---
apiVersion: v1
kind: Namespace
metadata:
  name: y
  labels:
    ns: "y"
---
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x, labels: {pod: a}}
spec:
  containers:
  - name: web
    image: nginx
    ports:
    - {name: http, containerPort: 8080, protocol: TCP}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: x, labels: {pod: b}}
spec: {containers: [{name: client, image: busybox}]}
status: {podIP: 10.0.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: "y", labels: {pod: a}}
status: {podIPs: [{ip: 10.0.1.1}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Ingress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: x}
spec:
  podSelector:
    matchLabels: {pod: a}
  ingress:
  - from:
    - podSelector: {matchLabels: {pod: b}}
    ports:
    - port: 9999
  - from:
    - namespaceSelector:
        matchLabels: {ns: "y"}
    ports:
    - port: http
YAML
run y.json matrix --objects cluster.yaml --port 8080 --protocol TCP --format json
if grep -qF "reads no YAML" y.json.err; then
        echo "skip: YAML (this build has no libyaml)"
        expect_eq "no libyaml: exit 2" "$RC" 2
        expect_grep "no libyaml: a bare number is neither" b7.err "not JSON, and this build reads no YAML"
else
        expect_eq "YAML: exit code" "$RC" 0
        expect_eq "YAML: a bare number is a document, not an object" "$(cat b7.err)" \
                "error: number.json (document 1, line 1): not an object"
        expect_eq "YAML: the same rows as the JSON files" "$(jq -c . y.json)" "$(jq -c . m.json)"
        sed 's/{matchLabels: {pod: b}}/{matchExpressions: [{key: pod, operator: "In ", values: [b]}]}/' \
                cluster.yaml >bad.yaml
        run yb matrix --objects bad.yaml --port 8080 --protocol TCP
        expect_eq "YAML, bad operator: exit 2" "$RC" 2
        expect_eq "YAML, bad operator: message names file, document, line, object, field" "$(cat yb.err)" \
                'error: bad.yaml (document 8, line 42): NetworkPolicy x/web: spec.ingress[0].from[0].podSelector.matchExpressions[0].operator: unknown operator "In " (In, NotIn, Exists, DoesNotExist)'
        printf 'kind: List\nitems:\n- &p {kind: Pod, metadata: {name: a}}\n- *p\n' >alias.yaml
        run ya matrix --objects alias.yaml --port 80 --protocol TCP
        expect_eq "YAML alias: exit 2" "$RC" 2
        expect_eq "YAML alias: message" "$(cat ya.err)" \
                "error: alias.yaml: not YAML: line 4 column 3: aliases (*p) are not supported"
        # JSON and YAML files together.
        printf 'kind: Namespace\nmetadata: {name: z}\n' >z.yaml
        run yz.json matrix "${OBJ[@]}" --objects z.yaml --port 8080 --protocol TCP --format json
        expect_eq "JSON and YAML files together" "$(jq -c . yz.json)" "$(jq -c . m.json)"
fi

# The top-level help names the command.
"$NETCANARY" --help >help.txt 2>&1
expect_grep "netcanary --help mentions policy" help.txt "netcanary policy matrix|explain"

if ((FAILED)); then
        echo "FAILED"
        exit 1
fi
echo "all passed"

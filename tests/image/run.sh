#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2016 # predicates are called through wait_for; awk/jq programs in single quotes
# tests/image: the container image as Kubernetes would run it (meson suite
# "image"; needs root, skips with 77 otherwise).
#
# 1. deploy/image.sh builds localhost/netcanary:<version of meson.build> (or
#    keeps the one built from the same root filesystem); its size, user,
#    entrypoint, command and ports are checked, and every workload of the
#    manifests must name exactly that image.
# 2. Every kustomize render (base, overlays/per-tenant, overlays/small-footprint)
#    is turned into what the control plane hands the kubelet: a kind: Pod
#    whose spec is the workload's pod template (deploy/podman/kube2pod.py:
#    downward-API env values filled in; podman 4.3 needs the informational
#    containerPorts left out, see there; the test proves nothing else
#    differs) plus its ConfigMap,
#    whose config.json is swapped for a LOCAL matrix (the pod's own responder
#    over TCP/UDP, IPv4/IPv6, its own /healthz over HTTP, an HTTPS server of
#    the test verified with a CA the ConfigMap carries, a closed loopback
#    port expected denied; one row for its namespace only, one for another
#    identity). Each pod runs with `podman kube play` in a network namespace
#    the test owns (loopback only), one after the other.
# 3. For every pod: uid/gid from the manifest, no capabilities, NoNewPrivs,
#    seccomp, a read-only root (and config mount), env from the downward API;
#    /healthz and /readyz answer 200 on the manifest's probe paths and ports;
#    every row met, the identity being the namespace; a real Prometheus
#    (Debian's, 127.0.0.1:21100 in the namespace, own storage) scrapes it:
#    up == 1 and netcanary_expectation_met == 1 for every row; a ConfigMap
#    edit made the kubelet's way (see below) reloads it without a restart;
#    memory and CPU limits are the manifest's, and memory stays under the
#    limit; podman stop -t <terminationGracePeriodSeconds> (SIGTERM) ends it
#    with exit 0 within the grace period.
#
# The ConfigMap volume: podman 4.3 makes a configMap volume a named volume
# (named after the ConfigMap) holding each key as a plain file, written at
# every `kube play` (an existing volume is reused and its files rewritten).
# The kubelet instead writes ..<timestamp>/KEY, a symlink ..data to that
# directory and KEY -> ..data/KEY, and applies an edit by writing a new
# timestamp directory and renaming a new symlink over ..data: one atomic
# switch, which is what netcanary watches for. So the test creates that volume
# itself, in the kubelet's layout, before `kube play` (which then writes the
# ConfigMap's data through the links), and edits it as the kubelet does. The
# pod template keeps its configMap volume.
#
# The network: podman 4.3 refuses --network ns:PATH for pods, and ip netns exec
# remounts /sys (podman then finds no cgroups), so podman runs under
# `nsenter --net` with --network host: the pod shares the test's namespace,
# where only loopback exists. Ports: the daemon's come from the manifest
# (9890/9891, inside the namespace); the test's own are 21100-21199.
#
# Everything created (pods, containers, the volume, the namespace, Prometheus,
# the HTTPS server, the pause image if it was not there) is removed on exit,
# failed or not. The built image stays (deploy/image.sh's product, reused).
set -uo pipefail
export LC_ALL=C
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=${SOURCE_ROOT:-$(cd "$HERE/../.." && pwd)}
PY=/usr/bin/python3
KUBE2POD=$ROOT/deploy/podman/kube2pod.py
export CONTAINERS_CONF=$ROOT/deploy/podman/containers.conf
PROM_PORT=21100
CLOSED_PORT=21101
TLS_PORT=21102
# The image's size budget: 20 MiB (deploy/README.md, "Image": 19.9 MB now).
# Other budgets come from the manifest (readiness, grace period, limits).
IMAGE_MAX_BYTES=${IMAGE_MAX_BYTES:-20971520}

FAILS=0
T0=$(date +%s%N)
log() { printf '[%6.1fs] %s\n' "$((($(date +%s%N) - T0) / 1000000))e-3" "$*" >&2; }
pass() { log "ok:   $*"; }
fail() { log "FAIL: $*"; FAILS=$((FAILS + 1)); }
fatal() { log "FATAL: $*"; FAILS=$((FAILS + 1)); exit 1; }
skip() { log "SKIP: $*"; exit 77; }
check() { # DESCRIPTION CMD...
        local d=$1
        shift
        if "$@"; then pass "$d"; else fail "$d"; fi
}
expect_eq() { # DESCRIPTION ACTUAL WANTED
        if [[ $2 == "$3" ]]; then pass "$1 ($2)"; else fail "$1: got '$2', want '$3'"; fi
}
# wait_for SECONDS CMD...: polls every 200 ms until CMD succeeds or time is up.
wait_for() {
        local deadline=$(($(date +%s) + $1))
        shift
        while :; do
                "$@" && return 0
                (($(date +%s) >= deadline)) && return 1
                sleep 0.2
        done
}


[[ $EUID == 0 ]] || skip "needs root (podman's system store, network namespaces)"
for t in podman buildah kubectl prometheus curl jq ip nsenter flock meson ninja; do
        command -v "$t" >/dev/null 2>&1 || fatal "required tool '$t' not found (./dev.sh test installs it)"
done
if ! [[ -x $PY ]] || ! $PY -c 'import yaml' 2>/dev/null; then fatal "$PY with yaml (python3-yaml) not found"; fi
[[ -f $CONTAINERS_CONF ]] || fatal "$CONTAINERS_CONF missing"

# One run at a time on this machine: the ConfigMap volume's name is fixed.
exec 9>/run/lock/netcanary-image-test.lock
flock -w 150 9 || fatal "another tests/image run holds /run/lock/netcanary-image-test.lock"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/netcanary-image-test.XXXXXX") || fatal "mktemp"
NS=ncimage$$
NS_CREATED=0
PROM_PID=
TLS_PID=
PODS=()         # pod names we played
VOLUMES=()      # volumes we created
PAUSE_BEFORE=$(podman image ls -q --filter reference=localhost/podman-pause 2>/dev/null)

in_ns() { nsenter --net="/run/netns/$NS" "$@"; }
ncurl() { in_ns curl -sS --max-time 3 --noproxy '*' "$@"; }

cleanup() {
        local rc=$? p v
        trap - EXIT INT TERM
        for p in "${PODS[@]}"; do
                if podman pod exists "$p" 2>/dev/null; then
                        if ((rc != 0 && rc != 77)); then
                                log "----- logs of pod $p -----"
                                podman pod logs --tail 30 "$p" >&2 2>&1 || true
                        fi
                        podman pod rm -f -t 0 "$p" >/dev/null 2>&1 || log "could not remove pod $p"
                fi
        done
        for v in "${VOLUMES[@]}"; do podman volume rm -f "$v" >/dev/null 2>&1; done
        for p in $PROM_PID $TLS_PID; do
                kill -TERM "$p" 2>/dev/null
                for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
                kill -KILL "$p" 2>/dev/null
                wait "$p" 2>/dev/null
        done
        if ((NS_CREATED)); then
                ip netns pids "$NS" 2>/dev/null | while read -r p; do kill -KILL "$p" 2>/dev/null; done
                ip netns del "$NS" 2>/dev/null
        fi
        if [[ -z $PAUSE_BEFORE ]]; then
                podman image rm localhost/podman-pause:"$(podman version --format '{{.Client.Version}}')-0" >/dev/null 2>&1 ||
                        podman image ls -q --filter reference=localhost/podman-pause | xargs -r podman image rm >/dev/null 2>&1
        fi
        if ((rc != 0 && rc != 77)) && [[ -f $TMP/prometheus.log ]]; then
                log "----- last lines of prometheus.log -----"
                tail -n 15 "$TMP/prometheus.log" >&2
        fi
        rm -rf "$TMP"
        exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

VERSION=$(sed -n "s/^[[:space:]]*version:[[:space:]]*'\([^']*\)'.*/\1/p" "$ROOT/meson.build" | head -n1)
IMAGE=localhost/netcanary:$VERSION
log "netcanary $VERSION; $(podman --version); $(prometheus --version 2>&1 | head -n1)"

# ------------------------------------------------------------------ image
t=$(date +%s)
if "$ROOT/deploy/image.sh" >"$TMP/image.log" 2>&1; then
        pass "deploy/image.sh: $(tail -n1 "$TMP/image.log") in $(($(date +%s) - t)) s"
else
        cat "$TMP/image.log" >&2
        fatal "deploy/image.sh failed"
fi
IMAGE_ID=$(podman image inspect --format '{{.Id}}' "$IMAGE") || fatal "no image $IMAGE after deploy/image.sh"
SIZE=$(podman image inspect --format '{{.Size}}' "$IMAGE")
if ((SIZE > 0 && SIZE <= IMAGE_MAX_BYTES)); then pass "image size $SIZE bytes <= $IMAGE_MAX_BYTES"; else fail "image size $SIZE bytes > $IMAGE_MAX_BYTES"; fi
CFG_JSON=$(podman image inspect --format '{{json .Config}}' "$IMAGE")
expect_eq "image user" "$(jq -r .User <<<"$CFG_JSON")" 65532:65532
expect_eq "image entrypoint" "$(jq -c .Entrypoint <<<"$CFG_JSON")" '["/usr/bin/netcanary"]'
expect_eq "image command" "$(jq -c .Cmd <<<"$CFG_JSON")" '["run","--config","/etc/netcanary/config.json"]'
expect_eq "image ports" "$(jq -c '.ExposedPorts | keys' <<<"$CFG_JSON")" '["9890/tcp","9891/tcp","9891/udp"]'
expect_eq "image version label" "$(jq -r '.Labels["org.opencontainers.image.version"]' <<<"$CFG_JSON")" "$VERSION"
# No shell, no package manager; exactly the libraries the binary loads.
if files=$(podman image mount "$IMAGE" 2>/dev/null) && [[ -d $files ]]; then
        expect_eq "no shell in the image" "$(find "$files" -name sh -o -name bash -o -name busybox | wc -l)" 0
        want=$(ldd "$files/usr/bin/netcanary" | awk '$2 == "=>" {print $1} $1 ~ /^\// {n = split($1, p, "/"); print p[n]}' | sort)
        have=$(find "$files/usr/lib/x86_64-linux-gnu" -name '*.so*' -printf '%f\n' | sort)
        expect_eq "the image's libraries are the binary's ldd closure" "$(tr '\n' ' ' <<<"$have")" "$(tr '\n' ' ' <<<"$want")"
        podman image unmount "$IMAGE" >/dev/null 2>&1
else
        fail "podman image mount $IMAGE"
fi
out=$(podman run --rm --network none "$IMAGE" --version 2>&1)
check "the image runs: $out" grep -q "^netcanary $VERSION " <<<"$out"

# ------------------------------------------------------------------ renders
RENDER_DIRS=(base overlays/per-tenant overlays/small-footprint)
WORKLOADS=()    # "OVERLAY KIND NAMESPACE NAME"
for d in "${RENDER_DIRS[@]}"; do
        f=$TMP/render-${d//\//_}.yaml
        if ! kubectl kustomize "$ROOT/deploy/kustomize/$d" >"$f" 2>"$TMP/kustomize.err"; then
                fail "kubectl kustomize $d: $(cat "$TMP/kustomize.err")"
                continue
        fi
        n=0
        while read -r kind ns name; do
                WORKLOADS+=("$d $kind $ns $name")
                n=$((n + 1))
        done < <($PY "$KUBE2POD" workloads "$f")
        check "render $d: $n workload(s)" test "$n" -ge 1
done
expect_eq "workloads across the renders" "${#WORKLOADS[@]}" 5

# ------------------------------------------------------------------ namespace, Prometheus
ip netns add "$NS" || fatal "ip netns add $NS"
NS_CREATED=1
ip -n "$NS" link set lo up || fatal "lo up in $NS"
IPV6=1
ip -n "$NS" -6 addr show dev lo | grep -q '::1/128' || { IPV6=0; log "note: no ::1 in the namespace: IPv6 rows left out"; }
busy=$(in_ns ss -Hltun | awk '{print $5}' | grep -E ":($PROM_PORT|$CLOSED_PORT|$TLS_PORT|9890|9891)\$")
[[ -z $busy ]] || fatal "ports busy in a fresh namespace: $busy"

mkdir -p "$TMP/tsdb"
echo '[]' >"$TMP/targets.json"
cat >"$TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: netcanary
    file_sd_configs:
      - files: ['$TMP/targets.json']
        refresh_interval: 1s
EOF
in_ns prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/tsdb" \
        --storage.tsdb.retention.time=1h --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn \
        >"$TMP/prometheus.log" 2>&1 &
PROM_PID=$!
PROM=http://127.0.0.1:$PROM_PORT
prom_ready() { [[ $(ncurl -o /dev/null -w '%{http_code}' "$PROM/-/ready" 2>/dev/null) == 200 ]]; }
wait_for 30 prom_ready || fatal "Prometheus did not become ready on $PROM in the namespace"
pass "Prometheus ready on $PROM (namespace $NS)"
# An HTTPS server for a TLS row: the image's GnuTLS, its certificate checks
# and whatever the TLS stack loads at run time must work inside the image.
mkdir -p "$TMP/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=netcanary-image-test \
        -addext subjectAltName=IP:127.0.0.1 -keyout "$TMP/tls/key.pem" -out "$TMP/tls/cert.pem" >/dev/null 2>&1 ||
        fatal "openssl req"
in_ns openssl s_server -accept "127.0.0.1:$TLS_PORT" -cert "$TMP/tls/cert.pem" -key "$TMP/tls/key.pem" -www -quiet \
        </dev/null >"$TMP/s_server.log" 2>&1 &
TLS_PID=$!
tls_up() { ncurl -o /dev/null --cacert "$TMP/tls/cert.pem" "https://127.0.0.1:$TLS_PORT/" 2>/dev/null; }
wait_for 10 tls_up || fatal "openssl s_server did not answer on 127.0.0.1:$TLS_PORT in the namespace"
pass "HTTPS server on 127.0.0.1:$TLS_PORT (namespace $NS)"

# promql QUERY -> the result vector as JSON
promql() { ncurl -G --data-urlencode "query=$1" "$PROM/api/v1/query" | jq -c '.data.result'; }

# ------------------------------------------------------------------ one pod
FIGURES=()
run_workload() { # OVERLAY KIND NAMESPACE NAME
        local overlay=$1 kind=$2 ns=$3 name=$4
        local render=$TMP/render-${overlay//\//_}.yaml
        local pod="$name-$ns-imagetest" dir="$TMP/$ns-$kind" where="[$overlay $kind $ns/$name]"
        log "===== $where as pod $pod"
        $PY "$KUBE2POD" pod "$render" "$kind" "$ns" "$name" "$pod" image-test-node "$dir" ||
                { fail "$where: kube2pod.py"; return; }
        local facts
        facts=$(cat "$dir/facts.json")
        fact() { jq -r "$1" <<<"$facts"; }

        expect_eq "$where image is netcanary:<meson.build version>" "$(fact .image)" "netcanary:$VERSION"
        # Nothing but the env values and the containerPorts differs from the template.
        local norm='del(.containers[].ports) | .containers[].env |= map(del(.value, .valueFrom))'
        check "$where the Pod's spec is the template's (but for env values and containerPorts)" \
                test "$(jq -S -c "$norm" "$dir/template-spec.json")" == "$(jq -S -c "$norm" "$dir/pod-spec.json")"
        expect_eq "$where env POD_NAMESPACE filled in" "$(fact .env.POD_NAMESPACE)" "$ns"
        expect_eq "$where env NODE_NAME filled in" "$(fact .env.NODE_NAME)" image-test-node

        # The local matrix. The agent section (listen address, responder) is
        # the shipped config's own, so the ports must agree with the manifest's.
        local http_port resp_tcp resp_udp live_path ready_path ready_port
        http_port=$(fact .liveness.port)
        live_path=$(fact .liveness.path)
        ready_port=$(fact .readiness.port)
        ready_path=$(fact .readiness.path)
        resp_tcp=$(fact '.ports["responder-tcp"].port')
        resp_udp=$(fact '.ports["responder-udp"].port')
        [[ $resp_tcp =~ ^[0-9]+$ && $resp_udp =~ ^[0-9]+$ && $http_port =~ ^[0-9]+$ ]] ||
                { fail "$where the manifest names no responder-tcp/responder-udp/probe ports"; return; }
        local v6=""
        if ((IPV6)); then
                v6=', "self-tcp6": { "tcp": { "host": "::1", "port": '$resp_tcp' } }, "self-udp6": { "udp": { "host": "::1", "port": '$resp_udp' } }'
        fi
        jq --arg ns "$ns" --argjson v6 "{${v6#, }}" --arg ca "$(fact .configMountPath)/ca.pem" '{
                agent: .agent,
                defaults: { interval: "1s", timeout: "500ms", confirm: 1 },
                targets: ({
                        "self-tcp4": { tcp: { host: "127.0.0.1", port: '"$resp_tcp"' } },
                        "self-udp4": { udp: { host: "127.0.0.1", port: '"$resp_udp"' } },
                        "self-healthz": { http: { url: "http://127.0.0.1:'"$http_port$live_path"'", status: [200] } },
                        "self-readyz": { http: { url: "http://127.0.0.1:'"$ready_port$ready_path"'" } },
                        "self-tls": { http: { url: "https://127.0.0.1:'"$TLS_PORT"'/", status: [200], tls: { ca_file: $ca } } },
                        "closed": { tcp: { host: "127.0.0.1", port: '"$CLOSED_PORT"' } }
                } + $v6),
                matrix: ([
                        { from: "*", to: "self-tcp4", expect: "allow" },
                        { from: "*", to: "self-udp4", expect: "allow" },
                        { from: $ns, to: "self-healthz", expect: "allow" },
                        { from: "*", to: "self-tls", expect: "allow" },
                        { from: "*", to: "closed", expect: "deny" },
                        { from: ("not-" + $ns), to: "self-tcp4", expect: "deny" }
                ] + ($v6 | keys | map({ from: "*", to: ., expect: "allow" })))
        }' "$dir/shipped-config.json" >"$dir/local.json" || { fail "$where local matrix"; return; }
        local nrows
        nrows=$(jq '[.matrix[] | select(.from != "not-'"$ns"'")] | length' "$dir/local.json")
        # After the edit: one row more (readiness endpoint over HTTP).
        jq '.matrix += [{ from: "*", to: "self-readyz", expect: "allow" }]' "$dir/local.json" >"$dir/local2.json"
        if ! "$NETCANARY_CHECK" check --config "$dir/local.json" >"$dir/check.out" 2>&1; then
                fail "$where netcanary check refuses the local matrix: $(cat "$dir/check.out")"
                return
        fi

        # The ConfigMap as rendered, its config.json replaced; then the Pod.
        {
                jq --rawfile c "$dir/local.json" --arg k "$(fact .configKey)" --rawfile ca "$TMP/tls/cert.pem" \
                        '.data[$k] = $c | .data["ca.pem"] = $ca' "$dir/configmap.json"
                echo '---'
                cat "$dir/pod.json"
        } >"$dir/kube.yaml"

        # The ConfigMap volume in the kubelet's layout (see the top of this file).
        local vol cm_key vdir
        vol=$(fact .configMap)
        cm_key=$(fact .configKey)
        if podman volume exists "$vol"; then
                if [[ $(podman volume inspect --format '{{index .Labels "io.netcanary.test"}}' "$vol") == image ]]; then
                        podman volume rm -f "$vol" >/dev/null
                else
                        fail "$where a podman volume '$vol' exists that this test did not create: not touching it"
                        return
                fi
        fi
        podman volume create --label io.netcanary.test=image "$vol" >/dev/null || { fail "$where podman volume create"; return; }
        VOLUMES+=("$vol")
        vdir=$(podman volume inspect --format '{{.Mountpoint}}' "$vol")
        local ts1=..2026_01_01_00_00_00.000000001 ts2=..2026_01_01_00_00_01.000000002
        if ! { mkdir "$vdir/$ts1" && cp "$dir/local.json" "$vdir/$ts1/$cm_key" && cp "$TMP/tls/cert.pem" "$vdir/$ts1/ca.pem" &&
                chmod 644 "$vdir/$ts1/$cm_key" "$vdir/$ts1/ca.pem" &&
                ln -s "$ts1" "$vdir/..data" && ln -s "..data/$cm_key" "$vdir/$cm_key" && ln -s ..data/ca.pem "$vdir/ca.pem"; }; then
                fail "$where kubelet layout in the volume"
                return
        fi

        # Play it. Not in a directory holding a folder named like the image
        # (kube play would try to build it): $dir holds none; --build=false too.
        PODS+=("$pod")
        local t_play
        if ! (cd "$dir" && in_ns podman kube play --build=false --network host kube.yaml) >"$dir/play.log" 2>&1; then
                fail "$where podman kube play: $(grep -v healthcheck "$dir/play.log" | tail -n 5)"
                return
        fi
        t_play=$(date +%s%N) # the container runs (kube play returns once it started)
        local ctr pid
        ctr="$pod-$(fact .container)"
        pid=$(podman inspect --format '{{.State.Pid}}' "$ctr" 2>/dev/null)
        [[ $pid =~ ^[1-9][0-9]*$ ]] || { fail "$where container $ctr is not running"; return; }
        expect_eq "$where container runs the image just built" "$(podman inspect --format '{{.Image}}' "$ctr")" "$IMAGE_ID"
        check "$where the kubelet layout survived kube play" test -L "$vdir/..data" -a -L "$vdir/$cm_key"
        check "$where the container reads the ConfigMap's data" cmp -s "$dir/local.json" "/proc/$pid/root$(fact .configMountPath)/$cm_key"
        jq -n --arg t "127.0.0.1:$http_port" --arg ns "$ns" --arg pod "$pod" --arg node image-test-node \
                '[{ targets: [$t], labels: { namespace: $ns, pod: $pod, node: $node } }]' >"$TMP/targets.json.tmp" &&
                mv "$TMP/targets.json.tmp" "$TMP/targets.json"

        # ---- the process: who, what, which privileges
        local st
        st=$(cat "/proc/$pid/status")
        expect_eq "$where process" "$(tr '\0' ' ' <"/proc/$pid/cmdline")" "/usr/bin/netcanary $(fact '.args | join(" ")') "
        expect_eq "$where uid (manifest runAsUser)" "$(awk '/^Uid:/ {print $2 "," $3 "," $4 "," $5}' <<<"$st")" \
                "$(fact .runAsUser),$(fact .runAsUser),$(fact .runAsUser),$(fact .runAsUser)"
        expect_eq "$where gid (manifest runAsGroup)" "$(awk '/^Gid:/ {print $2 "," $3}' <<<"$st")" "$(fact .runAsGroup),$(fact .runAsGroup)"
        # Runtimes list the primary group among the supplementary ones; no other (no root group).
        expect_eq "$where no supplementary group but runAsGroup" \
                "$(awk '/^Groups:/ {for (i = 2; i <= NF; i++) if ($i != '"$(fact .runAsGroup)"') printf "%s ", $i}' <<<"$st")" ""
        local cap
        for cap in CapInh CapPrm CapEff CapBnd CapAmb; do
                expect_eq "$where $cap" "$(awk -v k="$cap:" '$1 == k {print $2}' <<<"$st")" 0000000000000000
        done
        expect_eq "$where NoNewPrivs" "$(awk '/^NoNewPrivs:/ {print $2}' <<<"$st")" 1
        expect_eq "$where seccomp filter (RuntimeDefault)" "$(awk '/^Seccomp:/ {print $2}' <<<"$st")" 2
        local envs
        envs=$(tr '\0' '\n' <"/proc/$pid/environ")
        check "$where env POD_NAMESPACE=$ns in the process" grep -qx "POD_NAMESPACE=$ns" <<<"$envs"
        check "$where env NODE_NAME in the process" grep -qx "NODE_NAME=image-test-node" <<<"$envs"
        # A write to / fails: through the container's own root (its mount, its flags).
        local err
        err=$(touch "/proc/$pid/root/.image-test-write" 2>&1)
        check "$where root filesystem is read-only (write to / fails: ${err##*: })" grep -q 'Read-only file system' <<<"$err"
        err=$(touch "/proc/$pid/root$(fact .configMountPath)/.image-test-write" 2>&1)
        check "$where config mount is read-only" grep -q 'Read-only file system' <<<"$err"
        check "$where / is mounted ro in the container" awk '$5 == "/" { split($6, o, ","); for (i in o) if (o[i] == "ro") f = 1 } END { exit !f }' "/proc/$pid/mountinfo"
        rm -f "$vdir/.image-test-write" 2>/dev/null

        # ---- the kubelet's probes, from the manifest
        local live_url="http://127.0.0.1:$http_port$live_path" ready_url="http://127.0.0.1:$ready_port$ready_path"
        code_is() { [[ $(ncurl -o /dev/null -w '%{http_code}' "$1" 2>/dev/null) == "$2" ]]; }
        check "$where liveness GET $live_path :$http_port answers 200" wait_for 10 code_is "$live_url" 200
        # Ready within the readiness probe's failureThreshold x periodSeconds of the start
        # (what the kubelet would wait before reporting the pod unready).
        local ready_budget=$(($(fact .readiness.failureThreshold) * $(fact .readiness.period)))
        if wait_for "$ready_budget" code_is "$ready_url" 200; then
                pass "$where readiness GET $ready_path :$ready_port answers 200 $((($(date +%s%N) - t_play) / 1000000)) ms after the start (budget ${ready_budget} s)"
        else
                fail "$where readiness GET $ready_path :$ready_port not 200 within ${ready_budget} s"
        fi

        # ---- the matrix, from the daemon
        local api="http://127.0.0.1:$http_port/api/v1/matrix"
        all_met() { ncurl "$api" | jq -e --argjson n "$1" '(.rows | length) == $n and ([.rows[].met] | all)' >/dev/null 2>&1; }
        if wait_for 10 all_met "$nrows"; then pass "$where all $nrows rows met"; else
                fail "$where rows not all met: $(ncurl "$api" | jq -c '[.rows[] | {to, met, verdict}]')"
        fi
        expect_eq "$where identity = namespace (POD_NAMESPACE)" "$(ncurl "$api" | jq -r .identity)" "$ns"
        expect_eq "$where the other identity's row is not run" "$(ncurl "$api" | jq -r '[.rows[] | select(.from == "not-'"$ns"'")] | length')" 0

        # ---- Prometheus
        local sel="{job=\"netcanary\",namespace=\"$ns\",pod=\"$pod\"}"
        prom_up() { [[ $(promql "up$sel" | jq -r '.[0].value[1]') == 1 ]]; }
        prom_met() { # N: N series with value 1, from = the namespace
                [[ $(promql "count(netcanary_expectation_met$sel == 1)" | jq -r '.[0].value[1]') == "$1" &&
                        $(promql "count(netcanary_expectation_met$sel)" | jq -r '.[0].value[1]') == "$1" ]]
        }
        check "$where Prometheus: up == 1" wait_for 15 prom_up
        if wait_for 15 prom_met "$nrows"; then
                pass "$where Prometheus: netcanary_expectation_met == 1 for all $nrows rows"
        else
                fail "$where Prometheus: netcanary_expectation_met $(promql "netcanary_expectation_met$sel" | jq -c 'map({to: .metric.to, v: .value[1]})')"
        fi
        expect_eq "$where Prometheus: from label = namespace" \
                "$(promql "netcanary_expectation_met$sel" | jq -r '[.[].metric.from] | unique | join(",")')" "$ns"

        # ---- a ConfigMap edit, the kubelet's way: new dir, new link renamed over ..data
        local restarts0
        restarts0=$(podman inspect --format '{{.RestartCount}}' "$ctr")
        if ! { mkdir "$vdir/$ts2" && cp "$dir/local2.json" "$vdir/$ts2/$cm_key" && cp "$TMP/tls/cert.pem" "$vdir/$ts2/ca.pem" &&
                chmod 644 "$vdir/$ts2/$cm_key" "$vdir/$ts2/ca.pem" &&
                ln -s "$ts2" "$vdir/..data_tmp" && mv -T "$vdir/..data_tmp" "$vdir/..data" && rm -rf "${vdir:?}/$ts1"; }; then
                fail "$where ConfigMap swap"
        fi
        local n2=$((nrows + 1))
        if wait_for 10 all_met "$n2"; then pass "$where edited ConfigMap reloaded: $n2 rows, all met"; else
                fail "$where after the edit: $(ncurl "$api" | jq -c '[.rows[] | {to, met, verdict}]')"
        fi
        expect_eq "$where same process after the reload" "$(podman inspect --format '{{.State.Pid}}' "$ctr")" "$pid"
        expect_eq "$where no restart" "$(podman inspect --format '{{.RestartCount}}' "$ctr")" "$restarts0"
        reload_ok() { [[ $(promql "netcanary_config_last_reload_successful$sel" | jq -r '.[0].value[1]') == 1 ]]; }
        new_row() { [[ $(promql "netcanary_expectation_met{to=\"self-readyz\",namespace=\"$ns\",pod=\"$pod\"}" | jq -r '.[0].value[1]') == 1 ]]; }
        check "$where Prometheus: netcanary_config_last_reload_successful 1" wait_for 10 reload_ok
        check "$where Prometheus: the new row (self-readyz) is met" wait_for 10 new_row
        check "$where reload logged" grep -q 'config reloaded' <(podman logs "$ctr" 2>&1)

        # ---- resources: the manifest's limits, memory under the limit
        local cgm cgc lim use rss hwm
        cgm=$(awk -F: '$2 == "memory" {print $3}' "/proc/$pid/cgroup")
        cgc=$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ {print $3}' "/proc/$pid/cgroup")
        if [[ -n $cgm && -f /sys/fs/cgroup/memory$cgm/memory.limit_in_bytes ]]; then # cgroup v1
                lim=$(cat "/sys/fs/cgroup/memory$cgm/memory.limit_in_bytes")
                use=$(cat "/sys/fs/cgroup/memory$cgm/memory.max_usage_in_bytes")
                expect_eq "$where cpu quota (manifest limit $(fact .cpuLimitMillicores)m)" \
                        "$(($(cat "/sys/fs/cgroup/cpu$cgc/cpu.cfs_quota_us") * 1000 / $(cat "/sys/fs/cgroup/cpu$cgc/cpu.cfs_period_us")))" "$(fact .cpuLimitMillicores)"
        else # cgroup v2
                cgm=$(awk -F: '$1 == "0" {print $3}' "/proc/$pid/cgroup")
                lim=$(cat "/sys/fs/cgroup$cgm/memory.max")
                use=$(cat "/sys/fs/cgroup$cgm/memory.peak" 2>/dev/null || cat "/sys/fs/cgroup$cgm/memory.current")
        fi
        expect_eq "$where memory limit of the container's cgroup (manifest)" "$lim" "$(fact .memoryLimitBytes)"
        rss=$(awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$pid/status")
        hwm=$(awk '/^VmHWM:/ {print $2 * 1024}' "/proc/$pid/status")
        if ((use > 0 && use < lim && hwm < lim)); then
                pass "$where memory: cgroup peak $((use / 1024)) KiB, RSS $((rss / 1024)) KiB (peak $((hwm / 1024)) KiB) < limit $((lim / 1048576)) MiB"
        else
                fail "$where memory: cgroup peak $use, RSS peak $hwm, limit $lim"
        fi
        FIGURES+=("$where cgroup peak $((use / 1024)) KiB, RSS $((rss / 1024)) KiB, RSS peak $((hwm / 1024)) KiB, limit $((lim / 1048576)) MiB")

        # ---- SIGTERM: podman stop with the grace period, like the kubelet
        local grace t_stop ms code
        grace=$(fact .terminationGracePeriodSeconds)
        t_stop=$(date +%s%N)
        podman stop -t "$grace" "$ctr" >/dev/null 2>&1
        ms=$((($(date +%s%N) - t_stop) / 1000000))
        code=$(podman inspect --format '{{.State.ExitCode}}' "$ctr")
        expect_eq "$where exit status after SIGTERM" "$code" 0
        if ((ms < grace * 1000)); then pass "$where stopped in $ms ms (grace ${grace} s)"; else fail "$where stop took $ms ms (grace ${grace} s)"; fi
        FIGURES+=("$where stop $ms ms")
        check "$where podman kube down" bash -c "cd '$dir' && podman kube down kube.yaml >/dev/null 2>&1"
        check "$where pod gone" bash -c "! podman pod exists '$pod'"
        podman volume rm -f "$vol" >/dev/null 2>&1
}

# netcanary check of the local matrix runs the test build's binary when meson
# gives one, else the image's (same code).
NETCANARY_CHECK=${NETCANARY:-$ROOT/build-image/src/netcanary}
for w in "${WORKLOADS[@]}"; do
        # shellcheck disable=SC2086 # four words
        run_workload $w
done

for x in "${FIGURES[@]}"; do log "figure: $x"; done
log "image $IMAGE: $SIZE bytes; $((($(date +%s%N) - T0) / 1000000000)) s in all"
if ((FAILS > 0)); then
        log "$FAILS check(s) FAILED"
        exit 1
fi
log "all checks passed"
exit 0

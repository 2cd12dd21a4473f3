#!/usr/bin/env bash
# The community's certificate-expiry alerts work on netcanary's /probe as on
# blackbox_exporter's: a real Prometheus (started here on 127.0.0.1 with its
# own storage) scrapes /probe the way blackbox scrape configs do
# (`params: {module: [http_2xx]}`, the target from __address__ by relabeling)
# for two local TLS servers whose certificates openssl makes here: one
# expiring in 2 days, one in 30. Rules evaluated by that Prometheus:
#   probe_ssl_earliest_cert_expiry - time() < 86400 * 7      (the classic form,
#     threshold 7 days)                                      -> fires for 2d only
#   awesome-prometheus-alerts' BlackboxSslCertificateWillExpireVerySoon
#     0 <= round((last_over_time(probe_ssl_earliest_cert_expiry[10m]) - time()) / 86400, 0.1) < 3
#                                                            -> fires for 2d only
#   ... WillExpireSoon (3 <= ... < 20)                       -> fires for neither
#   BlackboxProbeFailed (probe_success == 0)                 -> fires for neither
# and the instant query of the expression agrees. Ports 21210-21219
# (HTTP_PORT_BASE 21200, slot 1). Needs prometheus, promtool, openssl.
# shellcheck disable=SC2154 # PID_<name> is set by nc_start (printf -v)
HTTP_PORT_BASE=${HTTP_PORT_BASE:-21200}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
http_init 1
command -v prometheus >/dev/null 2>&1 || fatal "prometheus not installed"
command -v promtool >/dev/null 2>&1 || fatal "promtool not installed (prometheus)"
command -v openssl >/dev/null 2>&1 || fatal "openssl not installed"

H2=$(port 0) S2=$(port 1) H30=$(port 2) S30=$(port 3) LISTEN=$(port 4) PROM=$(port 5)
D=$NC_TMP

# ---- certificates: a CA (60 days) and two server certificates it signs
{
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$D/ca.key" \
                -out "$D/ca.pem" -days 60 -subj "/CN=netcanary alert test CA" \
                -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" &&
                printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
                        "extendedKeyUsage=serverAuth" >"$D/server.ext" &&
                for days in 2 30; do
                        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$D/s$days.key" \
                                -out "$D/s$days.csr" -subj "/CN=localhost" &&
                                openssl x509 -req -in "$D/s$days.csr" -CA "$D/ca.pem" -CAkey "$D/ca.key" \
                                        -CAcreateserial -out "$D/s$days.pem" -days "$days" -extfile "$D/server.ext" ||
                                exit 1
                done
} >"$D/openssl.log" 2>&1 || fatal "openssl failed: $(tail -5 "$D/openssl.log")"
CA=$D/ca.pem
notafter() { date -d "$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)" +%s; }
END2=$(notafter "$D/s2.pem")
END30=$(notafter "$D/s30.pem")
log "certificates: 2 days (NotAfter $END2), 30 days (NotAfter $END30), CA 60 days"

# start_tls NAME HTTP-PORT HTTPS-PORT CERT KEY: server.py with that certificate.
start_tls() {
        local name=$1 ready=$D/$1.ready
        "$PY" "$HTTP_DIR/server.py" --addr 127.0.0.1 --http-port "$2" --https-port "$3" --cert "$4" --key "$5" \
                --lifetime 170 --ready "$ready" >"$D/$name.log" 2>&1 &
        local pid=$!
        NC_HELPERS+=("$pid")
        wait_for 10 "$name on 127.0.0.1:$3" _helper_ready "$ready" "$pid" || fatal "$name did not start"
        [[ -e $ready ]] || fatal "$name died: $(cat "$D/$name.log")"
}
start_tls srv2 "$H2" "$S2" "$D/s2.pem" "$D/s2.key"
start_tls srv30 "$H30" "$S30" "$D/s30.pem" "$D/s30.key"

# ---- netcanary: the two targets (the matrix probes them too, rarely)
TARGETS=$(jq -n --arg ca "$CA" --arg s2 "https://127.0.0.1:$S2/ok" --arg s30 "https://127.0.0.1:$S30/ok" '{
  "cert-2d":  { "http": { "url": $s2,  "tls": { "ca_file": $ca } } },
  "cert-30d": { "http": { "url": $s30, "tls": { "ca_file": $ca } } }
}')
ROWS='[ { "from": "*", "to": "cert-2d", "expect": "allow" }, { "from": "*", "to": "cert-30d", "expect": "allow" } ]'
CFG=$D/nc.json
INTERVAL=60s write_config "$CFG" "$LISTEN" 2s "$TARGETS" "$ROWS"
nc_start d "$CFG"
wait_healthy "$LISTEN" "$PID_d"

# The answer Prometheus will scrape, checked first by hand.
for t in cert-2d:$END2 cert-30d:$END30; do
        P=$D/probe-${t%%:*}.txt
        code=$("${NC_CURL[@]}" -o "$P" -w '%{http_code}' "$(url "$LISTEN" "/probe?module=http_2xx&target=${t%%:*}")")
        expect_eq "/probe?module=http_2xx&target=${t%%:*}: HTTP status" "$code" 200
        expect_eq "${t%%:*}: probe_success" "$(pv "$P" probe_success)" 1
        expect_eq "${t%%:*}: probe_ssl_earliest_cert_expiry == the certificate's NotAfter" \
                "$(pv "$P" probe_ssl_earliest_cert_expiry)" "${t#*:}"
done

# ---- Prometheus: a blackbox-style scrape job and the rules
cat >"$D/rules.yml" <<'YAML'
groups:
  - name: certificate-expiry
    rules:
      - alert: SslCertExpiresWithin7Days
        expr: probe_ssl_earliest_cert_expiry - time() < 86400 * 7
      - alert: BlackboxSslCertificateWillExpireSoon
        expr: 3 <= round((last_over_time(probe_ssl_earliest_cert_expiry[10m]) - time()) / 86400, 0.1) < 20
      - alert: BlackboxSslCertificateWillExpireVerySoon
        expr: 0 <= round((last_over_time(probe_ssl_earliest_cert_expiry[10m]) - time()) / 86400, 0.1) < 3
      - alert: BlackboxProbeFailed
        expr: probe_success == 0
YAML
cat >"$D/prometheus.yml" <<YAML
global: { scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s }
rule_files: [ "$D/rules.yml" ]
scrape_configs:
  - job_name: netcanary-probe
    metrics_path: /probe
    params:
      module: [ http_2xx ]
    static_configs:
      - targets: [ cert-2d, cert-30d ]
    relabel_configs:
      - source_labels: [ __address__ ]
        target_label: __param_target
      - source_labels: [ __param_target ]
        target_label: instance
      - target_label: __address__
        replacement: 127.0.0.1:$LISTEN
YAML
promtool check config "$D/prometheus.yml" >"$D/promtool.out" 2>&1 || fatal "promtool check config: $(cat "$D/promtool.out")"
mkdir -p "$D/tsdb"
timeout -k 2 170 prometheus --config.file="$D/prometheus.yml" --storage.tsdb.path="$D/tsdb" \
        --storage.tsdb.retention.time=1h --web.listen-address="127.0.0.1:$PROM" --log.level=warn \
        >"$D/prometheus.log" 2>&1 &
NC_HELPERS+=("$!")
PURL=http://127.0.0.1:$PROM
pget() { curl -sS --max-time 5 --noproxy '*' "$@"; }
prom_ready() { [[ $(pget -o /dev/null -w '%{http_code}' "$PURL/-/ready" 2>/dev/null) == 200 ]]; }
wait_for 60 "prometheus ready" prom_ready || fatal "prometheus did not become ready: $(tail -5 "$D/prometheus.log")"

# query EXPR: the instances the instant query returns, sorted, space-separated.
query() {
        pget -G --data-urlencode "query=$1" "$PURL/api/v1/query" | jq -r '[.data.result[].metric.instance] | sort | join(" ")'
}
both_up() { [[ $(query 'up{job="netcanary-probe"} == 1') == "cert-2d cert-30d" ]]; }
wait_for 30 "both /probe scrapes up" both_up ||
        fail "scrapes not up: $(pget "$PURL/api/v1/targets" | jq -c '[.data.activeTargets[] | {instance: .labels.instance, health, lastError}]')"
expect_eq "Prometheus: probe_ssl_earliest_cert_expiry of cert-2d" \
        "$(pget -G --data-urlencode 'query=probe_ssl_earliest_cert_expiry{instance="cert-2d"}' "$PURL/api/v1/query" |
                jq -r '.data.result[0].value[1]')" "$END2"
expect_eq "instant query: probe_ssl_earliest_cert_expiry - time() < 86400 * 7" \
        "$(query 'probe_ssl_earliest_cert_expiry - time() < 86400 * 7')" cert-2d

# firing ALERTNAME: the instances of that alert in state firing.
firing() {
        pget "$PURL/api/v1/alerts" |
                jq -r --arg a "$1" '[.data.alerts[] | select(.labels.alertname == $a and .state == "firing") | .labels.instance] | sort | join(" ")'
}
evaluated() { [[ $(firing SslCertExpiresWithin7Days) == cert-2d ]]; }
wait_for 30 "the 7-day alert firing" evaluated || true
# One more evaluation interval with both series in, so "not firing" means something.
sleep 2
expect_eq "alert SslCertExpiresWithin7Days fires for the 2-day certificate only" "$(firing SslCertExpiresWithin7Days)" cert-2d
expect_eq "alert BlackboxSslCertificateWillExpireVerySoon (< 3 days) fires for the 2-day certificate only" \
        "$(firing BlackboxSslCertificateWillExpireVerySoon)" cert-2d
expect_eq "alert BlackboxSslCertificateWillExpireSoon (3-20 days) fires for neither" \
        "$(firing BlackboxSslCertificateWillExpireSoon)" ""
expect_eq "alert BlackboxProbeFailed fires for neither" "$(firing BlackboxProbeFailed)" ""
expect_eq "rules evaluated without error" \
        "$(pget "$PURL/api/v1/rules" | jq -r '[.data.groups[].rules[] | select(.health != "ok")] | length')" 0

nc_finish

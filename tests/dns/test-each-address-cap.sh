#!/usr/bin/env bash
# each_address probes every address a name resolves to, up to the cap of 64
# (CONFIG_MAX_ADDRESSES) per target and round. Inside a network namespace of
# ours (resolv.conf -> unbound on 127.0.0.1:53 there) a name has 100 A records
# 127.0.1.1 .. 127.0.1.100, all local in the namespace where the responder
# listens: the each_address row probes exactly 64 of them, all connected; the
# same name without each_address probes one.
# Needs root and `ip netns`; skips (77) otherwise.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
dns_init 11

dns_netns NS "nameserver 127.0.0.1"
dns_use_ns "$NS"
API=$(port 0)
records=$(for i in $(seq 1 100); do echo "  local-data: \"many.cap.example. 5 IN A 127.0.1.$i\""; done)
unbound_start cap 53 "$NS" <<EOF2
  local-zone: "cap.example." static
$records
EOF2

# Names as tcp hosts are resolved through resolv.conf: only ever inside $NS.
cat >"$NC_TMP/c.json" <<JSON
{ "agent": { "identity": "captest", "listen": "127.0.0.1:$API", "responder": { "port": 9891 } },
  "defaults": { "interval": "20s", "timeout": "2s", "confirm": 1 },
  "targets": {
    "all":   { "tcp": { "host": "many.cap.example", "port": 9891, "each_address": true } },
    "first": { "tcp": { "host": "many.cap.example", "port": 9891 } } },
  "matrix": [ { "from": "*", "to": "all", "expect": "allow" },
              { "from": "*", "to": "first", "expect": "allow" } ] }
JSON
O=$NC_TMP/once.out
in_ns "$NS" timeout 30 "$NETCANARY" once --config "$NC_TMP/c.json" --format json >"$O" 2>"$O.err"
RC=$?
expect_eq "once exit status" "$RC" 0
expect_eq "each_address row: addresses probed (capped)" "$(rowq "$O" all '.addresses | length')" 64
expect_eq "each_address row: all connected" \
        "$(rowq "$O" all '[.addresses[] | select(.outcome == "connected")] | length')" 64
expect_eq "each_address row: distinct addresses" "$(rowq "$O" all '[.addresses[].address] | unique | length')" 64
expect_eq "row without each_address: one address" "$(rowq "$O" first '.addresses | length')" 1
nc_finish

#!/usr/bin/env bash
# A headless-Service-sized answer: many.nctest.example has 100 A records (a
# Service with 100 ready pods), answered over TCP after truncation. unbound
# keeps them in configured order (rrset-roundrobin: no), so 203.0.113.100 is
# the 100th record. Every expected address that is in the answer must be found,
# wherever it sits in the answer:
#  - expect_addresses ["203.0.113.1", "203.0.113.64"]  -> connected
#  - expect_addresses ["203.0.113.65"]                 -> connected
#  - expect_addresses ["203.0.113.100"]                -> connected
#  - expect_addresses ["203.0.113.101"] (not there)    -> bad_response
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
dns_init 10

DNS=$(port 0)
API=$(port 7)
S="127.0.0.1:$DNS"
records() {
        local i
        for i in $(seq 1 100); do echo "  local-data: \"many.nctest.example. A 203.0.113.$i\""; done
}
unbound_start main "$DNS" < <(records)

t() { echo '{ "dns": { "name": "many.nctest.example", "type": "A", "servers": ["'"$S"'"], "expect_addresses": '"$1"' } }'; }
TARGETS='{
  "first-64": '"$(t '["203.0.113.1", "203.0.113.64"]')"',
  "the-65th": '"$(t '["203.0.113.65"]')"',
  "the-100th": '"$(t '["203.0.113.100"]')"',
  "absent":   '"$(t '["203.0.113.101"]')"'
}'
MATRIX='[
  { "from": "*", "to": "first-64",  "expect": "allow" },
  { "from": "*", "to": "the-65th",  "expect": "allow" },
  { "from": "*", "to": "the-100th", "expect": "allow" },
  { "from": "*", "to": "absent",    "expect": "allow" }
]'
dns_config "$NC_TMP/c.json" "$API" "$TARGETS" "$MATRIX"
dns_once "$NC_TMP/c.json" "$NC_TMP/once.out"
O=$NC_TMP/once.out
expect_eq "first-64 outcome" "$(rowq "$O" first-64 '.addresses[0].outcome')" connected
expect_eq "the-65th outcome (203.0.113.65 is in the answer)" "$(rowq "$O" the-65th '.addresses[0].outcome')" connected
expect_eq "the-100th outcome (203.0.113.100 is in the answer)" "$(rowq "$O" the-100th '.addresses[0].outcome')" connected
expect_eq "absent outcome" "$(rowq "$O" absent '.addresses[0].outcome')" bad_response
expect_num "unbound answered over TCP" "$(unbound_stat main num.query.tcp)" '>=' 4

nc_finish

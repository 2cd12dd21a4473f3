/* Unit tests for netpol.c, table-driven from the expectations of the upstream
 * Kubernetes e2e NetworkPolicy suite (test/e2e/network/netpol): namespaces
 * x, y, z (labels ns=<name>; z without kubernetes.io/metadata.name, which the
 * evaluator must default) × pods a, b, c (label pod=<name>), each serving
 * ports 80 and 81 on TCP, UDP and SCTP under the names serve-80-tcp, ....
 * Pod IPs: x/a 10.0.0.1, x/b 10.0.0.2, ..., y/a 10.0.1.1, z/c 10.0.2.3, and
 * fd00:0:0:<ns>::<pod> for IPv6. z/c also has the label tier=db.
 *
 * A case is a set of policies and the expected truth table for one port and
 * protocol: 9 rows (from) × 9 columns (to) in the order x/a x/b x/c y/a ...
 * z/c, '.' allowed and 'X' denied. The tables were written from the e2e
 * tests' reachability expectations (plus cases for what they leave out), not
 * from this evaluator's output. Single quotes in the JSON texts stand for
 * double quotes. */
#include <errno.h>
#include <json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "netpol.h"

static const char *const POD_NAMES[9] = { "x/a", "x/b", "x/c", "y/a", "y/b", "y/c", "z/a", "z/b", "z/c" };

/* Parses JSON written with ' for ". */
static struct json_object *parse_q(const char *text) {
        char *s = strdup(text);
        assert_non_null(s);
        for (char *p = s; *p; p++)
                if (*p == '\'')
                        *p = '"';
        struct json_object *o = json_tokener_parse(s);
        if (!o)
                fail_msg("test JSON does not parse: %s", s);
        free(s);
        return o;
}

/* The e2e topology as a List. */
static struct json_object *base_objects(void) {
        strbuf_t sb;
        sb_init(&sb, 0);
        sb_puts(&sb, "{'apiVersion':'v1','kind':'List','items':[");
        const char *ns[3] = { "x", "y", "z" };
        for (int i = 0; i < 3; i++) {
                sb_printf(&sb, "{'apiVersion':'v1','kind':'Namespace','metadata':{'name':'%s','labels':{'ns':'%s'",
                          ns[i], ns[i]);
                if (i < 2)
                        sb_printf(&sb, ",'kubernetes.io/metadata.name':'%s'", ns[i]);
                sb_puts(&sb, "}}},");
        }
        for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++) {
                        char pod = (char) ('a' + j);
                        sb_printf(&sb,
                                  "{'apiVersion':'v1','kind':'Pod','metadata':{'namespace':'%s','name':'%c',"
                                  "'labels':{'pod':'%c'%s}},'spec':{'containers':[",
                                  ns[i], pod, pod, i == 2 && j == 2 ? ",'tier':'db'" : "");
                        const char *protos[3] = { "TCP", "UDP", "SCTP" };
                        for (int k = 0; k < 3; k++)
                                sb_printf(&sb,
                                          "%s{'name':'cont-%d','image':'agnhost','ports':["
                                          "{'name':'serve-80-%c%c%c%s','containerPort':80,'protocol':'%s'},"
                                          "{'name':'serve-81-%c%c%c%s','containerPort':81,'protocol':'%s'}]}",
                                          k ? "," : "", k, protos[k][0] | 0x20, protos[k][1] | 0x20,
                                          protos[k][2] | 0x20, k == 2 ? "p" : "", protos[k],
                                          protos[k][0] | 0x20, protos[k][1] | 0x20, protos[k][2] | 0x20,
                                          k == 2 ? "p" : "", protos[k]);
                        sb_printf(&sb,
                                  "]},'status':{'phase':'Running','podIP':'10.0.%d.%d',"
                                  "'podIPs':[{'ip':'10.0.%d.%d'},{'ip':'fd00:0:0:%d::%d'}]}},",
                                  i, j + 1, i, j + 1, i, j + 1);
                }
        sb.data[sb.len - 1] = ']';
        sb_putc(&sb, '}');
        assert_false(sb.oom);
        struct json_object *o = parse_q(sb.data);
        sb_free(&sb);
        return o;
}

/* A NetworkPolicy object in NS named NAME with SPEC. */
#define NP(ns, name, spec) \
        "{'apiVersion':'networking.k8s.io/v1','kind':'NetworkPolicy','metadata':{'namespace':'" ns \
        "','name':'" name "'},'spec':" spec "}"

static netpol_cluster_t *cluster_with(const char *policies_list, strbuf_t *err, int *ret_r) {
        struct json_object *base = base_objects();
        struct json_object *pols = parse_q(policies_list);
        netpol_document_t docs[2] = { { "base.json", base }, { "policies.json", pols } };
        netpol_cluster_t *c = NULL;
        int r = netpol_cluster_new(docs, 2, NULL, &c, err);
        json_object_put(base);
        json_object_put(pols);
        if (ret_r)
                *ret_r = r;
        return c;
}

typedef struct scenario {
        const char *name;
        const char *policies;   /* a List of NetworkPolicies */
        uint16_t port;
        netpol_proto_t proto;
        const char *truth;      /* 81 of '.' / 'X', whitespace ignored */
} scenario_t;

#define LIST(...) "{'kind':'List','items':[" __VA_ARGS__ "]}"
#define ALL_ALLOWED ".........  .........  .........  .........  .........  .........  .........  .........  ........."

static const scenario_t scenarios[] = {
        { "no policies: everything allowed", LIST(), 80, NETPOL_TCP, ALL_ALLOWED },
        { "default-deny-ingress in x (e2e: default-deny-ingress)",
          LIST(NP("x", "deny-ingress", "{'podSelector':{},'policyTypes':['Ingress']}")), 80, NETPOL_TCP,
          "XXX...... XXX...... XXX...... XXX...... XXX...... XXX...... XXX...... XXX...... XXX......" },
        { "ingress: [] without policyTypes defaults to Ingress: deny all ingress",
          LIST(NP("x", "deny-ingress", "{'podSelector':{},'ingress':[]}")), 80, NETPOL_TCP,
          "XXX...... XXX...... XXX...... XXX...... XXX...... XXX...... XXX...... XXX...... XXX......" },
        { "egress: [] without policyTypes: Ingress only (no egress isolation), so deny all ingress",
          LIST(NP("x", "p", "{'podSelector':{},'egress':[]}")), 80, NETPOL_TCP,
          "XXX...... XXX...... XXX...... XXX...... XXX...... XXX...... XXX...... XXX...... XXX......" },
        { "default-deny-all in x (e2e: default-deny-all)",
          LIST(NP("x", "deny-all", "{'podSelector':{},'policyTypes':['Ingress','Egress']}")), 80, NETPOL_TCP,
          "XXXXXXXXX XXXXXXXXX XXXXXXXXX XXX...... XXX...... XXX...... XXX...... XXX...... XXX......" },
        { "default-deny-egress in x (e2e: deny egress for a namespace)",
          LIST(NP("x", "deny-egress", "{'podSelector':{},'policyTypes':['Egress']}")), 80, NETPOL_TCP,
          "XXXXXXXXX XXXXXXXXX XXXXXXXXX " ".........  .........  .........  .........  .........  ........." },
        { "egress rules without policyTypes: Ingress and Egress, port 80 out of x allowed",
          LIST(NP("x", "p", "{'podSelector':{},'egress':[{'ports':[{'port':80}]}]}")), 80, NETPOL_TCP,
          "XXX...... XXX...... XXX...... XXX...... XXX...... XXX...... XXX...... XXX...... XXX......" },
        { "egress rules without policyTypes: port 81 out of x denied",
          LIST(NP("x", "p", "{'podSelector':{},'egress':[{'ports':[{'port':80}]}]}")), 81, NETPOL_TCP,
          "XXXXXXXXX XXXXXXXXX XXXXXXXXX XXX...... XXX...... XXX...... XXX...... XXX...... XXX......" },
        { "allow-all ingress ({} rule) cancels default-deny (e2e: allow-all)",
          LIST(NP("x", "deny-all", "{'podSelector':{},'policyTypes':['Ingress']}") ","
               NP("x", "allow-all", "{'podSelector':{},'ingress':[{}]}")), 81, NETPOL_TCP, ALL_ALLOWED },
        { "podSelector peer: x/a only from x/b (e2e: within server namespace based on PodSelector)",
          LIST(NP("x", "x-a-allows-x-b",
                  "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':[{'from':[{'podSelector':{'matchLabels':{'pod':'b'}}}]}]}")),
          80, NETPOL_TCP,
          "X........ ......... X........ X........ X........ X........ X........ X........ X........" },
        { "podSelector In: x/a only from x/b (e2e: PodSelector with MatchExpressions)",
          LIST(NP("x", "p", "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':[{'from':[{'podSelector':"
                            "{'matchExpressions':[{'key':'pod','operator':'In','values':['b']}]}}]}]}")),
          80, NETPOL_TCP,
          "X........ ......... X........ X........ X........ X........ X........ X........ X........" },
        { "namespaceSelector peer: x/a only from namespace y (e2e: based on NamespaceSelector)",
          LIST(NP("x", "p", "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':[{'from':[{'namespaceSelector':"
                            "{'matchLabels':{'kubernetes.io/metadata.name':'y'}}}]}]}")),
          80, NETPOL_TCP,
          "X........ X........ X........ ......... ......... ......... X........ X........ X........" },
        { "namespaceSelector on the defaulted name label: z has no label kubernetes.io/metadata.name",
          LIST(NP("x", "p", "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':[{'from':[{'namespaceSelector':"
                            "{'matchExpressions':[{'key':'kubernetes.io/metadata.name','operator':'In','values':['z']}]}}]}]}")),
          80, NETPOL_TCP,
          "X........ X........ X........ X........ X........ X........ ......... ......... ........." },
        { "namespaceSelector {} alone: every pod of every namespace (e2e: from pods in all namespaces)",
          LIST(NP("x", "p", "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':[{'from':[{'namespaceSelector':{}}]}]}")),
          80, NETPOL_TCP, ALL_ALLOWED },
        { "two peers ORed: ns NotIn [x] or pod=b (e2e: PodSelector or NamespaceSelector)",
          LIST(NP("x", "p", "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':[{'from':["
                            "{'namespaceSelector':{'matchExpressions':[{'key':'ns','operator':'NotIn','values':['x']}]}},"
                            "{'podSelector':{'matchLabels':{'pod':'b'}}}]}]}")),
          80, NETPOL_TCP,
          "X........ ......... X........ ......... ......... ......... ......... ......... ........." },
        { "one peer ANDed: ns NotIn [x] and pod=b (e2e: PodSelector and NamespaceSelector)",
          LIST(NP("x", "p", "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':[{'from':["
                            "{'namespaceSelector':{'matchExpressions':[{'key':'ns','operator':'NotIn','values':['x']}]},"
                            "'podSelector':{'matchLabels':{'pod':'b'}}}]}]}")),
          80, NETPOL_TCP,
          "X........ X........ X........ X........ ......... X........ X........ ......... X........" },
        { "AND with In of two values: pods b,c of namespaces other than x (e2e: Multiple selectors)",
          LIST(NP("x", "p", "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':[{'from':["
                            "{'namespaceSelector':{'matchExpressions':[{'key':'ns','operator':'NotIn','values':['x']}]},"
                            "'podSelector':{'matchExpressions':[{'key':'pod','operator':'In','values':['b','c']}]}}]}]}")),
          80, NETPOL_TCP,
          "X........ X........ X........ X........ ......... ......... X........ ......... ........." },
        { "podSelector NotIn [a,b]: same namespace only, x/c",
          LIST(NP("x", "p", "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':[{'from':["
                            "{'podSelector':{'matchExpressions':[{'key':'pod','operator':'NotIn','values':['a','b']}]}}]}]}")),
          80, NETPOL_TCP,
          "X........ X........ ......... X........ X........ X........ X........ X........ X........" },
        { "podSelector Exists: every labelled pod, only of the policy's namespace",
          LIST(NP("x", "p", "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':[{'from':["
                            "{'podSelector':{'matchExpressions':[{'key':'pod','operator':'Exists'}]}}]}]}")),
          80, NETPOL_TCP,
          "......... ......... ......... X........ X........ X........ X........ X........ X........" },
        { "Exists across namespaces: only z/c has tier",
          LIST(NP("x", "p", "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':[{'from':[{'namespaceSelector':{},"
                            "'podSelector':{'matchExpressions':[{'key':'tier','operator':'Exists'}]}}]}]}")),
          80, NETPOL_TCP,
          "X........ X........ X........ X........ X........ X........ X........ X........ ........." },
        { "DoesNotExist across namespaces: all but z/c",
          LIST(NP("x", "p", "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':[{'from':[{'namespaceSelector':{},"
                            "'podSelector':{'matchExpressions':[{'key':'tier','operator':'DoesNotExist'}]}}]}]}")),
          80, NETPOL_TCP,
          "......... ......... ......... ......... ......... ......... ......... ......... X........" },
        { "namespaceSelector {} and podSelector {} + deny-all: x/a open, x/b x/c closed (e2e: ingress for a target)",
          LIST(NP("x", "deny-all", "{'podSelector':{},'ingress':[]}") ","
               NP("x", "allow-all-to-a", "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':[{'from':"
                                         "[{'podSelector':{},'namespaceSelector':{}}]}]}")),
          80, NETPOL_TCP,
          ".XX...... .XX...... .XX...... .XX...... .XX...... .XX...... .XX...... .XX...... .XX......" },
        { "port 81 from namespace y: on 81 (e2e: based on Ports)",
          LIST(NP("x", "p", "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':[{'from':[{'namespaceSelector':"
                            "{'matchLabels':{'ns':'y'}}}],'ports':[{'port':81,'protocol':'TCP'}]}]}")),
          81, NETPOL_TCP,
          "X........ X........ X........ ......... ......... ......... X........ X........ X........" },
        { "port 81 from namespace y: on 80 nobody reaches x/a",
          LIST(NP("x", "p", "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':[{'from':[{'namespaceSelector':"
                            "{'matchLabels':{'ns':'y'}}}],'ports':[{'port':81,'protocol':'TCP'}]}]}")),
          80, NETPOL_TCP,
          "X........ X........ X........ X........ X........ X........ X........ X........ X........" },
        { "stacked policies are a union: 81 and 80 from y (e2e: multiple, stacked policies)",
          LIST(NP("x", "p81", "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':[{'from':[{'namespaceSelector':"
                              "{'matchLabels':{'ns':'y'}}}],'ports':[{'port':81,'protocol':'TCP'}]}]}") ","
               NP("x", "p80", "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':[{'from':[{'namespaceSelector':"
                              "{'matchLabels':{'ns':'y'}}}],'ports':[{'port':80,'protocol':'TCP'}]}]}")),
          80, NETPOL_TCP,
          "X........ X........ X........ ......... ......... ......... X........ X........ X........" },
        { "named ingress port serve-81-tcp: 81 open (e2e: ingress access on one named port)",
          LIST(NP("x", "p", "{'podSelector':{},'ingress':[{'ports':[{'port':'serve-81-tcp'}]}]}")), 81, NETPOL_TCP,
          ALL_ALLOWED },
        { "named ingress port serve-81-tcp: 80 closed",
          LIST(NP("x", "p", "{'podSelector':{},'ingress':[{'ports':[{'port':'serve-81-tcp'}]}]}")), 80, NETPOL_TCP,
          "XXX...... XXX...... XXX...... XXX...... XXX...... XXX...... XXX...... XXX...... XXX......" },
        { "named port per protocol: serve-80-udp with protocol UDP opens 80/UDP",
          LIST(NP("x", "p", "{'podSelector':{},'ingress':[{'ports':[{'port':'serve-80-udp','protocol':'UDP'}]}]}")),
          80, NETPOL_UDP, ALL_ALLOWED },
        { "named port per protocol: serve-80-udp with protocol UDP leaves 80/TCP closed",
          LIST(NP("x", "p", "{'podSelector':{},'ingress':[{'ports':[{'port':'serve-80-udp','protocol':'UDP'}]}]}")),
          80, NETPOL_TCP,
          "XXX...... XXX...... XXX...... XXX...... XXX...... XXX...... XXX...... XXX...... XXX......" },
        { "named port per protocol: serve-80-udp with the default TCP names no TCP port: 80/UDP closed",
          LIST(NP("x", "p", "{'podSelector':{},'ingress':[{'ports':[{'port':'serve-80-udp'}]}]}")), 80, NETPOL_UDP,
          "XXX...... XXX...... XXX...... XXX...... XXX...... XXX...... XXX...... XXX...... XXX......" },
        { "named egress port, resolved on the destination: 80 open (e2e: egress access on one named port)",
          LIST(NP("x", "p", "{'podSelector':{},'egress':[{'ports':[{'port':'serve-80-tcp'}]}]}")), 80, NETPOL_TCP,
          "XXX...... XXX...... XXX...... XXX...... XXX...... XXX...... XXX...... XXX...... XXX......" },
        { "named egress port with policyTypes Egress only: 81 closed out of x",
          LIST(NP("x", "p", "{'podSelector':{},'policyTypes':['Egress'],'egress':[{'ports':[{'port':'serve-80-tcp'}]}]}")),
          81, NETPOL_TCP,
          "XXXXXXXXX XXXXXXXXX XXXXXXXXX ......... ......... ......... ......... ......... ........." },
        { "ingress and egress together on 81 (e2e: Ingress, Egress specified together)",
          LIST(NP("x", "p", "{'podSelector':{'matchLabels':{'pod':'a'}},'policyTypes':['Egress','Ingress'],"
                            "'ingress':[{'from':[{'podSelector':{'matchLabels':{'pod':'b'}}}]}],"
                            "'egress':[{'ports':[{'port':80}]}]}")),
          81, NETPOL_TCP,
          "XXXXXXXXX ......... X........ X........ X........ X........ X........ X........ X........" },
        { "egress denied on the client although the server allows (e2e: denying of egress on the client side)",
          LIST(NP("x", "to-y-a", "{'podSelector':{'matchLabels':{'pod':'a'}},'policyTypes':['Egress'],'egress':[{'to':[{'namespaceSelector':"
                                 "{'matchLabels':{'ns':'y'}},'podSelector':{'matchLabels':{'pod':'a'}}}]}]}") ","
               NP("y", "ya-from-xa", "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':[{'from':[{'namespaceSelector':"
                                     "{'matchLabels':{'ns':'x'}},'podSelector':{'matchLabels':{'pod':'a'}}}]}]}") ","
               NP("y", "yb-from-xa", "{'podSelector':{'matchLabels':{'pod':'b'}},'ingress':[{'from':[{'namespaceSelector':"
                                     "{'matchLabels':{'ns':'x'}},'podSelector':{'matchLabels':{'pod':'a'}}}]}]}")),
          80, NETPOL_TCP,
          "XXX.XXXXX ...XX.... ...XX.... ...XX.... ...XX.... ...XX.... ...XX.... ...XX.... ...XX...." },
        { "protocol-only port TCP: TCP open (e2e: any port on a specific protocol)",
          LIST(NP("x", "p", "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':[{'ports':[{'protocol':'TCP'}]}]}")),
          80, NETPOL_TCP, ALL_ALLOWED },
        { "protocol-only port TCP: UDP closed",
          LIST(NP("x", "p", "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':[{'ports':[{'protocol':'TCP'}]}]}")),
          80, NETPOL_UDP,
          "X........ X........ X........ X........ X........ X........ X........ X........ X........" },
        { "SCTP port 80: open on SCTP",
          LIST(NP("x", "p", "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':[{'ports':[{'port':80,'protocol':'SCTP'}]}]}")),
          80, NETPOL_SCTP, ALL_ALLOWED },
        { "SCTP port 80: closed on TCP",
          LIST(NP("x", "p", "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':[{'ports':[{'port':80,'protocol':'SCTP'}]}]}")),
          80, NETPOL_TCP,
          "X........ X........ X........ X........ X........ X........ X........ X........ X........" },
        { "endPort 80-81 includes 81 (e2e: ingress with endPort)",
          LIST(NP("x", "p", "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':[{'ports':[{'port':80,'endPort':81}]}]}")),
          81, NETPOL_TCP, ALL_ALLOWED },
        { "endPort 81-90 excludes 80",
          LIST(NP("x", "p", "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':[{'ports':[{'port':81,'endPort':90}]}]}")),
          80, NETPOL_TCP,
          "X........ X........ X........ X........ X........ X........ X........ X........ X........" },
        { "egress to an ipBlock /32: only y/b (e2e: egress access to server in CIDR block)",
          LIST(NP("x", "p", "{'podSelector':{'matchLabels':{'pod':'a'}},'policyTypes':['Egress'],"
                            "'egress':[{'to':[{'ipBlock':{'cidr':'10.0.1.2/32'}}]}]}")),
          80, NETPOL_TCP,
          "XXXX.XXXX ......... ......... ......... ......... ......... ......... ......... ........." },
        { "ipBlock with host bits set and except (e2e: except clause)",
          LIST(NP("x", "p", "{'podSelector':{'matchLabels':{'pod':'a'}},'policyTypes':['Egress'],'egress':[{'to':[{'ipBlock':"
                            "{'cidr':'10.0.0.77/24','except':['10.0.0.2/32']}}]}]}")),
          80, NETPOL_TCP,
          ".X.XXXXXX ......... ......... ......... ......... ......... ......... ......... ........." },
        { "the same without policyTypes: egress rules make it Ingress+Egress, so x/a is ingress-isolated too",
          LIST(NP("x", "p", "{'podSelector':{'matchLabels':{'pod':'a'}},'egress':[{'to':[{'ipBlock':"
                            "{'cidr':'10.0.0.77/24','except':['10.0.0.2/32']}}]}]}")),
          80, NETPOL_TCP,
          "XX.XXXXXX X........ X........ X........ X........ X........ X........ X........ X........" },
        { "ipBlock IPv6: ingress from fd00:0:0:1::/64 (namespace y)",
          LIST(NP("x", "p", "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':[{'from':[{'ipBlock':"
                            "{'cidr':'fd00:0:0:1::/64'}}]}]}")),
          80, NETPOL_TCP,
          "X........ X........ X........ ......... ......... ......... X........ X........ X........" },
        { "ipBlock 0.0.0.0/0 except z's /24",
          LIST(NP("x", "p", "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':[{'from':[{'ipBlock':"
                            "{'cidr':'0.0.0.0/0','except':['10.0.2.0/24']}}]}]}")),
          80, NETPOL_TCP,
          "......... ......... ......... ......... ......... ......... X........ X........ X........" },
        { "multiple policies union: from pod=b, and from namespace y",
          LIST(NP("x", "from-b", "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':[{'from':[{'podSelector':{'matchLabels':{'pod':'b'}}}]}]}") ","
               NP("x", "from-y", "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':[{'from':[{'namespaceSelector':{'matchLabels':{'ns':'y'}}}]}]}")),
          80, NETPOL_TCP,
          "X........ ......... X........ ......... ......... ......... X........ X........ X........" },
        { "ingress allow-all takes precedence over a port-80-only policy on 81 (e2e)",
          LIST(NP("x", "port-80", "{'podSelector':{},'ingress':[{'ports':[{'port':80}]}]}") ","
               NP("x", "allow", "{'podSelector':{},'ingress':[{}]}")),
          81, NETPOL_TCP, ALL_ALLOWED },
        { "egress allow-all takes precedence over a port-80-only policy on 81 (e2e)",
          LIST(NP("x", "port-80", "{'podSelector':{},'policyTypes':['Egress'],'egress':[{'ports':[{'port':80}]}]}") ","
               NP("x", "allow", "{'podSelector':{},'policyTypes':['Egress'],'egress':[{}]}")),
          81, NETPOL_TCP, ALL_ALLOWED },
        { "from: [] with ports = every source on that port (81 open)",
          LIST(NP("x", "p", "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':[{'from':[],'ports':[{'port':81}]}]}")),
          81, NETPOL_TCP, ALL_ALLOWED },
        { "from: [] with ports: 80 closed",
          LIST(NP("x", "p", "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':[{'from':[],'ports':[{'port':81}]}]}")),
          80, NETPOL_TCP,
          "X........ X........ X........ X........ X........ X........ X........ X........ X........" },
        { "ports: [] = every port",
          LIST(NP("x", "p", "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':[{'from':[{'podSelector':{}}],'ports':[]}]}")),
          81, NETPOL_TCP,
          "......... ......... ......... X........ X........ X........ X........ X........ X........" },
        { "a policy only isolates pods of its own namespace",
          LIST(NP("y", "deny-a", "{'podSelector':{'matchLabels':{'pod':'a'}},'policyTypes':['Ingress','Egress']}")),
          80, NETPOL_TCP,
          "...X..... ...X..... ...X..... XXXXXXXXX ...X..... ...X..... ...X..... ...X..... ...X....." },
        { "policyTypes [Ingress] ignores egress rules",
          LIST(NP("x", "p", "{'podSelector':{},'policyTypes':['Ingress'],'ingress':[{}],'egress':[{'ports':[{'port':1}]}]}")),
          80, NETPOL_TCP, ALL_ALLOWED },
};

static void print_table(const netpol_cluster_t *c, const scenario_t *s, const char *want) {
        fprintf(stderr, "case \"%s\" (port %u/%s): want | got\n", s->name, s->port, netpol_proto_name(s->proto));
        for (size_t i = 0; i < 9; i++) {
                fprintf(stderr, "  %s  %.9s | ", POD_NAMES[i], want + 9 * i);
                for (size_t j = 0; j < 9; j++) {
                        netpol_verdict_t v = { 0 };
                        assert_int_equal(netpol_evaluate(c, i, j, s->port, s->proto, &v), 0);
                        fputc(v.allowed ? '.' : 'X', stderr);
                        netpol_verdict_done(&v);
                }
                fputc('\n', stderr);
        }
}

static void test_scenarios(void **state) {
        size_t failed = 0;
        for (size_t k = 0; k < ELEMENTSOF(scenarios); k++) {
                const scenario_t *s = &scenarios[k];
                char want[82];
                size_t n = 0;
                for (const char *p = s->truth; *p; p++)
                        if (*p == '.' || *p == 'X') {
                                assert_true(n < 81);
                                want[n++] = *p;
                        }
                want[n] = '\0';
                if (n != 81)
                        fail_msg("case \"%s\": truth table has %zu cells", s->name, n);
                strbuf_t err;
                sb_init(&err, 0);
                int r;
                netpol_cluster_t *c = cluster_with(s->policies, &err, &r);
                if (r < 0)
                        fail_msg("case \"%s\": %s", s->name, err.data ? err.data : strerror(-r));
                assert_int_equal(netpol_pod_count(c), 9);
                for (size_t i = 0; i < 9; i++) {
                        size_t idx;
                        char ns[2] = { POD_NAMES[i][0], 0 };
                        assert_int_equal(netpol_pod_find(c, ns, POD_NAMES[i] + 2, &idx), 0);
                        assert_int_equal(idx, i);
                }
                bool ok = true;
                netpol_verdict_t v = { 0 };
                for (size_t i = 0; i < 81; i++) {
                        assert_int_equal(netpol_evaluate(c, i / 9, i % 9, s->port, s->proto, &v), 0);
                        if (v.allowed != (want[i] == '.'))
                                ok = false;
                }
                netpol_verdict_done(&v);
                if (!ok) {
                        print_table(c, s, want);
                        failed++;
                }
                netpol_cluster_free(c);
                sb_free(&err);
        }
        if (failed)
                fail_msg("%zu of %zu scenarios disagree (tables above)", failed, ELEMENTSOF(scenarios));
}

/* ------------------------------------------------------------- reasons */

static void test_reasons(void **state) {
        int r;
        netpol_cluster_t *c = cluster_with(
                LIST(NP("x", "deny-all", "{'podSelector':{},'policyTypes':['Ingress','Egress']}") ","
                     NP("x", "web", "{'podSelector':{'matchLabels':{'pod':'a'}},'ingress':["
                                    "{'from':[{'podSelector':{'matchLabels':{'pod':'c'}}}]},"
                                    "{'from':[{'namespaceSelector':{'matchLabels':{'ns':'y'}}}],'ports':[{'port':80}]},"
                                    "{'ports':[{'port':'serve-80-tcp'}]}]}")),
                NULL, &r);
        assert_int_equal(r, 0);
        assert_int_equal(netpol_policy_count(c), 2);
        assert_string_equal(netpol_policy_namespace(c, 0), "x");
        assert_string_equal(netpol_policy_name(c, 0), "deny-all");
        assert_string_equal(netpol_policy_name(c, 1), "web");
        assert_int_equal(netpol_namespace_count(c), 3);
        netpol_verdict_t v = { 0 };

        /* y/b -> x/a:80: y/b not isolated; x/a isolated by both, allowed by web ingress[1] and [2]. */
        assert_int_equal(netpol_evaluate(c, 4, 0, 80, NETPOL_TCP, &v), 0);
        assert_true(v.allowed);
        assert_false(v.side[K8S_EGRESS].isolated);
        assert_true(v.side[K8S_EGRESS].allowed);
        assert_int_equal(v.side[K8S_EGRESS].n_isolating, 0);
        assert_true(v.side[K8S_INGRESS].isolated);
        assert_int_equal(v.side[K8S_INGRESS].n_isolating, 2);
        assert_int_equal(v.side[K8S_INGRESS].isolating[0], 0);
        assert_int_equal(v.side[K8S_INGRESS].isolating[1], 1);
        assert_int_equal(v.side[K8S_INGRESS].n_allowing, 2);
        assert_int_equal(v.side[K8S_INGRESS].allowing[0].policy, 1);
        assert_int_equal(v.side[K8S_INGRESS].allowing[0].rule, 1);
        assert_int_equal(v.side[K8S_INGRESS].allowing[1].rule, 2);

        /* x/c -> x/a:81: egress of x/c denied (deny-all, no egress rule); ingress allowed by web ingress[0]. */
        assert_int_equal(netpol_evaluate(c, 2, 0, 81, NETPOL_TCP, &v), 0);
        assert_false(v.allowed);
        assert_true(v.side[K8S_EGRESS].isolated);
        assert_false(v.side[K8S_EGRESS].allowed);
        assert_int_equal(v.side[K8S_EGRESS].n_isolating, 1);
        assert_int_equal(v.side[K8S_EGRESS].n_allowing, 0);
        assert_true(v.side[K8S_INGRESS].allowed);
        assert_int_equal(v.side[K8S_INGRESS].n_allowing, 1);
        assert_int_equal(v.side[K8S_INGRESS].allowing[0].rule, 0);

        /* Arguments. */
        assert_int_equal(netpol_evaluate(c, 9, 0, 80, NETPOL_TCP, &v), -EINVAL);
        assert_int_equal(netpol_evaluate(c, 0, 9, 80, NETPOL_TCP, &v), -EINVAL);
        assert_int_equal(netpol_evaluate(c, 0, 0, 0, NETPOL_TCP, &v), -EINVAL);
        size_t idx;
        assert_int_equal(netpol_pod_find(c, "x", "d", &idx), -ENOENT);
        assert_int_equal(netpol_pod_find(c, "w", "a", &idx), -ENOENT);
        netpol_verdict_done(&v);
        netpol_verdict_done(&v);  /* twice: harmless */
        netpol_verdict_done(NULL);
        netpol_cluster_free(c);
        netpol_cluster_free(NULL);
}

/* ----------------------------------- hostNetwork, pods without IPs, self */

static void test_host_network_and_no_ip(void **state) {
        struct json_object *o = parse_q(
                "{'kind':'PodList','items':["
                "{'kind':'Pod','metadata':{'namespace':'n','name':'host','labels':{'app':'h'}},"
                "  'spec':{'hostNetwork':true},'status':{'podIP':'192.168.0.10'}},"
                "{'kind':'Pod','metadata':{'namespace':'n','name':'pending','labels':{'app':'p'}},'spec':{},'status':{}},"
                "{'kind':'Pod','metadata':{'namespace':'n','name':'web','labels':{'app':'web'}},"
                "  'status':{'podIPs':[{'ip':'10.1.0.5'}]}},"
                "{'kind':'NetworkPolicy','metadata':{'namespace':'n','name':'deny-all'},"
                "  'spec':{'podSelector':{},'policyTypes':['Ingress','Egress']}},"
                "{'kind':'NetworkPolicy','metadata':{'namespace':'n','name':'web'},"
                "  'spec':{'podSelector':{'matchLabels':{'app':'web'}},'ingress':[{'from':["
                "    {'podSelector':{}},{'ipBlock':{'cidr':'0.0.0.0/0'}}]}]}}]}");
        netpol_document_t doc = { "pods.json", o };
        netpol_cluster_t *c = NULL;
        assert_int_equal(netpol_cluster_new(&doc, 1, NULL, &c, NULL), 0);
        json_object_put(o);
        /* Sorted by name: host 0, pending 1, web 2. */
        assert_true(netpol_pod_host_network(c, 0));
        netpol_verdict_t v = { 0 };
        /* The hostNetwork pod is not isolated by deny-all, either way. */
        assert_int_equal(netpol_evaluate(c, 0, 0, 80, NETPOL_TCP, &v), 0);
        assert_true(v.allowed);
        assert_false(v.side[K8S_EGRESS].isolated);
        assert_false(v.side[K8S_INGRESS].isolated);
        /* host -> web: the podSelector peer does not match a hostNetwork pod; its IP matches the ipBlock. */
        assert_int_equal(netpol_evaluate(c, 0, 2, 80, NETPOL_TCP, &v), 0);
        assert_true(v.allowed);
        assert_int_equal(v.side[K8S_INGRESS].n_allowing, 1);
        assert_int_equal(v.side[K8S_INGRESS].allowing[0].rule, 0);
        /* pending -> web: egress of pending is denied by deny-all. */
        assert_int_equal(netpol_evaluate(c, 1, 2, 80, NETPOL_TCP, &v), 0);
        assert_false(v.allowed);
        assert_false(v.side[K8S_EGRESS].allowed);
        assert_true(v.side[K8S_INGRESS].allowed);  /* podSelector {} matches it, IP or not */
        /* web -> web (self): egress isolated by deny-all, no egress rule. */
        assert_int_equal(netpol_evaluate(c, 2, 2, 80, NETPOL_TCP, &v), 0);
        assert_false(v.allowed);
        netpol_verdict_done(&v);
        netpol_cluster_free(c);

        /* A pod without IP never matches an ipBlock, even 0.0.0.0/0 and ::/0. */
        o = parse_q("{'kind':'List','items':["
                    "{'kind':'Pod','metadata':{'namespace':'n','name':'a'}},"
                    "{'kind':'Pod','metadata':{'namespace':'n','name':'b'},'status':{'podIP':'10.0.0.2'}},"
                    "{'kind':'NetworkPolicy','metadata':{'namespace':'n','name':'ip'},"
                    "  'spec':{'podSelector':{'matchLabels':{}},'ingress':[{'from':[{'ipBlock':{'cidr':'0.0.0.0/0'}},"
                    "  {'ipBlock':{'cidr':'::/0'}}]}]}}]}");
        doc.root = o;
        assert_int_equal(netpol_cluster_new(&doc, 1, NULL, &c, NULL), 0);
        json_object_put(o);
        assert_int_equal(netpol_evaluate(c, 0, 1, 80, NETPOL_TCP, &v), 0);
        assert_false(v.allowed);
        assert_int_equal(netpol_evaluate(c, 1, 0, 80, NETPOL_TCP, &v), 0);
        assert_true(v.allowed);
        assert_string_equal(netpol_pod_namespace(c, 0), "n");
        netpol_verdict_done(&v);
        netpol_cluster_free(c);
}

/* --------------------------------------------------------------- errors */

typedef struct bad_case {
        const char *json;       /* one document */
        int error;
        const char *message;    /* the whole message */
} bad_case_t;

#define ONE_POLICY(spec) "{'kind':'List','items':[{'kind':'Namespace','metadata':{'name':'x'}}," NP("x", "deny-all", spec) "]}"

static const bad_case_t bad_cases[] = {
        { ONE_POLICY("{'podSelector':{},'ingress':[{'from':[{'podSelector':{}},{'podSelector':{'matchExpressions':"
                     "[{'key':'pod','operator':'In ','values':['a']}]}}]}]}"),
          -EINVAL,
          "objects.json: items[1] (NetworkPolicy x/deny-all): spec.ingress[0].from[1].podSelector.matchExpressions[0]"
          ".operator: unknown operator \"In \" (In, NotIn, Exists, DoesNotExist)" },
        { ONE_POLICY("{'podSelector':{'matchExpressions':[{'key':'a','operator':'Exists','values':['x']}]}}"), -EINVAL,
          "objects.json: items[1] (NetworkPolicy x/deny-all): spec.podSelector.matchExpressions[0].values: "
          "must be empty for Exists" },
        { ONE_POLICY("{'podSelector':{'matchExpressions':[{'key':'a','operator':'NotIn','values':[]}]}}"), -EINVAL,
          "objects.json: items[1] (NetworkPolicy x/deny-all): spec.podSelector.matchExpressions[0].values: "
          "must not be empty for NotIn" },
        { ONE_POLICY("{'podSelector':{'matchLabels':{'a':1}}}"), -EINVAL,
          "objects.json: items[1] (NetworkPolicy x/deny-all): spec.podSelector.matchLabels.a: must be a string" },
        { ONE_POLICY("{'podSelector':{},'policyTypes':['ingress']}"), -EINVAL,
          "objects.json: items[1] (NetworkPolicy x/deny-all): spec.policyTypes[0]: unknown policy type \"ingress\" "
          "(Ingress, Egress)" },
        { ONE_POLICY("{'podSelector':{},'egress':[{'to':[{}]}]}"), -EINVAL,
          "objects.json: items[1] (NetworkPolicy x/deny-all): spec.egress[0].to[0]: a peer needs podSelector, "
          "namespaceSelector or ipBlock" },
        { ONE_POLICY("{'podSelector':{},'egress':[{'to':[{'ipBlock':{'cidr':'10.0.0.0/8'},'podSelector':{}}]}]}"),
          -EINVAL,
          "objects.json: items[1] (NetworkPolicy x/deny-all): spec.egress[0].to[0]: ipBlock may not be combined "
          "with podSelector or namespaceSelector" },
        { ONE_POLICY("{'podSelector':{},'egress':[{'to':[{'ipBlock':{'cidr':'10.0.0.0/33'}}]}]}"), -EINVAL,
          "objects.json: items[1] (NetworkPolicy x/deny-all): spec.egress[0].to[0].ipBlock.cidr: not a CIDR: "
          "\"10.0.0.0/33\"" },
        { ONE_POLICY("{'podSelector':{},'egress':[{'to':[{'ipBlock':{'cidr':'10.0.0.0'}}]}]}"), -EINVAL,
          "objects.json: items[1] (NetworkPolicy x/deny-all): spec.egress[0].to[0].ipBlock.cidr: not a CIDR: "
          "\"10.0.0.0\"" },
        { ONE_POLICY("{'podSelector':{},'egress':[{'to':[{'ipBlock':{'cidr':'10.0.0.0/16','except':['10.1.0.0/24']}}]}]}"),
          -EINVAL,
          "objects.json: items[1] (NetworkPolicy x/deny-all): spec.egress[0].to[0].ipBlock.except[0]: "
          "\"10.1.0.0/24\" is not inside cidr \"10.0.0.0/16\"" },
        { ONE_POLICY("{'podSelector':{},'ingress':[{'ports':[{'port':80,'protocol':'ICMP'}]}]}"), -EINVAL,
          "objects.json: items[1] (NetworkPolicy x/deny-all): spec.ingress[0].ports[0].protocol: unknown protocol "
          "\"ICMP\" (TCP, UDP, SCTP)" },
        { ONE_POLICY("{'podSelector':{},'ingress':[{'ports':[{'port':'http','endPort':90}]}]}"), -EINVAL,
          "objects.json: items[1] (NetworkPolicy x/deny-all): spec.ingress[0].ports[0].endPort: needs a numeric port" },
        { ONE_POLICY("{'podSelector':{},'ingress':[{'ports':[{'port':90,'endPort':80}]}]}"), -EINVAL,
          "objects.json: items[1] (NetworkPolicy x/deny-all): spec.ingress[0].ports[0].endPort: must be 90-65535 "
          "(at least port)" },
        { ONE_POLICY("{'podSelector':{},'ingress':[{'ports':[{'port':70000}]}]}"), -EINVAL,
          "objects.json: items[1] (NetworkPolicy x/deny-all): spec.ingress[0].ports[0].port: must be 1-65535" },
        { ONE_POLICY("{'podSelector':{},'ingress':[{'ports':[{'port':'80'}]}]}"), -EINVAL,
          "objects.json: items[1] (NetworkPolicy x/deny-all): spec.ingress[0].ports[0].port: not a port number or "
          "name: \"80\"" },
        { ONE_POLICY("{'podSelector':{},'ingress':{}}"), -EINVAL,
          "objects.json: items[1] (NetworkPolicy x/deny-all): spec.ingress: must be an array" },
        { "{'kind':'NetworkPolicy','metadata':{'name':'p'}}", -EINVAL,
          "objects.json: NetworkPolicy default/p: spec: missing" },
        { "{'kind':'List','items':[{'kind':'Pod','metadata':{'namespace':'x'}}]}", -EINVAL,
          "objects.json: items[0] (Pod): metadata.name: missing" },
        { "{'kind':'List','items':[{'metadata':{'name':'a'}}]}", -EINVAL, "objects.json: items[0]: kind: missing" },
        { "{'kind':'List','items':[1]}", -EINVAL, "objects.json: items[0]: not an object" },
        { "{'kind':'List','items':[{'kind':'PodList','items':[]}]}", -EINVAL,
          "objects.json: items[0] (PodList): a List inside a List is not read" },
        { "{'kind':'List','items':{}}", -EINVAL, "objects.json: List: items: must be an array" },
        { "[]", -EINVAL, "objects.json: not an object" },
        { "{'kind':'Pod','metadata':{'name':'a','namespace':'x'},'status':{'podIPs':[{'ip':'10.0.0.300'}]}}", -EINVAL,
          "objects.json: Pod x/a: status.podIPs[0].ip: not an IP address: \"10.0.0.300\"" },
        { "{'kind':'Pod','metadata':{'name':'a','namespace':'x','labels':{'app':true}}}", -EINVAL,
          "objects.json: Pod x/a: metadata.labels.app: must be a string" },
        { "{'kind':'Pod','metadata':{'name':'a'},'spec':{'hostNetwork':'yes'}}", -EINVAL,
          "objects.json: Pod default/a: spec.hostNetwork: must be a boolean" },
        { "{'kind':'Pod','metadata':{'name':'a'},'spec':{'containers':[{'ports':[{'name':'http','protocol':'TCP'}]}]}}",
          -EINVAL, "objects.json: Pod default/a: spec.containers[0].ports[0].containerPort: missing" },
        { "{'kind':'List','items':[{'kind':'Pod','metadata':{'name':'a','namespace':'x'}},"
          "{'kind':'Pod','metadata':{'name':'a','namespace':'x'}}]}",
          -EINVAL, "objects.json: items[1] (Pod x/a): duplicate of objects.json items[0]" },
        { "{'kind':'List','items':[{'kind':'Namespace','metadata':{'name':'x'}},"
          "{'kind':'Namespace','metadata':{'name':'x'}}]}",
          -EINVAL, "objects.json: items[1] (Namespace x): duplicate of objects.json items[0]" },
        /* Other kinds are skipped, whatever they hold. */
        { "{'kind':'List','items':[{'kind':'Service','metadata':{'name':7}},{'kind':'Pod','metadata':{'name':'a'}}]}",
          0, NULL },
};

static void test_errors(void **state) {
        for (size_t k = 0; k < ELEMENTSOF(bad_cases); k++) {
                const bad_case_t *b = &bad_cases[k];
                struct json_object *o = parse_q(b->json);
                netpol_document_t doc = { "objects.json", o };
                netpol_cluster_t *c = NULL;
                strbuf_t err;
                sb_init(&err, 0);
                int r = netpol_cluster_new(&doc, 1, NULL, &c, &err);
                json_object_put(o);
                if (r != b->error)
                        fail_msg("case %zu: got %d (%s), want %d", k, r, err.data ? err.data : "", b->error);
                if (b->message)
                        assert_string_equal(err.data, b->message);
                if (r < 0)
                        assert_null(c);
                netpol_cluster_free(c);
                sb_free(&err);
        }
}

/* ----------------------------------------------------------------- caps */

static int build_with_limits(const netpol_limits_t *lim, strbuf_t *err) {
        struct json_object *base = base_objects();  /* 3 namespaces, 9 pods */
        struct json_object *pols = parse_q(LIST(NP("x", "a", "{'podSelector':{}}") "," NP("y", "b", "{'podSelector':{}}") ","
                                                NP("w", "c", "{'podSelector':{}}")));  /* w: implicit, the 4th namespace */
        netpol_document_t docs[2] = { { "base.json", base }, { "p.json", pols } };
        netpol_cluster_t *c = NULL;
        sb_reset(err);
        int r = netpol_cluster_new(docs, 2, lim, &c, err);
        if (r >= 0) {
                assert_int_equal(netpol_pod_count(c), 9);
                assert_int_equal(netpol_policy_count(c), 3);
                assert_int_equal(netpol_namespace_count(c), 4);
        }
        netpol_cluster_free(c);
        json_object_put(base);
        json_object_put(pols);
        return r;
}

static void test_caps(void **state) {
        strbuf_t err;
        sb_init(&err, 0);
        /* Exactly at each cap: accepted; one less: refused with a message. */
        assert_int_equal(build_with_limits(&(netpol_limits_t) { 9, 3, 4 }, &err), 0);
        assert_int_equal(build_with_limits(&(netpol_limits_t) { 8, 3, 4 }, &err), -E2BIG);
        assert_string_equal(err.data, "base.json: items[11] (Pod z/c): more than 8 pods (the cap)");
        assert_int_equal(build_with_limits(&(netpol_limits_t) { 9, 2, 4 }, &err), -E2BIG);
        assert_string_equal(err.data, "p.json: items[2] (NetworkPolicy w/c): more than 2 NetworkPolicies (the cap)");
        /* Namespace objects count as read; then with those only named by pods and policies. */
        assert_int_equal(build_with_limits(&(netpol_limits_t) { 9, 3, 2 }, &err), -E2BIG);
        assert_string_equal(err.data, "base.json: items[2] (Namespace z): more than 2 namespaces (the cap)");
        assert_int_equal(build_with_limits(&(netpol_limits_t) { 9, 3, 3 }, &err), -E2BIG);
        assert_string_equal(err.data,
                            "more than 3 namespaces, counting those only named by pods and policies (the cap)");
        /* Defaults. */
        assert_int_equal(build_with_limits(NULL, &err), 0);
        sb_free(&err);
}

static void test_protocols(void **state) {
        netpol_proto_t p;
        assert_int_equal(netpol_proto_from_string("SCTP", &p), 0);
        assert_int_equal(p, NETPOL_SCTP);
        assert_string_equal(netpol_proto_name(NETPOL_UDP), "UDP");
        assert_int_equal(netpol_proto_from_string("tcp", &p), -EINVAL);
        assert_int_equal(netpol_proto_from_string(NULL, &p), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_scenarios),
                cmocka_unit_test(test_reasons),
                cmocka_unit_test(test_host_network_and_no_ip),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_caps),
                cmocka_unit_test(test_protocols),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

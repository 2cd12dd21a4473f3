/* Reports of the agent's state: the /api/v1/matrix JSON document (also
 * `once --format json`), the `once` table and JUnit XML. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent-internal.h"
#include "build-config.h"

/* ---- reports ---- */

static void put_json_time(strbuf_t *out, uint64_t wall) {
        if (wall == 0)
                sb_puts(out, "null");
        else
                sb_put_double(out, (double) (wall / 1000) / 1e3);
}

int agent_matrix_json(agent_t *a, strbuf_t *out) {
        sb_puts(out, "{\"identity\":");
        sb_put_json_string(out, a->identity);
        sb_puts(out, ",\"version\":");
        sb_put_json_string(out, NETCANARY_VERSION);
        sb_puts(out, ",\"config\":{\"source\":");
        sb_put_json_string(out, a->cfg->source);
        sb_printf(out, ",\"last_reload_successful\":%s,\"last_reload_success_timestamp\":",
                  a->last_reload_ok ? "true" : "false");
        put_json_time(out, a->last_reload_success_wall);
        sb_puts(out, ",\"last_reload_error\":");
        if (a->last_reload_error)
                sb_put_json_string(out, a->last_reload_error);
        else
                sb_puts(out, "null");
        sb_printf(out, "},\"ready\":%s,\"rows\":[", agent_ready(a, NULL) ? "true" : "false");
        for (size_t i = 0; i < a->n_rows; i++) {
                const row_state_t *rs = a->rows[i];
                const row_t *row = rs->row;
                verdict_t v = rs->confirm.confirmed;
                if (i > 0)
                        sb_putc(out, ',');
                sb_printf(out, "{\"index\":%zu,\"from\":", row->index);
                sb_put_json_string(out, a->identity);
                sb_puts(out, ",\"to\":");
                sb_put_json_string(out, row->to);
                sb_printf(out, ",\"protocol\":\"%s\",\"expect\":\"%s\",\"supported\":%s",
                          proto_name(row->target->proto), expect_name(row->expect), rs->supported ? "true" : "false");
                if (!rs->supported)
                        sb_printf(out, ",\"error\":\"%s probes are not supported by this build yet\"",
                                  proto_name(row->target->proto));
                sb_puts(out, ",\"interval_seconds\":");
                sb_put_double(out, (double) row->interval_usec / 1e6);
                sb_puts(out, ",\"timeout_seconds\":");
                sb_put_double(out, (double) row->timeout_usec / 1e6);
                sb_printf(out, ",\"confirm\":%u,\"verdict\":\"%s\",\"observed\":\"%s\",\"met\":%s,\"verified\":%s,"
                          "\"mismatch\":\"%s\",\"rounds\":%llu,"
                          "\"mismatches\":{\"unexpected_allow\":%llu,\"unexpected_deny\":%llu},\"last_probe\":",
                          row->confirm, verdict_name(v), verdict_name(rs->observed),
                          expectation_met(row->expect, v) ? "true" : "false", rs->verified ? "true" : "false",
                          mismatch_name(mismatch_of(row->expect, v)), (unsigned long long) rs->rounds,
                          (unsigned long long) rs->mismatch_count[MISMATCH_UNEXPECTED_ALLOW],
                          (unsigned long long) rs->mismatch_count[MISMATCH_UNEXPECTED_DENY]);
                put_json_time(out, rs->last_probe_wall);
                sb_puts(out, ",\"last_change\":");
                put_json_time(out, rs->last_change_wall);
                sb_puts(out, ",\"addresses\":[");
                for (size_t j = 0; j < rs->n_last; j++) {
                        const addr_result_t *res = &rs->last[j];
                        char addr[80] = "";
                        if (res->addr.ss_family)
                                sockaddr_format((const struct sockaddr *) &res->addr, addr, sizeof addr);
                        if (j > 0)
                                sb_putc(out, ',');
                        sb_puts(out, "{\"address\":");
                        if (res->addr.ss_family)
                                sb_put_json_string(out, addr);
                        else
                                sb_puts(out, "null");
                        sb_printf(out, ",\"outcome\":\"%s\",\"verdict\":\"%s\",\"duration_seconds\":",
                                  outcome_name(res->outcome), verdict_name(res->verdict));
                        sb_put_double(out, (double) res->duration_usec / 1e6);
                        if (res->error) {
                                sb_puts(out, ",\"error\":");
                                sb_put_json_string(out, strerror(res->error));
                        }
                        sb_putc(out, '}');
                }
                sb_puts(out, "]}");
        }
        sb_puts(out, "]}\n");
        return out->oom ? -ENOMEM : 0;
}

static bool row_met(const row_state_t *rs) {
        return rs->supported && expectation_met(rs->row->expect, rs->confirm.confirmed);
}

void agent_summary(const agent_t *a, agent_summary_t *ret) {
        *ret = (agent_summary_t) { .rows = (unsigned) a->n_rows };
        for (size_t i = 0; i < a->n_rows; i++) {
                const row_state_t *rs = a->rows[i];
                if (row_met(rs))
                        ret->met++;
                else if (rs->supported && mismatch_of(rs->row->expect, rs->confirm.confirmed) != MISMATCH_NONE)
                        ret->mismatched++;
                else
                        ret->inconclusive++;
        }
}

static const char *row_result_word(const row_state_t *rs) {
        if (!rs->supported)
                return "unsupported";
        if (row_met(rs))
                return rs->verified ? "met" : "met (unverified)";
        mismatch_t mm = mismatch_of(rs->row->expect, rs->confirm.confirmed);
        if (mm != MISMATCH_NONE)
                return mismatch_name(mm);
        return "inconclusive";
}

static void put_addresses_text(strbuf_t *out, const row_state_t *rs) {
        for (size_t j = 0; j < rs->n_last; j++) {
                const addr_result_t *res = &rs->last[j];
                char addr[80] = "-";
                if (res->addr.ss_family)
                        sockaddr_format((const struct sockaddr *) &res->addr, addr, sizeof addr);
                sb_printf(out, "%s%s %s %.3fms", j ? ", " : "", addr, outcome_name(res->outcome),
                          (double) res->duration_usec / 1e3);
        }
}

int agent_report_table(agent_t *a, strbuf_t *out) {
        int w_to = 2;
        for (size_t i = 0; i < a->n_rows; i++) {
                int n = (int) strlen(a->rows[i]->row->to);
                if (n > w_to)
                        w_to = n;
        }
        int w_from = (int) strlen(a->identity) > 4 ? (int) strlen(a->identity) : 4;
        sb_printf(out, "%-*s  %-*s  %-5s  %-6s  %-12s  %-16s  %s\n", w_from, "FROM", w_to, "TO", "PROTO", "EXPECT",
                  "VERDICT", "RESULT", "ADDRESSES");
        for (size_t i = 0; i < a->n_rows; i++) {
                const row_state_t *rs = a->rows[i];
                sb_printf(out, "%-*s  %-*s  %-5s  %-6s  %-12s  %-16s  ", w_from, a->identity, w_to, rs->row->to,
                          proto_name(rs->row->target->proto), expect_name(rs->row->expect),
                          verdict_name(rs->confirm.confirmed), row_result_word(rs));
                put_addresses_text(out, rs);
                sb_putc(out, '\n');
        }
        agent_summary_t sum;
        agent_summary(a, &sum);
        sb_printf(out, "\n%u rows: %u met, %u mismatched, %u inconclusive or unsupported\n", sum.rows, sum.met,
                  sum.mismatched, sum.inconclusive);
        return out->oom ? -ENOMEM : 0;
}

static void put_xml(strbuf_t *out, const char *s) {
        for (const char *p = s; *p; p++) {
                switch (*p) {
                case '<': sb_puts(out, "&lt;"); break;
                case '>': sb_puts(out, "&gt;"); break;
                case '&': sb_puts(out, "&amp;"); break;
                case '"': sb_puts(out, "&quot;"); break;
                case '\'': sb_puts(out, "&apos;"); break;
                default:
                        if ((unsigned char) *p >= 0x20 || *p == '\t' || *p == '\n')
                                sb_putc(out, *p);
                }
        }
}

int agent_report_junit(agent_t *a, strbuf_t *out) {
        agent_summary_t sum;
        agent_summary(a, &sum);
        unsigned skipped = 0;
        double total_seconds = 0;
        for (size_t i = 0; i < a->n_rows; i++) {
                if (!a->rows[i]->supported)
                        skipped++;
                for (size_t j = 0; j < a->rows[i]->n_last; j++)
                        total_seconds += (double) a->rows[i]->last[j].duration_usec / 1e6;
        }
        unsigned errors = sum.inconclusive - skipped;
        sb_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        sb_printf(out, "<testsuites name=\"netcanary\" tests=\"%u\" failures=\"%u\" errors=\"%u\" skipped=\"%u\">\n",
                  sum.rows, sum.mismatched, errors, skipped);
        sb_puts(out, "  <testsuite name=\"netcanary.");
        put_xml(out, a->identity);
        sb_printf(out, "\" tests=\"%u\" failures=\"%u\" errors=\"%u\" skipped=\"%u\" time=\"%.6f\">\n", sum.rows,
                  sum.mismatched, errors, skipped, total_seconds);
        for (size_t i = 0; i < a->n_rows; i++) {
                const row_state_t *rs = a->rows[i];
                const row_t *row = rs->row;
                double seconds = 0;
                for (size_t j = 0; j < rs->n_last; j++)
                        seconds += (double) rs->last[j].duration_usec / 1e6;
                sb_puts(out, "    <testcase classname=\"netcanary.");
                put_xml(out, a->identity);
                sb_puts(out, "\" name=\"");
                put_xml(out, a->identity);
                sb_puts(out, " -&gt; ");
                put_xml(out, row->to);
                sb_printf(out, " (%s, expect %s)\" time=\"%.6f\"", proto_name(row->target->proto),
                          expect_name(row->expect), seconds);
                strbuf_t detail;
                sb_init(&detail, 0);
                sb_printf(&detail, "expected %s, observed %s: ", expect_name(row->expect),
                          verdict_name(rs->confirm.confirmed));
                put_addresses_text(&detail, rs);
                const char *d = detail.data ? detail.data : "";
                mismatch_t mm = mismatch_of(row->expect, rs->confirm.confirmed);
                if (!rs->supported) {
                        sb_printf(out, ">\n      <skipped message=\"%s probes are not supported by this build yet\"/>\n"
                                       "    </testcase>\n", proto_name(row->target->proto));
                } else if (mm != MISMATCH_NONE) {
                        sb_printf(out, ">\n      <failure type=\"%s\" message=\"", mismatch_name(mm));
                        put_xml(out, d);
                        sb_puts(out, "\"/>\n    </testcase>\n");
                } else if (!row_met(rs)) {
                        sb_puts(out, ">\n      <error type=\"inconclusive\" message=\"");
                        put_xml(out, d);
                        sb_puts(out, "\"/>\n    </testcase>\n");
                } else
                        sb_puts(out, "/>\n");
                sb_free(&detail);
        }
        sb_puts(out, "  </testsuite>\n</testsuites>\n");
        return out->oom ? -ENOMEM : 0;
}


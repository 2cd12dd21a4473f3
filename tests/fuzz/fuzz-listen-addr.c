/* Fuzz target: address parsing for agent.listen and DNS server lists
 * (sockaddr_parse_listen, sockaddr_parse_ip_port, sockaddr_from_literal).
 * Anything accepted must be a well-formed IPv4/IPv6 sockaddr whose
 * sockaddr_format() text parses back to the same address and port. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "fuzz.h"
#include "sockaddr.h"

static uint16_t port_of(const struct sockaddr_storage *ss) {
        return ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *) ss)->sin6_port
                                               : ((const struct sockaddr_in *) ss)->sin_port);
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
        if (a->ss_family != b->ss_family || port_of(a) != port_of(b))
                return false;
        if (a->ss_family == AF_INET)
                return memcmp(&((const struct sockaddr_in *) a)->sin_addr, &((const struct sockaddr_in *) b)->sin_addr,
                              sizeof(struct in_addr)) == 0;
        return memcmp(&((const struct sockaddr_in6 *) a)->sin6_addr, &((const struct sockaddr_in6 *) b)->sin6_addr,
                      sizeof(struct in6_addr)) == 0;
}

static void check_accepted(const struct sockaddr_storage *ss, socklen_t len, bool any_port) {
        FUZZ_CHECK(ss->ss_family == AF_INET || ss->ss_family == AF_INET6);
        FUZZ_CHECK(len == (ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)));
        FUZZ_CHECK(len == sockaddr_len((const struct sockaddr *) ss));
        if (!any_port)
                FUZZ_CHECK(port_of(ss) != 0);
        char buf[64];
        sockaddr_format((const struct sockaddr *) ss, buf, sizeof buf);
        FUZZ_CHECK(strlen(buf) < sizeof buf - 1);
        struct sockaddr_storage again;
        socklen_t again_len;
        if (sockaddr_parse_listen(buf, &again, &again_len) != 0 || !same_addr(ss, &again)) {
                fprintf(stderr, "\"%s\" does not parse back as the address it was formatted from\n", buf);
                FUZZ_CHECK(!"sockaddr_format does not round-trip");
        }
        FUZZ_CHECK(again_len == len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';

        struct sockaddr_storage ss;
        socklen_t len;
        int r = sockaddr_parse_listen(s, &ss, &len);
        FUZZ_CHECK(r == 0 || r == -EINVAL);
        if (r == 0)
                check_accepted(&ss, len, true);

        r = sockaddr_parse_ip_port(s, 53, &ss, &len);
        FUZZ_CHECK(r == 0 || r == -EINVAL);
        if (r == 0)
                check_accepted(&ss, len, false);

        r = sockaddr_from_literal(s, 9891, &ss, &len);
        FUZZ_CHECK(r == 0 || r == -EINVAL);
        if (r == 0) {
                check_accepted(&ss, len, false);
                FUZZ_CHECK(port_of(&ss) == 9891);
        }
        free(s);
        return 0;
}

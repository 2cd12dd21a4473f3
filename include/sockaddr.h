/* Socket addresses: parsing and formatting, pure (no I/O, no allocation).
 * The bottom layer, beside util.h: config, the HTTP server and the probes use
 * it without depending on the resolver. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Parses a literal IPv4/IPv6 address (IPv6 with or without brackets) and a
 * port into *ret. Returns 0 or -EINVAL. */
int sockaddr_from_literal(const char *host, uint16_t port, struct sockaddr_storage *ret, socklen_t *ret_len);
/* Parses "ADDR:PORT" for listening: "0.0.0.0:9890", "[::1]:9890", or
 * ":9890" (every address: IPv6 any, dual-stack). Port 0..65535. -EINVAL on
 * anything else. */
int sockaddr_parse_listen(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len);
/* Parses "IP" or "IP:PORT" / "[IPv6]:PORT" (DNS server lists); `default_port`
 * when none is given. -EINVAL on anything else. */
int sockaddr_parse_ip_port(const char *s, uint16_t default_port, struct sockaddr_storage *ret, socklen_t *ret_len);
/* "10.0.0.1:80" or "[::1]:80" (buf of at least 64 bytes). */
void sockaddr_format(const struct sockaddr *sa, char *buf, size_t size);
socklen_t sockaddr_len(const struct sockaddr *sa);

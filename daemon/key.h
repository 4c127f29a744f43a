/*
 * key.h - from a Postfix policy-table lookup key to the Policy Domain.
 *
 * Postfix asks with the full next-hop: a domain, "[host]", "[host]:port",
 * "host:port", a parent probe ".example.com", an IP literal, or UTF-8
 * (postfix-tls-policy.md §1).  Only a plain domain has an MTA-STS policy:
 * RFC 8461 §3.4 forbids parent lookups and gives address literals none.
 */
#ifndef STS_DAEMON_KEY_H
#define STS_DAEMON_KEY_H

#include <stddef.h>

#include "mtasts/domain.h"

/*
 * STS_OK: ret_domain holds the lower-case A-label domain.
 * STS_ENOTFOUND: the key names no domain that can have a policy (answer
 * NOTFOUND); ret_why says why, for the debug log.
 */
int key_to_domain(const char *key, size_t len,
    char ret_domain[STS_DOMAIN_MAX + 1], const char **ret_why);

#endif

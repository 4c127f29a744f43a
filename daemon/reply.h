/*
 * reply.h - the only code that knows Postfix policy-table syntax.
 *
 * Turns a decision into the socketmap reply payload Postfix reads from
 * smtp_tls_policy_maps (postfix-tls-policy.md §1-§3), byte-compatible
 * with postfix-mta-sts-resolver (peers-resolvers.md §1.4, §11):
 *
 *   OK secure match=mx1.example.com:.example.net servername=hostname
 *   NOTFOUND                       (with its trailing space)
 *
 * Lossy mapping, on purpose: Postfix's ".example.net" in match= accepts
 * any depth of subdomain, MTA-STS's "*.example.net" exactly one label.
 * With the TLS-RPT attributes (Postfix >= 3.10) mx_host_pattern keeps "*."
 * and Postfix >= 3.10.5 applies the exact RFC 8461 §4.1 rule itself.
 */
#ifndef STS_DAEMON_REPLY_H
#define STS_DAEMON_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "mtasts/policy.h"

struct reply_opts {
	bool strict_testing; /* testing is answered like enforce */
	bool require_sni;    /* append servername=hostname */
	bool tlsrpt;         /* append the Postfix 3.10 TLS-RPT attributes */
};

/* A bounded output buffer; len excludes the NUL, which is kept. */
struct reply_buf {
	char *data;
	size_t len, cap;
	bool overflow;
};

void reply_buf_init(struct reply_buf *b, char *data, size_t cap);

/* "NOTFOUND " */
void reply_notfound(struct reply_buf *b);

/*
 * DANE protects the domain (RFC 7672): let Postfix do DANE itself.
 * "OK dane-only" (mandatory) or "OK dane" (opportunistic DANE).
 */
void reply_dane(struct reply_buf *b, bool mandatory);

/* "TEMP <reason>" / "PERM <reason>": reason is made printable. */
void reply_temp(struct reply_buf *b, const char *reason);
void reply_perm(struct reply_buf *b, const char *reason);

/*
 * The reply for an applied policy of `domain` (A-label): enforce, or
 * testing under strict_testing, gives "OK secure ..."; otherwise
 * "NOTFOUND " (RFC 8461 §5: testing and none deliver as without policy).
 * Returns false only if even the shortest form does not fit.
 */
bool reply_policy(struct reply_buf *b, const struct sts_policy *pol,
    const char *domain, const struct reply_opts *opts);

#endif

/*
 * dns.h - asynchronous DNS lookups with their DNSSEC state (L3 adapter).
 *
 * libunbound does the resolving and the DNSSEC validation on the caller's
 * libevent event_base (ub_ctx_create_event, no threads); ldns parses the
 * answer packets.  This module returns records and facts and never
 * interprets them: the _mta-sts TXT grammar is txt.c's job.
 *
 * Callbacks: a query's callback runs exactly once, always from the event
 * loop and never from inside the call that started the query, unless the
 * query is cancelled first (then never).  The callback may start new
 * queries, cancel other queries, and even free the context.
 */
#ifndef MTASTS_DNS_H
#define MTASTS_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "limits.h"
#include "txt.h"

struct event_base;
struct sts_dns;
struct sts_dns_query;

struct sts_dns_config {
	/*
	 * Forwarders, each "addr" or "addr@port" (IPv4 or IPv6 literal,
	 * e.g. "127.0.0.1@5353", "::1@53").  None: the system resolver,
	 * from /etc/resolv.conf and /etc/hosts.
	 */
	const char *const *forwarders;
	size_t n_forwarders;
	/* false: no validation; every answer is STS_DNS_INSECURE. */
	bool dnssec;
	/*
	 * Trust anchors when dnssec is on.  trust_anchor_file holds DS or
	 * DNSKEY records in zone-file format and is only read;
	 * auto_trust_anchor_file is an RFC 5011 managed file that
	 * libunbound rewrites (unbound.conf auto-trust-anchor-file; the
	 * file and its directory must be writable).  Both NULL:
	 * /usr/share/dns/root.key (Debian dns-root-data) if it is readable,
	 * else no anchor, i.e. nothing validates (see
	 * sts_dns_validating()).
	 */
	const char *trust_anchor_file;
	const char *auto_trust_anchor_file;
	/* Per-query limit; 0 means STS_DNS_TIMEOUT_MS. */
	unsigned timeout_ms;
};

enum sts_dns_security {
	STS_DNS_INSECURE = 0, /* no validation, or no chain of trust */
	STS_DNS_SECURE = 1,   /* validated from a trust anchor */
	STS_DNS_BOGUS = 2,    /* validation failed: status is STS_ETEMP
				 (but see sts_dns_query_addr) */
};

enum sts_dns_type {
	STS_DNS_TXT,
	STS_DNS_MX,
	STS_DNS_ADDR, /* A and AAAA of one name together */
	STS_DNS_TLSA,
};

struct sts_dns_mx {
	unsigned pref;
	/*
	 * Lower-case, no trailing dot; "" for the null MX "." (RFC 7505).
	 * Bytes outside LDH come escaped as in zone files ("\032").
	 */
	const char *host;
};

struct sts_dns_addr {
	int family; /* AF_INET6 or AF_INET */
	char addr[STS_ADDR_STR_MAX];
};

struct sts_dns_tlsa {
	uint8_t usage;
	uint8_t selector;
	uint8_t mtype;
	const uint8_t *data;
	size_t len;
};

/*
 * One finished query.  Everything it points to lives only during the
 * callback.  status is one of:
 *   STS_OK         n >= 1 records of the queried type (after CNAMEs);
 *   STS_ENOTFOUND  NXDOMAIN (nxdomain true) or NODATA (nxdomain false);
 *   STS_ETEMP      SERVFAIL, REFUSED, another rcode, a bogus answer, a
 *                  malformed packet, or the timeout;
 *   STS_ENOMEM     we ran out of memory handling the answer.
 * Exactly the array of the query's type is non-NULL when n > 0.
 */
struct sts_dns_answer {
	int status;
	enum sts_dns_type type;
	const char *name; /* the name queried (TLSA: "_25._tcp.host") */
	enum sts_dns_security security;
	/*
	 * DNS rcode (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED, ...);
	 * -1 when there was no answer at all (timeout).
	 */
	int rcode;
	bool nxdomain;
	/*
	 * Smallest TTL in the answer section (CNAMEs included); for
	 * STS_ENOTFOUND the negative TTL from the SOA (RFC 2308 §5), 0 if
	 * none; 0 for failures.
	 */
	uint32_t ttl;
	unsigned elapsed_ms;
	/* e.g. "SERVFAIL from resolver", "timed out after 5000 ms",
	 * "DNSSEC bogus: <why>"; printable ASCII only. */
	char reason[STS_DNS_REASON_MAX];
	size_t n;
	/* Each record's character-strings joined without separator; may
	 * hold NUL bytes; data[len] is a NUL added for convenience. */
	const struct sts_txt_record *txt;
	const struct sts_dns_mx *mx;
	/* AAAA records first, then A, each in answer order. */
	const struct sts_dns_addr *addr;
	const struct sts_dns_tlsa *tlsa;
};

typedef void sts_dns_cb(const struct sts_dns_answer *answer, void *arg);

/*
 * Create a resolver context on base.  cfg may be NULL (all defaults,
 * dnssec off).  Nothing is sent yet, but libunbound is fully set up, so
 * a broken trust anchor file fails here.  Returns STS_OK, STS_EINVAL (bad
 * forwarder, unreadable or unusable trust anchor file, unreadable
 * /etc/resolv.conf; reterr_diag, may be NULL, says which), STS_ENOMEM or
 * STS_EINTERNAL.  libunbound's own log output is silenced (it is
 * process-wide in libunbound: ub_ctx_debugout).
 */
int sts_dns_new(struct event_base *base, const struct sts_dns_config *cfg,
    struct sts_dns **ret_dns, struct sts_diag *reterr_diag);

/* Cancel every outstanding query (no callbacks) and free; NULL ok. */
void sts_dns_free(struct sts_dns *dns);

/* True when answers can be STS_DNS_SECURE: dnssec on and an anchor. */
bool sts_dns_validating(const struct sts_dns *dns);

/*
 * Start a query.  name is a domain name in text (a trailing dot is
 * optional).  On STS_OK the callback will run once, later, and
 * *ret_query (ret_query may be NULL) is a handle valid until the
 * callback starts or until sts_dns_cancel().  Errors (no callback):
 * STS_EINVAL (bad name or port), STS_ENOMEM, STS_EINTERNAL (libunbound
 * refused the query, e.g. it failed to set itself up).
 */
int sts_dns_query_txt(struct sts_dns *dns, const char *name, sts_dns_cb *cb,
    void *arg, struct sts_dns_query **ret_query);
int sts_dns_query_mx(struct sts_dns *dns, const char *name, sts_dns_cb *cb,
    void *arg, struct sts_dns_query **ret_query);
/*
 * A and AAAA together: STS_OK if either has addresses; STS_ENOTFOUND if
 * both are NXDOMAIN or NODATA; STS_ETEMP if one fails and the other has
 * none.  security is BOGUS if either is, SECURE only if both are.
 */
int sts_dns_query_addr(struct sts_dns *dns, const char *name, sts_dns_cb *cb,
    void *arg, struct sts_dns_query **ret_query);
/* TLSA of _<port>._tcp.<host> (RFC 6698 §3, RFC 7672 §2.2.3). */
int sts_dns_query_tlsa(struct sts_dns *dns, const char *host, unsigned port,
    sts_dns_cb *cb, void *arg, struct sts_dns_query **ret_query);

/* The callback of query will never run; NULL ok. */
void sts_dns_cancel(struct sts_dns_query *query);

#endif

/*
 * dane.h - does DANE (RFC 7672) protect mail to a domain?
 *
 * MTA-STS must never weaken DANE (RFC 8461 §2).  In Postfix a "secure"
 * answer from the policy table switches Postfix's own DANE off for that
 * domain, so before answering with an MTA-STS policy the daemon asks:
 *
 *   1. MX of the domain, DNSSEC-validated.  Insecure: DANE cannot apply
 *      (RFC 7672 §2.2.1).  No MX (NODATA): the domain itself is the
 *      implicit MX (RFC 5321 §5.1).  Null MX (RFC 7505): no mail at all.
 *   2. For each MX host: its addresses; only when they are secure, the
 *      TLSA RRset at _25._tcp.<host> (RFC 7672 §2.2.2, §2.2.3).
 *   3. A secure TLSA RRset on any host means DANE applies.  A bogus
 *      answer, or a failed TLSA lookup on a secure host with no other
 *      host protected, means DANE's state cannot be known: the caller
 *      must not fall back to MTA-STS silently (RFC 7672 §2.1.1, §2.2).
 *
 * Everything here is validated by libunbound (dns.h): the answers carry
 * their security state; nothing trusts an AD bit.
 */
#ifndef MTASTS_DANE_H
#define MTASTS_DANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns.h"

struct sts_dane_req;

enum sts_dane_status {
	STS_DANE_NONE,   /* DANE does not apply: MTA-STS may */
	STS_DANE_APPLIES, /* a secure TLSA RRset protects an MX host */
	STS_DANE_FAILED, /* validation failed or a lookup failed: unknown */
};

/* MX hosts looked at per domain. */
#define STS_DANE_MAX_HOSTS 16
/* Bounds on how long a DANE state is cached (from the answers' TTLs). */
#define STS_DANE_MIN_TTL 30
#define STS_DANE_MAX_TTL 86400
/* A failed state is kept this long at most, to retry soon. */
#define STS_DANE_FAILED_TTL 60

enum sts_dane_host_state {
	STS_DANE_HOST_NO_TLSA,    /* secure denial, or insecure: no DANE */
	STS_DANE_HOST_USABLE,     /* secure TLSA with a usable record */
	STS_DANE_HOST_UNUSABLE,   /* secure TLSA, no usable record */
	STS_DANE_HOST_FAILED,     /* bogus or failed lookup */
};

struct sts_dane_host {
	char name[STS_DOMAIN_MAX + 1];
	enum sts_dane_host_state state;
	bool address_secure;
	unsigned n_tlsa;
};

struct sts_dane_result {
	enum sts_dane_status status;
	enum sts_dns_security mx_security;
	bool implicit_mx, null_mx;
	uint32_t ttl; /* seconds the state may be cached */
	size_t n_hosts;
	struct sts_dane_host hosts[STS_DANE_MAX_HOSTS];
	char reason[STS_DIAG_MAX];
};

typedef void sts_dane_cb(const struct sts_dane_result *result, void *arg);

/*
 * Determine the DANE state of domain (A-label).  The callback runs once,
 * later (never inside this call), unless cancelled.  The answer is only
 * meaningful with a validating dns context (sts_dns_validating()); with
 * none every answer is insecure and the state is STS_DANE_NONE.
 */
int sts_dane_check(struct sts_dns *dns, const char *domain, sts_dane_cb *cb,
    void *arg, struct sts_dane_req **ret_req);

void sts_dane_cancel(struct sts_dane_req *req);

/*
 * RFC 7672 §3.1, RFC 6698 §2.1, RFC 7671 §4: is this TLSA record usable
 * for SMTP?  DANE-TA(2) and DANE-EE(3) only (PKIX usages 0/1 are
 * unusable for SMTP, RFC 7672 §3.1.3), selector 0 or 1, matching type 0
 * (non-empty), 1 (32 bytes) or 2 (64 bytes).
 */
bool sts_dane_tlsa_usable(uint8_t usage, uint8_t selector, uint8_t mtype,
    size_t len);

/* "none", "applies", "failed". */
const char *sts_dane_status_name(enum sts_dane_status status);

#endif

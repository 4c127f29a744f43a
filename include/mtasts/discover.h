/*
 * discover.h - one complete MTA-STS discovery of a domain, no cache.
 *
 * The steps of RFC 8461 §3, in order, each recorded with its facts:
 *   1. TXT _mta-sts.<domain> (§3.1), parsed by txt.c;
 *   2. A/AAAA of mta-sts.<domain> (skipped behind a proxy);
 *   3. HTTPS GET of the policy (§3.3), by fetch.c;
 *   4. the body parsed by policy.c (§3.2).
 * The first step that fails ends the discovery and is the reason there is
 * no policy.  `mta-sts fetch` prints a discovery; the daemon's cache
 * layer starts one when its decisions (decide.h) say so.
 */
#ifndef MTASTS_DISCOVER_H
#define MTASTS_DISCOVER_H

#include <stdbool.h>
#include <stddef.h>

#include "dns.h"
#include "fetch.h"
#include "policy.h"
#include "txt.h"

struct event_base;
struct sts_discoverer;
struct sts_discover_req;

struct sts_discover_config {
	struct sts_dns_config dns;
	struct sts_fetch_config fetch;
};

enum sts_discover_step {
	STS_STEP_TXT,
	STS_STEP_ADDR,
	STS_STEP_FETCH,
	STS_STEP_POLICY,
	STS_STEP_DONE,
};

struct sts_discovery {
	char domain[STS_DOMAIN_MAX + 1];
	/*
	 * STS_OK: policy is set.  Otherwise the class of the failing step:
	 * STS_ENOTFOUND (no TXT record: no MTA-STS), STS_ESYNTAX (TXT or
	 * policy invalid), STS_ETEMP, STS_ETLS, STS_EPROTO, STS_ETOOBIG,
	 * STS_EIO, STS_ENOMEM.
	 */
	int status;
	enum sts_discover_step failed_step; /* STS_STEP_DONE on success */
	/* RFC 8460 §4.3 result type for a failure after a valid TXT
	 * record (sts-policy-fetch-error, sts-policy-invalid,
	 * sts-webpki-invalid); NULL when there is nothing to report. */
	const char *tlsrpt_result;
	char reason[STS_DIAG_MAX + 64]; /* why there is no policy */
	/* Set when the TXT id equaled one of stop_ids: the fetch was
	 * skipped (status STS_OK, policy NULL, id set). */
	bool unchanged;

	/* step 1 */
	int txt_status;
	enum sts_dns_security txt_security;
	uint32_t txt_ttl;
	size_t n_txt;
	char **txt; /* the records as received, made printable */
	char id[STS_ID_MAX + 1];

	/* step 2 */
	size_t n_addrs;
	char (*addrs)[STS_ADDR_STR_MAX];

	/* step 3 (valid when failed_step >= STS_STEP_FETCH) */
	bool fetched;
	long http_status;
	char content_type[STS_FETCH_CONTENT_TYPE_MAX];
	char address[STS_ADDR_STR_MAX];
	long port;
	char tls_version[STS_FETCH_TLS_VERSION_MAX];
	unsigned fetch_ms;
	char *body; /* the raw body on a 200, for the cache */
	size_t body_len;

	/* step 4 */
	struct sts_policy *policy;
	struct sts_diag policy_diag;

	unsigned elapsed_ms;
};

typedef void sts_discover_cb(struct sts_discovery *d, void *arg);

/* A DNS and an HTTPS context on base, shared by all discoveries. */
int sts_discoverer_new(struct event_base *base,
    const struct sts_discover_config *cfg, struct sts_discoverer **ret,
    struct sts_diag *reterr_diag);
void sts_discoverer_free(struct sts_discoverer *disc);

/* The DNS context, for callers that need other lookups (MX, TLSA). */
struct sts_dns *sts_discoverer_dns(struct sts_discoverer *disc);

/* At most this many ids can stop a discovery after its TXT step. */
#define STS_DISCOVER_MAX_STOP_IDS 2

/*
 * Discover domain (A-label, as sts_domain_to_alabel gives it).  When the
 * TXT id equals one of the n_stop_ids ids in stop_ids (the cached
 * policy's id: §3, no HTTPS request needed; or an id whose fetch failed
 * moments ago: §3.3 rate limit), stop there with unchanged set.  The
 * callback runs once, later, and owns the discovery (free it with
 * sts_discovery_free).
 */
int sts_discover(struct sts_discoverer *disc, const char *domain,
    const char *const *stop_ids, size_t n_stop_ids, sts_discover_cb *cb,
    void *arg, struct sts_discover_req **ret_req);

void sts_discover_cancel(struct sts_discover_req *req);

void sts_discovery_free(struct sts_discovery *d);

/* "txt", "address", "fetch", "policy", "done". */
const char *sts_discover_step_name(enum sts_discover_step step);

#endif

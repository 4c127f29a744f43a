/*
 * resolver.h - policy lookups with a cache: the daemon's engine.
 *
 * Answers "which MTA-STS policy applies to this domain now?" from memory
 * when it can (no I/O on the hot path), and otherwise runs a discovery
 * (discover.h), coalescing concurrent lookups of one domain into one.
 * The rules of RFC 8461 §3.3 and §5.1 come from decide.h; this module
 * only carries them out:
 *   - a cached policy is served until it expires, whatever DNS or HTTPS
 *     say meanwhile; a failed refresh never evicts it;
 *   - after cache_grace the TXT id is re-checked off the request path: a
 *     changed id refetches, an unchanged one extends the policy;
 *   - a failed fetch is not retried for the same id within 5 minutes;
 *   - used policies are refreshed before they expire, with jitter;
 *   - "no policy" answers are cached for negative_ttl.
 * The library never logs: notable events go to the event callback.
 */
#ifndef MTASTS_RESOLVER_H
#define MTASTS_RESOLVER_H

#include <stdbool.h>
#include <stdint.h>

#include "cache.h"
#include "dane.h"
#include "discover.h"
#include "policy.h"

struct event_base;
struct sts_resolver;
struct sts_resolver_req;

/* sts_resolver_lookup(): the answer will come through the callback. */
#define STS_RESOLVER_PENDING 1

enum sts_answer_source {
	STS_SOURCE_CACHE,    /* a cached policy (memory or store) */
	STS_SOURCE_FETCH,    /* fetched for this lookup */
	STS_SOURCE_NEGATIVE, /* a cached "no policy" */
	STS_SOURCE_NONE,     /* resolved now: there is no policy */
	STS_SOURCE_TIMEOUT,  /* not resolved within the lookup timeout */
};

struct sts_answer {
	const char *domain;
	/* The policy to apply, NULL when there is none.  Valid during the
	 * callback, or until the next return to the event loop for a
	 * synchronous answer. */
	const struct sts_policy *policy;
	const char *id;
	enum sts_answer_source source;
	const char *reason; /* why there is no policy; "" otherwise */
	/* RFC 7672: does DANE protect this domain?  Checked only with
	 * DNSSEC validation on; STS_DANE_NONE otherwise. */
	enum sts_dane_status dane;
	const char *dane_reason;
};

typedef void sts_resolver_cb(const struct sts_answer *answer, void *arg);

enum sts_resolver_event_kind {
	STS_EV_FETCHED,        /* a new policy stored (detail: mode, id) */
	STS_EV_FETCH_FAILED,   /* discovery failed after a valid TXT */
	STS_EV_REFRESH_FAILED, /* refresh of a cached policy failed */
	STS_EV_UNCHANGED,      /* TXT id re-confirmed, policy extended */
	STS_EV_STORE_ERROR,    /* the persistent cache failed a write */
	STS_EV_CORRUPT_ENTRY,  /* a cached body no longer parses: dropped */
	STS_EV_DANE,           /* DANE state determined (detail: reason) */
};

struct sts_resolver_event {
	enum sts_resolver_event_kind kind;
	const char *domain;
	const struct sts_discovery *discovery; /* NULL for cache events */
	const struct sts_dane_result *dane;     /* STS_EV_DANE only */
	const struct sts_policy *cached;       /* the policy kept, or NULL */
	const char *detail;
};

typedef void sts_resolver_event_cb(const struct sts_resolver_event *ev,
    void *arg);

struct sts_resolver_config {
	struct sts_discover_config discover;
	struct sts_cache *cache;     /* borrowed; required */
	int64_t grace_s;             /* re-check the TXT id after this */
	int64_t negative_ttl_s;      /* cache "no policy" this long; 0 off */
	unsigned lookup_timeout_ms;  /* default lookup timeout (zones may differ) */
	bool proactive_refresh;
	int64_t refresh_interval_s;  /* refresh used policies this often */
	unsigned refresh_concurrency;
	size_t max_domains;          /* domains tracked in memory */
	size_t max_inflight;         /* discoveries at once */
	bool dane;                   /* determine the DANE state (RFC 7672) */
	sts_resolver_event_cb *on_event;
	void *event_arg;
	/* The clock, for tests; NULL: time(NULL). */
	int64_t (*now)(void *arg);
	void *now_arg;
};

struct sts_resolver_stats {
	uint64_t lookups, cache_hits, negative_hits, misses, coalesced;
	uint64_t timeouts, discoveries, fetch_ok, unchanged;
	/* RFC 8460 result types of failed discoveries after a valid TXT */
	uint64_t fetch_error, policy_invalid, webpki_invalid;
	uint64_t no_txt, txt_tempfail;
	uint64_t refresh_failed, refresh_failed_enforce, rate_limited;
	uint64_t store_errors, corrupt_entries;
	uint64_t dane_checks, dane_applies, dane_failed;
	size_t domains, inflight;
};

int sts_resolver_new(struct event_base *base,
    const struct sts_resolver_config *cfg, struct sts_resolver **ret,
    struct sts_diag *reterr_diag);

/* Cancel everything (no callbacks) and free; NULL ok. */
void sts_resolver_free(struct sts_resolver *res);

/*
 * Look domain up (A-label, normalised).  STS_OK: *ret_answer holds the
 * answer now (from memory).  STS_RESOLVER_PENDING: cb will run once,
 * later, unless sts_resolver_cancel(*ret_req) comes first; at the latest
 * after timeout_ms (0: the config's lookup_timeout_ms), with the answer
 * known by then.  Errors (no callback): STS_EINVAL, STS_ENOMEM.
 */
int sts_resolver_lookup(struct sts_resolver *res, const char *domain,
    unsigned timeout_ms, struct sts_answer *ret_answer, sts_resolver_cb *cb,
    void *arg, struct sts_resolver_req **ret_req);

void sts_resolver_cancel(struct sts_resolver_req *req);

void sts_resolver_stats(const struct sts_resolver *res,
    struct sts_resolver_stats *ret);

#endif

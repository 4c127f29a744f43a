/*
 * decide.h - the pure decisions of RFC 8461 §3.3 and §5.1.
 *
 * Every function here is a function of its arguments and `now` only: no
 * clock, no I/O, no allocation.  resolver.c performs the I/O and asks
 * these functions what to do next; tests drive them with a fake clock.
 *
 * The steps of one lookup:
 *   1. sts_decide_lookup:     serve the cache, serve it and re-check the
 *                             TXT id in the background, or resolve now.
 *   2. sts_decide_after_txt:  what the TXT answer means for the cache.
 *   3. sts_decide_after_fetch: what the fetch answer means for the cache.
 */
#ifndef MTASTS_DECIDE_H
#define MTASTS_DECIDE_H

#include <stdbool.h>
#include <stdint.h>

/* What is known of the cached policy for one domain. */
struct sts_decide_cached {
	bool present;       /* a policy is cached, expired or not */
	const char *id;     /* the TXT id it was fetched under */
	int64_t expires_at; /* unusable from this time on */
	int64_t checked_at; /* last time the id was confirmed or refetched */
};

/* The last failed fetch of this domain (RFC 8461 §3.3 rate limit). */
struct sts_decide_failure {
	bool present;
	const char *id;   /* the TXT id that fetch was for */
	int64_t at;
};

enum sts_lookup_action {
	STS_SERVE_CACHED,             /* fresh enough: answer, nothing else */
	STS_SERVE_CACHED_AND_RECHECK, /* answer, re-check the TXT id off path */
	STS_RESOLVE,                  /* no usable policy: resolve now */
};

/*
 * Step 1.  A cached policy younger than `grace` seconds since its last
 * check is served as is (pmsr's cache_grace); an older unexpired one is
 * served and re-checked in the background (§5.1 step 1 allows the check
 * to be asynchronous); an expired or absent one must be resolved.
 */
enum sts_lookup_action sts_decide_lookup(const struct sts_decide_cached *c,
    int64_t now, int64_t grace);

/* Outcome of the _mta-sts TXT lookup (RFC 8461 §3.1). */
enum sts_txt_outcome {
	STS_TXT_VALID,   /* exactly one valid record; id given */
	STS_TXT_NONE,    /* NXDOMAIN, NODATA, or no/several/invalid STS records */
	STS_TXT_TEMPFAIL /* SERVFAIL, timeout: unknown */
};

enum sts_txt_action {
	STS_USE_CACHED,    /* keep the cached policy (§3.1, §5.1) */
	STS_CONFIRM_CACHED, /* same id: the cached policy is current (§3) */
	STS_FETCH,         /* fetch the policy for the new id */
	STS_NO_POLICY,     /* no policy and no usable cache (§3.3) */
};

/*
 * Step 2.  A missing or broken TXT record never evicts a cached policy;
 * an unchanged id confirms it without any HTTPS request; a changed id is
 * fetched unless a fetch for that very id failed less than
 * STS_REFETCH_MIN_S ago (§3.3), in which case the cache (if any) stays.
 */
enum sts_txt_action sts_decide_after_txt(const struct sts_decide_cached *c,
    enum sts_txt_outcome txt, const char *txt_id,
    const struct sts_decide_failure *last_failure, int64_t now);

enum sts_fetch_action {
	STS_STORE_NEW,   /* replace the cache with the new policy */
	STS_KEEP_CACHED, /* fetch failed: the unexpired cache applies (§3.3) */
	STS_FETCH_NO_POLICY /* fetch failed, nothing cached: no policy (§3.3) */
};

/* Step 3. */
enum sts_fetch_action sts_decide_after_fetch(
    const struct sts_decide_cached *c, bool fetched_ok, int64_t now);

/* True when the cached policy may still be applied at `now`. */
bool sts_decide_usable(const struct sts_decide_cached *c, int64_t now);

/*
 * When to refresh a used policy proactively (§3.3 SHOULD, §10.2): at
 * whichever comes first, `interval` seconds after its last check or a
 * tenth of its lifetime before it expires, moved earlier by up to
 * `jitter_permille` of that spread (the caller supplies the random
 * permille, 0..1000, so this stays pure).  Never earlier than `now`.
 */
int64_t sts_decide_refresh_at(int64_t checked_at, int64_t expires_at,
    int64_t interval, unsigned jitter_permille, int64_t now);

#endif

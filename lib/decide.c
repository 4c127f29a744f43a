/*
 * decide.c - RFC 8461 §3.3 and §5.1 as pure functions of (state, now).
 */
#include <string.h>

#include "mtasts/decide.h"
#include "mtasts/limits.h"

bool
sts_decide_usable(const struct sts_decide_cached *c, int64_t now)
{
	return c->present && now < c->expires_at;
}

enum sts_lookup_action
sts_decide_lookup(const struct sts_decide_cached *c, int64_t now,
    int64_t grace)
{
	if (!sts_decide_usable(c, now))
		return STS_RESOLVE;
	if (now - c->checked_at < grace)
		return STS_SERVE_CACHED;
	return STS_SERVE_CACHED_AND_RECHECK;
}

static bool
same_id(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

enum sts_txt_action
sts_decide_after_txt(const struct sts_decide_cached *c,
    enum sts_txt_outcome txt, const char *txt_id,
    const struct sts_decide_failure *last_failure, int64_t now)
{
	bool usable = sts_decide_usable(c, now);

	switch (txt) {
	case STS_TXT_NONE:
	case STS_TXT_TEMPFAIL:
		/* §3.1, §5.1: absence alone does not invalidate a cache. */
		return usable ? STS_USE_CACHED : STS_NO_POLICY;
	case STS_TXT_VALID:
		break;
	}
	/* §3: ids are compared for equality only, never ordered. */
	if (c->present && same_id(c->id, txt_id))
		return usable ? STS_CONFIRM_CACHED : STS_FETCH;
	if (last_failure != NULL && last_failure->present &&
	    same_id(last_failure->id, txt_id) &&
	    now - last_failure->at < STS_REFETCH_MIN_S)
		return usable ? STS_USE_CACHED : STS_NO_POLICY;
	return STS_FETCH;
}

enum sts_fetch_action
sts_decide_after_fetch(const struct sts_decide_cached *c, bool fetched_ok,
    int64_t now)
{
	if (fetched_ok)
		return STS_STORE_NEW; /* also mode none: §8.3 opt-out */
	return sts_decide_usable(c, now) ? STS_KEEP_CACHED
					 : STS_FETCH_NO_POLICY;
}

int64_t
sts_decide_refresh_at(int64_t checked_at, int64_t expires_at,
    int64_t interval, unsigned jitter_permille, int64_t now)
{
	int64_t lifetime = expires_at - checked_at;
	int64_t due = expires_at - lifetime / 10;
	int64_t spread;

	if (checked_at + interval < due)
		due = checked_at + interval;
	if (jitter_permille > 1000)
		jitter_permille = 1000;
	/* Spread refreshes over the last tenth before `due` so that a
	 * fleet restarted together does not refetch together. */
	spread = (due - checked_at) / 10;
	due -= spread * (int64_t)jitter_permille / 1000;
	return due < now ? now : due;
}

/*
 * resolver.c - cached policy lookups (see resolver.h).
 *
 * State lives in one table of domains, each with its parsed policy (so a
 * hit costs no parsing), the work in flight for it, and the lookups
 * waiting on that work.  The persistent cache (cache.h) holds the raw
 * bodies; a domain seen for the first time since start is loaded from it
 * and parsed once.  Every "what now?" is asked of decide.c.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diag.h"
#include "mtasts/decide.h"
#include "mtasts/resolver.h"
#include "mtasts/worker.h"

/* How often the proactive refresh looks for due policies. */
#define REFRESH_TICK_S 30
/* After a failed refresh, wait this long before the next attempt. */
#define REFRESH_RETRY_S (3 * STS_REFETCH_MIN_S)

enum work {
	WORK_RESOLVE, /* no usable policy: lookups wait on this */
	WORK_RECHECK, /* served from cache; is the TXT id still the same? */
	WORK_REFRESH, /* proactive: fetch the live policy */
};

struct domain_state {
	struct domain_state *hnext;             /* hash chain */
	struct domain_state *lru_prev, *lru_next; /* head: most recent */
	struct sts_resolver *res;
	struct sts_policy *policy; /* cached policy, parsed; NULL: none */
	char id[STS_ID_MAX + 1];
	int64_t fetched_at, checked_at, expires_at, used_at;
	int64_t attempt_at;     /* last re-check or refresh started */
	int64_t refresh_at;     /* next proactive refresh */
	int64_t negative_until; /* "no policy" cached until */
	const char *negative_reason;
	bool failure; /* RFC 8461 §3.3: last failed fetch, per id */
	char failure_id[STS_ID_MAX + 1];
	int64_t failure_at;
	struct sts_worker_req *inflight;
	struct sts_cache_req *store_req;
	enum work work;
	bool refreshing; /* counted in n_refreshing */
	struct sts_resolver_req *waiters;
	/*
	 * What the waiters get when all their work is done.  Reasons point
	 * to static text or to the owned copy beside them; a copy is made
	 * only for a discovery's or DANE check's own words and replaced
	 * only from their callbacks, never during a lookup, so an answer
	 * handed to a callback stays valid while a nested lookup runs.
	 * (Two inline buffers cost 256 bytes per domain: most of the
	 * table, with nearly all of them empty.)
	 */
	enum sts_answer_source wait_source;
	const char *wait_reason;
	char *wait_text;
	/* RFC 7672 state, cached for the TTLs of its answers */
	struct sts_worker_req *dane_req;
	enum sts_dane_status dane;
	bool dane_known;
	int64_t dane_expires, dane_refresh_at;
	const char *dane_reason;
	char *dane_text;
	char domain[];
};

struct sts_resolver_req {
	struct sts_resolver *res;
	struct domain_state *ds;
	struct sts_resolver_req *prev, *next;
	struct event *timer;
	sts_resolver_cb *cb;
	void *arg;
};

struct sts_resolver {
	struct event_base *base;
	struct sts_resolver_config cfg;
	struct sts_worker *worker; /* discoveries run on its thread */
	struct domain_state **buckets;
	size_t n_buckets, n_domains, n_inflight, n_refreshing;
	struct domain_state *lru_head, *lru_tail;
	struct event *refresh_timer;
	struct sts_resolver_stats stats;
	bool dane; /* cfg.dane and a validating resolver */
};

/*
 * Point *reason at a copy of text kept in *owned (freeing the previous
 * copy), or at "" when there is none or no memory for one.
 */
static void
keep_text(const char **reason, char **owned, const char *text)
{
	free(*owned);
	*owned = text != NULL && text[0] != '\0' ? strdup(text) : NULL;
	*reason = *owned != NULL ? *owned : "";
}

static void
free_state(struct domain_state *ds)
{
	sts_policy_free(ds->policy);
	free(ds->wait_text);
	free(ds->dane_text);
	free(ds);
}

static int64_t
now_of(const struct sts_resolver *res)
{
	return res->cfg.now ? res->cfg.now(res->cfg.now_arg)
			    : (int64_t)time(NULL);
}

static void
emit(struct sts_resolver *res, enum sts_resolver_event_kind kind,
    const struct domain_state *ds, const struct sts_discovery *d,
    const char *detail)
{
	struct sts_resolver_event ev = {kind, ds->domain, d, NULL, ds->policy,
	    detail};

	if (res->cfg.on_event)
		res->cfg.on_event(&ev, res->cfg.event_arg);
}

/* ---- the domain table ------------------------------------------------ */

static size_t
hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (size_t)h;
}

static struct domain_state *
find(struct sts_resolver *res, const char *domain)
{
	struct domain_state *ds = res->buckets[hash(domain) & (res->n_buckets - 1)];

	while (ds && strcmp(ds->domain, domain) != 0)
		ds = ds->hnext;
	return ds;
}

static void
lru_unlink(struct sts_resolver *res, struct domain_state *ds)
{
	if (ds->lru_prev)
		ds->lru_prev->lru_next = ds->lru_next;
	else
		res->lru_head = ds->lru_next;
	if (ds->lru_next)
		ds->lru_next->lru_prev = ds->lru_prev;
	else
		res->lru_tail = ds->lru_prev;
	ds->lru_prev = ds->lru_next = NULL;
}

static void
lru_front(struct sts_resolver *res, struct domain_state *ds)
{
	if (res->lru_head == ds)
		return;
	if (ds->lru_prev || ds->lru_next || res->lru_tail == ds)
		lru_unlink(res, ds);
	ds->lru_next = res->lru_head;
	if (res->lru_head)
		res->lru_head->lru_prev = ds;
	res->lru_head = ds;
	if (res->lru_tail == NULL)
		res->lru_tail = ds;
}

static void
grow(struct sts_resolver *res)
{
	size_t n = res->n_buckets * 2;
	struct domain_state **b = calloc(n, sizeof(*b));

	if (b == NULL)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < res->n_buckets; i++) {
		struct domain_state *ds = res->buckets[i], *next;

		for (; ds; ds = next) {
			size_t k = hash(ds->domain) & (n - 1);

			next = ds->hnext;
			ds->hnext = b[k];
			b[k] = ds;
		}
	}
	free(res->buckets);
	res->buckets = b;
	res->n_buckets = n;
}

static void
remove_state(struct sts_resolver *res, struct domain_state *ds)
{
	struct domain_state **pp =
	    &res->buckets[hash(ds->domain) & (res->n_buckets - 1)];

	while (*pp != ds)
		pp = &(*pp)->hnext;
	*pp = ds->hnext;
	lru_unlink(res, ds);
	free_state(ds);
	res->n_domains--;
}

/* Forget the least recently used idle domains beyond max_domains. */
static void
evict(struct sts_resolver *res)
{
	struct domain_state *ds = res->lru_tail;

	while (res->n_domains > res->cfg.max_domains && ds != NULL) {
		struct domain_state *prev = ds->lru_prev;

		if (ds->inflight == NULL && ds->store_req == NULL &&
		    ds->dane_req == NULL && ds->waiters == NULL)
			remove_state(res, ds);
		ds = prev;
	}
}

static struct domain_state *
add_state(struct sts_resolver *res, const char *domain)
{
	size_t len = strlen(domain);
	struct domain_state *ds = calloc(1, sizeof(*ds) + len + 1);
	size_t k;

	if (ds == NULL)
		return NULL;
	memcpy(ds->domain, domain, len + 1);
	ds->res = res;
	ds->wait_reason = ds->dane_reason = "";
	if (res->n_domains >= res->n_buckets)
		grow(res);
	k = hash(domain) & (res->n_buckets - 1);
	ds->hnext = res->buckets[k];
	res->buckets[k] = ds;
	res->n_domains++;
	lru_front(res, ds);
	return ds;
}

/* ---- policies in a domain state --------------------------------------- */

static struct sts_decide_cached
cached_view(const struct domain_state *ds)
{
	struct sts_decide_cached c = {0};

	if (ds->policy != NULL) {
		c.present = true;
		c.id = ds->id;
		c.expires_at = ds->expires_at;
		/* A re-check that failed still counts as a check for the
		 * schedule, or every lookup would start another. */
		c.checked_at = ds->checked_at > ds->attempt_at ? ds->checked_at
							     : ds->attempt_at;
	}
	return c;
}

static void
schedule_refresh(struct sts_resolver *res, struct domain_state *ds,
    int64_t now)
{
	int64_t interval = res->cfg.proactive_refresh
			       ? res->cfg.refresh_interval_s
			       : ds->expires_at - ds->checked_at;

	ds->refresh_at = sts_decide_refresh_at(ds->checked_at, ds->expires_at,
	    interval, (unsigned)(random() % 1001), now);
}

static void
drop_policy(struct domain_state *ds)
{
	sts_policy_free(ds->policy);
	ds->policy = NULL;
}

/* Take a cache entry into ds (parsing its body once). */
static void
install_entry(struct sts_resolver *res, struct domain_state *ds,
    const struct sts_cache_entry *e, int64_t now)
{
	struct sts_policy *pol;

	if (sts_policy_parse(e->body, e->body_len, &pol, NULL) != STS_OK) {
		res->stats.corrupt_entries++;
		emit(res, STS_EV_CORRUPT_ENTRY, ds, NULL,
		    "cached policy body does not parse; dropped");
		sts_cache_del(res->cfg.cache, ds->domain);
		return;
	}
	drop_policy(ds);
	ds->policy = pol;
	memcpy(ds->id, e->id, sizeof(ds->id));
	ds->fetched_at = e->fetched_at;
	ds->checked_at = e->checked_at;
	ds->expires_at = e->expires_at;
	schedule_refresh(res, ds, now);
}

static void
store_policy(struct sts_resolver *res, struct domain_state *ds,
    struct sts_discovery *d, int64_t now)
{
	struct sts_cache_entry e = {0};
	int r;

	drop_policy(ds);
	ds->policy = d->policy;
	d->policy = NULL; /* stolen */
	memcpy(ds->id, d->id, sizeof(ds->id));
	ds->fetched_at = ds->checked_at = now;
	ds->expires_at = now + (int64_t)ds->policy->max_age;
	ds->failure = false;
	ds->negative_until = 0;
	schedule_refresh(res, ds, now);

	memcpy(e.domain, ds->domain, strlen(ds->domain) + 1);
	memcpy(e.id, ds->id, sizeof(e.id));
	e.body = d->body;
	e.body_len = d->body_len;
	e.fetched_at = e.checked_at = now;
	e.expires_at = ds->expires_at;
	e.used_at = ds->used_at;
	r = sts_cache_put(res->cfg.cache, &e);
	if (r != STS_OK) {
		res->stats.store_errors++;
		emit(res, STS_EV_STORE_ERROR, ds, d, sts_strerror(r));
	}
}

/* ---- answering ---------------------------------------------------------- */

static void
fill_answer(const struct domain_state *ds, int64_t now,
    enum sts_answer_source source, const char *reason,
    struct sts_answer *a)
{
	struct sts_decide_cached c = cached_view(ds);

	a->domain = ds->domain;
	a->dane = ds->dane_known ? ds->dane : STS_DANE_NONE;
	a->dane_reason = ds->dane_reason;
	if (sts_decide_usable(&c, now)) {
		a->policy = ds->policy;
		a->id = ds->id;
		a->source = source;
		a->reason = "";
	} else {
		a->policy = NULL;
		a->id = NULL;
		a->source = source == STS_SOURCE_CACHE ? STS_SOURCE_NONE
						       : source;
		a->reason = reason ? reason : "";
	}
}

static void
unlink_waiter(struct sts_resolver_req *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		w->ds->waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
}

static void
free_waiter(struct sts_resolver_req *w)
{
	event_free(w->timer);
	free(w);
}

/* Answer the waiters once no work they need is still running. */
static void
maybe_answer(struct sts_resolver *res, struct domain_state *ds)
{
	int64_t now = now_of(res);

	if (ds->dane_req != NULL || ds->store_req != NULL ||
	    (ds->inflight != NULL && ds->work == WORK_RESOLVE))
		return;
	/* A callback may look this domain up again: it then joins the
	 * list and is answered from the same, final state. */
	while (ds->waiters != NULL) {
		struct sts_resolver_req *w = ds->waiters;
		struct sts_answer a;

		unlink_waiter(w);
		fill_answer(ds, now, ds->wait_source, ds->wait_reason, &a);
		w->cb(&a, w->arg);
		free_waiter(w);
	}
	keep_text(&ds->wait_reason, &ds->wait_text, NULL);
}

/* The MTA-STS part of the waiters' answer is known. */
static void
answer_waiters(struct sts_resolver *res, struct domain_state *ds,
    enum sts_answer_source source, const char *reason)
{
	ds->wait_source = source;
	keep_text(&ds->wait_reason, &ds->wait_text, reason);
	maybe_answer(res, ds);
}

static void
on_waiter_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct sts_resolver_req *w = arg;
	struct domain_state *ds = w->ds;
	struct sts_answer a = {.domain = ds->domain,
	    .source = STS_SOURCE_TIMEOUT,
	    .reason = "lookup timed out; answered without a policy, the "
		      "discovery goes on in the background",
	    .dane = ds->dane_known ? ds->dane : STS_DANE_NONE,
	    .dane_reason = ds->dane_reason};

	(void)fd;
	(void)what;
	/* DANE still unknown: no MTA-STS-less answer may stand in for it
	 * (RFC 8461 §2); the caller treats this as a DANE failure. */
	if (ds->dane_req != NULL) {
		a.dane = STS_DANE_FAILED;
		a.dane_reason = "DANE state not known within the lookup timeout";
	}
	w->res->stats.timeouts++;
	unlink_waiter(w);
	w->cb(&a, w->arg);
	free_waiter(w);
}

/* ---- work: discoveries ------------------------------------------------ */

static int start_discovery(struct sts_resolver *res, struct domain_state *ds,
    enum work work, int64_t now);

static void
count_failure(struct sts_resolver *res, const struct sts_discovery *d)
{
	const char *t = d->tlsrpt_result;

	if (t == NULL)
		return;
	if (strcmp(t, "sts-webpki-invalid") == 0)
		res->stats.webpki_invalid++;
	else if (strcmp(t, "sts-policy-invalid") == 0)
		res->stats.policy_invalid++;
	else
		res->stats.fetch_error++;
}

static void
on_discovered(struct sts_discovery *d, void *arg)
{
	struct domain_state *ds = arg;
	struct sts_resolver *res = ds->res;
	int64_t now = now_of(res);
	struct sts_decide_cached c = cached_view(ds);
	bool usable = sts_decide_usable(&c, now);
	enum sts_answer_source source = STS_SOURCE_NONE;

	ds->inflight = NULL;
	res->n_inflight--;
	if (ds->refreshing) {
		res->n_refreshing--;
		ds->refreshing = false;
	}

	if (d->unchanged &&
	    !(ds->failure && strcmp(d->id, ds->failure_id) == 0) &&
	    (ds->policy == NULL || strcmp(d->id, ds->id) != 0)) {
		/*
		 * A re-check stopped at the cached policy's id, but that
		 * policy is gone meanwhile (expired and dropped, §3.2, §5.1):
		 * a lookup waits for it, so fetch it again.  (Not the §3.3
		 * rate limit, which is about an id whose fetch failed.)
		 */
		sts_discovery_free(d);
		if (start_discovery(res, ds, WORK_RESOLVE, now) != STS_OK)
			answer_waiters(res, ds, STS_SOURCE_NONE,
			    "cannot start a discovery");
		return;
	}
	if (d->unchanged && ds->policy != NULL &&
	    strcmp(d->id, ds->id) == 0) {
		/* §3: same id, the cached policy is current.  Extending
		 * its life is our choice (CONFORMANCE.md C1). */
		if (usable) {
			ds->checked_at = now;
			ds->expires_at = now + (int64_t)ds->policy->max_age;
			sts_cache_touch(res->cfg.cache, ds->domain, now,
			    ds->expires_at);
			schedule_refresh(res, ds, now);
			res->stats.unchanged++;
			emit(res, STS_EV_UNCHANGED, ds, d, ds->id);
			source = STS_SOURCE_CACHE;
		}
	} else if (d->unchanged) {
		/* the id whose fetch failed < 5 minutes ago (§3.3) */
		res->stats.rate_limited++;
		snprintf(d->reason, sizeof(d->reason),
		    "the fetch of policy id %s failed less than %d s ago; "
		    "not retried yet (RFC 8461 §3.3)",
		    d->id, STS_REFETCH_MIN_S);
		source = STS_SOURCE_CACHE;
	} else if (d->status == STS_OK) {
		res->stats.fetch_ok++;
		store_policy(res, ds, d, now);
		emit(res, STS_EV_FETCHED, ds, d,
		    sts_mode_name(ds->policy->mode));
		source = STS_SOURCE_FETCH;
	} else if (d->failed_step == STS_STEP_TXT) {
		/* No usable TXT: never evicts (§3.1, §5.1). */
		if (d->status == STS_ETEMP)
			res->stats.txt_tempfail++;
		else
			res->stats.no_txt++;
		if (!usable && d->status != STS_ETEMP &&
		    res->cfg.negative_ttl_s > 0) {
			ds->negative_until = now + res->cfg.negative_ttl_s;
			ds->negative_reason = "no MTA-STS policy (cached answer)";
		}
		source = STS_SOURCE_CACHE;
	} else {
		/* A valid TXT, then the fetch or the policy failed. */
		ds->failure = true;
		memcpy(ds->failure_id, d->id, sizeof(ds->failure_id));
		ds->failure_at = now;
		count_failure(res, d);
		if (ds->policy != NULL && usable) {
			res->stats.refresh_failed++;
			if (ds->policy->mode == STS_MODE_ENFORCE)
				res->stats.refresh_failed_enforce++;
			emit(res, STS_EV_REFRESH_FAILED, ds, d, d->reason);
			ds->refresh_at = now + REFRESH_RETRY_S;
		} else {
			emit(res, STS_EV_FETCH_FAILED, ds, d, d->reason);
			if (res->cfg.negative_ttl_s > 0) {
				ds->negative_until =
				    now + res->cfg.negative_ttl_s;
				ds->negative_reason =
				    "policy fetch failed recently (cached "
				    "answer)";
			}
		}
		source = STS_SOURCE_CACHE;
	}
	/* Whatever went wrong, a kept policy is not retried every tick. */
	if (ds->policy != NULL && ds->refresh_at <= now)
		ds->refresh_at = now + REFRESH_RETRY_S;
	answer_waiters(res, ds, source, d->reason);
	sts_discovery_free(d);
	evict(res);
}

static int
start_discovery(struct sts_resolver *res, struct domain_state *ds,
    enum work work, int64_t now)
{
	const char *stop[STS_DISCOVER_MAX_STOP_IDS];
	size_t n = 0;
	struct sts_decide_cached c = cached_view(ds);
	int r;

	/* Ask decide.c which ids need no fetch: the current cached one
	 * (not for a refresh, which fetches the live policy, §10.2) and
	 * one that failed within the last 5 minutes (§3.3). */
	if (work == WORK_RECHECK && sts_decide_usable(&c, now))
		stop[n++] = ds->id;
	if (ds->failure &&
	    sts_decide_after_txt(&c, STS_TXT_VALID, ds->failure_id,
		&(struct sts_decide_failure){true, ds->failure_id,
		    ds->failure_at},
		now) != STS_FETCH)
		stop[n++] = ds->failure_id;
	ds->work = work;
	ds->attempt_at = now;
	r = sts_worker_discover(res->worker, ds->domain, stop, n,
	    on_discovered, ds, &ds->inflight);
	if (r != STS_OK) {
		ds->inflight = NULL;
		return r;
	}
	res->stats.discoveries++;
	res->n_inflight++;
	if (work == WORK_REFRESH) {
		res->n_refreshing++;
		ds->refreshing = true;
	}
	return STS_OK;
}

static void
on_store(int status, const struct sts_cache_entry *e, void *arg)
{
	struct domain_state *ds = arg;
	struct sts_resolver *res = ds->res;
	int64_t now = now_of(res);

	ds->store_req = NULL;
	if (status == STS_OK) {
		install_entry(res, ds, e, now);
		if (ds->policy != NULL) {
			answer_waiters(res, ds, STS_SOURCE_CACHE, NULL);
			return;
		}
	}
	if (start_discovery(res, ds, WORK_RESOLVE, now) != STS_OK)
		answer_waiters(res, ds, STS_SOURCE_NONE,
		    "cannot start a discovery");
}

/*
 * Start the work for ds unless some is already running.  Never answers
 * waiters itself: STS_OK when work runs, else the reason it could not.
 */
static int
start_work(struct sts_resolver *res, struct domain_state *ds, enum work work,
    int64_t now)
{
	if (ds->inflight != NULL || ds->store_req != NULL)
		return STS_OK;
	if (res->n_inflight >= res->cfg.max_inflight)
		return STS_ETEMP;
	/* A shared store (redis) may know what this daemon does not. */
	if (work == WORK_RESOLVE && ds->policy == NULL &&
	    strcmp(sts_cache_type(res->cfg.cache), "redis") == 0 &&
	    sts_cache_fetch(res->cfg.cache, ds->domain, now, on_store, ds,
		&ds->store_req) == STS_OK)
		return STS_OK;
	return start_discovery(res, ds, work, now);
}

/* ---- DANE (RFC 7672) ------------------------------------------------------ */

static void
on_dane(const struct sts_dane_result *r, void *arg)
{
	struct domain_state *ds = arg;
	struct sts_resolver *res = ds->res;
	int64_t now = now_of(res);
	struct sts_resolver_event ev = {STS_EV_DANE, ds->domain, NULL, r,
	    ds->policy, r->reason};

	ds->dane_req = NULL;
	ds->dane = r->status;
	ds->dane_known = true;
	ds->dane_expires = now + (int64_t)r->ttl;
	/* refresh in the background during the last tenth of the TTL */
	ds->dane_refresh_at = ds->dane_expires - (int64_t)r->ttl / 10;
	keep_text(&ds->dane_reason, &ds->dane_text, r->reason);
	if (r->status == STS_DANE_APPLIES)
		res->stats.dane_applies++;
	else if (r->status == STS_DANE_FAILED)
		res->stats.dane_failed++;
	if (res->cfg.on_event)
		res->cfg.on_event(&ev, res->cfg.event_arg);
	maybe_answer(res, ds);
	evict(res);
}

/* Start a DANE check unless one runs; false if it cannot start. */
static bool
start_dane(struct sts_resolver *res, struct domain_state *ds, int64_t now)
{
	if (ds->dane_req != NULL)
		return true;
	res->stats.dane_checks++;
	if (sts_worker_dane(res->worker, ds->domain, on_dane, ds,
		&ds->dane_req) == STS_OK)
		return true;
	ds->dane_req = NULL;
	ds->dane = STS_DANE_FAILED;
	ds->dane_known = true;
	ds->dane_expires = ds->dane_refresh_at = now + STS_DANE_MIN_TTL;
	ds->dane_reason = "DANE check could not start";
	return false;
}

/* ---- proactive refresh -------------------------------------------------- */

static void
on_refresh_tick(evutil_socket_t fd, short what, void *arg)
{
	struct sts_resolver *res = arg;
	int64_t now = now_of(res);
	int64_t recent = res->cfg.refresh_interval_s > 0
			     ? res->cfg.refresh_interval_s
			     : 86400;

	(void)fd;
	(void)what;
	for (struct domain_state *ds = res->lru_head; ds != NULL;
	     ds = ds->lru_next) {
		if (res->n_refreshing >= res->cfg.refresh_concurrency)
			break;
		if (ds->policy == NULL || ds->inflight != NULL ||
		    now < ds->refresh_at || now >= ds->expires_at)
			continue;
		/* Refresh only what is in use (§3.3 "proactively refresh
		 * cached policies", for the domains we send to). */
		if (now - ds->used_at > recent)
			continue;
		start_work(res, ds, WORK_REFRESH, now);
	}
}

/* ---- public ---------------------------------------------------------------- */

static int
add_waiter(struct sts_resolver *res, struct domain_state *ds,
    unsigned timeout_ms, sts_resolver_cb *cb, void *arg,
    struct sts_resolver_req **ret_req)
{
	struct sts_resolver_req *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return STS_ENOMEM;
	w->res = res;
	w->ds = ds;
	w->cb = cb;
	w->arg = arg;
	if (timeout_ms == 0)
		timeout_ms = res->cfg.lookup_timeout_ms;
	if (timeout_ms > 0) {
		struct timeval tv = {(time_t)(timeout_ms / 1000),
		    (suseconds_t)(timeout_ms % 1000) * 1000};

		w->timer = evtimer_new(res->base, on_waiter_timeout, w);
		if (w->timer == NULL) {
			free(w);
			return STS_ENOMEM;
		}
		evtimer_add(w->timer, &tv);
	}
	w->next = ds->waiters;
	if (ds->waiters)
		ds->waiters->prev = w;
	ds->waiters = w;
	if (ret_req)
		*ret_req = w;
	return STS_RESOLVER_PENDING;
}

int
sts_resolver_lookup(struct sts_resolver *res, const char *domain,
    unsigned timeout_ms, struct sts_answer *ret_answer, sts_resolver_cb *cb,
    void *arg, struct sts_resolver_req **ret_req)
{
	int64_t now = now_of(res);
	struct domain_state *ds;
	struct sts_decide_cached c;
	enum sts_lookup_action act;
	bool dane_due;

	if (strlen(domain) == 0 || strlen(domain) > STS_DOMAIN_MAX)
		return STS_EINVAL;
	res->stats.lookups++;
	ds = find(res, domain);
	if (ds == NULL) {
		struct sts_cache_entry e;

		if ((ds = add_state(res, domain)) == NULL)
			return STS_ENOMEM;
		if (sts_cache_peek(res->cfg.cache, domain, now, &e) == STS_OK)
			install_entry(res, ds, &e, now);
		evict(res);
	}
	lru_front(res, ds);
	ds->used_at = now;

	/* RFC 8461 §2: DANE first.  Its state must be known before any
	 * answer; it is refreshed in the background before it expires. */
	dane_due = res->dane && (!ds->dane_known || now >= ds->dane_expires);
	if (res->dane && !dane_due && now >= ds->dane_refresh_at)
		start_dane(res, ds, now);
	if (dane_due && !start_dane(res, ds, now))
		dane_due = false; /* answered as FAILED below */

	c = cached_view(ds);
	act = sts_decide_lookup(&c, now, res->cfg.grace_s);
	if (act == STS_SERVE_CACHED_AND_RECHECK)
		start_work(res, ds, WORK_RECHECK, now);
	if (act == STS_RESOLVE && ds->policy != NULL)
		drop_policy(ds); /* expired: §3.2 */
	if (act == STS_RESOLVE && now < ds->negative_until) {
		res->stats.negative_hits++;
		act = STS_SERVE_CACHED; /* the cached answer is "none" */
		ds->wait_source = STS_SOURCE_NEGATIVE;
		ds->wait_reason = ds->negative_reason;
	} else if (act != STS_RESOLVE) {
		res->stats.cache_hits++;
		ds->wait_source = STS_SOURCE_CACHE;
		ds->wait_reason = "";
	}
	if (act != STS_RESOLVE && !dane_due) {
		fill_answer(ds, now, ds->wait_source, ds->wait_reason,
		    ret_answer);
		return STS_OK;
	}
	if (act == STS_RESOLVE) {
		res->stats.misses++;
		if (ds->inflight == NULL && ds->store_req == NULL) {
			int r = start_work(res, ds, WORK_RESOLVE, now);

			if (r != STS_OK && !dane_due) {
				fill_answer(ds, now, STS_SOURCE_NONE,
				    r == STS_ETEMP
					? "too many discoveries in flight"
					: "cannot start a discovery",
				    ret_answer);
				return STS_OK;
			}
		} else if (ds->work == WORK_RESOLVE) {
			res->stats.coalesced++;
		} else {
			/* a recheck or refresh runs: it will answer */
			ds->work = WORK_RESOLVE;
		}
	}
	return add_waiter(res, ds, timeout_ms, cb, arg, ret_req);
}

void
sts_resolver_cancel(struct sts_resolver_req *req)
{
	if (req == NULL)
		return;
	unlink_waiter(req);
	free_waiter(req);
}

void
sts_resolver_stats(const struct sts_resolver *res,
    struct sts_resolver_stats *ret)
{
	*ret = res->stats;
	ret->domains = res->n_domains;
	ret->inflight = res->n_inflight;
}

int
sts_resolver_new(struct event_base *base,
    const struct sts_resolver_config *cfg, struct sts_resolver **ret,
    struct sts_diag *reterr_diag)
{
	struct sts_resolver *res;
	struct timeval tick = {REFRESH_TICK_S, 0};
	int r;

	if (cfg->cache == NULL)
		return STS_EINVAL;
	if ((res = calloc(1, sizeof(*res))) == NULL)
		return STS_ENOMEM;
	res->base = base;
	res->cfg = *cfg;
	if (res->cfg.max_domains == 0)
		res->cfg.max_domains = STS_CACHE_DEFAULT_ENTRIES;
	if (res->cfg.max_inflight == 0)
		res->cfg.max_inflight = 1000;
	if (res->cfg.refresh_concurrency == 0)
		res->cfg.refresh_concurrency = 100;
	res->n_buckets = 1024;
	if ((res->buckets = calloc(res->n_buckets, sizeof(*res->buckets))) ==
	    NULL) {
		free(res);
		return STS_ENOMEM;
	}
	r = sts_worker_new(base, &cfg->discover, &res->worker, reterr_diag);
	if (r != STS_OK)
		goto fail;
	/* Without validation every answer is insecure: DANE cannot apply. */
	res->dane = cfg->dane && sts_worker_validating(res->worker);
	res->refresh_timer = event_new(base, -1, EV_PERSIST, on_refresh_tick,
	    res);
	if (res->refresh_timer == NULL) {
		r = STS_ENOMEM;
		goto fail;
	}
	evtimer_add(res->refresh_timer, &tick);
	*ret = res;
	return STS_OK;
fail:
	sts_resolver_free(res);
	return r;
}

void
sts_resolver_free(struct sts_resolver *res)
{
	if (res == NULL)
		return;
	for (size_t i = 0; i < res->n_buckets; i++) {
		struct domain_state *ds = res->buckets[i], *next;

		for (; ds; ds = next) {
			next = ds->hnext;
			while (ds->waiters) {
				struct sts_resolver_req *w = ds->waiters;

				unlink_waiter(w);
				free_waiter(w);
			}
			sts_worker_cancel(ds->inflight);
			sts_cache_cancel(ds->store_req);
			sts_worker_cancel(ds->dane_req);
			free_state(ds);
		}
	}
	free(res->buckets);
	if (res->refresh_timer)
		event_free(res->refresh_timer);
	sts_worker_free(res->worker);
	free(res);
}

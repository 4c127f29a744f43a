/*
 * lookup.c - one socketmap request to one reply (see lookup.h).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "key.h"
#include "log.h"
#include "lookup.h"
#include "reply.h"

const uint64_t lookup_hist_bounds_us[LOOKUP_HIST_BUCKETS] = {50, 100, 250,
    500, 1000, 2500, 5000, 10000, 50000, 250000, 1000000, 5000000};

/* What a zone asks of the answer, copied at request time (a reload may
 * free the config while the lookup is pending). */
struct zone_view {
	struct reply_opts opts;
	unsigned timeout_ms;
	enum sts_config_dane dane;
	enum sts_config_dane_failure dane_failure;
};

struct pending {
	struct lookup_service *svc;
	struct server_conn *conn;
	struct sts_resolver_req *req;
	struct zone_view zone;
	struct timespec start;
};

/*
 * The resolver needs the callback argument before it knows whether the
 * lookup is a cache hit (answered at once, the common case) or has to
 * wait.  One spare struct pending is kept for the next lookup so that a
 * hit costs no allocation (one loop, one thread).
 */
static struct pending *spare;

static struct pending *
pending_get(void)
{
	struct pending *p = spare;

	if (p == NULL)
		return calloc(1, sizeof(*p));
	spare = NULL;
	memset(p, 0, sizeof(*p));
	return p;
}

static void
pending_put(struct pending *p)
{
	if (spare == NULL)
		spare = p;
	else
		free(p);
}

static void
observe(struct lookup_service *svc, const struct timespec *start)
{
	struct timespec now;
	uint64_t us;
	size_t i = 0;

	clock_gettime(CLOCK_MONOTONIC, &now);
	us = (uint64_t)(now.tv_sec - start->tv_sec) * 1000000u +
	     (uint64_t)((now.tv_nsec - start->tv_nsec) / 1000);
	while (i < LOOKUP_HIST_BUCKETS && us > lookup_hist_bounds_us[i])
		i++;
	svc->stats.hist[i]++;
	svc->stats.latency_sum_s += (double)us / 1e6;
}

static struct zone_view
zone_view(const struct lookup_service *svc, const char *name, size_t len)
{
	const struct sts_config_zone *z =
	    sts_config_zone(svc->config, name, len);
	struct zone_view v = {
	    {z->strict_testing, z->require_sni,
		z->tlsrpt && svc->tlsrpt_supported},
	    (unsigned)z->timeout_ms, z->dane, z->dane_failure};

	return v;
}

/*
 * The answer as Postfix reads it; counts it; logs the decision.
 * RFC 8461 §2: where DANE applies MTA-STS must not override it, and
 * where DANE's state is unknown (bogus, failed lookup on a signed zone)
 * no MTA-STS answer stands in for it silently.
 */
static void
render(struct lookup_service *svc, const struct sts_answer *a,
    const struct zone_view *zone, struct reply_buf *out)
{
	if (a->dane == STS_DANE_APPLIES && zone->dane != STS_CONFIG_DANE_OFF)
		reply_dane(out, zone->dane == STS_CONFIG_DANE_ONLY);
	else if (a->dane == STS_DANE_FAILED &&
		 zone->dane != STS_CONFIG_DANE_OFF &&
		 zone->dane_failure == STS_CONFIG_DANE_FAILURE_TEMP)
		reply_temp(out, a->dane_reason);
	else if (a->dane == STS_DANE_FAILED &&
		 zone->dane != STS_CONFIG_DANE_OFF)
		reply_notfound(out);
	else if (a->policy != NULL)
		reply_policy(out, a->policy, a->domain, &zone->opts);
	else
		reply_notfound(out);
	if (strncmp(out->data, "OK", 2) == 0)
		svc->stats.secure++;
	else if (strncmp(out->data, "TEMP", 4) == 0)
		svc->stats.temp++;
	else
		svc->stats.notfound++;
	if (sts_log_enabled(STS_LOG_DEBUG))
		sts_log(STS_LOG_DEBUG,
		    "lookup domain=%s id=%s mode=%s dane=%s source=%d "
		    "reply='%.60s'%s%s",
		    a->domain, a->id ? a->id : "-",
		    a->policy ? sts_mode_name(a->policy->mode) : "-",
		    zone->dane == STS_CONFIG_DANE_OFF ? "off"
					       : sts_dane_status_name(a->dane),
		    (int)a->source, out->data,
		    a->reason[0] ? " why=" : "", a->reason);
}

static void
on_answer(const struct sts_answer *a, void *arg)
{
	static char buf[STS_SOCKMAP_MAX_REPLY]; /* one loop, one thread */
	struct pending *p = arg;
	struct reply_buf out;

	reply_buf_init(&out, buf, sizeof(buf));
	render(p->svc, a, &p->zone, &out);
	observe(p->svc, &p->start);
	p->svc->pending--;
	server_conn_set_data(p->conn, NULL);
	server_answer(p->conn, out.data, out.len);
	pending_put(p);
}

static enum lookup_status
do_lookup(void *arg, struct server_conn *conn, const char *name,
    size_t name_len, const char *key, size_t key_len, struct reply_buf *out)
{
	struct lookup_service *svc = arg;
	char domain[STS_DOMAIN_MAX + 1];
	struct zone_view zone = zone_view(svc, name, name_len);
	struct sts_answer a;
	struct pending *p;
	struct timespec start;
	const char *why;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &start);
	if (key_to_domain(key, key_len, domain, &why) != STS_OK) {
		if (sts_log_enabled(STS_LOG_DEBUG)) {
			char esc[STS_LOG_ESCAPE_MAX];

			sts_log_escape(key, key_len, esc, sizeof(esc));
			sts_log(STS_LOG_DEBUG, "lookup key='%s': %s", esc, why);
		}
		svc->stats.bad_key++;
		svc->stats.notfound++;
		reply_notfound(out);
		observe(svc, &start);
		return LOOKUP_DONE;
	}
	if ((p = pending_get()) == NULL) {
		svc->stats.temp++;
		reply_temp(out, "out of memory");
		return LOOKUP_DONE;
	}
	p->svc = svc;
	p->conn = conn;
	p->zone = zone;
	p->start = start;
	r = sts_resolver_lookup(svc->resolver, domain, zone.timeout_ms, &a,
	    on_answer, p,
	    &p->req);
	if (r == STS_RESOLVER_PENDING) {
		svc->pending++;
		server_conn_set_data(conn, p);
		return LOOKUP_PENDING;
	}
	pending_put(p);
	if (r == STS_OK) {
		render(svc, &a, &zone, out);
	} else {
		/* Never TEMP for MTA-STS trouble: no policy is the answer. */
		svc->stats.notfound++;
		reply_notfound(out);
	}
	observe(svc, &start);
	return LOOKUP_DONE;
}

static void
do_cancel(void *arg, struct server_conn *conn)
{
	struct pending *p = server_conn_data(conn);

	(void)arg;
	if (p == NULL)
		return;
	sts_resolver_cancel(p->req);
	p->svc->pending--;
	server_conn_set_data(conn, NULL);
	pending_put(p);
}

const struct lookup_ops lookup_ops = {do_lookup, do_cancel};

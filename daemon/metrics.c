/*
 * metrics.c - GET /metrics in the Prometheus text format (version 0.0.4).
 *
 * Everything is read from the counters the modules keep anyway; serving
 * the page costs nothing on the lookup path.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "lookup.h"
#include "metrics.h"
#include "server.h"

struct metrics {
	struct evhttp *http;
	struct metrics_sources src;
	unsigned port;
};

static void
counter(struct evbuffer *b, const char *name, const char *help,
    uint64_t value)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n",
	    name, help, name, name, (unsigned long long)value);
}

static void
gauge(struct evbuffer *b, const char *name, const char *help, double value)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n",
	    name, help, name, name, value);
}

static void
render(const struct metrics *m, struct evbuffer *b)
{
	const struct lookup_stats *l = &m->src.lookup->stats;
	struct sts_resolver_stats r;
	struct sts_cache_stats c;
	struct server_stats s;
	uint64_t cum = 0;

	sts_resolver_stats(m->src.resolver, &r);
	sts_cache_stats(m->src.cache, &c);
	server_stats(m->src.server, &s);

	evbuffer_add_printf(b,
	    "# HELP mtasts_lookups_total Socketmap lookups by reply.\n"
	    "# TYPE mtasts_lookups_total counter\n"
	    "mtasts_lookups_total{reply=\"secure\"} %llu\n"
	    "mtasts_lookups_total{reply=\"notfound\"} %llu\n"
	    "mtasts_lookups_total{reply=\"temp\"} %llu\n",
	    (unsigned long long)l->secure, (unsigned long long)l->notfound,
	    (unsigned long long)l->temp);
	counter(b, "mtasts_bad_keys_total",
	    "Keys naming no domain (parent probes, IP literals).", l->bad_key);
	evbuffer_add_printf(b,
	    "# HELP mtasts_lookup_seconds Time from request to reply.\n"
	    "# TYPE mtasts_lookup_seconds histogram\n");
	for (size_t i = 0; i < LOOKUP_HIST_BUCKETS; i++) {
		cum += l->hist[i];
		evbuffer_add_printf(b,
		    "mtasts_lookup_seconds_bucket{le=\"%g\"} %llu\n",
		    (double)lookup_hist_bounds_us[i] / 1e6,
		    (unsigned long long)cum);
	}
	cum += l->hist[LOOKUP_HIST_BUCKETS];
	evbuffer_add_printf(b,
	    "mtasts_lookup_seconds_bucket{le=\"+Inf\"} %llu\n"
	    "mtasts_lookup_seconds_sum %.9f\n"
	    "mtasts_lookup_seconds_count %llu\n",
	    (unsigned long long)cum, l->latency_sum_s,
	    (unsigned long long)cum);

	counter(b, "mtasts_cache_hits_total",
	    "Lookups answered from a cached policy.", r.cache_hits);
	counter(b, "mtasts_cache_negative_hits_total",
	    "Lookups answered from a cached 'no policy'.", r.negative_hits);
	counter(b, "mtasts_cache_misses_total",
	    "Lookups that needed a discovery.", r.misses);
	counter(b, "mtasts_lookups_coalesced_total",
	    "Lookups that joined a discovery already running.", r.coalesced);
	counter(b, "mtasts_lookup_timeouts_total",
	    "Lookups answered NOTFOUND after the zone timeout.", r.timeouts);
	evbuffer_add_printf(b,
	    "# HELP mtasts_fetches_total Discoveries by outcome; failures by "
	    "RFC 8460 result type.\n"
	    "# TYPE mtasts_fetches_total counter\n"
	    "mtasts_fetches_total{outcome=\"ok\"} %llu\n"
	    "mtasts_fetches_total{outcome=\"unchanged\"} %llu\n"
	    "mtasts_fetches_total{outcome=\"no-txt\"} %llu\n"
	    "mtasts_fetches_total{outcome=\"txt-tempfail\"} %llu\n"
	    "mtasts_fetches_total{outcome=\"rate-limited\"} %llu\n"
	    "mtasts_fetches_total{outcome=\"failed\",result_type=\"sts-policy-"
	    "fetch-error\"} %llu\n"
	    "mtasts_fetches_total{outcome=\"failed\",result_type=\"sts-policy-"
	    "invalid\"} %llu\n"
	    "mtasts_fetches_total{outcome=\"failed\",result_type=\"sts-webpki-"
	    "invalid\"} %llu\n",
	    (unsigned long long)r.fetch_ok, (unsigned long long)r.unchanged,
	    (unsigned long long)r.no_txt, (unsigned long long)r.txt_tempfail,
	    (unsigned long long)r.rate_limited,
	    (unsigned long long)r.fetch_error,
	    (unsigned long long)r.policy_invalid,
	    (unsigned long long)r.webpki_invalid);
	evbuffer_add_printf(b,
	    "# HELP mtasts_dane_checks_total DANE (RFC 7672) determinations "
	    "by state.\n"
	    "# TYPE mtasts_dane_checks_total counter\n"
	    "mtasts_dane_checks_total{state=\"applies\"} %llu\n"
	    "mtasts_dane_checks_total{state=\"failed\"} %llu\n"
	    "mtasts_dane_checks_total{state=\"none\"} %llu\n",
	    (unsigned long long)r.dane_applies,
	    (unsigned long long)r.dane_failed,
	    (unsigned long long)(r.dane_checks - r.dane_applies -
				 r.dane_failed));
	counter(b, "mtasts_refresh_failures_total",
	    "Refreshes of a cached policy that failed (policy kept).",
	    r.refresh_failed);
	counter(b, "mtasts_refresh_failures_enforce_total",
	    "Failed refreshes of cached enforce policies.",
	    r.refresh_failed_enforce);
	counter(b, "mtasts_cache_store_errors_total",
	    "Persistent cache writes that failed.", r.store_errors);
	counter(b, "mtasts_cache_corrupt_entries_total",
	    "Cached bodies that no longer parsed and were dropped.",
	    r.corrupt_entries);
	gauge(b, "mtasts_domains", "Domains tracked in memory.",
	    (double)r.domains);
	gauge(b, "mtasts_discoveries_in_flight", "Discoveries running.",
	    (double)r.inflight);
	gauge(b, "mtasts_cache_entries", "Policies in the cache's memory.",
	    (double)c.entries);
	gauge(b, "mtasts_cache_store_up",
	    "1 when the persistent store is reachable.", c.store_up ? 1 : 0);
	gauge(b, "mtasts_connections", "Open client connections.",
	    (double)s.open);
	counter(b, "mtasts_connections_refused_total",
	    "Clients closed at once over max_connections.",
	    s.refused_over_limit);
	counter(b, "mtasts_connections_malformed_total",
	    "Clients closed for breaking the socketmap framing.",
	    s.closed_malformed + s.closed_oversize);
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;
	struct evbuffer *b;

	if (strcmp(evhttp_request_get_uri(req), "/metrics") != 0) {
		evhttp_send_error(req, HTTP_NOTFOUND, "try /metrics");
		return;
	}
	if ((b = evbuffer_new()) == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	render(m, b);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; version=0.0.4");
	evhttp_send_reply(req, HTTP_OK, "OK", b);
	evbuffer_free(b);
}

int
metrics_new(struct event_base *base, const char *host, unsigned port,
    const struct metrics_sources *src, struct metrics **ret,
    struct sts_diag *reterr_diag)
{
	struct metrics *m = calloc(1, sizeof(*m));
	struct evhttp_bound_socket *sock;

	if (m == NULL)
		return STS_ENOMEM;
	m->src = *src;
	if ((m->http = evhttp_new(base)) == NULL) {
		free(m);
		return STS_ENOMEM;
	}
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET);
	evhttp_set_gencb(m->http, on_request, m);
	sock = evhttp_bind_socket_with_handle(m->http, host, (uint16_t)port);
	if (sock == NULL) {
		sts_diag_set(reterr_diag, 0, "metrics: cannot listen on %s:%u",
		    host, port);
		evhttp_free(m->http);
		free(m);
		return STS_EIO;
	}
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		evutil_socket_t fd = evhttp_bound_socket_get_fd(sock);

		m->port = port;
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
			m->port = ntohs(ss.ss_family == AF_INET6
					    ? ((struct sockaddr_in6 *)&ss)->sin6_port
					    : ((struct sockaddr_in *)&ss)->sin_port);
	}
	*ret = m;
	return STS_OK;
}

unsigned
metrics_port(const struct metrics *m)
{
	return m->port;
}

void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	evhttp_free(m->http);
	free(m);
}

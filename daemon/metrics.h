/*
 * metrics.h - Prometheus text exposition on its own HTTP listener.
 */
#ifndef STS_DAEMON_METRICS_H
#define STS_DAEMON_METRICS_H

#include "mtasts/cache.h"
#include "mtasts/err.h"
#include "mtasts/resolver.h"

struct event_base;
struct metrics;
struct lookup_service;
struct server;

struct metrics_sources {
	const struct lookup_service *lookup;
	const struct sts_resolver *resolver;
	const struct sts_cache *cache;
	const struct server *server;
};

int metrics_new(struct event_base *base, const char *host, unsigned port,
    const struct metrics_sources *src, struct metrics **ret,
    struct sts_diag *reterr_diag);

/* The port bound (useful with port 0). */
unsigned metrics_port(const struct metrics *m);

void metrics_free(struct metrics *m);

#endif

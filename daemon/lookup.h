/*
 * lookup.h - the socketmap lookup: key, zone, resolver, reply.
 *
 * Glue between server.c (framing), key.c (which domain), the resolver
 * (which policy) and reply.c (what Postfix reads).  It also keeps the
 * per-reply counters and the latency histogram for the metrics.
 */
#ifndef STS_DAEMON_LOOKUP_H
#define STS_DAEMON_LOOKUP_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "mtasts/resolver.h"
#include "server.h"

/* Latency histogram bucket bounds in microseconds (Prometheus "le"). */
#define LOOKUP_HIST_BUCKETS 12

struct lookup_stats {
	uint64_t secure, notfound, temp;
	uint64_t bad_key; /* keys naming no domain (NOTFOUND) */
	uint64_t hist[LOOKUP_HIST_BUCKETS + 1]; /* last: +Inf */
	double latency_sum_s;
};

struct lookup_service {
	struct sts_resolver *resolver;
	const struct sts_config *config; /* swapped on reload */
	bool tlsrpt_supported; /* the local Postfix takes the 3.10 attributes */
	unsigned pending;      /* lookups waiting for the resolver */
	struct lookup_stats stats;
};

extern const struct lookup_ops lookup_ops;
extern const uint64_t lookup_hist_bounds_us[LOOKUP_HIST_BUCKETS];

#endif

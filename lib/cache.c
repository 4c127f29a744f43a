/*
 * cache.c - policy cache front and its in-memory hot layer.
 *
 * Memory layout: one allocation per entry, a struct sts_cache_node
 * followed by "domain\0id\0body\0", so an entry costs its bytes plus
 * about 90 bytes (node header, malloc header, one bucket pointer).
 * Lookup is a chained hash table keyed by SipHash-2-4 of the domain
 * with a per-cache random key (domains reach the table from the network,
 * so chains must not be predictable); the table doubles when it holds
 * more entries than buckets.  Recency is a doubly linked list: peek
 * moves a node to the front, eviction takes the back.
 *
 * The stores (cache_sqlite.c, cache_redis.c) are called from here only;
 * they hand rows back through sts_cache_load() and answers through
 * sts_cache_req_answer().
 */
#include "mtasts/cache.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "cache_int.h"
#include "diag.h"

struct sts_cache_node {
	struct sts_cache_node *hnext;
	struct sts_cache_node *prev, *next; /* prev: more recently used */
	int64_t fetched_at, expires_at, checked_at, used_at;
	uint32_t hash;
	uint32_t body_len;
	uint8_t domain_len;
	uint8_t id_len;
	bool used_dirty; /* used_at changed since the store last saw it */
	char data[];     /* domain NUL id NUL body NUL */
};

#define INITIAL_BUCKETS 64

/* ---- SipHash-2-4 (Aumasson, Bernstein), 64-bit output ---- */

static inline uint64_t
rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define SIPROUND                                                               \
	do {                                                                   \
		v0 += v1;                                                      \
		v1 = rotl(v1, 13);                                             \
		v1 ^= v0;                                                      \
		v0 = rotl(v0, 32);                                             \
		v2 += v3;                                                      \
		v3 = rotl(v3, 16);                                             \
		v3 ^= v2;                                                      \
		v0 += v3;                                                      \
		v3 = rotl(v3, 21);                                             \
		v3 ^= v0;                                                      \
		v2 += v1;                                                      \
		v1 = rotl(v1, 17);                                             \
		v1 ^= v2;                                                      \
		v2 = rotl(v2, 32);                                             \
	} while (0)

static uint64_t
siphash(const uint64_t key[2], const char *in, size_t len)
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ key[0];
	uint64_t v1 = 0x646f72616e646f6dULL ^ key[1];
	uint64_t v2 = 0x6c7967656e657261ULL ^ key[0];
	uint64_t v3 = 0x7465646279746573ULL ^ key[1];
	const unsigned char *p = (const unsigned char *)in;
	size_t left = len & 7;
	const unsigned char *end = p + len - left;
	uint64_t b = ((uint64_t)len) << 56;

	for (; p != end; p += 8) {
		uint64_t m = 0;

		for (int i = 0; i < 8; i++)
			m |= (uint64_t)p[i] << (8 * i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t i = 0; i < left; i++)
		b |= (uint64_t)p[i] << (8 * i);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static void
random_key(uint64_t key[2], const void *salt)
{
	if (getrandom(key, 2 * sizeof(key[0]), GRND_NONBLOCK) ==
	    (ssize_t)(2 * sizeof(key[0])))
		return;
	/* No entropy yet (early boot): weaker, but still per process. */
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	key[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^
		 (uint64_t)(uintptr_t)salt;
	key[1] =
	    (uint64_t)ts.tv_sec * 0xc2b2ae3d27d4eb4fULL ^ (uint64_t)time(NULL);
}

/* ---- validation ---- */

bool
sts_cache_domain_ok(const char *domain, size_t len)
{
	size_t label = 0;

	if (len == 0 || len > STS_DOMAIN_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)domain[i];

		if (ch == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if ((ch >= 'a' && ch <= 'z') || sts_is_digit(ch) ||
			   ch == '-') {
			if (++label > STS_LABEL_MAX)
				return false;
		} else {
			return false;
		}
	}
	return label > 0;
}

bool
sts_cache_id_ok(const char *id, size_t len)
{
	if (len == 0 || len > STS_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!sts_is_alnum((unsigned char)id[i]))
			return false;
	return true;
}

int
sts_cache_check(const struct sts_cache_entry *e)
{
	size_t dlen = strnlen(e->domain, sizeof(e->domain));
	size_t idlen = strnlen(e->id, sizeof(e->id));

	if (dlen == sizeof(e->domain) || !sts_cache_domain_ok(e->domain, dlen))
		return STS_EINVAL;
	if (idlen == sizeof(e->id) || !sts_cache_id_ok(e->id, idlen))
		return STS_EINVAL;
	if (e->body_len > STS_POLICY_MAX_BYTES)
		return STS_ETOOBIG;
	if (e->body == NULL && e->body_len > 0)
		return STS_EINVAL;
	if (e->fetched_at < 0 || e->expires_at < 0 || e->checked_at < 0 ||
	    e->used_at < 0)
		return STS_EINVAL;
	return STS_OK;
}

/* ---- nodes, table, recency list ---- */

static const char *
node_domain(const struct sts_cache_node *n)
{
	return n->data;
}

static const char *
node_id(const struct sts_cache_node *n)
{
	return n->data + n->domain_len + 1;
}

static const char *
node_body(const struct sts_cache_node *n)
{
	return n->data + n->domain_len + 1 + n->id_len + 1;
}

static size_t
node_size(const struct sts_cache_node *n)
{
	return sizeof(*n) + n->domain_len + 1u + n->id_len + 1u + n->body_len +
	       1u;
}

static void
node_entry(const struct sts_cache_node *n, struct sts_cache_entry *e)
{
	memcpy(e->domain, node_domain(n), n->domain_len + 1u);
	memcpy(e->id, node_id(n), n->id_len + 1u);
	e->body = node_body(n);
	e->body_len = n->body_len;
	e->fetched_at = n->fetched_at;
	e->expires_at = n->expires_at;
	e->checked_at = n->checked_at;
	e->used_at = n->used_at;
}

static uint32_t
hash_of(const struct sts_cache *c, const char *domain, size_t len)
{
	return (uint32_t)siphash(c->key, domain, len);
}

/* e has passed sts_cache_check(). */
static struct sts_cache_node *
node_new(const struct sts_cache *c, const struct sts_cache_entry *e)
{
	size_t dlen = strlen(e->domain), idlen = strlen(e->id);
	struct sts_cache_node *n;
	char *p;

	n = malloc(sizeof(*n) + dlen + 1 + idlen + 1 + e->body_len + 1);
	if (n == NULL)
		return NULL;
	n->hnext = n->prev = n->next = NULL;
	n->fetched_at = e->fetched_at;
	n->expires_at = e->expires_at;
	n->checked_at = e->checked_at;
	n->used_at = e->used_at;
	n->hash = hash_of(c, e->domain, dlen);
	n->body_len = (uint32_t)e->body_len;
	n->domain_len = (uint8_t)dlen;
	n->id_len = (uint8_t)idlen;
	n->used_dirty = false;
	p = n->data;
	memcpy(p, e->domain, dlen + 1);
	p += dlen + 1;
	memcpy(p, e->id, idlen + 1);
	p += idlen + 1;
	if (e->body_len > 0)
		memcpy(p, e->body, e->body_len);
	p[e->body_len] = '\0';
	return n;
}

static struct sts_cache_node *
find(const struct sts_cache *c, const char *domain, size_t len)
{
	uint32_t h;

	if (c->nbuckets == 0)
		return NULL;
	h = hash_of(c, domain, len);
	for (struct sts_cache_node *n = c->buckets[h & (c->nbuckets - 1)];
	     n != NULL; n = n->hnext)
		if (n->hash == h && n->domain_len == len &&
		    memcmp(node_domain(n), domain, len) == 0)
			return n;
	return NULL;
}

static void
lru_unlink(struct sts_cache *c, struct sts_cache_node *n)
{
	if (n->prev != NULL)
		n->prev->next = n->next;
	else
		c->mru = n->next;
	if (n->next != NULL)
		n->next->prev = n->prev;
	else
		c->lru = n->prev;
	n->prev = n->next = NULL;
}

static void
lru_push_front(struct sts_cache *c, struct sts_cache_node *n)
{
	n->prev = NULL;
	n->next = c->mru;
	if (c->mru != NULL)
		c->mru->prev = n;
	else
		c->lru = n;
	c->mru = n;
}

static void
lru_push_back(struct sts_cache *c, struct sts_cache_node *n)
{
	n->next = NULL;
	n->prev = c->lru;
	if (c->lru != NULL)
		c->lru->next = n;
	else
		c->mru = n;
	c->lru = n;
}

/* Double the bucket array; on ENOMEM keep the longer chains. */
static void
grow(struct sts_cache *c)
{
	size_t nb = c->nbuckets * 2;
	struct sts_cache_node **b;

	if (nb / 2 != c->nbuckets || nb > SIZE_MAX / sizeof(*b))
		return;
	b = calloc(nb, sizeof(*b));
	if (b == NULL)
		return;
	for (size_t i = 0; i < c->nbuckets; i++) {
		struct sts_cache_node *n = c->buckets[i], *next;

		for (; n != NULL; n = next) {
			next = n->hnext;
			n->hnext = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	}
	free(c->buckets);
	c->bytes += (nb - c->nbuckets) * sizeof(*b);
	c->buckets = b;
	c->nbuckets = nb;
}

static void
table_add(struct sts_cache *c, struct sts_cache_node *n, bool at_tail)
{
	size_t i = n->hash & (c->nbuckets - 1);

	n->hnext = c->buckets[i];
	c->buckets[i] = n;
	if (at_tail)
		lru_push_back(c, n);
	else
		lru_push_front(c, n);
	c->n++;
	c->bytes += node_size(n);
	if (c->n > c->nbuckets)
		grow(c);
}

static void
table_remove(struct sts_cache *c, struct sts_cache_node *n)
{
	struct sts_cache_node **pp = &c->buckets[n->hash & (c->nbuckets - 1)];

	while (*pp != n)
		pp = &(*pp)->hnext;
	*pp = n->hnext;
	lru_unlink(c, n);
	c->n--;
	c->bytes -= node_size(n);
}

/* Put new in old's place in the table; new becomes most recent. */
static void
table_replace(
    struct sts_cache *c, struct sts_cache_node *old, struct sts_cache_node *new)
{
	table_remove(c, old);
	if (old->used_at > new->used_at)
		new->used_at = old->used_at;
	free(old);
	table_add(c, new, false);
}

/* Make room for one more entry: evict the least recently used. */
static void
evict_one(struct sts_cache *c)
{
	struct sts_cache_node *n = c->lru;

	if (n == NULL)
		return;
	/* Memory mirrors the SQLite file: keep it bounded too.  Redis
	 * keys are shared by the fleet and expire by TTL. */
	if (c->sql != NULL)
		(void)sts_cache_sqlite_del(c->sql, node_domain(n));
	table_remove(c, n);
	free(n);
	c->st.evictions++;
}

static int
check_mutable(const struct sts_cache *c)
{
	return (c->iterating || c->read_only) ? STS_EINVAL : STS_OK;
}

/* ---- requests ---- */

static void
req_release(struct sts_cache_req *req)
{
	struct sts_cache *c = req->cache;

	if (req->prev != NULL)
		req->prev->next = req->next;
	else
		c->reqs = req->next;
	if (req->next != NULL)
		req->next->prev = req->prev;
	if (req->ev != NULL)
		event_free(req->ev);
	free(req);
}

/* Look domain up for a delivery: like peek without the counters. */
static bool
lookup_use(struct sts_cache *c, const char *domain, int64_t now,
    struct sts_cache_entry *ret_entry)
{
	struct sts_cache_node *n = find(c, domain, strlen(domain));

	if (n == NULL || now >= n->expires_at)
		return false;
	if (n->used_at != now) {
		n->used_at = now;
		n->used_dirty = true;
	}
	lru_unlink(c, n);
	lru_push_front(c, n);
	node_entry(n, ret_entry);
	return true;
}

static void
req_fire(evutil_socket_t fd, short what, void *arg)
{
	struct sts_cache_req *req = arg;
	struct sts_cache *c = req->cache;
	sts_cache_fetch_cb *cb = req->cb;
	void *uarg = req->arg;
	struct sts_cache_entry e;
	int status = STS_ETEMP;
	bool found;

	(void)fd;
	(void)what;
	if (req->answered)
		status = req->status;
	else
		c->st.store_errors++; /* the store did not answer in time */
	req->live = false;
	found = lookup_use(c, req->domain, req->now, &e);
	if (!req->in_store)
		req_release(req);
	if (found)
		cb(STS_OK, &e, uarg);
	else
		cb(status == STS_OK ? STS_ENOTFOUND : status, NULL, uarg);
}

void
sts_cache_req_answer(struct sts_cache_req *req, int status)
{
	req->in_store = false;
	if (!req->live) {
		req_release(req);
		return;
	}
	req->answered = true;
	req->status = status;
	event_del(req->ev);
	event_active(req->ev, EV_TIMEOUT, 1);
}

/* ---- public API ---- */

static int
kind_of(const char *name, enum sts_cache_kind *ret_kind)
{
	if (name == NULL || strcmp(name, "internal") == 0)
		*ret_kind = STS_CACHE_INTERNAL;
	else if (strcmp(name, "sqlite") == 0)
		*ret_kind = STS_CACHE_SQLITE;
	else if (strcmp(name, "redis") == 0)
		*ret_kind = STS_CACHE_REDIS;
	else
		return STS_EINVAL;
	return STS_OK;
}

int
sts_cache_new(struct event_base *base, const struct sts_cache_config *cfg,
    struct sts_cache **ret_cache, struct sts_diag *reterr_diag)
{
	static const struct sts_cache_config defaults = {0};
	struct sts_cache *c = NULL;
	enum sts_cache_kind kind;
	int r;

	if (cfg == NULL)
		cfg = &defaults;
	if (ret_cache == NULL)
		return STS_EINVAL;
	if (kind_of(cfg->type, &kind) != STS_OK) {
		sts_diag_set(reterr_diag, 0,
		    "unknown cache type '%.40s' (internal, sqlite, redis)",
		    cfg->type);
		return STS_EINVAL;
	}
	if (cfg->read_only && kind != STS_CACHE_SQLITE) {
		sts_diag_set(reterr_diag, 0, "read-only needs a sqlite cache");
		return STS_EINVAL;
	}
	if (kind == STS_CACHE_REDIS && base == NULL) {
		sts_diag_set(
		    reterr_diag, 0, "a redis cache needs an event loop");
		return STS_EINVAL;
	}
	if (cfg->max_entries > STS_CACHE_MAX_ENTRIES) {
		sts_diag_set(reterr_diag, 0, "max_entries %zu is over %u",
		    cfg->max_entries, (unsigned)STS_CACHE_MAX_ENTRIES);
		return STS_EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return STS_ENOMEM;
	c->base = base;
	c->kind = kind;
	c->read_only = cfg->read_only;
	c->max_entries =
	    cfg->max_entries ? cfg->max_entries : STS_CACHE_DEFAULT_ENTRIES;
	c->timeout_ms =
	    cfg->timeout_ms ? cfg->timeout_ms : STS_CACHE_TIMEOUT_MS;
	c->nbuckets = INITIAL_BUCKETS;
	c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
	if (c->buckets == NULL) {
		r = STS_ENOMEM;
		goto out;
	}
	c->bytes = sizeof(*c) + c->nbuckets * sizeof(*c->buckets);
	random_key(c->key, c);

	r = STS_OK;
	if (kind == STS_CACHE_SQLITE)
		r = sts_cache_sqlite_open(c, cfg, &c->sql, reterr_diag);
	else if (kind == STS_CACHE_REDIS)
		r = sts_cache_redis_open(c, cfg, &c->redis, reterr_diag);
out:
	if (r != STS_OK) {
		sts_cache_free(c);
		return r;
	}
	*ret_cache = c;
	return STS_OK;
}

void
sts_cache_free(struct sts_cache *c)
{
	struct sts_cache_node *n, *next;

	if (c == NULL)
		return;
	c->iterating = false;
	if (c->sql != NULL && !c->read_only)
		(void)sts_cache_flush(c);
	/* No callback may run from here on. */
	for (struct sts_cache_req *req = c->reqs; req != NULL;
	     req = req->next) {
		req->live = false;
		if (req->ev != NULL)
			event_del(req->ev);
	}
	/* Dropping the connection makes hiredis answer (and so release)
	 * every request it holds. */
	sts_cache_redis_close(c->redis);
	c->redis = NULL;
	while (c->reqs != NULL)
		req_release(c->reqs);
	sts_cache_sqlite_close(c->sql);
	for (n = c->mru; n != NULL; n = next) {
		next = n->next;
		free(n);
	}
	free(c->buckets);
	free(c);
}

const char *
sts_cache_type(const struct sts_cache *c)
{
	switch (c->kind) {
	case STS_CACHE_INTERNAL:
		return "internal";
	case STS_CACHE_SQLITE:
		return "sqlite";
	case STS_CACHE_REDIS:
		return "redis";
	}
	return "internal";
}

int
sts_cache_peek(struct sts_cache *c, const char *domain, int64_t now,
    struct sts_cache_entry *ret_entry)
{
	if (domain == NULL || ret_entry == NULL)
		return STS_EINVAL;
	if (!lookup_use(c, domain, now, ret_entry)) {
		c->st.misses++;
		return STS_ENOTFOUND;
	}
	c->st.hits++;
	return STS_OK;
}

int
sts_cache_peek_stale(const struct sts_cache *c, const char *domain,
    struct sts_cache_entry *ret_entry)
{
	const struct sts_cache_node *n;

	if (domain == NULL || ret_entry == NULL)
		return STS_EINVAL;
	n = find(c, domain, strlen(domain));
	if (n == NULL)
		return STS_ENOTFOUND;
	node_entry(n, ret_entry);
	return STS_OK;
}

int
sts_cache_fetch(struct sts_cache *c, const char *domain, int64_t now,
    sts_cache_fetch_cb *cb, void *arg, struct sts_cache_req **ret_req)
{
	struct sts_cache_req *req;
	const struct sts_cache_node *n;
	size_t len;
	int r;

	if (c->base == NULL || cb == NULL || domain == NULL)
		return STS_EINVAL;
	len = strlen(domain);
	if (!sts_cache_domain_ok(domain, len))
		return STS_EINVAL;
	n = find(c, domain, len);
	if (n != NULL && now >= n->expires_at)
		n = NULL;
	if (n == NULL && c->redis != NULL && !sts_cache_redis_up(c->redis)) {
		c->st.store_errors++;
		return STS_ETEMP;
	}
	req = calloc(1, sizeof(*req));
	if (req == NULL)
		return STS_ENOMEM;
	req->cache = c;
	req->cb = cb;
	req->arg = arg;
	req->now = now;
	req->live = true;
	memcpy(req->domain, domain, len + 1);
	req->ev = event_new(c->base, -1, 0, req_fire, req);
	if (req->ev == NULL) {
		free(req);
		return STS_ENOMEM;
	}
	req->next = c->reqs;
	if (c->reqs != NULL)
		c->reqs->prev = req;
	c->reqs = req;

	if (n != NULL || c->redis == NULL) {
		/* Memory has the answer (or is the whole cache). */
		req->answered = true;
		req->status = n != NULL ? STS_OK : STS_ENOTFOUND;
		event_active(req->ev, EV_TIMEOUT, 1);
	} else {
		struct timeval tv = {
		    .tv_sec = c->timeout_ms / 1000,
		    .tv_usec = (c->timeout_ms % 1000) * 1000,
		};

		r = sts_cache_redis_get(c->redis, req);
		if (r != STS_OK) {
			c->st.store_errors++;
			req_release(req);
			return r;
		}
		event_add(req->ev, &tv);
	}
	if (ret_req != NULL)
		*ret_req = req;
	return STS_OK;
}

void
sts_cache_cancel(struct sts_cache_req *req)
{
	if (req == NULL || !req->live)
		return;
	req->live = false;
	event_del(req->ev);
	if (!req->in_store)
		req_release(req);
}

int
sts_cache_load(
    struct sts_cache *c, const struct sts_cache_entry *e, bool at_tail)
{
	struct sts_cache_node *old, *n;

	if (sts_cache_check(e) != STS_OK)
		return STS_EINVAL;
	old = find(c, e->domain, strlen(e->domain));
	if (old != NULL && old->checked_at >= e->checked_at)
		return STS_OK;
	if (old == NULL && c->n >= c->max_entries && at_tail)
		return STS_ETOOBIG;
	if ((n = node_new(c, e)) == NULL)
		return STS_ENOMEM;
	if (old != NULL) {
		table_replace(c, old, n);
		return STS_OK;
	}
	if (c->n >= c->max_entries) {
		/* Memory only: this entry came from the store. */
		struct sts_cache_node *victim = c->lru;

		table_remove(c, victim);
		free(victim);
		c->st.evictions++;
	}
	table_add(c, n, at_tail);
	return STS_OK;
}

/* The store's verdict after memory was updated. */
static int
store_put(struct sts_cache *c, const struct sts_cache_node *n)
{
	struct sts_cache_entry e;

	if (c->sql == NULL && c->redis == NULL)
		return STS_OK;
	node_entry(n, &e);
	if (c->sql != NULL)
		return sts_cache_sqlite_put(c->sql, &e);
	return sts_cache_redis_put(c->redis, &e);
}

int
sts_cache_put(struct sts_cache *c, const struct sts_cache_entry *e)
{
	struct sts_cache_node *old, *n;
	int r;

	if (e == NULL)
		return STS_EINVAL;
	if ((r = check_mutable(c)) != STS_OK ||
	    (r = sts_cache_check(e)) != STS_OK)
		return r;
	if ((n = node_new(c, e)) == NULL)
		return STS_ENOMEM;
	old = find(c, e->domain, n->domain_len);
	if (old != NULL) {
		table_replace(c, old, n);
	} else {
		if (c->n >= c->max_entries)
			evict_one(c);
		table_add(c, n, false);
	}
	n->used_dirty = false; /* the store gets used_at now */
	return store_put(c, n);
}

int
sts_cache_touch(struct sts_cache *c, const char *domain, int64_t checked_at,
    int64_t expires_at)
{
	struct sts_cache_node *n;
	int r;

	if (domain == NULL || checked_at < 0 || expires_at < 0)
		return STS_EINVAL;
	if ((r = check_mutable(c)) != STS_OK)
		return r;
	if ((n = find(c, domain, strlen(domain))) == NULL)
		return STS_ENOTFOUND;
	n->checked_at = checked_at;
	n->expires_at = expires_at;
	if (c->sql != NULL)
		return sts_cache_sqlite_touch(
		    c->sql, domain, checked_at, expires_at);
	return store_put(c, n);
}

int
sts_cache_del(struct sts_cache *c, const char *domain)
{
	struct sts_cache_node *n;
	int r;

	if (domain == NULL)
		return STS_EINVAL;
	if ((r = check_mutable(c)) != STS_OK)
		return r;
	n = find(c, domain, strlen(domain));
	if (n != NULL) {
		table_remove(c, n);
		free(n);
	}
	r = n != NULL ? STS_OK : STS_ENOTFOUND;
	if (c->sql != NULL) {
		int s = sts_cache_sqlite_del(c->sql, domain);

		if (s == STS_OK || s == STS_EIO)
			r = s;
	} else if (c->redis != NULL) {
		r = sts_cache_redis_del(c->redis, domain);
	}
	return r;
}

int
sts_cache_clear(struct sts_cache *c)
{
	struct sts_cache_node *n, *next;
	int r;

	if ((r = check_mutable(c)) != STS_OK)
		return r;
	for (n = c->mru; n != NULL; n = next) {
		next = n->next;
		free(n);
	}
	c->mru = c->lru = NULL;
	memset(c->buckets, 0, c->nbuckets * sizeof(*c->buckets));
	c->n = 0;
	c->bytes = sizeof(*c) + c->nbuckets * sizeof(*c->buckets);
	if (c->sql != NULL)
		return sts_cache_sqlite_clear(c->sql);
	return STS_OK;
}

int
sts_cache_prune(struct sts_cache *c, int64_t now, size_t *ret_removed)
{
	struct sts_cache_node *n, *next;
	size_t removed = 0;
	int r;

	if ((r = check_mutable(c)) != STS_OK)
		return r;
	for (n = c->mru; n != NULL; n = next) {
		next = n->next;
		if (now >= n->expires_at) {
			table_remove(c, n);
			free(n);
			removed++;
		}
	}
	if (c->sql != NULL)
		r = sts_cache_sqlite_prune(c->sql, now);
	if (ret_removed != NULL)
		*ret_removed = removed;
	return r;
}

int
sts_cache_flush(struct sts_cache *c)
{
	int r;

	if (c->sql == NULL)
		return STS_OK;
	if ((r = check_mutable(c)) != STS_OK)
		return r;
	if ((r = sts_cache_sqlite_begin(c->sql)) != STS_OK)
		return r;
	for (struct sts_cache_node *n = c->mru; n != NULL; n = n->next) {
		if (!n->used_dirty)
			continue;
		r = sts_cache_sqlite_set_used(
		    c->sql, node_domain(n), n->used_at);
		if (r != STS_OK) {
			sts_cache_sqlite_rollback(c->sql);
			return r;
		}
	}
	if ((r = sts_cache_sqlite_commit(c->sql)) != STS_OK)
		return r;
	for (struct sts_cache_node *n = c->mru; n != NULL; n = n->next)
		n->used_dirty = false;
	return STS_OK;
}

int
sts_cache_foreach(struct sts_cache *c,
    int (*cb)(const struct sts_cache_entry *entry, void *arg), void *arg)
{
	struct sts_cache_entry e;
	int r = 0;

	if (cb == NULL || c->iterating)
		return STS_EINVAL;
	c->iterating = true;
	for (const struct sts_cache_node *n = c->mru; n != NULL; n = n->next) {
		node_entry(n, &e);
		if ((r = cb(&e, arg)) != 0)
			break;
	}
	c->iterating = false;
	return r;
}

void
sts_cache_stats(const struct sts_cache *c, struct sts_cache_stats *ret_stats)
{
	*ret_stats = c->st;
	ret_stats->entries = c->n;
	ret_stats->bytes = c->bytes;
	ret_stats->max_entries = c->max_entries;
	ret_stats->store_up = c->redis == NULL || sts_cache_redis_up(c->redis);
}

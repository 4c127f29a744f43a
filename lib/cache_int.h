/*
 * cache_int.h - what cache.c and its stores (cache_sqlite.c,
 * cache_redis.c, cache_import.c) share; not installed.
 *
 * cache.c owns the memory layer and the request objects; a store never
 * calls the user's callbacks itself.  Every function a store offers
 * follows the sts_cache_<store>_<verb> naming of its file.
 */
#ifndef STS_LIB_CACHE_INT_H
#define STS_LIB_CACHE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mtasts/cache.h"

struct event;
struct sts_cache_node;
struct sts_cache_sqlite;
struct sts_cache_redis;

enum sts_cache_kind {
	STS_CACHE_INTERNAL,
	STS_CACHE_SQLITE,
	STS_CACHE_REDIS,
};

/*
 * One sts_cache_fetch.  live: the user's callback is still due.
 * in_store: hiredis holds a pointer to it (freed only when hiredis calls
 * back, even after the user cancelled).  answered: status is the store's
 * answer; when ev fires unanswered, the store timed out.
 */
struct sts_cache_req {
	struct sts_cache *cache;
	struct sts_cache_req *prev, *next;
	sts_cache_fetch_cb *cb;
	void *arg;
	struct event *ev;
	int64_t now;
	int status;
	bool live;
	bool in_store;
	bool answered;
	char domain[STS_DOMAIN_MAX + 1];
};

struct sts_cache {
	struct event_base *base;
	enum sts_cache_kind kind;
	bool read_only;
	bool iterating;
	size_t max_entries;
	unsigned timeout_ms;
	/* Hash table (chained) and LRU list (mru ... lru). */
	struct sts_cache_node **buckets;
	size_t nbuckets;
	size_t n;
	size_t bytes;
	struct sts_cache_node *mru, *lru;
	uint64_t key[2];           /* SipHash key, random per cache */
	struct sts_cache_stats st; /* counters; entries/bytes filled on read */
	struct sts_cache_req *reqs;
	struct sts_cache_sqlite *sql;
	struct sts_cache_redis *redis;
};

/* ---- cache.c, for the stores ---- */

/*
 * Is e storable?  STS_OK, STS_EINVAL (domain, id, body pointer) or
 * STS_ETOOBIG (body).  The one validator for put, loads and imports.
 */
int sts_cache_check(const struct sts_cache_entry *e);

/* Lower-case LDH name, 1..STS_DOMAIN_MAX, no empty label. */
bool sts_cache_domain_ok(const char *domain, size_t len);

/* 1*32 ALPHA / DIGIT (RFC 8461 §3.1). */
bool sts_cache_id_ok(const char *id, size_t len);

/*
 * Add e to memory without writing it to the store (loads, Redis
 * answers).  Replaces an existing entry only if e->checked_at is newer.
 * When memory is full: at_tail (a bulk load, most recent first) drops e
 * and returns STS_ETOOBIG; otherwise the LRU entry is evicted (memory
 * only).  STS_OK, STS_EINVAL (e is not storable: the caller counts it as
 * corrupt), STS_ETOOBIG (full), STS_ENOMEM.
 */
int sts_cache_load(
    struct sts_cache *c, const struct sts_cache_entry *e, bool at_tail);

/* The store answered req (see struct sts_cache_req). */
void sts_cache_req_answer(struct sts_cache_req *req, int status);

/* ---- cache_sqlite.c ---- */

int sts_cache_sqlite_open(struct sts_cache *c,
    const struct sts_cache_config *cfg, struct sts_cache_sqlite **ret_sql,
    struct sts_diag *reterr_diag);
void sts_cache_sqlite_close(struct sts_cache_sqlite *sql);
/* Each returns STS_OK or STS_EIO (and counts the error). */
int sts_cache_sqlite_put(
    struct sts_cache_sqlite *sql, const struct sts_cache_entry *e);
int sts_cache_sqlite_touch(struct sts_cache_sqlite *sql, const char *domain,
    int64_t checked_at, int64_t expires_at);
/* STS_OK (a row went), STS_ENOTFOUND (none), STS_EIO. */
int sts_cache_sqlite_del(struct sts_cache_sqlite *sql, const char *domain);
int sts_cache_sqlite_clear(struct sts_cache_sqlite *sql);
int sts_cache_sqlite_prune(struct sts_cache_sqlite *sql, int64_t now);
int sts_cache_sqlite_set_used(
    struct sts_cache_sqlite *sql, const char *domain, int64_t used_at);
int sts_cache_sqlite_begin(struct sts_cache_sqlite *sql);
int sts_cache_sqlite_commit(struct sts_cache_sqlite *sql);
void sts_cache_sqlite_rollback(struct sts_cache_sqlite *sql);

/* ---- cache_redis.c ---- */

/*
 * Redis value encoding (see cache_redis.c):
 *   "STS1 <fetched_at> <expires_at> <checked_at> <id>\n<body>"
 * encode: writes at most STS_CACHE_REDIS_HEADER_MAX bytes of header to
 * out (the body follows separately); returns the header length.
 * decode: STS_OK fills id, body (pointing into val), body_len and the
 * three times of *ret_entry (domain and used_at untouched);
 * STS_ESYNTAX or STS_ETOOBIG otherwise, *ret_entry untouched.
 */
#define STS_CACHE_REDIS_HEADER_MAX (5 + 3 * 21 + STS_ID_MAX + 1)
size_t sts_cache_redis_encode_header(
    const struct sts_cache_entry *e, char out[STS_CACHE_REDIS_HEADER_MAX]);
int sts_cache_redis_decode(
    const char *val, size_t len, struct sts_cache_entry *ret_entry);

/* Parsed form of cfg->url. */
struct sts_cache_redis_url {
	char host[STS_CACHE_URL_MAX]; /* or the unix socket path */
	bool unix_socket;
	int port;
	int db;
	char user[STS_CACHE_URL_MAX];
	char password[STS_CACHE_URL_MAX];
	bool has_password;
};
int sts_cache_redis_parse_url(const char *url,
    struct sts_cache_redis_url *ret_url, struct sts_diag *reterr_diag);

int sts_cache_redis_open(struct sts_cache *c,
    const struct sts_cache_config *cfg, struct sts_cache_redis **ret_redis,
    struct sts_diag *reterr_diag);
/* Drops the connection: in-flight requests are answered STS_ETEMP. */
void sts_cache_redis_close(struct sts_cache_redis *r);
bool sts_cache_redis_up(const struct sts_cache_redis *r);
/* Send GET for req; STS_OK (req->in_store set) or STS_ETEMP. */
int sts_cache_redis_get(struct sts_cache_redis *r, struct sts_cache_req *req);
/* SET ... EX ttl (or DEL when already expired); STS_OK or STS_ETEMP. */
int sts_cache_redis_put(
    struct sts_cache_redis *r, const struct sts_cache_entry *e);
int sts_cache_redis_del(struct sts_cache_redis *r, const char *domain);

#endif

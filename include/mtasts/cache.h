/*
 * cache.h - the policy cache (L3 adapter family: cache*.c).
 *
 * What is stored: the raw policy body exactly as fetched, plus metadata
 * (the TXT id it was fetched under and four times).  The cache never
 * parses a body; the caller re-parses it with sts_policy_parse() after
 * every load, so there is one format and one fuzzed parser.
 *
 * Layers: every cache has an in-memory hot layer (a hash table keyed by
 * domain, bounded by max_entries, least recently used entry evicted
 * first) in front of an optional persistent store chosen by name:
 *
 *   "internal"  memory only; lost on restart (pmsr's default).
 *   "sqlite"    one local file.  At open every unexpired row is loaded
 *               into memory; every put, touch and delete is written
 *               through at once (WAL, synchronous=NORMAL: a committed
 *               write survives kill -9 of the process).  Memory mirrors
 *               the file, so a memory eviction deletes the row too.
 *   "redis"     a store shared by a fleet of MTAs (hiredis, async, on
 *               the caller's event_base).  Memory holds the recently
 *               used subset: on a memory miss sts_cache_fetch() asks
 *               Redis; puts are written asynchronously as
 *               "SET <prefix><domain> <value> EX <ttl>".  While Redis is
 *               down or stalled every store operation fails at once with
 *               STS_ETEMP, memory keeps answering, and the client
 *               reconnects in the background with exponential backoff.
 *
 * Lookups on the request path (sts_cache_peek) touch memory only: no I/O.
 *
 * Times are unix seconds.  Functions that need the present take it as
 * `now`, so tests drive the cache with a fake clock.  The exceptions:
 * the Redis TTL (Redis keeps wall-clock time) and cfg->now == 0.
 *
 * The library never logs: store failures are returned (STS_EIO for
 * SQLite, STS_ETEMP for Redis) and counted in struct sts_cache_stats.
 * A corrupt or undecodable stored row is skipped and counted, never
 * fatal.
 *
 * Not thread-safe: one cache belongs to one thread (the event loop's).
 */
#ifndef MTASTS_CACHE_H
#define MTASTS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "limits.h"

struct event_base;
struct sts_cache;
struct sts_cache_req;

/* pmsr's cache_size default. */
#define STS_CACHE_DEFAULT_ENTRIES   10000
/* Hard ceiling on max_entries, whatever the config says. */
#define STS_CACHE_MAX_ENTRIES       10000000
/* SQLite busy_timeout and Redis connect/command timeout when cfg has 0.
 * The cache runs on the event loop thread, so this is how long one
 * stalled store can hold up every lookup: keep it short. */
#define STS_CACHE_TIMEOUT_MS        1000
/* Redis reconnect backoff: first delay, and the cap when cfg has 0. */
#define STS_CACHE_RECONNECT_MIN_MS  100
#define STS_CACHE_RECONNECT_MAX_MS  10000
/* Redis commands in flight; beyond this, writes fail with STS_ETEMP. */
#define STS_CACHE_REDIS_MAX_PENDING 4096
/* Default Redis key namespace; the key is this prefix + domain. */
#define STS_CACHE_REDIS_PREFIX      "mta-sts:policy:"
/* Longest accepted key prefix, and Redis URL. */
#define STS_CACHE_REDIS_PREFIX_MAX  64
#define STS_CACHE_URL_MAX           1024

/*
 * One cached policy.  As an input (sts_cache_put) every field is read
 * and the body is copied.  As an output (peek, fetch callback, foreach)
 * body points into the cache's own memory and stays valid only until
 * the next call that mutates the cache (put, touch, del, clear, prune,
 * import, free) or the next return to the event loop, whichever comes
 * first; copy what you keep.
 */
struct sts_cache_entry {
	char domain[STS_DOMAIN_MAX + 1]; /* A-label, lower case, no dot */
	char id[STS_ID_MAX + 1];         /* TXT id the body was fetched under */
	const char *body;   /* raw policy body; not NUL-terminated */
	size_t body_len;    /* <= STS_POLICY_MAX_BYTES */
	int64_t fetched_at; /* last successful fetch of this body */
	/*
	 * When the policy stops being usable (RFC 8461 §3.2 max_age, §5.1):
	 * fetched_at + max_age, or later when the caller re-confirmed the
	 * TXT id and extended it with sts_cache_touch().  peek and fetch
	 * never return an entry with now >= expires_at.
	 */
	int64_t expires_at;
	int64_t checked_at; /* last time the TXT id was confirmed or the
			     * policy refetched */
	/*
	 * Last lookup that used it (peek sets it to now).  Kept in memory;
	 * SQLite gets it on put/touch and lazily at sts_cache_flush() and
	 * sts_cache_free(); Redis does not store it (it is per process).
	 * Proactive refresh uses it to refresh only policies in use.
	 */
	int64_t used_at;
};

struct sts_cache_config {
	/* "internal", "sqlite" or "redis"; NULL means "internal". */
	const char *type;
	/* Entries kept in memory; 0 means STS_CACHE_DEFAULT_ENTRIES. */
	size_t max_entries;
	/* sqlite: the database file (created with mode 0600). */
	const char *filename;
	/*
	 * sqlite: open an existing file read-only (for `mta-sts cache list`
	 * and `show` beside a running daemon).  Nothing is created, nothing
	 * is deleted at load, expired rows are loaded too (for diagnostics),
	 * and every mutating call fails with STS_EINVAL.
	 */
	bool read_only;
	/*
	 * redis: "redis://[[user]:password@]host[:port][/db][?db=N]" (IPv6
	 * host in brackets), or "unix://[[user]:password@]/path[?db=N]";
	 * user and password may be %-encoded.  No TLS (hiredis 0.14).
	 * A host name is resolved synchronously at each (re)connect: prefer
	 * an address literal or localhost.
	 */
	const char *url;
	/* redis: key prefix; NULL means STS_CACHE_REDIS_PREFIX. */
	const char *key_prefix;
	/*
	 * sqlite: busy timeout; redis: connect and per-command timeout.
	 * 0 means STS_CACHE_TIMEOUT_MS.
	 */
	unsigned timeout_ms;
	/* redis: cap of the reconnect backoff; 0: STS_CACHE_RECONNECT_MAX_MS.
	 */
	unsigned reconnect_max_ms;
	/*
	 * sqlite (writable): rows with expires_at <= now are deleted at open
	 * rather than loaded.  0 means the wall clock.
	 */
	int64_t now;
};

struct sts_cache_stats {
	size_t entries; /* in memory */
	size_t bytes;   /* memory held by entries and the table */
	size_t max_entries;
	uint64_t hits;            /* peek found a usable entry */
	uint64_t misses;          /* peek found none (absent or expired) */
	uint64_t evictions;       /* LRU evictions from memory */
	uint64_t store_hits;      /* fetch answered by the persistent store */
	uint64_t store_misses;    /* fetch: the store had none */
	uint64_t store_errors;    /* failed store reads and writes */
	uint64_t corrupt_skipped; /* undecodable stored rows skipped */
	uint64_t reconnects;      /* redis: successful (re)connections */
	bool store_up;            /* internal/sqlite: true; redis: connected */
};

/*
 * Open a cache.  base is the caller's libevent loop; it is required for
 * "redis" and for sts_cache_fetch(), and may be NULL otherwise (the CLI).
 * cfg may be NULL (internal, defaults).  Errors: STS_EINVAL (unknown
 * type, missing filename or url, bad url, read_only without sqlite),
 * STS_ENOTFOUND (read_only and the file does not exist), STS_EIO (the
 * file cannot be opened or is not a usable database, or its schema is
 * newer than this program), STS_ENOMEM.  reterr_diag (may be NULL) says
 * why.  A Redis that is down is not an error: the cache starts with an
 * empty memory layer and keeps trying to connect.
 */
int sts_cache_new(struct event_base *base, const struct sts_cache_config *cfg,
    struct sts_cache **ret_cache, struct sts_diag *reterr_diag);

/*
 * Flush lazily persisted data (sqlite used_at), cancel every
 * outstanding fetch (their callbacks never run), close the store, free.
 * NULL ok.
 */
void sts_cache_free(struct sts_cache *cache);

/* The backend's name: "internal", "sqlite" or "redis". */
const char *sts_cache_type(const struct sts_cache *cache);

/*
 * Memory-only lookup for the request path.  domain is normalized by the
 * caller (lower-case A-label, no trailing dot).  If an entry with
 * now < expires_at exists: fill *ret_entry (body borrowed, see above),
 * set its used_at to now, mark it most recently used, count a hit and
 * return STS_OK.  Otherwise count a miss and return STS_ENOTFOUND with
 * *ret_entry untouched.
 */
int sts_cache_peek(struct sts_cache *cache, const char *domain, int64_t now,
    struct sts_cache_entry *ret_entry);

/*
 * Diagnostics: like peek, but also returns expired entries, and changes
 * nothing (no used_at, LRU order or counters).
 */
int sts_cache_peek_stale(const struct sts_cache *cache, const char *domain,
    struct sts_cache_entry *ret_entry);

/*
 * Completion of sts_cache_fetch.  status STS_OK: entry is the usable
 * entry (valid during the callback only).  STS_ENOTFOUND: no usable
 * entry anywhere (entry NULL).  STS_ETEMP: the store failed or timed
 * out and memory has none.  STS_ENOMEM.
 */
typedef void sts_cache_fetch_cb(
    int status, const struct sts_cache_entry *entry, void *arg);

/*
 * Asynchronous lookup through every layer: memory first, then (redis)
 * the store; a usable entry found in the store is added to memory (it
 * replaces a memory entry only when its checked_at is newer).
 * "internal" and "sqlite" keep everything in memory, so they answer
 * from memory, usually STS_ENOTFOUND after a peek miss.
 *
 * On STS_OK the callback runs exactly once, from the event loop, never
 * inside this call, unless sts_cache_cancel() comes first; *ret_req
 * (ret_req may be NULL) is the handle until then.  Errors, with no
 * callback: STS_EINVAL (no event_base, bad domain), STS_ETEMP (redis is
 * down and memory has no usable entry: fail fast), STS_ENOMEM.
 * The callback may call any function of this cache, sts_cache_free
 * included.
 */
int sts_cache_fetch(struct sts_cache *cache, const char *domain, int64_t now,
    sts_cache_fetch_cb *cb, void *arg, struct sts_cache_req **ret_req);

/* The fetch's callback will never run; NULL ok. */
void sts_cache_cancel(struct sts_cache_req *req);

/*
 * Store a copy of *entry (replacing any entry of that domain; used_at
 * keeps the larger of the old and new value).  If memory is full the
 * least recently used entry is evicted first (and, for sqlite, its row
 * deleted).  Errors that leave everything unchanged: STS_EINVAL (domain
 * not lower-case LDH, id not 1*32 ALPHA/DIGIT, body NULL with length,
 * read-only cache), STS_ETOOBIG (body over STS_POLICY_MAX_BYTES),
 * STS_ENOMEM.  Errors after memory was updated (only the persistent copy
 * failed; the entry is served from memory): STS_EIO (sqlite),
 * STS_ETEMP (redis down or too many writes in flight).  Later Redis
 * write failures are only counted (store_errors).
 */
int sts_cache_put(struct sts_cache *cache, const struct sts_cache_entry *entry);

/*
 * The TXT id was re-confirmed (or a refetch returned the same policy):
 * set checked_at and expires_at without rewriting the body.
 * STS_ENOTFOUND if memory has no entry for domain.  Store errors as for
 * put.
 */
int sts_cache_touch(struct sts_cache *cache, const char *domain,
    int64_t checked_at, int64_t expires_at);

/*
 * Remove domain from memory and store.  STS_OK when something was
 * removed (redis: when the DEL was sent), STS_ENOTFOUND when neither
 * memory nor (sqlite) the file had it; store errors as for put.
 */
int sts_cache_del(struct sts_cache *cache, const char *domain);

/*
 * Remove every entry from memory and, for sqlite, every row of the file
 * (`mta-sts cache purge`).  Redis keys are left to their TTL.
 */
int sts_cache_clear(struct sts_cache *cache);

/*
 * Remove entries with expires_at <= now from memory and store;
 * *ret_removed (may be NULL) gets the number removed from memory.
 */
int sts_cache_prune(struct sts_cache *cache, int64_t now, size_t *ret_removed);

/*
 * Write lazily persisted fields (sqlite: used_at changed by peek) in one
 * transaction.  A no-op for other types.  STS_EIO on failure.
 */
int sts_cache_flush(struct sts_cache *cache);

/*
 * Call cb for every entry in memory, expired ones included, most
 * recently used first.  A non-zero return from cb stops the walk and is
 * returned.  During the walk the cache must not be changed: mutating
 * calls fail with STS_EINVAL.
 */
int sts_cache_foreach(struct sts_cache *cache,
    int (*cb)(const struct sts_cache_entry *entry, void *arg), void *arg);

void sts_cache_stats(
    const struct sts_cache *cache, struct sts_cache_stats *ret_stats);

/* Outcome of one pmsr import. */
struct sts_cache_import_stats {
	size_t rows;      /* rows read */
	size_t imported;  /* stored into the cache */
	size_t malformed; /* bad domain, id, ts or policy JSON */
	size_t expired;   /* ts + max_age <= now */
	size_t kept;      /* the cache already had a newer entry */
	size_t failed;    /* put failed (memory or store) */
};

/*
 * Warm start from postfix-mta-sts-resolver's SQLite cache
 * (table sts_policy_cache(domain, ts, pol_id, pol_body JSON)), opened
 * read-only; it may be the same file as this cache's.  Each usable row
 * becomes an entry with a canonical body rendered from the JSON
 * ("version: STSv1\r\nmode: M\r\nmx: H\r\n...max_age: N\r\n"),
 * fetched_at = checked_at = used_at = ts, expires_at = ts + max_age.
 * Returns STS_OK with counts in *ret_stats (may be NULL);
 * STS_ENOTFOUND (no such file or no pmsr table), STS_EIO (not a
 * database, read error), STS_EINVAL (read-only cache), STS_ENOMEM;
 * reterr_diag (may be NULL) says why.
 */
int sts_cache_import_pmsr(struct sts_cache *cache, const char *path,
    int64_t now, struct sts_cache_import_stats *ret_stats,
    struct sts_diag *reterr_diag);

#endif

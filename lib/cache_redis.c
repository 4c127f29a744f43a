/*
 * cache_redis.c - the Redis store of the policy cache (hiredis 0.14,
 * async, libevent adapter on the caller's event_base).
 *
 * Keys: <prefix><domain>, prefix "mta-sts:policy:" by default (pmsr
 * keys are bare domains holding ZSETs, so the two can share a database).
 * Values (a Redis string, binary safe):
 *
 *   "STS1" SP fetched_at SP expires_at SP checked_at SP id LF body
 *
 * where the times are unix seconds in decimal (1 to 19 digits, no sign,
 * no leading zero), id is the TXT id (1*32 ALPHA/DIGIT) and body is the
 * raw policy body (the rest of the value, at most STS_POLICY_MAX_BYTES).
 * Written with "SET key value EX ttl", ttl = expires_at - now, so Redis
 * forgets a policy when it stops being usable; one already expired is
 * deleted instead.  used_at is per process and not stored.  Last writer
 * wins.  A value that does not decode is counted as corrupt and treated
 * as absent.
 *
 * Connection life: connect, then AUTH (if the URL has a password),
 * SELECT (if db != 0) and PING; the store is "up" once PING answers.
 * While it is not up every operation fails at once with STS_ETEMP.  A
 * watchdog drops the connection when commands are pending and nothing
 * has answered for timeout_ms (this also bounds the connect), and a
 * closed or failed connection is retried after 100 ms, doubling up to
 * reconnect_max_ms.
 *
 * hiredis rules kept here: the context is never freed from its connect
 * or disconnect callback (0.14 would touch it afterwards); a reply
 * callback may free it (hiredis defers that until the callback
 * returns); after our redisAsyncFree() or its own teardown every
 * pending callback runs once with a NULL reply, so a request handed to
 * hiredis is released only from its reply callback.
 */
#include <errno.h>
#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache_int.h"
#include "diag.h"

#define REDIS_DEFAULT_PORT 6379
#define REDIS_DB_MAX       1000000
#define MAGIC              "STS1 "
#define MAGIC_LEN          (sizeof(MAGIC) - 1)
#define INT64_DIGITS       19

enum redis_state { R_DOWN, R_CONNECTING, R_UP };

struct sts_cache_redis {
	struct sts_cache *c;
	struct sts_cache_redis_url url;
	char prefix[STS_CACHE_REDIS_PREFIX_MAX + 1];
	size_t prefix_len;
	redisAsyncContext *ac; /* NULL when down */
	enum redis_state state;
	unsigned backoff_ms, backoff_max_ms;
	struct event *retry;    /* reconnect timer */
	struct event *watchdog; /* fires when pending commands stall */
	unsigned pending;       /* commands hiredis has not answered */
	bool closing;
};

/* ---- value encoding ---- */

size_t
sts_cache_redis_encode_header(
    const struct sts_cache_entry *e, char out[STS_CACHE_REDIS_HEADER_MAX])
{
	int n = snprintf(out, STS_CACHE_REDIS_HEADER_MAX,
	    MAGIC "%lld %lld %lld %s\n", (long long)e->fetched_at,
	    (long long)e->expires_at, (long long)e->checked_at, e->id);

	return n > 0 && n < STS_CACHE_REDIS_HEADER_MAX ? (size_t)n : 0;
}

/* A non-negative decimal int64 followed by sep; advances *pp. */
static bool
decode_time(const char **pp, const char *end, char sep, int64_t *ret)
{
	const char *p = *pp;
	uint64_t v = 0;
	size_t digits = 0;

	while (p < end && sts_is_digit((unsigned char)*p)) {
		if (++digits > INT64_DIGITS)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
		p++;
	}
	if (digits == 0 || (digits > 1 && **pp == '0') || v > INT64_MAX ||
	    p == end || *p != sep)
		return false;
	*ret = (int64_t)v;
	*pp = p + 1;
	return true;
}

int
sts_cache_redis_decode(
    const char *val, size_t len, struct sts_cache_entry *ret_entry)
{
	const char *p = val, *end = val + len, *id;
	int64_t fetched, expires, checked;
	size_t idlen;

	if (len < MAGIC_LEN || memcmp(p, MAGIC, MAGIC_LEN) != 0)
		return STS_ESYNTAX;
	p += MAGIC_LEN;
	if (!decode_time(&p, end, ' ', &fetched) ||
	    !decode_time(&p, end, ' ', &expires) ||
	    !decode_time(&p, end, ' ', &checked))
		return STS_ESYNTAX;
	id = p;
	while (p < end && *p != '\n')
		p++;
	if (p == end)
		return STS_ESYNTAX;
	idlen = (size_t)(p - id);
	if (!sts_cache_id_ok(id, idlen))
		return STS_ESYNTAX;
	p++;
	if ((size_t)(end - p) > STS_POLICY_MAX_BYTES)
		return STS_ETOOBIG;
	memcpy(ret_entry->id, id, idlen);
	ret_entry->id[idlen] = '\0';
	ret_entry->body = p;
	ret_entry->body_len = (size_t)(end - p);
	ret_entry->fetched_at = fetched;
	ret_entry->expires_at = expires;
	ret_entry->checked_at = checked;
	return STS_OK;
}

/* ---- URL ---- */

static int
hexval(unsigned char ch)
{
	if (sts_is_digit(ch))
		return ch - '0';
	ch = sts_ascii_lower(ch);
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* Copy [p, p+len) to out[outsz], %-decoding; false if bad or long. */
static bool
unescape(const char *p, size_t len, char *out, size_t outsz)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		int ch = (unsigned char)p[i];

		if (ch == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return false;
			hi = hexval((unsigned char)p[i + 1]);
			lo = hexval((unsigned char)p[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return false;
			ch = hi * 16 + lo;
			i += 2;
		}
		if (o + 1 >= outsz)
			return false;
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	return true;
}

/* Digits [p, p+len) as an int in [lo, hi]. */
static bool
parse_int(const char *p, size_t len, long lo, long hi, int *ret)
{
	long v = 0;

	if (len == 0 || len > 9)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!sts_is_digit((unsigned char)p[i]))
			return false;
		v = v * 10 + (p[i] - '0');
	}
	if (v < lo || v > hi)
		return false;
	*ret = (int)v;
	return true;
}

int
sts_cache_redis_parse_url(
    const char *url, struct sts_cache_redis_url *ret, struct sts_diag *diag)
{
	struct sts_cache_redis_url u;
	const char *p, *end, *q, *at, *slash;
	size_t len;

	memset(&u, 0, sizeof(u));
	u.port = REDIS_DEFAULT_PORT;
	if (url == NULL || (len = strlen(url)) >= STS_CACHE_URL_MAX)
		goto bad;
	if (strncmp(url, "redis://", 8) == 0) {
		p = url + 8;
	} else if (strncmp(url, "unix://", 7) == 0) {
		p = url + 7;
		u.unix_socket = true;
	} else if (strncmp(url, "rediss://", 9) == 0) {
		sts_diag_set(
		    diag, 0, "redis url: TLS (rediss://) is not supported");
		return STS_EINVAL;
	} else {
		goto bad;
	}
	end = url + len;
	q = memchr(p, '?', (size_t)(end - p));
	if (q != NULL)
		end = q;
	/* Userinfo: up to the last '@' before the path. */
	slash = memchr(p, '/', (size_t)(end - p));
	at = NULL;
	for (const char *s = p; s < (slash ? slash : end); s++)
		if (*s == '@')
			at = s;
	if (at != NULL) {
		const char *colon = memchr(p, ':', (size_t)(at - p));

		if (colon != NULL) {
			if (!unescape(p, (size_t)(colon - p), u.user,
				sizeof(u.user)) ||
			    !unescape(colon + 1, (size_t)(at - colon - 1),
				u.password, sizeof(u.password)))
				goto bad;
			u.has_password = true;
		} else if (!unescape(
			       p, (size_t)(at - p), u.user, sizeof(u.user))) {
			goto bad;
		}
		p = at + 1;
	}
	if (u.unix_socket) {
		if (p == end || *p != '/' ||
		    !unescape(p, (size_t)(end - p), u.host, sizeof(u.host)))
			goto bad;
	} else {
		const char *hend, *pend;

		pend = memchr(p, '/', (size_t)(end - p));
		if (pend == NULL)
			pend = end;
		if (p < pend && *p == '[') {
			const char *rb = memchr(p, ']', (size_t)(pend - p));

			if (rb == NULL)
				goto bad;
			if ((size_t)(rb - p - 1) >= sizeof(u.host))
				goto bad;
			memcpy(u.host, p + 1, (size_t)(rb - p - 1));
			hend = rb + 1;
		} else {
			hend = memchr(p, ':', (size_t)(pend - p));
			if (hend == NULL)
				hend = pend;
			if ((size_t)(hend - p) >= sizeof(u.host))
				goto bad;
			memcpy(u.host, p, (size_t)(hend - p));
		}
		if (u.host[0] == '\0')
			goto bad;
		if (hend < pend) {
			if (*hend != ':' ||
			    !parse_int(hend + 1, (size_t)(pend - hend - 1), 1,
				65535, &u.port))
				goto bad;
		}
		if (pend < end && pend + 1 < end &&
		    !parse_int(pend + 1, (size_t)(end - pend - 1), 0,
			REDIS_DB_MAX, &u.db))
			goto bad;
	}
	/* Query: db=N; other redis-py options are ignored. */
	while (q != NULL) {
		const char *k = q + 1, *kend = strchr(k, '&');

		if (kend == NULL)
			kend = url + len;
		if (kend - k > 3 && strncmp(k, "db=", 3) == 0 &&
		    !parse_int(
			k + 3, (size_t)(kend - k - 3), 0, REDIS_DB_MAX, &u.db))
			goto bad;
		q = *kend == '&' ? kend : NULL;
	}
	*ret = u;
	return STS_OK;
bad:
	sts_diag_set(diag, 0,
	    "bad redis url (want redis://[[user]:password@]host[:port][/db]"
	    " or unix://[[user]:password@]/path[?db=N])");
	return STS_EINVAL;
}

/* ---- connection ---- */

static void start_connect(struct sts_cache_redis *r);

static void
arm(struct event *ev, unsigned ms)
{
	struct timeval tv = {
	    .tv_sec = ms / 1000,
	    .tv_usec = (ms % 1000) * 1000,
	};

	event_add(ev, &tv);
}

static void
schedule_retry(struct sts_cache_redis *r)
{
	if (r->closing)
		return;
	arm(r->retry, r->backoff_ms);
	r->backoff_ms = r->backoff_ms >= r->backoff_max_ms / 2
			    ? r->backoff_max_ms
			    : r->backoff_ms * 2;
}

/*
 * Give up on the current connection.  hiredis runs every pending
 * callback with a NULL reply (now, or right after the reply callback we
 * may be in), which answers the requests STS_ETEMP.
 */
static void
drop(struct sts_cache_redis *r)
{
	redisAsyncContext *ac = r->ac;

	r->ac = NULL;
	r->state = R_DOWN;
	event_del(r->watchdog);
	if (ac != NULL)
		redisAsyncFree(ac);
	schedule_retry(r);
}

static void
cmd_sent(struct sts_cache_redis *r)
{
	if (r->pending++ == 0)
		arm(r->watchdog, r->c->timeout_ms);
}

/* A reply (or NULL at teardown) for a command sent on ac. */
static void
cmd_done(struct sts_cache_redis *r, const redisAsyncContext *ac)
{
	if (r->pending > 0)
		r->pending--;
	if (ac != r->ac)
		return;
	if (r->pending > 0)
		arm(r->watchdog, r->c->timeout_ms); /* progress: restart */
	else if (r->state == R_UP)
		event_del(r->watchdog);
}

static void
on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	struct sts_cache_redis *r = arg;

	(void)fd;
	(void)what;
	r->c->st.store_errors++;
	drop(r);
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	start_connect(arg);
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
	struct sts_cache_redis *r = ac->data;

	if (r == NULL || ac != r->ac || status == REDIS_OK)
		return;
	/* hiredis frees ac when we return. */
	r->ac = NULL;
	r->state = R_DOWN;
	event_del(r->watchdog);
	schedule_retry(r);
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
	struct sts_cache_redis *r = ac->data;

	(void)status;
	if (r == NULL || ac != r->ac)
		return; /* we dropped it ourselves */
	r->ac = NULL;
	r->state = R_DOWN;
	event_del(r->watchdog);
	if (!r->closing)
		r->c->st.store_errors++;
	schedule_retry(r);
}

/* AUTH and SELECT: anything but +OK means this connection is useless. */
static void
on_handshake(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct sts_cache_redis *r = privdata;
	const redisReply *rep = reply;

	cmd_done(r, ac);
	if (rep == NULL || ac != r->ac)
		return;
	if (rep->type == REDIS_REPLY_ERROR) {
		r->c->st.store_errors++;
		drop(r);
	}
}

static void
on_ready(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct sts_cache_redis *r = privdata;
	const redisReply *rep = reply;

	cmd_done(r, ac);
	if (rep == NULL || ac != r->ac || r->state != R_CONNECTING)
		return;
	if (rep->type == REDIS_REPLY_ERROR) { /* e.g. LOADING, NOAUTH */
		r->c->st.store_errors++;
		drop(r);
		return;
	}
	r->state = R_UP;
	r->backoff_ms = STS_CACHE_RECONNECT_MIN_MS;
	r->c->st.reconnects++;
	if (r->pending == 0)
		event_del(r->watchdog);
}

static void
start_connect(struct sts_cache_redis *r)
{
	redisAsyncContext *ac;
	const struct sts_cache_redis_url *u = &r->url;
	int ok = REDIS_OK;

	if (r->closing || r->ac != NULL)
		return;
	if (u->unix_socket)
		ac = redisAsyncConnectUnix(u->host);
	else
		ac = redisAsyncConnect(u->host, u->port);
	if (ac == NULL) {
		schedule_retry(r);
		return;
	}
	if (ac->err != 0 || redisLibeventAttach(ac, r->c->base) != REDIS_OK) {
		redisAsyncFree(ac);
		schedule_retry(r);
		return;
	}
	ac->data = r;
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	r->ac = ac;
	r->state = R_CONNECTING;
	arm(r->watchdog, r->c->timeout_ms); /* bounds the whole handshake */
	if (u->has_password && u->user[0] != '\0')
		ok = redisAsyncCommand(
		    ac, on_handshake, r, "AUTH %s %s", u->user, u->password);
	else if (u->has_password)
		ok = redisAsyncCommand(
		    ac, on_handshake, r, "AUTH %s", u->password);
	if (u->has_password && ok == REDIS_OK)
		cmd_sent(r);
	if (ok == REDIS_OK && u->db != 0 &&
	    (ok = redisAsyncCommand(ac, on_handshake, r, "SELECT %d", u->db)) ==
		REDIS_OK)
		cmd_sent(r);
	if (ok == REDIS_OK &&
	    (ok = redisAsyncCommand(ac, on_ready, r, "PING")) == REDIS_OK)
		cmd_sent(r);
	if (ok != REDIS_OK)
		drop(r);
}

int
sts_cache_redis_open(struct sts_cache *c, const struct sts_cache_config *cfg,
    struct sts_cache_redis **ret_redis, struct sts_diag *reterr_diag)
{
	struct sts_cache_redis *r;
	const char *prefix =
	    cfg->key_prefix ? cfg->key_prefix : STS_CACHE_REDIS_PREFIX;
	int rc;

	if (cfg->url == NULL) {
		sts_diag_set(reterr_diag, 0, "a redis cache needs a url");
		return STS_EINVAL;
	}
	if (strlen(prefix) > STS_CACHE_REDIS_PREFIX_MAX) {
		sts_diag_set(reterr_diag, 0, "redis key prefix over %d bytes",
		    STS_CACHE_REDIS_PREFIX_MAX);
		return STS_EINVAL;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return STS_ENOMEM;
	r->c = c;
	if ((rc = sts_cache_redis_parse_url(cfg->url, &r->url, reterr_diag)) !=
	    STS_OK) {
		free(r);
		return rc;
	}
	r->prefix_len = strlen(prefix);
	memcpy(r->prefix, prefix, r->prefix_len + 1);
	r->backoff_ms = STS_CACHE_RECONNECT_MIN_MS;
	r->backoff_max_ms = cfg->reconnect_max_ms ? cfg->reconnect_max_ms
						  : STS_CACHE_RECONNECT_MAX_MS;
	if (r->backoff_max_ms < STS_CACHE_RECONNECT_MIN_MS)
		r->backoff_max_ms = STS_CACHE_RECONNECT_MIN_MS;
	r->retry = evtimer_new(c->base, on_retry, r);
	r->watchdog = evtimer_new(c->base, on_watchdog, r);
	if (r->retry == NULL || r->watchdog == NULL) {
		sts_cache_redis_close(r);
		return STS_ENOMEM;
	}
	start_connect(r);
	*ret_redis = r;
	return STS_OK;
}

void
sts_cache_redis_close(struct sts_cache_redis *r)
{
	if (r == NULL)
		return;
	r->closing = true;
	if (r->ac != NULL)
		drop(r);
	if (r->retry != NULL)
		event_free(r->retry);
	if (r->watchdog != NULL)
		event_free(r->watchdog);
	free(r);
}

bool
sts_cache_redis_up(const struct sts_cache_redis *r)
{
	return r->state == R_UP;
}

/* key = prefix + domain into out (STS_CACHE_REDIS_PREFIX_MAX +
 * STS_DOMAIN_MAX + 1 bytes). */
static size_t
make_key(const struct sts_cache_redis *r, const char *domain, char *out)
{
	size_t dlen = strlen(domain);

	memcpy(out, r->prefix, r->prefix_len);
	memcpy(out + r->prefix_len, domain, dlen + 1);
	return r->prefix_len + dlen;
}

#define KEY_MAX (STS_CACHE_REDIS_PREFIX_MAX + STS_DOMAIN_MAX + 1)

static int
writable(struct sts_cache_redis *r)
{
	if (r->state != R_UP || r->pending >= STS_CACHE_REDIS_MAX_PENDING) {
		r->c->st.store_errors++;
		return STS_ETEMP;
	}
	return STS_OK;
}

static void
on_write(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct sts_cache_redis *r = privdata;
	const redisReply *rep = reply;

	cmd_done(r, ac);
	if (rep == NULL || rep->type == REDIS_REPLY_ERROR)
		r->c->st.store_errors++;
}

static void
on_get(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct sts_cache_redis *r = ac->data;
	struct sts_cache_req *req = privdata;
	struct sts_cache *c = r->c;
	const redisReply *rep = reply;
	struct sts_cache_entry e;
	int status = STS_ENOTFOUND;

	cmd_done(r, ac);
	if (rep == NULL) {
		status = STS_ETEMP;
		if (!r->closing)
			c->st.store_errors++;
	} else if (rep->type == REDIS_REPLY_NIL) {
		c->st.store_misses++;
	} else if (rep->type == REDIS_REPLY_STRING) {
		memset(&e, 0, sizeof(e));
		memcpy(e.domain, req->domain, sizeof(e.domain));
		if (sts_cache_redis_decode(rep->str, (size_t)rep->len, &e) !=
			STS_OK ||
		    sts_cache_check(&e) != STS_OK) {
			c->st.corrupt_skipped++;
		} else if (req->now >= e.expires_at) {
			c->st.store_misses++;
		} else {
			status = sts_cache_load(c, &e, false);
			if (status == STS_OK)
				c->st.store_hits++;
			else if (status != STS_ENOMEM)
				status = STS_ENOTFOUND;
		}
	} else if (rep->type == REDIS_REPLY_ERROR &&
		   strncmp(rep->str, "WRONGTYPE", 9) == 0) {
		c->st.corrupt_skipped++; /* someone else's key */
	} else {
		status = STS_ETEMP;
		c->st.store_errors++;
	}
	sts_cache_req_answer(req, status);
}

int
sts_cache_redis_get(struct sts_cache_redis *r, struct sts_cache_req *req)
{
	char key[KEY_MAX];
	size_t klen;

	if (r->state != R_UP || r->pending >= STS_CACHE_REDIS_MAX_PENDING)
		return STS_ETEMP;
	klen = make_key(r, req->domain, key);
	if (redisAsyncCommand(r->ac, on_get, req, "GET %b", key, klen) !=
	    REDIS_OK)
		return STS_ETEMP;
	req->in_store = true;
	cmd_sent(r);
	return STS_OK;
}

int
sts_cache_redis_put(struct sts_cache_redis *r, const struct sts_cache_entry *e)
{
	char key[KEY_MAX], ttl[24], header[STS_CACHE_REDIS_HEADER_MAX];
	const char *argv[5];
	size_t argvlen[5];
	size_t klen, hlen;
	int64_t left;
	char *val;
	int rc;

	if ((rc = writable(r)) != STS_OK)
		return rc;
	left = e->expires_at - (int64_t)time(NULL);
	if (left <= 0)
		return sts_cache_redis_del(r, e->domain);
	klen = make_key(r, e->domain, key);
	hlen = sts_cache_redis_encode_header(e, header);
	if (hlen == 0)
		return STS_EINVAL;
	val = malloc(hlen + e->body_len);
	if (val == NULL)
		return STS_ENOMEM;
	memcpy(val, header, hlen);
	if (e->body_len > 0)
		memcpy(val + hlen, e->body, e->body_len);
	snprintf(ttl, sizeof(ttl), "%lld", (long long)left);
	argv[0] = "SET";
	argvlen[0] = 3;
	argv[1] = key;
	argvlen[1] = klen;
	argv[2] = val;
	argvlen[2] = hlen + e->body_len;
	argv[3] = "EX";
	argvlen[3] = 2;
	argv[4] = ttl;
	argvlen[4] = strlen(ttl);
	/* hiredis copies the arguments into its output buffer. */
	rc = redisAsyncCommandArgv(r->ac, on_write, r, 5, argv, argvlen);
	free(val);
	if (rc != REDIS_OK) {
		r->c->st.store_errors++;
		return STS_ETEMP;
	}
	cmd_sent(r);
	return STS_OK;
}

int
sts_cache_redis_del(struct sts_cache_redis *r, const char *domain)
{
	char key[KEY_MAX];
	size_t klen;
	int rc;

	if ((rc = writable(r)) != STS_OK)
		return rc;
	klen = make_key(r, domain, key);
	if (redisAsyncCommand(r->ac, on_write, r, "DEL %b", key, klen) !=
	    REDIS_OK) {
		r->c->st.store_errors++;
		return STS_ETEMP;
	}
	cmd_sent(r);
	return STS_OK;
}

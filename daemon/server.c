/*
 * server.c - socketmap listeners and connections (see server.h).
 *
 * Each connection is one non-blocking socket with a persistent read
 * event, a write event used only while output is left over, and an idle
 * timer on a libevent "common timeout" queue.  The timer is not re-armed
 * per request: a read only notes the time (a vDSO clock read), and when
 * the timer fires on a connection that was used since, it is set again
 * for the time left.  Requests are answered in order: while a lookup is
 * pending the connection stops reading, so pipelined requests wait in
 * the input buffer and a client can never make us hold more than one
 * lookup and one input buffer.
 *
 * Priorities: the listener and connection events run at priority 0.  When
 * the event_base has two or more priorities (main.c), that is ahead of
 * everything else on the loop (DNS, HTTPS, timers at the default, lower
 * priority), so a cached answer never waits behind a batch of TLS work;
 * with one priority it changes nothing.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "netstring.h"
#include "server.h"

#define MAX_LISTENERS 8
/* Read chunk; a full request (10000 bytes + framing) needs two at most. */
#define IN_BUF 8192
/* Stop reading a client that does not read its replies. */
#define OUT_HIGH_WATER (4 * STS_SOCKMAP_MAX_REPLY)
/* Socketmap events: ahead of DNS and HTTPS work (see the top). */
#define SERVER_PRIORITY 0
/*
 * Fairness.  Strict priorities alone would let clients that keep every
 * connection busy with cached lookups starve the discoveries.  While
 * requests come in, a one-shot probe timer runs at the lowest priority:
 * it can only fire when the lower-priority queue gets a turn.  If it is
 * overdue by FAIR_STARVE_MS the connections pause until that queue has
 * run.  Under any load the loop can keep up with, the probe fires in
 * time and nothing pauses.
 */
#define FAIR_PROBE_MS  20
#define FAIR_STARVE_MS 100

struct listener {
	int fd;
	struct event *ev;
	bool tcp;
	unsigned port;
};

struct server {
	struct event_base *base;
	struct server_config cfg;
	const struct lookup_ops *ops;
	void *svc;
	struct listener listeners[MAX_LISTENERS];
	size_t n_listeners;
	struct server_conn *conns;
	const struct timeval *idle_tv; /* common timeout, NULL: none */
	/* fairness: both events run at the lowest priority */
	struct event *ev_probe, *ev_resume;
	bool probing, yielding;
	int64_t probe_armed_ms;
	struct server_stats stats;
	char reply[STS_SOCKMAP_MAX_REPLY];
};

struct server_conn {
	struct server *srv;
	struct server_conn *prev, *next;
	int fd;
	struct event *ev_read, *ev_write, *ev_idle;
	bool reading, writing, pending, closing;
	bool paused; /* reading stopped for fairness until on_resume */
	int64_t active_ms; /* last request read (coarse monotonic clock) */
	void *data; /* the lookup service's, while a lookup is pending */
	struct sts_netstring_decoder dec;
	size_t in_off, in_len;
	char *out;
	size_t out_off, out_len, out_cap;
	char in[IN_BUF];
};

static void conn_process(struct server_conn *c);

/* See FAIR_STARVE_MS. */
static void
check_fairness(struct server *srv, int64_t now_ms)
{
	if (srv->ev_probe == NULL || srv->yielding)
		return;
	if (!srv->probing) {
		struct timeval tv = {0, FAIR_PROBE_MS * 1000};

		srv->probing = true;
		srv->probe_armed_ms = now_ms;
		event_add(srv->ev_probe, &tv);
	} else if (now_ms - srv->probe_armed_ms >
		   FAIR_PROBE_MS + FAIR_STARVE_MS) {
		srv->yielding = true;
		event_active(srv->ev_resume, EV_TIMEOUT, 0);
	}
}

/* Cheap and coarse (a few ms): good enough for idle timeouts. */
static int64_t
coarse_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
set_idle_timeout(struct server *srv)
{
	struct timeval tv;

	srv->idle_tv = NULL;
	if (srv->cfg.idle_timeout_ms == 0)
		return;
	tv.tv_sec = (time_t)(srv->cfg.idle_timeout_ms / 1000);
	tv.tv_usec = (suseconds_t)(srv->cfg.idle_timeout_ms % 1000) * 1000;
	srv->idle_tv = event_base_init_common_timeout(srv->base, &tv);
}

static void
conn_close(struct server_conn *c)
{
	struct server *srv = c->srv;

	if (c->pending && srv->ops->cancel != NULL)
		srv->ops->cancel(srv->svc, c);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	event_free(c->ev_read);
	event_free(c->ev_write);
	event_free(c->ev_idle);
	close(c->fd);
	sts_netstring_decoder_done(&c->dec);
	free(c->out);
	free(c);
	srv->stats.open--;
}

static void
set_reading(struct server_conn *c, bool on)
{
	if (on == c->reading)
		return;
	c->reading = on;
	if (on)
		event_add(c->ev_read, NULL);
	else
		event_del(c->ev_read);
}

/* Write what we can; false when the connection was closed. */
static bool
conn_flush(struct server_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off,
		    c->out_len - c->out_off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!c->writing)
				event_add(c->ev_write, NULL);
			c->writing = true;
			return true;
		}
		if (n <= 0) {
			conn_close(c);
			return false;
		}
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	if (c->writing)
		event_del(c->ev_write);
	c->writing = false;
	if (c->closing) {
		conn_close(c);
		return false;
	}
	return true;
}

static bool
append_reply(struct server_conn *c, const char *reply, size_t len)
{
	char header[STS_NETSTRING_HEADER_MAX];
	size_t hlen = sts_netstring_header(len, header);
	size_t need = c->out_len + hlen + len + 1;

	if (need > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 1024;
		char *grown;

		while (cap < need)
			cap *= 2;
		if ((grown = realloc(c->out, cap)) == NULL)
			return false;
		c->out = grown;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, header, hlen);
	memcpy(c->out + c->out_len + hlen, reply, len);
	c->out[c->out_len + hlen + len] = ',';
	c->out_len = need;
	c->srv->stats.replies++;
	return true;
}

void
server_conn_set_data(struct server_conn *c, void *data)
{
	c->data = data;
}

void *
server_conn_data(const struct server_conn *c)
{
	return c->data;
}

void
server_answer(struct server_conn *c, const char *reply, size_t len)
{
	c->pending = false;
	if (!append_reply(c, reply, len)) {
		conn_close(c);
		return;
	}
	conn_process(c);
}

/* Handle buffered requests until one is pending or input runs out. */
static void
conn_process(struct server_conn *c)
{
	struct server *srv = c->srv;

	while (!c->pending && c->in_off < c->in_len &&
	       c->out_len < OUT_HIGH_WATER) {
		const char *payload;
		size_t used, plen;
		struct sts_netstring_request req;
		struct reply_buf out;
		int r;

		r = sts_netstring_decode(&c->dec, c->in + c->in_off,
		    c->in_len - c->in_off, &used, &payload, &plen);
		if (r == STS_NETSTRING_MORE) {
			c->in_off = c->in_len;
			break;
		}
		if (r != STS_OK) {
			/* Framing lost: this client only is closed. */
			if (r == STS_ETOOBIG)
				srv->stats.closed_oversize++;
			else
				srv->stats.closed_malformed++;
			conn_close(c);
			return;
		}
		c->in_off += used;
		srv->stats.requests++;
		if (sts_netstring_split_request(payload, plen, &req) !=
		    STS_OK) {
			srv->stats.closed_malformed++;
			conn_close(c);
			return;
		}
		reply_buf_init(&out, srv->reply, sizeof(srv->reply));
		c->pending = true;
		if (srv->ops->lookup(srv->svc, c, req.name, req.name_len,
			req.key, req.key_len, &out) == LOOKUP_PENDING)
			break;
		c->pending = false;
		if (out.overflow)
			reply_temp(&out, "reply too long");
		if (!append_reply(c, out.data, out.len)) {
			conn_close(c);
			return;
		}
	}
	if (!conn_flush(c))
		return;
	set_reading(c, !c->pending && c->in_off == c->in_len &&
			   c->out_len < OUT_HIGH_WATER);
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
	struct server_conn *c = arg;
	ssize_t n;

	(void)what;
	if (c->srv->yielding) {
		/* the lower-priority queue's turn first (fairness) */
		set_reading(c, false);
		c->paused = true;
		return;
	}
	n = read(fd, c->in, sizeof(c->in));
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
			 errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c); /* EOF or error */
		return;
	}
	c->in_off = 0;
	c->in_len = (size_t)n;
	c->active_ms = coarse_now_ms(); /* for on_idle */
	check_fairness(c->srv, c->active_ms);
	conn_process(c);
}

/* The probe fired: the lower-priority queue is getting its turns. */
static void
on_probe(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)fd;
	(void)what;
	srv->probing = false;
}

/* The lower-priority queue had its turn: read again. */
static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)fd;
	(void)what;
	srv->yielding = false;
	for (struct server_conn *c = srv->conns; c != NULL; c = c->next) {
		if (!c->paused)
			continue;
		c->paused = false;
		set_reading(c, !c->pending && c->in_off == c->in_len &&
				   c->out_len < OUT_HIGH_WATER);
	}
}

static void
on_write(evutil_socket_t fd, short what, void *arg)
{
	struct server_conn *c = arg;

	(void)fd;
	(void)what;
	if (conn_flush(c))
		conn_process(c);
}

static void
on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct server_conn *c = arg;
	struct server *srv = c->srv;
	int64_t idle_ms, limit_ms = (int64_t)srv->cfg.idle_timeout_ms;

	(void)fd;
	(void)what;
	if (srv->idle_tv == NULL)
		return; /* idle timeouts turned off by a reload */
	if (c->pending) {
		event_add(c->ev_idle, srv->idle_tv);
		return;
	}
	idle_ms = coarse_now_ms() - c->active_ms;
	if (idle_ms >= 0 && idle_ms < limit_ms) {
		/* used since the timer was set: wait for the rest */
		struct timeval left = {(time_t)((limit_ms - idle_ms) / 1000),
		    (suseconds_t)((limit_ms - idle_ms) % 1000) * 1000};

		event_add(c->ev_idle, &left);
		return;
	}
	srv->stats.closed_idle++;
	conn_close(c);
}

static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct server *srv = arg;

	(void)what;
	for (;;) {
		struct server_conn *c;
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int one = 1;

		if (fd < 0)
			return; /* EAGAIN, or EMFILE: try on the next event */
		if (srv->stats.open >= srv->cfg.max_connections) {
			srv->stats.refused_over_limit++;
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->srv = srv;
		c->fd = fd;
		sts_netstring_decoder_init(&c->dec, STS_SOCKMAP_MAX_QUERY);
		c->ev_read = event_new(srv->base, fd, EV_READ | EV_PERSIST,
		    on_read, c);
		c->ev_write = event_new(srv->base, fd, EV_WRITE | EV_PERSIST,
		    on_write, c);
		c->ev_idle = evtimer_new(srv->base, on_idle, c);
		if (!c->ev_read || !c->ev_write || !c->ev_idle ||
		    event_priority_set(c->ev_read, SERVER_PRIORITY) != 0 ||
		    event_priority_set(c->ev_write, SERVER_PRIORITY) != 0) {
			event_free(c->ev_read);
			event_free(c->ev_write);
			event_free(c->ev_idle);
			close(fd);
			free(c);
			continue;
		}
		c->next = srv->conns;
		if (srv->conns)
			srv->conns->prev = c;
		srv->conns = c;
		srv->stats.open++;
		srv->stats.accepted++;
		set_reading(c, true);
		c->active_ms = coarse_now_ms();
		if (srv->idle_tv != NULL)
			event_add(c->ev_idle, srv->idle_tv);
	}
}

static int
add_listener(struct server *srv, int fd, bool tcp, unsigned port,
    struct sts_diag *diag)
{
	struct listener *l;

	if (srv->n_listeners == MAX_LISTENERS) {
		sts_diag_set(diag, 0, "too many listeners");
		close(fd);
		return STS_EINVAL;
	}
	l = &srv->listeners[srv->n_listeners];
	l->fd = fd;
	l->tcp = tcp;
	l->port = port;
	l->ev = event_new(srv->base, fd, EV_READ | EV_PERSIST, on_accept, srv);
	if (l->ev == NULL ||
	    event_priority_set(l->ev, SERVER_PRIORITY) != 0 ||
	    event_add(l->ev, NULL) != 0) {
		event_free(l->ev);
		close(fd);
		return STS_ENOMEM;
	}
	srv->n_listeners++;
	return STS_OK;
}

int
server_listen_tcp(struct server *srv, const char *host, unsigned port,
    bool reuse_port, struct sts_diag *reterr_diag)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	char service[16];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd = -1, one = 1, rc;

	snprintf(service, sizeof(service), "%u", port);
	rc = getaddrinfo(host, service, &hints, &res);
	if (rc != 0) {
		sts_diag_set(reterr_diag, 0, "listen %s:%u: %s", host, port,
		    gai_strerror(rc));
		return STS_EINVAL;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuse_port)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
	    listen(fd, SOMAXCONN) != 0)
		goto fail;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		port = ntohs(ss.ss_family == AF_INET6
				 ? ((struct sockaddr_in6 *)&ss)->sin6_port
				 : ((struct sockaddr_in *)&ss)->sin_port);
	freeaddrinfo(res);
	return add_listener(srv, fd, true, port, reterr_diag);
fail:
	sts_diag_set(reterr_diag, 0, "listen %s:%u: %s", host, port,
	    strerror(errno));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return STS_EIO;
}

int
server_listen_unix(struct server *srv, const char *path, int mode, long uid,
    long gid, struct sts_diag *reterr_diag)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		sts_diag_set(reterr_diag, 0, "socket path %s is too long",
		    path);
		return STS_EINVAL;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	/* Replace a stale socket, never another kind of file. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			sts_diag_set(reterr_diag, 0,
			    "%s exists and is not a socket", path);
			return STS_EINVAL;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    listen(fd, SOMAXCONN) != 0)
		goto fail;
	if (mode >= 0 && chmod(path, (mode_t)mode) != 0)
		goto fail;
	if ((uid >= 0 || gid >= 0) &&
	    chown(path, (uid_t)uid, (gid_t)gid) != 0)
		goto fail;
	return add_listener(srv, fd, false, 0, reterr_diag);
fail:
	sts_diag_set(reterr_diag, 0, "listen %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return STS_EIO;
}

unsigned
server_tcp_port(const struct server *srv)
{
	for (size_t i = 0; i < srv->n_listeners; i++)
		if (srv->listeners[i].tcp)
			return srv->listeners[i].port;
	return 0;
}

int
server_new(struct event_base *base, const struct server_config *cfg,
    const struct lookup_ops *ops, void *svc, struct server **ret_server)
{
	struct server *srv = calloc(1, sizeof(*srv));

	if (srv == NULL)
		return STS_ENOMEM;
	srv->base = base;
	srv->cfg = *cfg;
	srv->ops = ops;
	srv->svc = svc;
	set_idle_timeout(srv);
	/* Fairness needs a priority below ours; with one, there is none. */
	if (event_base_get_npriorities(base) > 1) {
		int lowest = event_base_get_npriorities(base) - 1;

		srv->ev_probe = evtimer_new(base, on_probe, srv);
		srv->ev_resume = event_new(base, -1, 0, on_resume, srv);
		if (srv->ev_probe == NULL || srv->ev_resume == NULL ||
		    event_priority_set(srv->ev_probe, lowest) != 0 ||
		    event_priority_set(srv->ev_resume, lowest) != 0) {
			if (srv->ev_probe != NULL)
				event_free(srv->ev_probe);
			if (srv->ev_resume != NULL)
				event_free(srv->ev_resume);
			srv->ev_probe = srv->ev_resume = NULL;
		}
	}
	*ret_server = srv;
	return STS_OK;
}

void
server_set_config(struct server *srv, const struct server_config *cfg)
{
	bool idle_changed = cfg->idle_timeout_ms != srv->cfg.idle_timeout_ms;

	srv->cfg = *cfg;
	set_idle_timeout(srv);
	if (!idle_changed)
		return;
	/* Existing connections get the new timeout from now on. */
	for (struct server_conn *c = srv->conns; c != NULL; c = c->next) {
		if (srv->idle_tv != NULL)
			event_add(c->ev_idle, srv->idle_tv);
		else
			event_del(c->ev_idle);
	}
}

void
server_stop_listening(struct server *srv)
{
	for (size_t i = 0; i < srv->n_listeners; i++) {
		event_free(srv->listeners[i].ev);
		close(srv->listeners[i].fd);
	}
	srv->n_listeners = 0;
}

void
server_stats(const struct server *srv, struct server_stats *ret)
{
	*ret = srv->stats;
}

void
server_free(struct server *srv)
{
	if (srv == NULL)
		return;
	server_stop_listening(srv);
	while (srv->conns)
		conn_close(srv->conns);
	if (srv->ev_resume != NULL) {
		event_free(srv->ev_probe);
		event_free(srv->ev_resume);
	}
	free(srv);
}

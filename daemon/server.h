/*
 * server.h - socketmap listeners and connections (framing and limits).
 *
 * Postfix's dict_sockmap sends netstrings "<name> <key>" and waits for
 * each reply; it keeps the connection open for more.  This module reads,
 * frames (common/netstring), asks a lookup function for each request, and
 * writes the replies back in order.  It knows nothing about MTA-STS.
 *
 * Limits a client can push on: the request size (STS_SOCKMAP_MAX_QUERY),
 * the number of connections, idle time, and buffered output.  A client
 * breaking the framing is closed; no other client notices.
 */
#ifndef STS_DAEMON_SERVER_H
#define STS_DAEMON_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mtasts/err.h"
#include "reply.h"

struct event_base;
struct server;
struct server_conn;

/* Lookup outcome: answered now, or later through server_answer(). */
enum lookup_status {
	LOOKUP_DONE,
	LOOKUP_PENDING,
};

/*
 * The lookup behind the server.  For LOOKUP_DONE the reply is in *out.
 * For LOOKUP_PENDING the service keeps `conn` and later calls
 * server_answer(conn, ...) exactly once, never from inside lookup(),
 * unless server calls cancel(svc, conn) first (the connection closed).
 */
struct lookup_ops {
	enum lookup_status (*lookup)(void *svc, struct server_conn *conn,
	    const char *name, size_t name_len, const char *key, size_t key_len,
	    struct reply_buf *out);
	void (*cancel)(void *svc, struct server_conn *conn);
};

struct server_config {
	unsigned max_connections;  /* further clients are closed at once */
	uint64_t idle_timeout_ms;  /* 0: never */
};

struct server_stats {
	uint64_t accepted, refused_over_limit;
	uint64_t requests, replies;
	uint64_t closed_malformed, closed_idle, closed_oversize;
	unsigned open;
};

int server_new(struct event_base *base, const struct server_config *cfg,
    const struct lookup_ops *ops, void *svc, struct server **ret_server);

/* Listen on TCP host:port (SO_REUSEPORT when reuse_port). */
int server_listen_tcp(struct server *srv, const char *host, unsigned port,
    bool reuse_port, struct sts_diag *reterr_diag);

/*
 * Listen on a UNIX socket at path (a stale socket file is replaced),
 * chmod to mode unless it is -1, chown to uid/gid unless they are -1.
 */
int server_listen_unix(struct server *srv, const char *path, int mode,
    long uid, long gid, struct sts_diag *reterr_diag);

/* The port a TCP listener got (useful with port 0); 0 if none. */
unsigned server_tcp_port(const struct server *srv);

/* A slot for the lookup service's state of a pending lookup. */
void server_conn_set_data(struct server_conn *conn, void *data);
void *server_conn_data(const struct server_conn *conn);

/* Deliver the reply of a pending lookup. */
void server_answer(struct server_conn *conn, const char *reply, size_t len);

/* Stop accepting (draining on SIGTERM); open connections go on. */
void server_stop_listening(struct server *srv);

/* Replace the limits (SIGHUP reload). */
void server_set_config(struct server *srv, const struct server_config *cfg);

void server_stats(const struct server *srv, struct server_stats *ret);

/* Close everything (pending lookups are cancelled) and free; NULL ok. */
void server_free(struct server *srv);

#endif

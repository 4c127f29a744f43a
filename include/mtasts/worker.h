/*
 * worker.h - discoveries and DANE checks on a thread of their own.
 *
 * The daemon answers cached lookups on its event loop; a discovery's TLS
 * handshake holds whatever loop runs it for up to a millisecond per step
 * (certificate parsing and verification, key exchange), which is longer
 * than a cached answer may wait (doc/ARCHITECTURE.md, "Event loop and
 * threads").  A worker owns a discoverer (discover.h: DNS and HTTPS
 * contexts) on a second event_base run by its own thread; the caller
 * submits work from its loop and gets the callbacks back on its loop.
 *
 * The calls mirror sts_discover() and sts_dane_check(): the callback
 * runs once, later, on the caller's event_base (never inside the call
 * that submitted the work), unless the request was cancelled.  Every
 * function here is called from the caller's loop thread only.
 */
#ifndef MTASTS_WORKER_H
#define MTASTS_WORKER_H

#include <stdbool.h>
#include <stddef.h>

#include "dane.h"
#include "discover.h"
#include "err.h"

struct event_base;
struct sts_worker;
struct sts_worker_req;

/* Make the discoverer (on a new event_base) and start its thread. */
int sts_worker_new(struct event_base *base,
    const struct sts_discover_config *cfg, struct sts_worker **ret,
    struct sts_diag *reterr_diag);

/* Stop the thread (work in flight is abandoned: no callback runs).  Not
 * from inside one of the worker's callbacks. */
void sts_worker_free(struct sts_worker *w);

/* Does the DNS context validate DNSSEC (sts_dns_validating())? */
bool sts_worker_validating(const struct sts_worker *w);

/* sts_discover() on the worker; the callback owns the discovery. */
int sts_worker_discover(struct sts_worker *w, const char *domain,
    const char *const *stop_ids, size_t n_stop_ids, sts_discover_cb *cb,
    void *arg, struct sts_worker_req **ret_req);

/* sts_dane_check() on the worker's DNS context. */
int sts_worker_dane(struct sts_worker *w, const char *domain, sts_dane_cb *cb,
    void *arg, struct sts_worker_req **ret_req);

/* The callback of req will not run.  NULL is a no-op. */
void sts_worker_cancel(struct sts_worker_req *req);

#endif

/*
 * worker.c - discoveries and DANE checks on a thread of their own.
 *
 * Two threads, two event_bases, two queues:
 *
 *   caller's loop                          worker thread (wbase)
 *   sts_worker_discover()  -- todo -->     on_todo: sts_discover(), ...
 *   on_done: user callback <-- done --     on_discovered / on_dane
 *
 * A request (struct sts_worker_req, "job") is allocated by the caller's
 * thread, travels through the todo queue to the worker, which starts the
 * real discovery or DANE check on its own discoverer and, when that
 * completes, stores the result in the job and moves it to the done queue.
 * Each queue is a list under the one mutex; each direction has an eventfd
 * watched by the receiving loop, written after the push.  The worker
 * never touches the caller's state and the caller never touches the
 * discoverer after the thread started: the job is the only shared object,
 * handed over under the lock.
 *
 * Cancelling only marks the job (the caller's thread owns that flag); the
 * work finishes on the worker and is dropped when it comes back.  The
 * daemon cancels only when it shuts down, so nothing is wasted in normal
 * operation.  sts_worker_free() stops the thread, which frees its
 * discoverer (abandoning the work in flight), and then frees every job.
 */
#include "mtasts/worker.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "mtasts/limits.h"

/*
 * The worker thread runs at a lower priority than the caller's loop, so
 * that when the CPUs are busy a cached answer does not wait for a
 * discovery's time slice.
 */
#define WORKER_NICE 10

enum job_kind {
	JOB_DISCOVER,
	JOB_DANE,
};

struct sts_worker_req {
	struct sts_worker *w;
	/* every live job, for sts_worker_free; caller's thread only */
	struct sts_worker_req *prev, *next;
	/* todo or done queue; under w->lock */
	struct sts_worker_req *qnext;
	enum job_kind kind;
	bool cancelled; /* caller's thread only */
	char domain[STS_DOMAIN_MAX + 1];
	char stop_ids[STS_DISCOVER_MAX_STOP_IDS][STS_ID_MAX + 1];
	size_t n_stop_ids;
	sts_discover_cb *discover_cb;
	sts_dane_cb *dane_cb;
	void *arg;
	/* results, written by the worker before the job is queued done */
	struct sts_discovery *discovery;
	/* JOB_DANE only: 4.6 KiB, mostly host names, that up to
	 * max_inflight discovery jobs do without */
	struct sts_dane_result *dane;
};

struct queue {
	struct sts_worker_req *head, *tail;
};

struct sts_worker {
	struct event_base *base; /* the caller's */
	struct event *done_ev;
	int done_fd;
	struct event_base *wbase; /* the worker thread's */
	struct event *todo_ev;
	int todo_fd;
	struct sts_discoverer *disc; /* worker thread only once started */
	bool validating;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock; /* todo, done, stop */
	struct queue todo, done;
	bool stop;
	struct sts_worker_req *jobs; /* caller's thread only */
};

static void
push(struct queue *q, struct sts_worker_req *job)
{
	job->qnext = NULL;
	if (q->tail != NULL)
		q->tail->qnext = job;
	else
		q->head = job;
	q->tail = job;
}

static struct sts_worker_req *
take_all(struct queue *q)
{
	struct sts_worker_req *head = q->head;

	q->head = q->tail = NULL;
	return head;
}

static void
wake(int fd)
{
	uint64_t one = 1;

	/* EAGAIN: the counter is full, the reader is woken anyway */
	while (write(fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

static void
drain(int fd)
{
	uint64_t n;

	while (read(fd, &n, sizeof(n)) < 0 && errno == EINTR)
		;
}

/* ---- worker thread ------------------------------------------------------ */

static void
finish(struct sts_worker_req *job)
{
	struct sts_worker *w = job->w;

	pthread_mutex_lock(&w->lock);
	push(&w->done, job);
	pthread_mutex_unlock(&w->lock);
	wake(w->done_fd);
}

static void
on_discovered(struct sts_discovery *d, void *arg)
{
	struct sts_worker_req *job = arg;

	job->discovery = d;
	finish(job);
}

static void
on_dane(const struct sts_dane_result *r, void *arg)
{
	struct sts_worker_req *job = arg;

	*job->dane = *r;
	finish(job);
}

/* A discovery that could not run, reported like one that failed at its
 * first step; NULL without memory. */
static struct sts_discovery *
failed_discovery(const char *domain, int status)
{
	struct sts_discovery *d = calloc(1, sizeof(*d));

	if (d != NULL) {
		snprintf(d->domain, sizeof(d->domain), "%s", domain);
		d->status = status;
		d->failed_step = STS_STEP_TXT;
		snprintf(d->reason, sizeof(d->reason),
		    "cannot start a discovery: %s", sts_strerror(status));
	}
	return d;
}

static void
start_job(struct sts_worker *w, struct sts_worker_req *job)
{
	const char *stop[STS_DISCOVER_MAX_STOP_IDS];
	int r;

	if (job->kind == JOB_DANE) {
		r = sts_dane_check(sts_discoverer_dns(w->disc), job->domain,
		    on_dane, job, NULL);
		if (r != STS_OK) {
			memset(job->dane, 0, sizeof(*job->dane));
			job->dane->status = STS_DANE_FAILED;
			job->dane->ttl = STS_DANE_MIN_TTL;
			snprintf(job->dane->reason, sizeof(job->dane->reason),
			    "DANE check could not start: %s", sts_strerror(r));
			finish(job);
		}
		return;
	}
	for (size_t i = 0; i < job->n_stop_ids; i++)
		stop[i] = job->stop_ids[i];
	r = sts_discover(w->disc, job->domain, stop, job->n_stop_ids,
	    on_discovered, job, NULL);
	if (r != STS_OK) {
		/* NULL: the caller's thread reports ENOMEM */
		job->discovery = failed_discovery(job->domain, r);
		finish(job);
	}
}

static void
on_todo(evutil_socket_t fd, short what, void *arg)
{
	struct sts_worker *w = arg;
	struct sts_worker_req *job, *next;
	bool stop;

	(void)what;
	drain(fd);
	pthread_mutex_lock(&w->lock);
	job = take_all(&w->todo);
	stop = w->stop;
	pthread_mutex_unlock(&w->lock);
	if (stop) {
		/* the caller frees the jobs after the join */
		event_base_loopbreak(w->wbase);
		return;
	}
	for (; job != NULL; job = next) {
		next = job->qnext;
		start_job(w, job);
	}
}

static void *
run(void *arg)
{
	struct sts_worker *w = arg;

	/* Linux: nice is per thread.  Best effort; see WORKER_NICE. */
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), WORKER_NICE);
	event_base_dispatch(w->wbase);
	/* Abandon the work in flight: no callback of the discoverer runs
	 * after this, so no job is touched by this thread any more. */
	sts_discoverer_free(w->disc);
	w->disc = NULL;
	return NULL;
}

/* ---- caller's thread ---------------------------------------------------- */

static void
unlink_job(struct sts_worker_req *job)
{
	struct sts_worker *w = job->w;

	if (job->prev != NULL)
		job->prev->next = job->next;
	else
		w->jobs = job->next;
	if (job->next != NULL)
		job->next->prev = job->prev;
}

static void
free_job(struct sts_worker_req *job)
{
	sts_discovery_free(job->discovery);
	free(job->dane);
	free(job);
}

static void
deliver(struct sts_worker_req *job)
{
	struct sts_discovery *d = job->discovery;

	unlink_job(job);
	if (job->cancelled) {
		free_job(job);
		return;
	}
	if (job->kind == JOB_DANE) {
		job->dane_cb(job->dane, job->arg);
		free_job(job);
		return;
	}
	if (d == NULL) /* the worker had no memory to say why */
		d = failed_discovery(job->domain, STS_ENOMEM);
	job->discovery = NULL; /* the callback owns it */
	if (d != NULL)
		job->discover_cb(d, job->arg);
	free_job(job);
}

static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	struct sts_worker *w = arg;
	struct sts_worker_req *job, *next;

	(void)what;
	drain(fd);
	pthread_mutex_lock(&w->lock);
	job = take_all(&w->done);
	pthread_mutex_unlock(&w->lock);
	/* A callback may submit or cancel: those touch other jobs only
	 * (this batch is off every queue, and cancelling a job here is
	 * the flag its own delivery checks). */
	for (; job != NULL; job = next) {
		next = job->qnext;
		deliver(job);
	}
}

static int
submit(struct sts_worker *w, struct sts_worker_req *job,
    struct sts_worker_req **ret_req)
{
	job->w = w;
	job->next = w->jobs;
	if (w->jobs != NULL)
		w->jobs->prev = job;
	w->jobs = job;
	pthread_mutex_lock(&w->lock);
	push(&w->todo, job);
	pthread_mutex_unlock(&w->lock);
	wake(w->todo_fd);
	if (ret_req != NULL)
		*ret_req = job;
	return STS_OK;
}

int
sts_worker_discover(struct sts_worker *w, const char *domain,
    const char *const *stop_ids, size_t n_stop_ids, sts_discover_cb *cb,
    void *arg, struct sts_worker_req **ret_req)
{
	struct sts_worker_req *job;

	if (strlen(domain) > STS_DOMAIN_MAX ||
	    n_stop_ids > STS_DISCOVER_MAX_STOP_IDS)
		return STS_EINVAL;
	for (size_t i = 0; i < n_stop_ids; i++)
		if (strlen(stop_ids[i]) > STS_ID_MAX)
			return STS_EINVAL;
	if ((job = calloc(1, sizeof(*job))) == NULL)
		return STS_ENOMEM;
	job->kind = JOB_DISCOVER;
	memcpy(job->domain, domain, strlen(domain) + 1);
	for (size_t i = 0; i < n_stop_ids; i++)
		memcpy(job->stop_ids[i], stop_ids[i], strlen(stop_ids[i]) + 1);
	job->n_stop_ids = n_stop_ids;
	job->discover_cb = cb;
	job->arg = arg;
	return submit(w, job, ret_req);
}

int
sts_worker_dane(struct sts_worker *w, const char *domain, sts_dane_cb *cb,
    void *arg, struct sts_worker_req **ret_req)
{
	struct sts_worker_req *job;

	if (strlen(domain) > STS_DOMAIN_MAX)
		return STS_EINVAL;
	if ((job = calloc(1, sizeof(*job))) == NULL)
		return STS_ENOMEM;
	if ((job->dane = calloc(1, sizeof(*job->dane))) == NULL) {
		free(job);
		return STS_ENOMEM;
	}
	job->kind = JOB_DANE;
	memcpy(job->domain, domain, strlen(domain) + 1);
	job->dane_cb = cb;
	job->arg = arg;
	return submit(w, job, ret_req);
}

void
sts_worker_cancel(struct sts_worker_req *req)
{
	if (req != NULL)
		req->cancelled = true;
}

bool
sts_worker_validating(const struct sts_worker *w)
{
	return w->validating;
}

int
sts_worker_new(struct event_base *base, const struct sts_discover_config *cfg,
    struct sts_worker **ret, struct sts_diag *reterr_diag)
{
	struct sts_worker *w = calloc(1, sizeof(*w));
	sigset_t all, old;
	int r;

	if (w == NULL)
		return STS_ENOMEM;
	w->base = base;
	w->done_fd = w->todo_fd = -1;
	pthread_mutex_init(&w->lock, NULL);
	w->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w->todo_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->done_fd < 0 || w->todo_fd < 0) {
		r = STS_EIO;
		goto fail;
	}
	w->wbase = event_base_new();
	if (w->wbase == NULL) {
		r = STS_ENOMEM;
		goto fail;
	}
	r = sts_discoverer_new(w->wbase, cfg, &w->disc, reterr_diag);
	if (r != STS_OK)
		goto fail;
	w->validating = sts_dns_validating(sts_discoverer_dns(w->disc));
	w->done_ev =
	    event_new(base, w->done_fd, EV_READ | EV_PERSIST, on_done, w);
	w->todo_ev =
	    event_new(w->wbase, w->todo_fd, EV_READ | EV_PERSIST, on_todo, w);
	if (w->done_ev == NULL || w->todo_ev == NULL ||
	    event_add(w->done_ev, NULL) != 0 ||
	    event_add(w->todo_ev, NULL) != 0) {
		r = STS_ENOMEM;
		goto fail;
	}
	/* Signals are the caller's loop's business, never this thread's. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&w->thread, NULL, run, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		r = STS_ENOMEM;
		goto fail;
	}
	w->started = true;
	*ret = w;
	return STS_OK;
fail:
	sts_worker_free(w);
	return r;
}

void
sts_worker_free(struct sts_worker *w)
{
	if (w == NULL)
		return;
	if (w->started) {
		pthread_mutex_lock(&w->lock);
		w->stop = true;
		pthread_mutex_unlock(&w->lock);
		wake(w->todo_fd);
		pthread_join(w->thread, NULL);
	} else {
		sts_discoverer_free(w->disc);
	}
	while (w->jobs != NULL) {
		struct sts_worker_req *job = w->jobs;

		unlink_job(job);
		free_job(job);
	}
	if (w->todo_ev != NULL)
		event_free(w->todo_ev);
	if (w->done_ev != NULL)
		event_free(w->done_ev);
	if (w->wbase != NULL)
		event_base_free(w->wbase);
	if (w->todo_fd >= 0)
		close(w->todo_fd);
	if (w->done_fd >= 0)
		close(w->done_fd);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

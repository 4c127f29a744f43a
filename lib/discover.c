/*
 * discover.c - TXT, address, fetch, parse: RFC 8461 §3 in order.
 *
 * This is the only module that sequences the I/O adapters (dns.c,
 * fetch.c) and the parsers (txt.c, policy.c).  It keeps no state between
 * discoveries: caching and refresh belong to the layer above, which asks
 * decide.c when to start one.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diag.h"
#include "mtasts/discover.h"

/* Addresses of the policy host we hand to the fetcher. */
#define MAX_POLICY_HOST_ADDRS 16
/* TXT records shown per discovery, and bytes shown of each. */
#define MAX_TXT_SHOWN 16
#define TXT_SHOWN_BYTES 512

struct sts_discoverer {
	struct sts_dns *dns;
	struct sts_fetch *fetch;
	struct sts_discover_req *reqs; /* outstanding, for free() */
};

struct sts_discover_req {
	struct sts_discoverer *disc;
	struct sts_discover_req *prev, *next;
	struct sts_discovery *d;
	char stop_ids[STS_DISCOVER_MAX_STOP_IDS][STS_ID_MAX + 1];
	size_t n_stop_ids;
	sts_discover_cb *cb;
	void *arg;
	struct sts_dns_query *query;
	struct sts_fetch_req *fetch;
	struct timespec start;
};

static unsigned
elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (unsigned)((now.tv_sec - start->tv_sec) * 1000 +
			  (now.tv_nsec - start->tv_nsec) / 1000000);
}

const char *
sts_discover_step_name(enum sts_discover_step step)
{
	switch (step) {
	case STS_STEP_TXT:
		return "txt";
	case STS_STEP_ADDR:
		return "address";
	case STS_STEP_FETCH:
		return "fetch";
	case STS_STEP_POLICY:
		return "policy";
	case STS_STEP_DONE:
		return "done";
	}
	return "?";
}

void
sts_discovery_free(struct sts_discovery *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n_txt; i++)
		free(d->txt[i]);
	free(d->txt);
	free(d->addrs);
	free(d->body);
	sts_policy_free(d->policy);
	free(d);
}

static void
unlink_req(struct sts_discover_req *req)
{
	if (req->prev)
		req->prev->next = req->next;
	else
		req->disc->reqs = req->next;
	if (req->next)
		req->next->prev = req->prev;
}

/* End the discovery: hand it to the caller, who owns it from now on. */
static void
finish(struct sts_discover_req *req, int status, enum sts_discover_step step,
    const char *tlsrpt_result, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
finish(struct sts_discover_req *req, int status, enum sts_discover_step step,
    const char *tlsrpt_result, const char *fmt, ...)
{
	struct sts_discovery *d = req->d;
	va_list ap;

	d->status = status;
	d->failed_step = step;
	d->tlsrpt_result = tlsrpt_result;
	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
	d->elapsed_ms = elapsed_ms(&req->start);
	unlink_req(req);
	req->cb(d, req->arg);
	free(req);
}

static void
on_fetch(const struct sts_fetch_result *res, void *arg)
{
	struct sts_discover_req *req = arg;
	struct sts_discovery *d = req->d;
	int r;

	req->fetch = NULL;
	d->fetched = true;
	d->http_status = res->http_status;
	snprintf(d->content_type, sizeof(d->content_type), "%s",
	    res->content_type);
	snprintf(d->address, sizeof(d->address), "%s", res->address);
	d->port = res->port;
	snprintf(d->tls_version, sizeof(d->tls_version), "%s",
	    res->tls_version);
	d->fetch_ms = res->elapsed_ms;
	if (res->status != STS_OK) {
		finish(req, res->status, STS_STEP_FETCH, res->tlsrpt_result,
		    "policy fetch failed: %s", res->reason);
		return;
	}
	if ((d->body = malloc(res->body_len + 1)) == NULL) {
		finish(req, STS_ENOMEM, STS_STEP_FETCH, NULL, "out of memory");
		return;
	}
	memcpy(d->body, res->body, res->body_len);
	d->body[res->body_len] = '\0';
	d->body_len = res->body_len;

	r = sts_policy_parse(d->body, d->body_len, &d->policy,
	    &d->policy_diag);
	if (r == STS_ENOMEM) {
		finish(req, r, STS_STEP_POLICY, NULL, "out of memory");
	} else if (r != STS_OK) {
		/* RFC 8460 §4.3.2.2: sts-policy-invalid */
		if (d->policy_diag.line > 0)
			finish(req, r, STS_STEP_POLICY, "sts-policy-invalid",
			    "policy invalid: line %d: %s",
			    d->policy_diag.line, d->policy_diag.message);
		else
			finish(req, r, STS_STEP_POLICY, "sts-policy-invalid",
			    "policy invalid: %s", d->policy_diag.message);
	} else {
		finish(req, STS_OK, STS_STEP_DONE, NULL, "%s", "");
	}
}

static void
start_fetch(struct sts_discover_req *req)
{
	struct sts_discovery *d = req->d;
	const char *addrs[MAX_POLICY_HOST_ADDRS];
	int r;

	for (size_t i = 0; i < d->n_addrs; i++)
		addrs[i] = d->addrs[i];
	r = sts_fetch_policy(req->disc->fetch, d->domain, addrs, d->n_addrs,
	    on_fetch, req, &req->fetch);
	if (r != STS_OK)
		finish(req, r, STS_STEP_FETCH, "sts-policy-fetch-error",
		    "policy fetch not started: %s", sts_strerror(r));
}

static void
on_addr(const struct sts_dns_answer *a, void *arg)
{
	struct sts_discover_req *req = arg;
	struct sts_discovery *d = req->d;
	size_t n = a->n < MAX_POLICY_HOST_ADDRS ? a->n : MAX_POLICY_HOST_ADDRS;

	req->query = NULL;
	if (a->status != STS_OK) {
		/* §3.3: any failure to fetch is a fetch error (RFC 8460). */
		finish(req, a->status == STS_ENOMEM ? STS_ENOMEM : STS_ETEMP,
		    STS_STEP_ADDR, "sts-policy-fetch-error",
		    "policy host mta-sts.%s has no usable address: %s",
		    d->domain,
		    a->status == STS_ENOTFOUND
			? (a->nxdomain ? "NXDOMAIN" : "no A or AAAA record")
			: a->reason);
		return;
	}
	if ((d->addrs = calloc(n, sizeof(*d->addrs))) == NULL) {
		finish(req, STS_ENOMEM, STS_STEP_ADDR, NULL, "out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++)
		memcpy(d->addrs[i], a->addr[i].addr, sizeof(d->addrs[i]));
	d->n_addrs = n;
	start_fetch(req);
}

static int
keep_txt(struct sts_discovery *d, const struct sts_dns_answer *a)
{
	size_t n = a->n < MAX_TXT_SHOWN ? a->n : MAX_TXT_SHOWN;

	if (n == 0)
		return STS_OK;
	if ((d->txt = calloc(n, sizeof(*d->txt))) == NULL)
		return STS_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if ((d->txt[i] = malloc(TXT_SHOWN_BYTES)) == NULL)
			return STS_ENOMEM;
		d->n_txt++;
		sts_diag_quote(a->txt[i].data, a->txt[i].len, d->txt[i],
		    TXT_SHOWN_BYTES);
	}
	return STS_OK;
}

static void
on_txt(const struct sts_dns_answer *a, void *arg)
{
	struct sts_discover_req *req = arg;
	struct sts_discovery *d = req->d;
	struct sts_diag diag = {0};
	struct sts_txt txt;
	char host[STS_DOMAIN_MAX + 16];
	int r;

	req->query = NULL;
	d->txt_status = a->status;
	d->txt_security = a->security;
	d->txt_ttl = a->ttl;
	if (a->status == STS_ENOTFOUND) {
		finish(req, STS_ENOTFOUND, STS_STEP_TXT, NULL,
		    "no _mta-sts.%s TXT record (%s): no MTA-STS policy "
		    "(RFC 8461 §3.1)",
		    d->domain, a->nxdomain ? "NXDOMAIN" : "NODATA");
		return;
	}
	if (a->status != STS_OK) {
		finish(req, a->status == STS_ENOMEM ? STS_ENOMEM : STS_ETEMP,
		    STS_STEP_TXT, NULL, "TXT lookup of _mta-sts.%s failed: %s",
		    d->domain, a->reason);
		return;
	}
	if (keep_txt(d, a) != STS_OK) {
		finish(req, STS_ENOMEM, STS_STEP_TXT, NULL, "out of memory");
		return;
	}
	r = sts_txt_parse(a->txt, a->n, &txt, &diag);
	if (r != STS_OK) {
		d->txt_status = r;
		finish(req, r == STS_ETOOBIG ? STS_ESYNTAX : r, STS_STEP_TXT,
		    NULL, "no usable _mta-sts TXT record: %s", diag.message);
		return;
	}
	memcpy(d->id, txt.id, sizeof(d->id));
	for (size_t i = 0; i < req->n_stop_ids; i++) {
		if (strcmp(req->stop_ids[i], d->id) == 0) {
			d->unchanged = true;
			finish(req, STS_OK, STS_STEP_DONE, NULL,
			    "policy id %s known, not fetched (RFC 8461 §3)",
			    d->id);
			return;
		}
	}
	if (sts_fetch_proxied(req->disc->fetch)) {
		start_fetch(req); /* the proxy resolves the policy host */
		return;
	}
	snprintf(host, sizeof(host), "mta-sts.%s", d->domain);
	r = sts_dns_query_addr(req->disc->dns, host, on_addr, req,
	    &req->query);
	if (r != STS_OK)
		finish(req, r, STS_STEP_ADDR, "sts-policy-fetch-error",
		    "address lookup of %s not started: %s", host,
		    sts_strerror(r));
}

int
sts_discover(struct sts_discoverer *disc, const char *domain,
    const char *const *stop_ids, size_t n_stop_ids, sts_discover_cb *cb,
    void *arg, struct sts_discover_req **ret_req)
{
	struct sts_discover_req *req;
	char name[STS_DOMAIN_MAX + 16];
	size_t len = strlen(domain);
	int r;

	if (len == 0 || len > STS_DOMAIN_MAX ||
	    n_stop_ids > STS_DISCOVER_MAX_STOP_IDS)
		return STS_EINVAL;
	for (size_t i = 0; i < n_stop_ids; i++)
		if (strlen(stop_ids[i]) > STS_ID_MAX)
			return STS_EINVAL;
	if ((req = calloc(1, sizeof(*req))) == NULL)
		return STS_ENOMEM;
	if ((req->d = calloc(1, sizeof(*req->d))) == NULL) {
		free(req);
		return STS_ENOMEM;
	}
	memcpy(req->d->domain, domain, len + 1);
	req->d->failed_step = STS_STEP_TXT;
	for (size_t i = 0; i < n_stop_ids; i++)
		snprintf(req->stop_ids[i], sizeof(req->stop_ids[i]), "%s",
		    stop_ids[i]);
	req->n_stop_ids = n_stop_ids;
	req->disc = disc;
	req->cb = cb;
	req->arg = arg;
	clock_gettime(CLOCK_MONOTONIC, &req->start);

	snprintf(name, sizeof(name), "_mta-sts.%s", domain);
	r = sts_dns_query_txt(disc->dns, name, on_txt, req, &req->query);
	if (r != STS_OK) {
		sts_discovery_free(req->d);
		free(req);
		return r;
	}
	req->next = disc->reqs;
	if (disc->reqs)
		disc->reqs->prev = req;
	disc->reqs = req;
	if (ret_req)
		*ret_req = req;
	return STS_OK;
}

void
sts_discover_cancel(struct sts_discover_req *req)
{
	if (req == NULL)
		return;
	sts_dns_cancel(req->query);
	sts_fetch_cancel(req->fetch);
	unlink_req(req);
	sts_discovery_free(req->d);
	free(req);
}

int
sts_discoverer_new(struct event_base *base,
    const struct sts_discover_config *cfg, struct sts_discoverer **ret,
    struct sts_diag *reterr_diag)
{
	struct sts_discoverer *disc = calloc(1, sizeof(*disc));
	int r;

	if (disc == NULL)
		return STS_ENOMEM;
	r = sts_dns_new(base, cfg ? &cfg->dns : NULL, &disc->dns, reterr_diag);
	if (r != STS_OK)
		goto fail;
	r = sts_fetch_new(base, cfg ? &cfg->fetch : NULL, &disc->fetch,
	    reterr_diag);
	if (r != STS_OK)
		goto fail;
	*ret = disc;
	return STS_OK;
fail:
	sts_discoverer_free(disc);
	return r;
}

void
sts_discoverer_free(struct sts_discoverer *disc)
{
	if (disc == NULL)
		return;
	while (disc->reqs)
		sts_discover_cancel(disc->reqs);
	sts_fetch_free(disc->fetch);
	sts_dns_free(disc->dns);
	free(disc);
}

struct sts_dns *
sts_discoverer_dns(struct sts_discoverer *disc)
{
	return disc->dns;
}

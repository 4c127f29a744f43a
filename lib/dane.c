/*
 * dane.c - MX, addresses, TLSA: the DANE state of a domain (see dane.h).
 *
 * One request walks the steps of RFC 7672 §2.2 with the dns module and
 * decides in finish().  Hosts are examined in parallel.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "mtasts/dane.h"

struct host_req {
	struct sts_dane_req *req;
	struct sts_dane_host *host;
	struct sts_dns_query *query;
};

struct sts_dane_req {
	struct sts_dns *dns;
	char domain[STS_DOMAIN_MAX + 1];
	sts_dane_cb *cb;
	void *arg;
	struct sts_dns_query *mx_query;
	struct host_req hosts[STS_DANE_MAX_HOSTS];
	size_t pending;
	uint32_t ttl;
	struct sts_dane_result result;
};

const char *
sts_dane_status_name(enum sts_dane_status status)
{
	switch (status) {
	case STS_DANE_NONE:
		return "none";
	case STS_DANE_APPLIES:
		return "applies";
	case STS_DANE_FAILED:
		return "failed";
	}
	return "?";
}

bool
sts_dane_tlsa_usable(uint8_t usage, uint8_t selector, uint8_t mtype,
    size_t len)
{
	if (usage != 2 && usage != 3)
		return false;
	if (selector > 1)
		return false;
	switch (mtype) {
	case 0:
		return len > 0;
	case 1:
		return len == 32;
	case 2:
		return len == 64;
	default:
		return false;
	}
}

static void
min_ttl(struct sts_dane_req *req, uint32_t ttl)
{
	if (ttl < req->ttl)
		req->ttl = ttl;
}

static void
set_reason(struct sts_dane_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
set_reason(struct sts_dane_result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

static void
deliver(struct sts_dane_req *req)
{
	struct sts_dane_result *r = &req->result;
	uint32_t ttl = req->ttl;

	if (r->status == STS_DANE_FAILED && ttl > STS_DANE_FAILED_TTL)
		ttl = STS_DANE_FAILED_TTL;
	if (ttl < STS_DANE_MIN_TTL)
		ttl = STS_DANE_MIN_TTL;
	if (ttl > STS_DANE_MAX_TTL)
		ttl = STS_DANE_MAX_TTL;
	r->ttl = ttl;
	req->cb(r, req->arg);
	free(req);
}

/* All hosts examined: RFC 7672 §2.2 decides. */
static void
decide(struct sts_dane_req *req)
{
	struct sts_dane_result *r = &req->result;
	size_t usable = 0, unusable = 0, failed = 0;
	const char *failed_host = NULL;

	for (size_t i = 0; i < r->n_hosts; i++) {
		switch (r->hosts[i].state) {
		case STS_DANE_HOST_USABLE:
			usable++;
			break;
		case STS_DANE_HOST_UNUSABLE:
			unusable++;
			break;
		case STS_DANE_HOST_FAILED:
			failed++;
			failed_host = r->hosts[i].name;
			break;
		case STS_DANE_HOST_NO_TLSA:
			break;
		}
	}
	if (usable + unusable > 0) {
		/* Postfix does its own per-host DANE from here; a host
		 * whose lookup failed is skipped by it (RFC 7672 §2.1.2). */
		r->status = STS_DANE_APPLIES;
		set_reason(r,
		    "%zu of %zu MX hosts have DNSSEC-validated TLSA records "
		    "(%zu usable) (RFC 7672 §2.2)",
		    usable + unusable, r->n_hosts, usable);
	} else if (failed > 0) {
		r->status = STS_DANE_FAILED;
		if (r->reason[0] == '\0')
			set_reason(r, "TLSA lookup for %s failed",
			    failed_host);
	} else {
		r->status = STS_DANE_NONE;
		set_reason(r,
		    "MX RRset is signed but no MX host has a secure TLSA "
		    "RRset");
	}
	deliver(req);
}

static void
host_done(struct host_req *hr)
{
	struct sts_dane_req *req = hr->req;

	hr->query = NULL;
	if (--req->pending == 0)
		decide(req);
}

static void
on_tlsa(const struct sts_dns_answer *a, void *arg)
{
	struct host_req *hr = arg;
	struct sts_dane_host *h = hr->host;
	struct sts_dane_result *r = &hr->req->result;

	min_ttl(hr->req, a->ttl);
	if (a->status == STS_OK && a->security == STS_DNS_SECURE) {
		h->n_tlsa = (unsigned)a->n;
		h->state = STS_DANE_HOST_UNUSABLE;
		for (size_t i = 0; i < a->n; i++)
			if (sts_dane_tlsa_usable(a->tlsa[i].usage,
				a->tlsa[i].selector, a->tlsa[i].mtype,
				a->tlsa[i].len))
				h->state = STS_DANE_HOST_USABLE;
	} else if (a->status == STS_OK || a->status == STS_ENOTFOUND) {
		/* insecure TLSA is ignored; denial means no DANE */
		h->state = STS_DANE_HOST_NO_TLSA;
	} else {
		/* RFC 7672 §2.1.1: bogus and indeterminate are errors */
		h->state = STS_DANE_HOST_FAILED;
		set_reason(r, "TLSA lookup _25._tcp.%s failed: %s", h->name,
		    a->reason);
	}
	host_done(hr);
}

static void
on_addr(const struct sts_dns_answer *a, void *arg)
{
	struct host_req *hr = arg;
	struct sts_dane_host *h = hr->host;
	struct sts_dane_result *r = &hr->req->result;
	int rc;

	min_ttl(hr->req, a->ttl);
	if (a->security == STS_DNS_BOGUS) {
		/* even when the other family answered: RFC 7672 §2.1.1 */
		h->state = STS_DANE_HOST_FAILED;
		set_reason(r, "address lookup of %s: %s", h->name, a->reason);
	} else if (a->status == STS_OK && a->security == STS_DNS_SECURE) {
		h->address_secure = true;
		hr->query = NULL;
		rc = sts_dns_query_tlsa(hr->req->dns, h->name, 25, on_tlsa, hr,
		    &hr->query);
		if (rc == STS_OK)
			return;
		h->state = STS_DANE_HOST_FAILED;
		set_reason(r, "TLSA lookup for %s not started", h->name);
	} else if (a->status == STS_OK || a->status == STS_ENOTFOUND) {
		/* RFC 7672 §2.2.2: insecure addresses, no TLSA lookup */
		h->state = STS_DANE_HOST_NO_TLSA;
	} else {
		/* An unreachable host is Postfix's business, not DANE's. */
		h->state = STS_DANE_HOST_NO_TLSA;
	}
	host_done(hr);
}

static void
add_host(struct sts_dane_req *req, const char *name)
{
	struct sts_dane_result *r = &req->result;

	if (r->n_hosts == STS_DANE_MAX_HOSTS)
		return;
	for (size_t i = 0; i < r->n_hosts; i++)
		if (strcmp(r->hosts[i].name, name) == 0)
			return;
	snprintf(r->hosts[r->n_hosts].name, sizeof(r->hosts[0].name), "%s",
	    name);
	r->n_hosts++;
}

static void
start_hosts(struct sts_dane_req *req)
{
	struct sts_dane_result *r = &req->result;

	req->pending = r->n_hosts;
	for (size_t i = 0; i < r->n_hosts; i++) {
		struct host_req *hr = &req->hosts[i];

		hr->req = req;
		hr->host = &r->hosts[i];
		if (sts_dns_query_addr(req->dns, hr->host->name, on_addr, hr,
			&hr->query) != STS_OK) {
			hr->host->state = STS_DANE_HOST_FAILED;
			set_reason(r, "address lookup of %s not started",
			    hr->host->name);
			req->pending--;
		}
	}
	if (req->pending == 0)
		decide(req); /* never synchronous: we are in a callback */
}

static void
on_mx(const struct sts_dns_answer *a, void *arg)
{
	struct sts_dane_req *req = arg;
	struct sts_dane_result *r = &req->result;

	req->mx_query = NULL;
	r->mx_security = a->security;
	min_ttl(req, a->ttl);
	if (a->security == STS_DNS_BOGUS) {
		r->status = STS_DANE_FAILED;
		set_reason(r, "MX RRset of %s is bogus: %s (RFC 7672 §2.1.1)",
		    req->domain, a->reason);
		deliver(req);
		return;
	}
	if (a->status != STS_OK && a->status != STS_ENOTFOUND) {
		/* RFC 7672 §2.1.2: cannot know which servers to use */
		r->status = STS_DANE_FAILED;
		set_reason(r, "MX lookup of %s failed: %s", req->domain,
		    a->reason);
		deliver(req);
		return;
	}
	if (a->security != STS_DNS_SECURE) {
		r->status = STS_DANE_NONE;
		set_reason(r, "MX RRset of %s is not DNSSEC-signed "
			      "(RFC 7672 §2.2.1)",
		    req->domain);
		deliver(req);
		return;
	}
	if (a->status == STS_ENOTFOUND) {
		if (a->nxdomain) {
			r->status = STS_DANE_NONE;
			set_reason(r, "%s does not exist", req->domain);
			deliver(req);
			return;
		}
		r->implicit_mx = true; /* RFC 5321 §5.1 */
		add_host(req, req->domain);
	} else {
		for (size_t i = 0; i < a->n; i++)
			if (a->mx[i].host[0] != '\0')
				add_host(req, a->mx[i].host);
		if (r->n_hosts == 0) {
			r->null_mx = true;
			r->status = STS_DANE_NONE;
			set_reason(r, "null MX: %s accepts no mail (RFC 7505)",
			    req->domain);
			deliver(req);
			return;
		}
	}
	start_hosts(req);
}

int
sts_dane_check(struct sts_dns *dns, const char *domain, sts_dane_cb *cb,
    void *arg, struct sts_dane_req **ret_req)
{
	struct sts_dane_req *req;
	size_t len = strlen(domain);
	int r;

	if (len == 0 || len > STS_DOMAIN_MAX)
		return STS_EINVAL;
	if ((req = calloc(1, sizeof(*req))) == NULL)
		return STS_ENOMEM;
	req->dns = dns;
	memcpy(req->domain, domain, len + 1);
	req->cb = cb;
	req->arg = arg;
	req->ttl = STS_DANE_MAX_TTL;
	r = sts_dns_query_mx(dns, domain, on_mx, req, &req->mx_query);
	if (r != STS_OK) {
		free(req);
		return r;
	}
	if (ret_req)
		*ret_req = req;
	return STS_OK;
}

void
sts_dane_cancel(struct sts_dane_req *req)
{
	if (req == NULL)
		return;
	sts_dns_cancel(req->mx_query);
	for (size_t i = 0; i < req->result.n_hosts; i++)
		sts_dns_cancel(req->hosts[i].query);
	free(req);
}

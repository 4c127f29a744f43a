/*
 * collect.c - every lookup, fetch and probe of one domain, in parallel.
 *
 * Nothing here judges: answers are copied into struct sts_check_facts
 * (check.h) and handed over when the last operation of the domain has
 * finished.  A counter of outstanding operations decides when; the
 * completion is delivered from a zero timer so that it never runs inside
 * collect_start().
 */
#include "cli.h"
#include "collect.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mtasts/domain.h"

#define PROBES_PER_MX  2  /* the first IPv4 and the first IPv6 address */
#define MAX_HOST_ADDRS 16 /* policy host addresses fetched from, per family */
#define HTTPS_PORT     443
#define SMTP_PORT      25

struct collected {
	char domain[STS_DOMAIN_MAX + 1];
	struct sts_check_facts facts;
	struct sts_txt_record *txt;
	size_t n_txt;
	struct sts_txt_record *tlsrpt;
	size_t n_tlsrpt;
	struct sts_dns_addr *host_addrs;
	size_t n_host_addrs;
	char *bodies[2];
	size_t n_mx;
	struct sts_check_mx mxs[STS_CHECK_MAX_MX];
	struct sts_dns_addr *mx_addrs[STS_CHECK_MAX_MX];
	struct sts_dns_tlsa *mx_tlsa[STS_CHECK_MAX_MX];
	size_t mx_n_tlsa[STS_CHECK_MAX_MX];
	struct sts_check_probe probes[STS_CHECK_MAX_MX][PROBES_PER_MX];
};

struct connect_to {
	char host[STS_DOMAIN_MAX + 1];  /* "" any */
	unsigned port;                  /* 0 any */
	char chost[STS_DOMAIN_MAX + 1]; /* "" same */
	unsigned cport;                 /* 0 same */
};

struct collector {
	struct event_base *base;
	struct sts_dns *dns;
	struct sts_fetch *fetch;
	struct sts_smtp_prober *prober;
	unsigned smtp_port;
	bool no_smtp;
	struct connect_to *cto;
	size_t n_cto;
	struct collect_req *reqs;
};

struct mx_op {
	struct collect_req *req;
	size_t i;
	struct sts_dns_query *addr_q, *tlsa_q;
};

struct probe_op {
	struct collect_req *req;
	size_t i, k;
	struct sts_smtp_probe_req *h;
};

struct fetch_op {
	struct collect_req *req;
	int k;
	struct sts_fetch_req *h;
};

struct collect_req {
	struct collector *col;
	struct collect_req *prev, *next;
	struct collected *c;
	collect_cb *cb;
	void *arg;
	unsigned pending;
	struct event *done_ev;
	struct sts_dns_query *txt_q, *mx_q, *host_q, *tlsrpt_q;
	struct sts_smtp_probe_req *host_probe;
	struct fetch_op fetch[2];
	struct mx_op mx[STS_CHECK_MAX_MX];
	struct probe_op probe[STS_CHECK_MAX_MX][PROBES_PER_MX];
};

const struct sts_check_facts *
collected_facts(const struct collected *c)
{
	return &c->facts;
}

static void
free_records(struct sts_txt_record *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free((void *)(uintptr_t)r[i].data);
	free(r);
}

void
collected_free(struct collected *c)
{
	if (c == NULL)
		return;
	free_records(c->txt, c->n_txt);
	free_records(c->tlsrpt, c->n_tlsrpt);
	free(c->host_addrs);
	free(c->bodies[0]);
	free(c->bodies[1]);
	for (size_t i = 0; i < STS_CHECK_MAX_MX; i++) {
		free(c->mx_addrs[i]);
		for (size_t k = 0; k < c->mx_n_tlsa[i]; k++)
			free((void *)(uintptr_t)c->mx_tlsa[i][k].data);
		free(c->mx_tlsa[i]);
	}
	free(c);
}

/* ---- completion ------------------------------------------------------- */

static void
unlink_req(struct collect_req *req)
{
	if (req->prev)
		req->prev->next = req->next;
	else
		req->col->reqs = req->next;
	if (req->next)
		req->next->prev = req->prev;
}

static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	struct collect_req *req = arg;
	struct collected *c = req->c;
	struct sts_check_facts *f = &c->facts;

	(void)fd;
	(void)what;
	f->txt_records = c->txt;
	f->n_txt = c->n_txt;
	f->tlsrpt_records = c->tlsrpt;
	f->n_tlsrpt = c->n_tlsrpt;
	f->host_addrs = c->host_addrs;
	f->n_host_addrs = c->n_host_addrs;
	f->mxs = c->mxs;
	f->n_mx = c->n_mx;
	for (size_t i = 0; i < c->n_mx; i++) {
		c->mxs[i].addrs = c->mx_addrs[i];
		c->mxs[i].tlsa_records = c->mx_tlsa[i];
		c->mxs[i].n_tlsa = c->mx_n_tlsa[i];
		c->mxs[i].probes = c->probes[i];
	}
	f->now = (int64_t)time(NULL);
	unlink_req(req);
	event_free(req->done_ev);
	req->cb(c, req->arg);
	free(req);
}

/* One operation ended: when it was the last, deliver from the loop. */
static void
op_done(struct collect_req *req)
{
	static const struct timeval zero = {0, 0};

	if (--req->pending == 0)
		evtimer_add(req->done_ev, &zero);
}

static void
copy_lookup(struct sts_check_lookup *l, const struct sts_dns_answer *a)
{
	l->done = true;
	l->status = a->status;
	l->nxdomain = a->nxdomain;
	l->security = a->security;
	snprintf(l->reason, sizeof(l->reason), "%s", a->reason);
}

/* A lookup that could not even start. */
static void
not_started(struct sts_check_lookup *l, int r)
{
	l->done = true;
	l->status = r == STS_ENOMEM ? STS_ENOMEM : STS_ETEMP;
	snprintf(l->reason, sizeof(l->reason), "lookup not started: %s",
	    sts_strerror(r));
}

static int
copy_records(
    const struct sts_dns_answer *a, struct sts_txt_record **ret, size_t *ret_n)
{
	struct sts_txt_record *r;

	if (a->status != STS_OK || a->n == 0)
		return STS_OK;
	if ((r = calloc(a->n, sizeof(*r))) == NULL)
		return STS_ENOMEM;
	*ret = r;
	for (size_t i = 0; i < a->n; i++) {
		char *d = malloc(a->txt[i].len + 1);

		if (d == NULL)
			return STS_ENOMEM;
		memcpy(d, a->txt[i].data, a->txt[i].len);
		d[a->txt[i].len] = '\0';
		r[i].data = d;
		r[i].len = a->txt[i].len;
		*ret_n = i + 1;
	}
	return STS_OK;
}

static int
copy_addrs(
    const struct sts_dns_answer *a, struct sts_dns_addr **ret, size_t *ret_n)
{
	if (a->status != STS_OK || a->n == 0)
		return STS_OK;
	if ((*ret = calloc(a->n, sizeof(**ret))) == NULL)
		return STS_ENOMEM;
	memcpy(*ret, a->addr, a->n * sizeof(**ret));
	*ret_n = a->n;
	return STS_OK;
}

static void
oom_lookup(struct sts_check_lookup *l)
{
	l->status = STS_ENOMEM;
	snprintf(l->reason, sizeof(l->reason), "out of memory");
}

/* ---- TXT records ------------------------------------------------------ */

static void
on_txt(const struct sts_dns_answer *a, void *arg)
{
	struct collect_req *req = arg;
	struct collected *c = req->c;

	req->txt_q = NULL;
	copy_lookup(&c->facts.txt, a);
	if (copy_records(a, &c->txt, &c->n_txt) != STS_OK)
		oom_lookup(&c->facts.txt);
	op_done(req);
}

static void
on_tlsrpt(const struct sts_dns_answer *a, void *arg)
{
	struct collect_req *req = arg;
	struct collected *c = req->c;

	req->tlsrpt_q = NULL;
	copy_lookup(&c->facts.tlsrpt, a);
	if (copy_records(a, &c->tlsrpt, &c->n_tlsrpt) != STS_OK)
		oom_lookup(&c->facts.tlsrpt);
	op_done(req);
}

/* ---- policy host ------------------------------------------------------ */

static void
on_fetch(const struct sts_fetch_result *res, void *arg)
{
	struct fetch_op *op = arg;
	struct collect_req *req = op->req;
	struct collected *c = req->c;
	struct sts_check_fetch *fe = &c->facts.fetch[op->k];

	op->h = NULL;
	fe->done = true;
	fe->status = res->status;
	snprintf(fe->reason, sizeof(fe->reason), "%s", res->reason);
	fe->http_status = res->http_status;
	snprintf(fe->content_type, sizeof(fe->content_type), "%s",
	    res->content_type);
	snprintf(fe->address, sizeof(fe->address), "%s", res->address);
	snprintf(
	    fe->tls_version, sizeof(fe->tls_version), "%s", res->tls_version);
	if (res->status == STS_OK && res->body != NULL) {
		char *b = malloc(res->body_len + 1);

		if (b == NULL) {
			fe->status = STS_ENOMEM;
			snprintf(
			    fe->reason, sizeof(fe->reason), "out of memory");
		} else {
			memcpy(b, res->body, res->body_len);
			b[res->body_len] = '\0';
			c->bodies[op->k] = b;
			fe->body = b;
			fe->body_len = res->body_len;
		}
	}
	op_done(req);
}

static void
on_host_probe(const struct sts_smtp_probe_result *res, void *arg)
{
	struct collect_req *req = arg;

	req->host_probe = NULL;
	req->c->facts.host_tls.done = true;
	req->c->facts.host_tls.result = *res;
	op_done(req);
}

/*
 * The connect_to entry for host:443 (curl's rule: the first whose HOST
 * and PORT match), applied to the address we would connect to.
 */
static void
map_https(const struct collector *col, const char *host, const char *addr,
    char out[STS_ADDR_STR_MAX], unsigned *ret_port)
{
	snprintf(out, STS_ADDR_STR_MAX, "%s", addr);
	*ret_port = HTTPS_PORT;
	for (size_t i = 0; i < col->n_cto; i++) {
		const struct connect_to *e = &col->cto[i];
		unsigned char buf[sizeof(struct in6_addr)];

		if ((e->host[0] && strcasecmp(e->host, host) != 0) ||
		    (e->port && e->port != HTTPS_PORT))
			continue;
		if (e->chost[0] && strlen(e->chost) < STS_ADDR_STR_MAX &&
		    (inet_pton(AF_INET, e->chost, buf) == 1 ||
			inet_pton(AF_INET6, e->chost, buf) == 1))
			memcpy(out, e->chost, strlen(e->chost) + 1);
		if (e->cport)
			*ret_port = e->cport;
		return;
	}
}

static void
start_fetch(struct collect_req *req, int k, const char *const *addrs, size_t n)
{
	struct collector *col = req->col;
	struct sts_check_fetch *fe = &req->c->facts.fetch[k];
	int r;

	req->fetch[k].req = req;
	req->fetch[k].k = k;
	r = sts_fetch_policy(col->fetch, req->c->domain, addrs, n, on_fetch,
	    &req->fetch[k], &req->fetch[k].h);
	if (r != STS_OK) {
		fe->done = true;
		fe->status = r;
		snprintf(fe->reason, sizeof(fe->reason),
		    "fetch not started: %s", sts_strerror(r));
		return;
	}
	req->pending++;
}

static void
on_host_addr(const struct sts_dns_answer *a, void *arg)
{
	struct collect_req *req = arg;
	struct collected *c = req->c;
	struct collector *col = req->col;
	const char *fam[2][MAX_HOST_ADDRS];
	size_t n_fam[2] = {0, 0};
	char host[STS_DOMAIN_MAX + 16], addr[STS_ADDR_STR_MAX];
	unsigned port;
	int r;

	req->host_q = NULL;
	copy_lookup(&c->facts.host_addr, a);
	if (copy_addrs(a, &c->host_addrs, &c->n_host_addrs) != STS_OK) {
		oom_lookup(&c->facts.host_addr);
		op_done(req);
		return;
	}
	for (size_t i = 0; i < c->n_host_addrs; i++) {
		int k = c->host_addrs[i].family == AF_INET6 ? 1 : 0;

		if (n_fam[k] < MAX_HOST_ADDRS)
			fam[k][n_fam[k]++] = c->host_addrs[i].addr;
	}
	for (int k = 0; k < 2; k++)
		if (n_fam[k] > 0)
			start_fetch(req, k, fam[k], n_fam[k]);
	if (c->n_host_addrs > 0) {
		snprintf(host, sizeof(host), "mta-sts.%s", c->domain);
		map_https(
		    col, host, n_fam[0] ? fam[0][0] : fam[1][0], addr, &port);
		r = sts_smtp_probe(col->prober, host, addr, port,
		    STS_PROBE_IMPLICIT_TLS, on_host_probe, req,
		    &req->host_probe);
		if (r == STS_OK)
			req->pending++;
		else {
			c->facts.host_tls.done = true;
			c->facts.host_tls.start_error = r;
		}
	}
	op_done(req);
}

/* ---- MX hosts --------------------------------------------------------- */

static void
on_mx_probe(const struct sts_smtp_probe_result *res, void *arg)
{
	struct probe_op *op = arg;
	struct collect_req *req = op->req;
	struct sts_check_probe *p = &req->c->probes[op->i][op->k];

	op->h = NULL;
	p->done = true;
	p->result = *res;
	op_done(req);
}

static void
start_probe(struct collect_req *req, size_t i, const char *addr)
{
	struct collected *c = req->c;
	size_t k = c->mxs[i].n_probes++;
	struct probe_op *op = &req->probe[i][k];
	struct sts_check_probe *p = &c->probes[i][k];
	int r;

	op->req = req;
	op->i = i;
	op->k = k;
	/* For messages even if the probe cannot start; both fit. */
	memcpy(p->result.address, addr, strlen(addr) + 1);
	memcpy(p->result.host, c->mxs[i].host, strlen(c->mxs[i].host) + 1);
	r = sts_smtp_probe(req->col->prober, c->mxs[i].host, addr,
	    req->col->smtp_port, STS_PROBE_STARTTLS, on_mx_probe, op, &op->h);
	if (r != STS_OK) {
		p->start_error = r;
		return;
	}
	req->pending++;
}

static void
on_mx_addr(const struct sts_dns_answer *a, void *arg)
{
	struct mx_op *op = arg;
	struct collect_req *req = op->req;
	struct collected *c = req->c;
	struct sts_check_mx *mx = &c->mxs[op->i];
	size_t n = 0;
	const char *v4 = NULL, *v6 = NULL;

	op->addr_q = NULL;
	copy_lookup(&mx->addr, a);
	if (copy_addrs(a, &c->mx_addrs[op->i], &n) != STS_OK) {
		oom_lookup(&mx->addr);
		op_done(req);
		return;
	}
	mx->n_addrs = n;
	for (size_t k = 0; k < n; k++) {
		const struct sts_dns_addr *ad = &c->mx_addrs[op->i][k];

		if (ad->family == AF_INET && v4 == NULL)
			v4 = ad->addr;
		if (ad->family == AF_INET6 && v6 == NULL)
			v6 = ad->addr;
	}
	if (!req->col->no_smtp) {
		if (v4)
			start_probe(req, op->i, v4);
		if (v6)
			start_probe(req, op->i, v6);
	}
	op_done(req);
}

static void
on_mx_tlsa(const struct sts_dns_answer *a, void *arg)
{
	struct mx_op *op = arg;
	struct collect_req *req = op->req;
	struct collected *c = req->c;
	struct sts_dns_tlsa *t;

	op->tlsa_q = NULL;
	copy_lookup(&c->mxs[op->i].tlsa, a);
	if (a->status == STS_OK && a->n > 0) {
		if ((t = calloc(a->n, sizeof(*t))) == NULL) {
			oom_lookup(&c->mxs[op->i].tlsa);
			op_done(req);
			return;
		}
		c->mx_tlsa[op->i] = t;
		for (size_t k = 0; k < a->n; k++) {
			uint8_t *d =
			    malloc(a->tlsa[k].len ? a->tlsa[k].len : 1);

			if (d == NULL) {
				oom_lookup(&c->mxs[op->i].tlsa);
				break;
			}
			memcpy(d, a->tlsa[k].data, a->tlsa[k].len);
			t[k] = a->tlsa[k];
			t[k].data = d;
			c->mx_n_tlsa[op->i] = k + 1;
		}
	}
	op_done(req);
}

static void
start_mx_host(struct collect_req *req, const char *host, unsigned pref)
{
	struct collected *c = req->c;
	size_t i = c->n_mx++;
	struct sts_check_mx *mx = &c->mxs[i];
	struct mx_op *op = &req->mx[i];
	int r;

	memcpy(mx->host, host, strlen(host) + 1); /* <= STS_DOMAIN_MAX */
	mx->pref = pref;
	op->req = req;
	op->i = i;
	r = sts_dns_query_addr(
	    req->col->dns, host, on_mx_addr, op, &op->addr_q);
	if (r == STS_OK)
		req->pending++;
	else
		not_started(&mx->addr, r);
	r = sts_dns_query_tlsa(
	    req->col->dns, host, SMTP_PORT, on_mx_tlsa, op, &op->tlsa_q);
	if (r == STS_OK)
		req->pending++;
	else
		not_started(&mx->tlsa, r);
}

static void
on_mx(const struct sts_dns_answer *a, void *arg)
{
	struct collect_req *req = arg;
	struct collected *c = req->c;
	struct sts_check_facts *f = &c->facts;
	size_t order[STS_CHECK_MAX_MX], n = 0;

	req->mx_q = NULL;
	copy_lookup(&f->mx, a);
	if (a->status == STS_ENOTFOUND) {
		/* RFC 5321 §5.1: the domain itself is the implicit MX. */
		f->implicit_mx = true;
		f->n_mx_total = 1;
		start_mx_host(req, c->domain, 0);
		op_done(req);
		return;
	}
	if (a->status != STS_OK) {
		op_done(req);
		return;
	}
	f->n_mx_total = a->n;
	if (a->n == 1 && a->mx[0].host[0] == '\0') {
		f->null_mx = true; /* RFC 7505 */
		op_done(req);
		return;
	}
	/* The first STS_CHECK_MAX_MX usable hosts by preference (stable). */
	for (size_t i = 0; i < a->n; i++) {
		size_t j;

		if (a->mx[i].host[0] == '\0')
			continue;
		if (n == STS_CHECK_MAX_MX &&
		    a->mx[i].pref >= a->mx[order[n - 1]].pref)
			continue;
		j = n < STS_CHECK_MAX_MX ? n++ : n - 1;
		while (j > 0 && a->mx[order[j - 1]].pref > a->mx[i].pref) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
	for (size_t i = 0; i < n; i++) {
		bool dup = false;

		for (size_t k = 0; k < c->n_mx; k++)
			if (strcmp(c->mxs[k].host, a->mx[order[i]].host) == 0)
				dup = true;
		if (!dup)
			start_mx_host(
			    req, a->mx[order[i]].host, a->mx[order[i]].pref);
	}
	op_done(req);
}

/* ---- requests --------------------------------------------------------- */

int
collect_start(struct collector *col, const char *domain, collect_cb *cb,
    void *arg, struct collect_req **ret_req)
{
	struct collect_req *req;
	struct collected *c;
	char name[STS_DOMAIN_MAX + 16];
	int r;

	if (strlen(domain) == 0 || strlen(domain) > STS_DOMAIN_MAX)
		return STS_EINVAL;
	if ((req = calloc(1, sizeof(*req))) == NULL)
		return STS_ENOMEM;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (req->done_ev = evtimer_new(col->base, on_done, req)) == NULL) {
		free(c);
		free(req);
		return STS_ENOMEM;
	}
	req->col = col;
	req->c = c;
	req->cb = cb;
	req->arg = arg;
	snprintf(c->domain, sizeof(c->domain), "%s", domain);
	c->facts.domain = c->domain;
	c->facts.smtp_port = col->smtp_port;
	c->facts.dnssec_validating = sts_dns_validating(col->dns);
	c->facts.proxied = sts_fetch_proxied(col->fetch);
	req->next = col->reqs;
	if (col->reqs)
		col->reqs->prev = req;
	col->reqs = req;
	/* Hold one count while starting, so nothing completes early. */
	req->pending = 1;

	snprintf(name, sizeof(name), "_mta-sts.%s", domain);
	if ((r = sts_dns_query_txt(col->dns, name, on_txt, req, &req->txt_q)) ==
	    STS_OK)
		req->pending++;
	else
		not_started(&c->facts.txt, r);
	if ((r = sts_dns_query_mx(col->dns, domain, on_mx, req, &req->mx_q)) ==
	    STS_OK)
		req->pending++;
	else
		not_started(&c->facts.mx, r);
	snprintf(name, sizeof(name), "_smtp._tls.%s", domain);
	if ((r = sts_dns_query_txt(
		 col->dns, name, on_tlsrpt, req, &req->tlsrpt_q)) == STS_OK)
		req->pending++;
	else
		not_started(&c->facts.tlsrpt, r);
	if (c->facts.proxied) {
		start_fetch(req, 0, NULL, 0); /* the proxy resolves */
	} else {
		snprintf(name, sizeof(name), "mta-sts.%s", domain);
		if ((r = sts_dns_query_addr(col->dns, name, on_host_addr, req,
			 &req->host_q)) == STS_OK)
			req->pending++;
		else
			not_started(&c->facts.host_addr, r);
	}
	op_done(req);
	if (ret_req)
		*ret_req = req;
	return STS_OK;
}

void
collect_cancel(struct collect_req *req)
{
	if (req == NULL)
		return;
	sts_dns_cancel(req->txt_q);
	sts_dns_cancel(req->mx_q);
	sts_dns_cancel(req->host_q);
	sts_dns_cancel(req->tlsrpt_q);
	sts_smtp_probe_cancel(req->host_probe);
	for (int k = 0; k < 2; k++)
		sts_fetch_cancel(req->fetch[k].h);
	for (size_t i = 0; i < STS_CHECK_MAX_MX; i++) {
		sts_dns_cancel(req->mx[i].addr_q);
		sts_dns_cancel(req->mx[i].tlsa_q);
		for (size_t k = 0; k < PROBES_PER_MX; k++)
			sts_smtp_probe_cancel(req->probe[i][k].h);
	}
	unlink_req(req);
	event_free(req->done_ev);
	collected_free(req->c);
	free(req);
}

/* ---- the collector ---------------------------------------------------- */

/* One field of "HOST:PORT:CHOST:CPORT"; IPv6 literals in brackets. */
static bool
next_field(const char **p, char *out, size_t size, bool last)
{
	const char *s = *p, *end;
	size_t len;

	if (*s == '[') {
		end = strchr(s, ']');
		if (end == NULL)
			return false;
		s++;
		len = (size_t)(end - s);
		end++;
	} else {
		end = last ? s + strlen(s) : strchr(s, ':');
		if (end == NULL)
			return false;
		len = (size_t)(end - s);
	}
	if (len >= size)
		return false;
	memcpy(out, s, len);
	out[len] = '\0';
	if (!last) {
		if (*end != ':')
			return false;
		end++;
	} else if (*end != '\0') {
		return false;
	}
	*p = end;
	return true;
}

static bool
port_field(const char *s, unsigned *ret)
{
	char *end;
	unsigned long v;

	if (s[0] == '\0') {
		*ret = 0;
		return true;
	}
	v = strtoul(s, &end, 10);
	if (*end != '\0' || v == 0 || v > 65535)
		return false;
	*ret = (unsigned)v;
	return true;
}

static bool
parse_connect_to(const char *s, struct connect_to *e)
{
	char port[8], cport[8];

	return next_field(&s, e->host, sizeof(e->host), false) &&
	       next_field(&s, port, sizeof(port), false) &&
	       next_field(&s, e->chost, sizeof(e->chost), false) &&
	       next_field(&s, cport, sizeof(cport), true) &&
	       port_field(port, &e->port) && port_field(cport, &e->cport);
}

int
collector_new(struct event_base *base, const struct collect_config *cfg,
    struct collector **ret, struct sts_diag *reterr_diag)
{
	struct collector *col = calloc(1, sizeof(*col));
	int r = STS_ENOMEM;

	if (col == NULL)
		return STS_ENOMEM;
	col->base = base;
	col->smtp_port = cfg->smtp_port ? cfg->smtp_port : SMTP_PORT;
	col->no_smtp = cfg->no_smtp;
	if (cfg->fetch.n_connect_to > 0) {
		col->cto = calloc(cfg->fetch.n_connect_to, sizeof(*col->cto));
		if (col->cto == NULL)
			goto fail;
		for (size_t i = 0; i < cfg->fetch.n_connect_to; i++) {
			if (!parse_connect_to(
				cfg->fetch.connect_to[i], &col->cto[i])) {
				if (reterr_diag)
					snprintf(reterr_diag->message,
					    sizeof(reterr_diag->message),
					    "bad connect-to '%.100s': want "
					    "HOST:PORT:CONNECT-HOST:CONNECT-"
					    "PORT",
					    cfg->fetch.connect_to[i]);
				r = STS_EINVAL;
				goto fail;
			}
		}
		col->n_cto = cfg->fetch.n_connect_to;
	}
	if ((r = sts_dns_new(base, &cfg->dns, &col->dns, reterr_diag)) !=
		STS_OK ||
	    (r = sts_fetch_new(base, &cfg->fetch, &col->fetch, reterr_diag)) !=
		STS_OK ||
	    (r = sts_smtp_prober_new(
		 base, &cfg->probe, &col->prober, reterr_diag)) != STS_OK)
		goto fail;
	*ret = col;
	return STS_OK;
fail:
	collector_free(col);
	return r;
}

void
collector_free(struct collector *col)
{
	if (col == NULL)
		return;
	while (col->reqs)
		collect_cancel(col->reqs);
	sts_smtp_prober_free(col->prober);
	sts_fetch_free(col->fetch);
	sts_dns_free(col->dns);
	free(col->cto);
	free(col);
}

struct sts_dns *
collector_dns(struct collector *col)
{
	return col->dns;
}

/* ---- shared command-line knobs ------------------------------------------ */

void
collect_opts_init(struct collect_opts *o)
{
	char host[STS_DOMAIN_MAX + 1] = "";

	memset(o, 0, sizeof(*o));
	o->cfg.dns.dnssec = true;
	o->cfg.dns.forwarders = o->resolvers;
	o->cfg.fetch.connect_to = o->connect_to;
	/* EHLO with our own name if it is a domain name (RFC 5321
	 * §4.1.1.1), else "localhost". */
	if (gethostname(host, sizeof(host) - 1) == 0 && strchr(host, '.') &&
	    sts_domain_normalize(host, strlen(host), STS_DOMAIN_TRAILING_DOT,
		o->helo, NULL) == STS_OK)
		o->cfg.probe.helo_name = o->helo;
}

int
collect_option(struct collect_opts *o, int c, const char *arg)
{
	unsigned long v;

	switch (c) {
	case COLLECT_OPT_RESOLVER:
		if (o->cfg.dns.n_forwarders == COLLECT_MAX_LIST)
			return -1;
		o->resolvers[o->cfg.dns.n_forwarders++] = arg;
		return 1;
	case COLLECT_OPT_DNSSEC:
		if (strcmp(arg, "validate") == 0)
			o->cfg.dns.dnssec = true;
		else if (strcmp(arg, "off") == 0)
			o->cfg.dns.dnssec = false;
		else
			return -1;
		return 1;
	case COLLECT_OPT_TRUST_ANCHOR:
		o->cfg.dns.trust_anchor_file = arg;
		return 1;
	case COLLECT_OPT_CA_FILE:
		o->cfg.fetch.ca_file = arg;
		o->cfg.probe.ca_file = arg;
		return 1;
	case COLLECT_OPT_CONNECT_TO:
		if (o->cfg.fetch.n_connect_to == COLLECT_MAX_LIST)
			return -1;
		o->connect_to[o->cfg.fetch.n_connect_to++] = arg;
		return 1;
	case COLLECT_OPT_TIMEOUT:
		if (!cli_parse_uint(arg, 1, 3600, &v))
			return -1;
		o->cfg.dns.timeout_ms = (unsigned)v * 1000;
		o->cfg.fetch.timeout_ms = (unsigned)v * 1000;
		return 1;
	case COLLECT_OPT_SMTP_TIMEOUT:
		if (!cli_parse_uint(arg, 1, 3600, &v))
			return -1;
		o->cfg.probe.timeout_ms = (unsigned)v * 1000;
		return 1;
	case COLLECT_OPT_SMTP_PORT:
		if (!cli_parse_uint(arg, 1, 65535, &v))
			return -1;
		o->cfg.smtp_port = (unsigned)v;
		return 1;
	case COLLECT_OPT_NO_SMTP:
		o->cfg.no_smtp = true;
		return 1;
	case COLLECT_OPT_HELO:
		if (sts_domain_normalize(arg, strlen(arg),
			STS_DOMAIN_TRAILING_DOT, o->helo, NULL) != STS_OK)
			return -1;
		o->cfg.probe.helo_name = o->helo;
		return 1;
	default:
		return 0;
	}
}

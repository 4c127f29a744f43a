/*
 * dns.c - asynchronous DNS with DNSSEC state: libunbound's event API on
 * the caller's event_base, answers parsed with ldns.
 *
 * Why ub_resolve_event and not ub_resolve_async: no helper thread, no
 * pipe, one event loop; the price is that we parse the raw answer packet
 * ourselves (with ldns) and that libunbound may call back before
 * ub_resolve_event returns (local data, /etc/hosts, cached answers).
 *
 * Lifecycle of a query.  Each query owns one libevent timer event and one
 * or two libunbound sub-queries (two for A+AAAA).  A sub-query's answer
 * is copied out of the packet at once (the packet belongs to libunbound
 * and lives only during its callback).  When the last sub-query has
 * answered, the timer is removed and the same event is activated, so the
 * user's callback always runs from our own event callback: never inside
 * the call that started the query and never inside libunbound, which
 * makes it safe for the callback to cancel queries or free the context.
 * If the timer fires first, the pending sub-queries are cancelled with
 * ub_cancel (libunbound then never calls us for them) and the answer is
 * a timeout.
 *
 * Invariant: every query in dns->queries has its callback still to run;
 * a query leaves the list just before its callback runs or when it is
 * cancelled.  sts_dns_free cancels the whole list before ub_ctx_delete:
 * libunbound calls back every sub-query it still holds when it is
 * deleted (SERVFAIL, no packet) unless that sub-query was cancelled.
 */
#include "mtasts/dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unbound-event.h>
#include <unbound.h>
#include <unistd.h>

#include "mtasts/err.h"
#include "mtasts/limits.h"

/* Debian's dns-root-data: the root KSKs as DNSKEY records. */
#define DEFAULT_ROOT_KEY "/usr/share/dns/root.key"
/*
 * libunbound's own message and RRset caches (4 MiB each by default) sit
 * behind our policy and DANE caches and in front of the resolver we
 * always forward to, which caches too: the answers we need again are
 * already kept by the callers for their TTLs.  Small caches keep the
 * daemon small (doc/PERFORMANCE.md, "RSS").
 */
#define UB_MSG_CACHE_SIZE   "256k"
#define UB_RRSET_CACHE_SIZE "256k"

/* ub_resolve_event's security values. */
#define UB_SEC_INSECURE 0
#define UB_SEC_BOGUS    1
#define UB_SEC_SECURE   2

struct sts_dns {
	struct event_base *base;
	struct ub_ctx *ub;
	unsigned timeout_ms;
	bool validating;
	struct sts_dns_query *queries; /* outstanding, callback not yet run */
};

/* One libunbound query and what we copied out of its answer. */
struct sub {
	struct sts_dns_query *query;
	int rrtype;
	int ub_id;
	bool pending;
	int status;
	enum sts_dns_security security;
	int rcode;
	bool nxdomain;
	uint32_t ttl;
	char reason[STS_DNS_REASON_MAX];
	size_t n;
	void *records; /* one block: the record array, then their bytes */
};

struct sts_dns_query {
	struct sts_dns *dns;
	struct sts_dns_query *prev, *next;
	enum sts_dns_type type;
	sts_dns_cb *cb;
	void *arg;
	struct event *ev; /* the timeout, then the deferred delivery */
	struct timespec started;
	bool finished;
	int n_sub;
	struct sub sub[2];
	char name[STS_DOMAIN_MAX + 16];
};

/* Copy untrusted text as printable ASCII; '?' for anything else. */
static void
copy_printable(char *out, size_t outsz, const char *in)
{
	size_t i;

	if (outsz == 0)
		return;
	for (i = 0; in != NULL && in[i] != '\0' && i + 1 < outsz; i++) {
		unsigned char c = (unsigned char)in[i];
		out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[i] = '\0';
}

static unsigned
ms_since(const struct timespec *t0)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(now.tv_sec - t0->tv_sec) * 1000 +
	     (now.tv_nsec - t0->tv_nsec) / 1000000;
	return ms < 0 ? 0 : (unsigned)ms;
}

static const char *
rcode_name(int rcode)
{
	switch (rcode) {
	case LDNS_RCODE_NOERROR:
		return "NOERROR";
	case LDNS_RCODE_FORMERR:
		return "FORMERR";
	case LDNS_RCODE_SERVFAIL:
		return "SERVFAIL";
	case LDNS_RCODE_NXDOMAIN:
		return "NXDOMAIN";
	case LDNS_RCODE_NOTIMPL:
		return "NOTIMP";
	case LDNS_RCODE_REFUSED:
		return "REFUSED";
	default:
		return NULL;
	}
}

static const char *
type_name(int rrtype)
{
	switch (rrtype) {
	case LDNS_RR_TYPE_TXT:
		return "TXT";
	case LDNS_RR_TYPE_MX:
		return "MX";
	case LDNS_RR_TYPE_A:
		return "A";
	case LDNS_RR_TYPE_AAAA:
		return "AAAA";
	case LDNS_RR_TYPE_TLSA:
		return "TLSA";
	default:
		return "?";
	}
}

static void
set_rcode_failure(struct sub *s, int rcode)
{
	const char *nm = rcode_name(rcode);

	s->status = STS_ETEMP;
	s->rcode = rcode;
	if (nm != NULL)
		snprintf(s->reason, sizeof(s->reason), "%s from resolver", nm);
	else
		snprintf(s->reason, sizeof(s->reason), "rcode %d from resolver",
		    rcode);
}

static uint32_t
min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* RFC 2308 §5: the negative TTL is min(SOA TTL, SOA MINIMUM). */
static uint32_t
negative_ttl(const ldns_pkt *pkt)
{
	ldns_rr_list *auth = ldns_pkt_authority(pkt);
	size_t i;

	for (i = 0; i < ldns_rr_list_rr_count(auth); i++) {
		ldns_rr *rr = ldns_rr_list_rr(auth, i);
		ldns_rdf *minimum;

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA ||
		    ldns_rr_rd_count(rr) < 7)
			continue;
		minimum = ldns_rr_rdf(rr, 6);
		if (ldns_rdf_size(minimum) != 4)
			continue;
		return min_u32(ldns_rr_ttl(rr), ldns_rdf2native_int32(minimum));
	}
	return 0;
}

/*
 * Size of the record block for the answer's rrs of s->rrtype, or 0 with
 * *bad set when a record has an unexpected shape.
 */
static size_t
records_size(const struct sub *s, ldns_rr_list *ans, size_t *ret_n, bool *bad)
{
	size_t i, j, n = 0, bytes = 0;

	for (i = 0; i < ldns_rr_list_rr_count(ans); i++) {
		ldns_rr *rr = ldns_rr_list_rr(ans, i);

		if ((int)ldns_rr_get_type(rr) != s->rrtype ||
		    ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN)
			continue;
		n++;
		switch (s->rrtype) {
		case LDNS_RR_TYPE_TXT:
			for (j = 0; j < ldns_rr_rd_count(rr); j++) {
				size_t sz = ldns_rdf_size(ldns_rr_rdf(rr, j));
				if (sz < 1) {
					*bad = true;
					return 0;
				}
				bytes += sz - 1;
			}
			bytes += 1;
			break;
		case LDNS_RR_TYPE_MX:
			if (ldns_rr_rd_count(rr) != 2) {
				*bad = true;
				return 0;
			}
			/* text form is at most 4 bytes per wire byte */
			bytes += 4 * ldns_rdf_size(ldns_rr_rdf(rr, 1)) + 2;
			break;
		case LDNS_RR_TYPE_A:
		case LDNS_RR_TYPE_AAAA:
			if (ldns_rr_rd_count(rr) != 1) {
				*bad = true;
				return 0;
			}
			break;
		case LDNS_RR_TYPE_TLSA:
			if (ldns_rr_rd_count(rr) != 4) {
				*bad = true;
				return 0;
			}
			bytes += ldns_rdf_size(ldns_rr_rdf(rr, 3));
			break;
		default:
			break;
		}
	}
	*ret_n = n;
	switch (s->rrtype) {
	case LDNS_RR_TYPE_TXT:
		return n * sizeof(struct sts_txt_record) + bytes;
	case LDNS_RR_TYPE_MX:
		return n * sizeof(struct sts_dns_mx) + bytes;
	case LDNS_RR_TYPE_TLSA:
		return n * sizeof(struct sts_dns_tlsa) + bytes;
	default:
		return n * sizeof(struct sts_dns_addr);
	}
}

static bool
fill_txt(ldns_rr *rr, struct sts_txt_record *rec, char **pp)
{
	char *start = *pp, *p = *pp;
	size_t j;

	for (j = 0; j < ldns_rr_rd_count(rr); j++) {
		ldns_rdf *f = ldns_rr_rdf(rr, j);
		const uint8_t *d = ldns_rdf_data(f);
		size_t sz = ldns_rdf_size(f);

		/* a character-string: one length byte, then the bytes */
		if ((size_t)d[0] != sz - 1)
			return false;
		memcpy(p, d + 1, sz - 1);
		p += sz - 1;
	}
	*p = '\0';
	rec->data = start;
	rec->len = (size_t)(p - start);
	*pp = p + 1;
	return true;
}

static bool
fill_mx(ldns_rr *rr, struct sts_dns_mx *rec, char **pp, size_t room)
{
	ldns_rdf *pref = ldns_rr_rdf(rr, 0), *host = ldns_rr_rdf(rr, 1);
	char *text, *p = *pp;
	size_t len, i;

	if (ldns_rdf_size(pref) != 2 ||
	    ldns_rdf_get_type(host) != LDNS_RDF_TYPE_DNAME)
		return false;
	text = ldns_rdf2str(host);
	if (text == NULL)
		return false;
	len = strlen(text);
	if (len > 0 && text[len - 1] == '.')
		len--;
	if (len + 1 > room) {
		free(text);
		return false;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		p[i] =
		    (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : (char)c;
	}
	p[len] = '\0';
	free(text);
	rec->pref = ldns_rdf2native_int16(pref);
	rec->host = p;
	*pp = p + len + 1;
	return true;
}

static bool
fill_addr(ldns_rr *rr, struct sts_dns_addr *rec)
{
	ldns_rdf *f = ldns_rr_rdf(rr, 0);
	int family;

	if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_A) {
		family = AF_INET;
		if (ldns_rdf_size(f) != 4)
			return false;
	} else {
		family = AF_INET6;
		if (ldns_rdf_size(f) != 16)
			return false;
	}
	if (inet_ntop(family, ldns_rdf_data(f), rec->addr, sizeof(rec->addr)) ==
	    NULL)
		return false;
	rec->family = family;
	return true;
}

static bool
fill_tlsa(ldns_rr *rr, struct sts_dns_tlsa *rec, char **pp)
{
	ldns_rdf *f[4];
	size_t j;

	for (j = 0; j < 4; j++)
		f[j] = ldns_rr_rdf(rr, j);
	for (j = 0; j < 3; j++)
		if (ldns_rdf_size(f[j]) != 1)
			return false;
	rec->usage = ldns_rdf_data(f[0])[0];
	rec->selector = ldns_rdf_data(f[1])[0];
	rec->mtype = ldns_rdf_data(f[2])[0];
	rec->len = ldns_rdf_size(f[3]);
	memcpy(*pp, ldns_rdf_data(f[3]), rec->len);
	rec->data = (const uint8_t *)*pp;
	*pp += rec->len;
	return true;
}

/* Copy the records of s->rrtype out of the answer section. */
static int
extract_records(struct sub *s, ldns_rr_list *ans)
{
	size_t i, k = 0, n = 0, size;
	bool bad = false;
	char *block, *p, *end;

	size = records_size(s, ans, &n, &bad);
	if (bad)
		return STS_EPROTO;
	if (n == 0)
		return STS_ENOTFOUND;
	block = malloc(size);
	if (block == NULL)
		return STS_ENOMEM;
	end = block + size;
	switch (s->rrtype) {
	case LDNS_RR_TYPE_TXT:
		p = block + n * sizeof(struct sts_txt_record);
		break;
	case LDNS_RR_TYPE_MX:
		p = block + n * sizeof(struct sts_dns_mx);
		break;
	case LDNS_RR_TYPE_TLSA:
		p = block + n * sizeof(struct sts_dns_tlsa);
		break;
	default:
		p = end;
		break;
	}
	for (i = 0; i < ldns_rr_list_rr_count(ans); i++) {
		ldns_rr *rr = ldns_rr_list_rr(ans, i);
		bool ok;

		if ((int)ldns_rr_get_type(rr) != s->rrtype ||
		    ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN)
			continue;
		switch (s->rrtype) {
		case LDNS_RR_TYPE_TXT:
			ok = fill_txt(
			    rr, (struct sts_txt_record *)block + k, &p);
			break;
		case LDNS_RR_TYPE_MX:
			ok = fill_mx(rr, (struct sts_dns_mx *)block + k, &p,
			    (size_t)(end - p));
			break;
		case LDNS_RR_TYPE_TLSA:
			ok =
			    fill_tlsa(rr, (struct sts_dns_tlsa *)block + k, &p);
			break;
		default:
			ok = fill_addr(rr, (struct sts_dns_addr *)block + k);
			break;
		}
		if (!ok) {
			free(block);
			return STS_EPROTO;
		}
		k++;
	}
	s->records = block;
	s->n = n;
	return STS_OK;
}

/* Turn one libunbound answer into s's status, facts and records. */
static void
absorb_answer(struct sub *s, int rcode, const void *packet, int len, int sec,
    const char *why_bogus, int was_ratelimited)
{
	ldns_pkt *pkt = NULL;
	ldns_rr_list *ans;
	size_t i;
	int r;

	s->ttl = 0;
	s->security = STS_DNS_INSECURE;
	if (rcode != 0) {
		/* libunbound says: do not inspect the packet */
		set_rcode_failure(s, rcode);
		if (was_ratelimited)
			snprintf(s->reason, sizeof(s->reason),
			    "ratelimited by resolver");
		return;
	}
	if (packet == NULL || len <= 0 ||
	    ldns_wire2pkt(&pkt, packet, (size_t)len) != LDNS_STATUS_OK) {
		s->status = STS_ETEMP;
		s->rcode = LDNS_RCODE_SERVFAIL;
		snprintf(
		    s->reason, sizeof(s->reason), "malformed answer packet");
		return;
	}
	s->rcode = (int)ldns_pkt_get_rcode(pkt);
	if (sec == UB_SEC_BOGUS) {
		char why[STS_DNS_REASON_MAX - sizeof("DNSSEC bogus: ") + 1];

		copy_printable(why, sizeof(why),
		    why_bogus != NULL ? why_bogus : "no reason given");
		s->status = STS_ETEMP;
		s->security = STS_DNS_BOGUS;
		snprintf(s->reason, sizeof(s->reason), "DNSSEC bogus: %s", why);
		goto out;
	}
	s->security = sec == UB_SEC_SECURE ? STS_DNS_SECURE : STS_DNS_INSECURE;
	if (s->rcode == LDNS_RCODE_NXDOMAIN) {
		s->status = STS_ENOTFOUND;
		s->nxdomain = true;
		s->ttl = negative_ttl(pkt);
		snprintf(s->reason, sizeof(s->reason), "NXDOMAIN");
		goto out;
	}
	if (s->rcode != LDNS_RCODE_NOERROR) {
		set_rcode_failure(s, s->rcode);
		goto out;
	}
	ans = ldns_pkt_answer(pkt);
	r = extract_records(s, ans);
	switch (r) {
	case STS_OK:
		s->status = STS_OK;
		s->ttl = UINT32_MAX;
		for (i = 0; i < ldns_rr_list_rr_count(ans); i++)
			s->ttl = min_u32(
			    s->ttl, ldns_rr_ttl(ldns_rr_list_rr(ans, i)));
		snprintf(s->reason, sizeof(s->reason), "%zu %s record%s", s->n,
		    type_name(s->rrtype), s->n == 1 ? "" : "s");
		break;
	case STS_ENOTFOUND:
		s->status = STS_ENOTFOUND;
		s->ttl = negative_ttl(pkt);
		snprintf(s->reason, sizeof(s->reason), "NODATA (no %s records)",
		    type_name(s->rrtype));
		break;
	case STS_ENOMEM:
		s->status = STS_ENOMEM;
		snprintf(s->reason, sizeof(s->reason), "out of memory");
		break;
	default:
		s->status = STS_ETEMP;
		snprintf(s->reason, sizeof(s->reason), "malformed %s record",
		    type_name(s->rrtype));
		break;
	}
out:
	ldns_pkt_free(pkt);
}

static void
query_unlink(struct sts_dns_query *q)
{
	if (q->dns == NULL)
		return;
	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		q->dns->queries = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	q->prev = q->next = NULL;
	q->dns = NULL;
}

static void
query_free(struct sts_dns_query *q)
{
	int i;

	if (q == NULL)
		return;
	if (q->ev != NULL)
		event_free(q->ev);
	for (i = 0; i < q->n_sub; i++)
		free(q->sub[i].records);
	free(q);
}

/* Stop the sub-queries still running inside libunbound. */
static void
query_cancel_subs(struct sts_dns_query *q, struct ub_ctx *ub)
{
	int i;

	for (i = 0; i < q->n_sub; i++) {
		if (!q->sub[i].pending)
			continue;
		if (q->sub[i].ub_id != 0)
			(void)ub_cancel(ub, q->sub[i].ub_id);
		q->sub[i].pending = false;
	}
}

/* Merge the A and AAAA halves into one answer; see dns.h. */
static int
merge_addr(struct sts_dns_query *q, struct sts_dns_answer *a,
    struct sts_dns_addr **ret_arr)
{
	struct sub *s6 = &q->sub[0], *s4 = &q->sub[1];
	struct sts_dns_addr *arr = NULL;
	size_t n = s6->n + s4->n;
	uint32_t ttl = UINT32_MAX;
	int i;

	if (s6->security == STS_DNS_BOGUS || s4->security == STS_DNS_BOGUS)
		a->security = STS_DNS_BOGUS;
	else if (s6->security == STS_DNS_SECURE &&
		 s4->security == STS_DNS_SECURE)
		a->security = STS_DNS_SECURE;
	else
		a->security = STS_DNS_INSECURE;
	snprintf(a->reason, sizeof(a->reason), "AAAA: %.55s; A: %.55s",
	    s6->reason, s4->reason);
	if (n > 0) {
		arr = malloc(n * sizeof(*arr));
		if (arr == NULL) {
			a->status = STS_ENOMEM;
			snprintf(a->reason, sizeof(a->reason), "out of memory");
			return STS_ENOMEM;
		}
		if (s6->n > 0)
			memcpy(arr, s6->records, s6->n * sizeof(*arr));
		if (s4->n > 0)
			memcpy(arr + s6->n, s4->records, s4->n * sizeof(*arr));
		for (i = 0; i < 2; i++)
			if (q->sub[i].status == STS_OK)
				ttl = min_u32(ttl, q->sub[i].ttl);
		a->status = STS_OK;
		a->rcode = LDNS_RCODE_NOERROR;
		a->ttl = ttl;
		a->n = n;
		a->addr = arr;
		*ret_arr = arr;
		return STS_OK;
	}
	if (s6->status == STS_ENOTFOUND && s4->status == STS_ENOTFOUND) {
		a->status = STS_ENOTFOUND;
		a->nxdomain = s6->nxdomain || s4->nxdomain;
		a->rcode =
		    a->nxdomain ? LDNS_RCODE_NXDOMAIN : LDNS_RCODE_NOERROR;
		a->ttl = min_u32(s6->ttl, s4->ttl);
		return STS_OK;
	}
	/* one failed and the other has no addresses */
	a->status = s6->status == STS_ENOMEM || s4->status == STS_ENOMEM
			? STS_ENOMEM
			: STS_ETEMP;
	a->rcode = s6->status != STS_ENOTFOUND ? s6->rcode : s4->rcode;
	return STS_OK;
}

/* Run the user's callback for a finished (or timed-out) query. */
static void
query_deliver(struct sts_dns_query *q)
{
	struct sts_dns_answer a;
	struct sts_dns_addr *merged = NULL;
	struct sub *s = &q->sub[0];

	memset(&a, 0, sizeof(a));
	a.type = q->type;
	a.name = q->name;
	a.elapsed_ms = ms_since(&q->started);
	if (q->type == STS_DNS_ADDR) {
		(void)merge_addr(q, &a, &merged);
	} else {
		a.status = s->status;
		a.security = s->security;
		a.rcode = s->rcode;
		a.nxdomain = s->nxdomain;
		a.ttl = s->ttl;
		memcpy(a.reason, s->reason, sizeof(a.reason));
		a.n = s->status == STS_OK ? s->n : 0;
		if (a.n > 0) {
			switch (q->type) {
			case STS_DNS_TXT:
				a.txt = s->records;
				break;
			case STS_DNS_MX:
				a.mx = s->records;
				break;
			case STS_DNS_TLSA:
				a.tlsa = s->records;
				break;
			case STS_DNS_ADDR:
				break;
			}
		}
	}
	/* leave the context first: the callback may free it */
	query_unlink(q);
	q->cb(&a, q->arg);
	free(merged);
	query_free(q);
}

/* The timer (the query took too long) or the deferred delivery. */
static void
on_event(evutil_socket_t fd, short what, void *arg)
{
	struct sts_dns_query *q = arg;
	int i;

	(void)fd;
	(void)what;
	if (!q->finished) {
		unsigned ms = q->dns->timeout_ms;

		query_cancel_subs(q, q->dns->ub);
		for (i = 0; i < q->n_sub; i++) {
			struct sub *s = &q->sub[i];

			if (s->status != STS_EINTERNAL)
				continue; /* this one had answered */
			s->status = STS_ETEMP;
			s->rcode = -1;
			snprintf(s->reason, sizeof(s->reason),
			    "timed out after %u ms", ms);
		}
		q->finished = true;
	}
	query_deliver(q);
}

/* libunbound's callback; may run inside ub_resolve_event. */
static void
on_ub_answer(void *mydata, int rcode, void *packet, int len, int sec,
    char *why_bogus, int was_ratelimited)
{
	struct sub *s = mydata;
	struct sts_dns_query *q = s->query;
	int i;

	s->pending = false;
	s->ub_id = 0;
	absorb_answer(s, rcode, packet, len, sec, why_bogus, was_ratelimited);
	for (i = 0; i < q->n_sub; i++)
		if (q->sub[i].pending)
			return;
	q->finished = true;
	event_del(q->ev);
	event_active(q->ev, EV_TIMEOUT, 1);
}

/* Is name a domain name libunbound will accept? */
static bool
name_ok(const char *name)
{
	ldns_rdf *d;
	size_t len;

	if (name == NULL)
		return false;
	len = strlen(name);
	if (len == 0 || len > STS_DOMAIN_MAX + 1)
		return false;
	d = ldns_dname_new_frm_str(name);
	if (d == NULL)
		return false;
	ldns_rdf_deep_free(d);
	return true;
}

static int
query_start(struct sts_dns *dns, enum sts_dns_type type, const char *name,
    sts_dns_cb *cb, void *arg, struct sts_dns_query **ret_query)
{
	struct sts_dns_query *q = NULL;
	struct timeval tv;
	int i, r, err;

	if (dns == NULL || cb == NULL || !name_ok(name))
		return STS_EINVAL;
	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return STS_ENOMEM;
	if (snprintf(q->name, sizeof(q->name), "%s", name) >=
	    (int)sizeof(q->name)) {
		err = STS_EINVAL;
		goto fail;
	}
	q->ev = evtimer_new(dns->base, on_event, q);
	if (q->ev == NULL) {
		err = STS_ENOMEM;
		goto fail;
	}
	q->type = type;
	q->cb = cb;
	q->arg = arg;
	switch (type) {
	case STS_DNS_TXT:
		q->sub[0].rrtype = LDNS_RR_TYPE_TXT;
		q->n_sub = 1;
		break;
	case STS_DNS_MX:
		q->sub[0].rrtype = LDNS_RR_TYPE_MX;
		q->n_sub = 1;
		break;
	case STS_DNS_TLSA:
		q->sub[0].rrtype = LDNS_RR_TYPE_TLSA;
		q->n_sub = 1;
		break;
	case STS_DNS_ADDR:
		q->sub[0].rrtype = LDNS_RR_TYPE_AAAA;
		q->sub[1].rrtype = LDNS_RR_TYPE_A;
		q->n_sub = 2;
		break;
	}
	for (i = 0; i < q->n_sub; i++) {
		q->sub[i].query = q;
		q->sub[i].status = STS_EINTERNAL; /* no answer yet */
		q->sub[i].rcode = -1;
		q->sub[i].pending = true;
	}
	clock_gettime(CLOCK_MONOTONIC, &q->started);
	for (i = 0; i < q->n_sub; i++) {
		r = ub_resolve_event(dns->ub, q->name, q->sub[i].rrtype,
		    LDNS_RR_CLASS_IN, &q->sub[i], on_ub_answer,
		    &q->sub[i].ub_id);
		if (r != 0) {
			/* this sub never started; stop the ones that did */
			q->sub[i].pending = false;
			query_cancel_subs(q, dns->ub);
			err = r == UB_NOMEM    ? STS_ENOMEM
			      : r == UB_SYNTAX ? STS_EINVAL
					       : STS_EINTERNAL;
			goto fail;
		}
	}
	if (!q->finished) {
		tv.tv_sec = dns->timeout_ms / 1000;
		tv.tv_usec = (suseconds_t)(dns->timeout_ms % 1000) * 1000;
		if (evtimer_add(q->ev, &tv) != 0) {
			query_cancel_subs(q, dns->ub);
			err = STS_EINTERNAL;
			goto fail;
		}
	}
	q->dns = dns;
	q->next = dns->queries;
	if (dns->queries != NULL)
		dns->queries->prev = q;
	dns->queries = q;
	if (ret_query != NULL)
		*ret_query = q;
	return STS_OK;
fail:
	query_free(q);
	return err;
}

int
sts_dns_query_txt(struct sts_dns *dns, const char *name, sts_dns_cb *cb,
    void *arg, struct sts_dns_query **ret_query)
{
	return query_start(dns, STS_DNS_TXT, name, cb, arg, ret_query);
}

int
sts_dns_query_mx(struct sts_dns *dns, const char *name, sts_dns_cb *cb,
    void *arg, struct sts_dns_query **ret_query)
{
	return query_start(dns, STS_DNS_MX, name, cb, arg, ret_query);
}

int
sts_dns_query_addr(struct sts_dns *dns, const char *name, sts_dns_cb *cb,
    void *arg, struct sts_dns_query **ret_query)
{
	return query_start(dns, STS_DNS_ADDR, name, cb, arg, ret_query);
}

int
sts_dns_query_tlsa(struct sts_dns *dns, const char *host, unsigned port,
    sts_dns_cb *cb, void *arg, struct sts_dns_query **ret_query)
{
	char name[STS_DOMAIN_MAX + 16];

	if (host == NULL || port == 0 || port > 65535)
		return STS_EINVAL;
	if (snprintf(name, sizeof(name), "_%u._tcp.%s", port, host) >=
	    (int)sizeof(name))
		return STS_EINVAL;
	return query_start(dns, STS_DNS_TLSA, name, cb, arg, ret_query);
}

void
sts_dns_cancel(struct sts_dns_query *query)
{
	if (query == NULL)
		return;
	if (query->dns != NULL)
		query_cancel_subs(query, query->dns->ub);
	query_unlink(query);
	query_free(query);
}

bool
sts_dns_validating(const struct sts_dns *dns)
{
	return dns != NULL && dns->validating;
}

/* Check "addr" or "addr@port" ourselves, for a clear message. */
static bool
forwarder_ok(const char *fwd)
{
	char addr[STS_ADDR_STR_MAX];
	unsigned char bin[16];
	const char *at = strrchr(fwd, '@');
	size_t len = at != NULL ? (size_t)(at - fwd) : strlen(fwd);

	if (len == 0 || len >= sizeof(addr))
		return false;
	memcpy(addr, fwd, len);
	addr[len] = '\0';
	if (inet_pton(AF_INET, addr, bin) != 1 &&
	    inet_pton(AF_INET6, addr, bin) != 1)
		return false;
	if (at != NULL) {
		char *end;
		unsigned long port;

		errno = 0;
		port = strtoul(at + 1, &end, 10);
		if (at[1] < '0' || at[1] > '9' || *end != '\0' || errno != 0 ||
		    port == 0 || port > 65535)
			return false;
	}
	return true;
}

static int
set_option(struct ub_ctx *ub, const char *opt, const char *val,
    struct sts_diag *reterr_diag)
{
	int r = ub_ctx_set_option(ub, opt, val);

	if (r == 0)
		return STS_OK;
	if (reterr_diag != NULL) {
		reterr_diag->line = 0;
		snprintf(reterr_diag->message, sizeof(reterr_diag->message),
		    "libunbound rejects %s %s: %s", opt, val, ub_strerror(r));
	}
	return r == UB_NOMEM ? STS_ENOMEM : STS_EINTERNAL;
}

static int
diag_fail(
    struct sts_diag *reterr_diag, int err, const char *what, const char *arg)
{
	char q[STS_DIAG_MAX / 2];

	if (reterr_diag != NULL) {
		copy_printable(q, sizeof(q), arg);
		reterr_diag->line = 0;
		snprintf(reterr_diag->message, sizeof(reterr_diag->message),
		    "%s '%s'", what, q);
	}
	return err;
}

int
sts_dns_new(struct event_base *base, const struct sts_dns_config *cfg,
    struct sts_dns **ret_dns, struct sts_diag *reterr_diag)
{
	static const struct sts_dns_config defaults;
	struct sts_dns *dns = NULL;
	const char *ta = NULL;
	char range[16];
	size_t i;
	int err, r;

	if (base == NULL || ret_dns == NULL)
		return STS_EINVAL;
	if (cfg == NULL)
		cfg = &defaults;
	for (i = 0; i < cfg->n_forwarders; i++)
		if (cfg->forwarders[i] == NULL ||
		    !forwarder_ok(cfg->forwarders[i]))
			return diag_fail(reterr_diag, STS_EINVAL,
			    "resolver address is not addr or addr@port:",
			    cfg->forwarders[i] != NULL ? cfg->forwarders[i]
						       : "(null)");
	if (cfg->dnssec) {
		if (cfg->trust_anchor_file != NULL &&
		    access(cfg->trust_anchor_file, R_OK) != 0)
			return diag_fail(reterr_diag, STS_EINVAL,
			    "cannot read trust anchor file",
			    cfg->trust_anchor_file);
		if (cfg->auto_trust_anchor_file != NULL &&
		    access(cfg->auto_trust_anchor_file, R_OK | W_OK) != 0)
			return diag_fail(reterr_diag, STS_EINVAL,
			    "cannot read and write trust anchor file",
			    cfg->auto_trust_anchor_file);
		if (cfg->trust_anchor_file == NULL &&
		    cfg->auto_trust_anchor_file == NULL &&
		    access(DEFAULT_ROOT_KEY, R_OK) == 0)
			ta = DEFAULT_ROOT_KEY;
	}

	dns = calloc(1, sizeof(*dns));
	if (dns == NULL)
		return STS_ENOMEM;
	dns->base = base;
	dns->timeout_ms =
	    cfg->timeout_ms != 0 ? cfg->timeout_ms : STS_DNS_TIMEOUT_MS;
	dns->ub = ub_ctx_create_event(base);
	if (dns->ub == NULL) {
		err = STS_ENOMEM;
		goto fail;
	}
	/* The library never logs: send libunbound's log nowhere. */
	(void)ub_ctx_debugout(dns->ub, NULL);
	(void)ub_ctx_debuglevel(dns->ub, 0);

	snprintf(range, sizeof(range), "%d", STS_DNS_OUTGOING_RANGE);
	if ((err = set_option(
		 dns->ub, "outgoing-range:", range, reterr_diag)) != STS_OK ||
	    (err = set_option(dns->ub, "msg-cache-size:", UB_MSG_CACHE_SIZE,
		 reterr_diag)) != STS_OK ||
	    (err = set_option(dns->ub, "rrset-cache-size:",
		 UB_RRSET_CACHE_SIZE, reterr_diag)) != STS_OK)
		goto fail;
	if (cfg->dnssec) {
		/* keep why_bogus texts (val-log-level 2) but do not log */
		if ((err = set_option(dns->ub, "val-log-level:", "2",
			 reterr_diag)) != STS_OK ||
		    (err = set_option(dns->ub, "val-log-squelch:", "yes",
			 reterr_diag)) != STS_OK)
			goto fail;
		r = 0;
		if (cfg->trust_anchor_file != NULL)
			r = ub_ctx_add_ta_file(dns->ub, cfg->trust_anchor_file);
		if (r == 0 && cfg->auto_trust_anchor_file != NULL)
			r = ub_ctx_add_ta_autr(
			    dns->ub, cfg->auto_trust_anchor_file);
		if (r == 0 && ta != NULL)
			r = ub_ctx_add_ta_file(dns->ub, ta);
		if (r != 0) {
			err = STS_ENOMEM;
			goto fail;
		}
		dns->validating = cfg->trust_anchor_file != NULL ||
				  cfg->auto_trust_anchor_file != NULL ||
				  ta != NULL;
	} else {
		if ((err = set_option(dns->ub, "module-config:", "iterator",
			 reterr_diag)) != STS_OK)
			goto fail;
	}

	if (cfg->n_forwarders > 0) {
		for (i = 0; i < cfg->n_forwarders; i++) {
			r = ub_ctx_set_fwd(dns->ub, cfg->forwarders[i]);
			if (r != 0) {
				err = diag_fail(reterr_diag, STS_EINVAL,
				    "libunbound rejects resolver address",
				    cfg->forwarders[i]);
				goto fail;
			}
		}
	} else {
		r = ub_ctx_resolvconf(dns->ub, NULL);
		if (r != 0) {
			err = diag_fail(reterr_diag, STS_EINVAL,
			    "cannot use system resolver from",
			    "/etc/resolv.conf");
			goto fail;
		}
		/* /etc/hosts is optional */
		(void)ub_ctx_hosts(dns->ub, NULL);
	}

	/*
	 * Finalize now, so that a broken trust anchor file fails here and
	 * not at the first query: ub_ctx_zone_remove() is documented to
	 * finalize the context, and removing a local zone that does not
	 * exist changes nothing.
	 */
	r = ub_ctx_zone_remove(dns->ub, "finalize.libmtasts.invalid.");
	if (r != 0) {
		err = diag_fail(reterr_diag, STS_EINVAL,
		    "libunbound cannot start; check the trust anchor file",
		    cfg->trust_anchor_file != NULL ? cfg->trust_anchor_file
		    : cfg->auto_trust_anchor_file != NULL
			? cfg->auto_trust_anchor_file
		    : ta != NULL ? ta
				 : "(none)");
		goto fail;
	}
	*ret_dns = dns;
	return STS_OK;
fail:
	sts_dns_free(dns);
	return err;
}

void
sts_dns_free(struct sts_dns *dns)
{
	if (dns == NULL)
		return;
	while (dns->queries != NULL)
		sts_dns_cancel(dns->queries);
	if (dns->ub != NULL)
		ub_ctx_delete(dns->ub);
	free(dns);
}

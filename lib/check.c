/*
 * check.c - facts about a domain in, judged check items out (pure).
 *
 * Groups, in the order they are reported:
 *   txt       _mta-sts TXT RRset and record (RFC 8461 §3.1, §10.2)
 *   host      the policy host mta-sts.<domain> (§3.3, §3.2, §7.2)
 *   policy    the policy body and its mx patterns (§3.2, §4.1, §5)
 *   mx        every MX host: address, STARTTLS, TLS, certificate (§4.2)
 *   tlsrpt    the _smtp._tls record (RFC 8460 §3)
 *   dane      DNSSEC of the MX RRset, TLSA per MX (RFC 7672 §2, §3)
 *   readiness would mode enforce refuse any own MX host (§5, §4)
 * Severity: fail = senders fail or an RFC rule is broken; warn = valid
 * but risky, or not determinable from here; pass = fine (the message
 * may still inform).
 */
#include "mtasts/check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "diag.h"
#include "mtasts/mxmatch.h"
#include "mtasts/tlsrpt.h"
#include "txtfields.h"

#define RFC_TXT      "RFC 8461 §3.1"
#define RFC_DNSSEC   "RFC 8461 §10.2"
#define RFC_MAXAGE   "RFC 8461 §3.2, §10.2"
#define RFC_POLICY   "RFC 8461 §3.2"
#define RFC_FETCH    "RFC 8461 §3.3"
#define RFC_MATCH    "RFC 8461 §4.1"
#define RFC_MXCERT   "RFC 8461 §4.2"
#define RFC_APPLY    "RFC 8461 §5"
#define RFC_STARTTLS "RFC 8461 §4, RFC 3207"
#define RFC_TLSVER   "RFC 8461 §7.2"
#define RFC_MXREC    "RFC 5321 §5.1, RFC 7505"
#define RFC_TLSRPT   "RFC 8460 §3"
#define RFC_DANE_MX  "RFC 7672 §2.2.1"
#define RFC_DANE     "RFC 7672 §2.2.3, §3.1"

/* TLS 1.2 as SSL_version() reports it. */
#define TLS1_2_NUM 0x0303

#define DAY 86400

struct ctx {
	const struct sts_check_facts *f;
	struct sts_check_report *r;
	size_t cap;
	bool oom;
	struct sts_check_item scratch; /* written to when out of memory */
	unsigned warn_days;
	bool txt_ok; /* exactly one valid STS record */
	/* null MX and no MTA-STS at all: nothing to deploy, nothing amiss */
	bool not_needed;
	const struct sts_policy *pol;
	char host[STS_DOMAIN_MAX + 16]; /* mta-sts.<domain> */
};

const char *
sts_check_status_name(enum sts_check_status status)
{
	switch (status) {
	case STS_CHECK_PASS:
		return "pass";
	case STS_CHECK_WARN:
		return "warn";
	case STS_CHECK_FAIL:
		return "fail";
	}
	return "?";
}

const char *
sts_check_verdict_name(enum sts_check_status verdict)
{
	switch (verdict) {
	case STS_CHECK_PASS:
		return "ok";
	case STS_CHECK_WARN:
		return "warn";
	case STS_CHECK_FAIL:
		return "fail";
	}
	return "?";
}

/* ---- building the list ------------------------------------------------ */

static struct sts_check_item *add(struct ctx *c, const char *id,
    enum sts_check_status status, const char *rfc, const char *subject,
    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static struct sts_check_item *
add(struct ctx *c, const char *id, enum sts_check_status status,
    const char *rfc, const char *subject, const char *fmt, ...)
{
	struct sts_check_report *r = c->r;
	struct sts_check_item *it;
	va_list ap;

	if (r->n_items == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 32;
		struct sts_check_item *items =
		    realloc(r->items, cap * sizeof(*items));

		if (items == NULL) {
			c->oom = true;
			memset(&c->scratch, 0, sizeof(c->scratch));
			return &c->scratch;
		}
		r->items = items;
		c->cap = cap;
	}
	it = &r->items[r->n_items++];
	memset(it, 0, sizeof(*it));
	it->id = id;
	it->status = status;
	it->rfc = rfc;
	snprintf(
	    it->subject, sizeof(it->subject), "%s", subject ? subject : "");
	va_start(ap, fmt);
	vsnprintf(it->message, sizeof(it->message), fmt, ap);
	va_end(ap);
	if (status > r->verdict)
		r->verdict = status;
	return it;
}

static void fix(struct sts_check_item *it, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fix(struct sts_check_item *it, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(it->fix, sizeof(it->fix), fmt, ap);
	va_end(ap);
}

/* Append to a bounded text buffer; silently truncates. */
static void cat(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
cat(char *buf, size_t size, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;

	if (len + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
}

static void
date_text(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%d", &tm) == 0)
		snprintf(buf, size, "?");
}

static const char *
age_text(uint32_t s, char *buf, size_t size)
{
	if (s >= DAY && s % DAY == 0)
		snprintf(buf, size, "%u s, %u day%s", s, s / DAY,
		    s == DAY ? "" : "s");
	else
		snprintf(buf, size, "%u s", s);
	return buf;
}

static bool
starts_with(const struct sts_txt_record *rec, const char *prefix)
{
	size_t n = strlen(prefix);

	return rec->len >= n && memcmp(rec->data, prefix, n) == 0;
}

static bool
starts_with_ci(const struct sts_txt_record *rec, const char *prefix)
{
	size_t n = strlen(prefix);

	return rec->len >= n && strncasecmp(rec->data, prefix, n) == 0;
}

static void
quote(const struct sts_txt_record *rec, char *out, size_t outsz)
{
	sts_diag_quote(rec->data, rec->len > 120 ? 120 : rec->len, out, outsz);
}

static const char *
notfound_word(const struct sts_check_lookup *l)
{
	return l->nxdomain ? "NXDOMAIN" : "no record of that type";
}

/* ---- DNSSEC of one lookup ----------------------------------------------- */

static void
dnssec_item(struct ctx *c, const char *id, const char *rfc,
    const struct sts_check_lookup *l, const char *name, const char *secure,
    const char *insecure)
{
	struct sts_check_item *it;

	if (!l->done)
		return;
	if (!c->f->dnssec_validating) {
		add(c, id, STS_CHECK_PASS, rfc, name,
		    "DNSSEC not validated here (validation off or no trust "
		    "anchor); nothing to judge");
		return;
	}
	if (l->security == STS_DNS_BOGUS) {
		it = add(c, id, STS_CHECK_FAIL, rfc, name,
		    "DNSSEC validation failed (bogus): %s; validating "
		    "resolvers answer SERVFAIL",
		    l->reason);
		fix(it, "repair the zone's signatures or the DS record at "
			"the parent (check with 'delv' or 'drill -S')");
		return;
	}
	if (l->status != STS_OK && l->status != STS_ENOTFOUND)
		return; /* no answer: nothing known about its security */
	if (l->security == STS_DNS_SECURE)
		add(c, id, STS_CHECK_PASS, rfc, name,
		    "the answer is DNSSEC-signed and validated%s", secure);
	else
		add(c, id, STS_CHECK_PASS, rfc, name,
		    "the answer is not DNSSEC-signed: %s", insecure);
}

/* ---- txt ---------------------------------------------------------------- */

struct txt_walk {
	unsigned n_id;
	const char *id;
	size_t id_len;
	char ext[160]; /* unknown field names, comma-separated */
	unsigned n_ext;
};

static int
on_txt_field(void *arg, const char *name, size_t name_len, const char *value,
    size_t value_len, int line, struct sts_diag *diag)
{
	struct txt_walk *w = arg;

	(void)line;
	(void)diag;
	if (name_len == 2 && memcmp(name, "id", 2) == 0) {
		if (w->n_id++ == 0) {
			w->id = value;
			w->id_len = value_len;
		}
		return STS_OK;
	}
	if (w->n_ext++ < 4)
		cat(w->ext, sizeof(w->ext), "%s'%.*s'",
		    w->n_ext > 1 ? ", " : "",
		    (int)(name_len > 32 ? 32 : name_len), name);
	return STS_OK;
}

static void
check_txt_record(
    struct ctx *c, const struct sts_txt_record *rec, const char *name)
{
	struct sts_diag diag = {0};
	struct txt_walk w = {0};
	struct sts_check_item *it;
	char q[160];
	bool id_ok = true;

	quote(rec, q, sizeof(q));
	if (sts_txt_fields(rec->data, rec->len, "v=STSv1", NULL, RFC_TXT, 0,
		on_txt_field, &w, &diag) != STS_OK) {
		it = add(c, "txt.syntax", STS_CHECK_FAIL, RFC_TXT, name,
		    "'%s': %s; senders ignore the record", q, diag.message);
		fix(it, "publish exactly: v=STSv1; id=<1-32 letters and "
			"digits> (e.g. 'mta-sts policy bump' prints one)");
		return;
	}
	add(c, "txt.syntax", STS_CHECK_PASS, RFC_TXT, name,
	    "'%s' is well-formed", q);

	if (w.n_id == 0) {
		it = add(c, "txt.id", STS_CHECK_FAIL, RFC_TXT, name,
		    "the record has no id field; senders ignore it");
		fix(it, "add id=<1-32 letters and digits>, e.g. a UTC time "
			"stamp such as 20260101T120000");
		id_ok = false;
	} else if (w.id_len > STS_ID_MAX) {
		it = add(c, "txt.id", STS_CHECK_FAIL, RFC_TXT, name,
		    "id has %zu characters; at most %d are allowed", w.id_len,
		    STS_ID_MAX);
		fix(it, "shorten the id to 32 letters and digits or fewer");
		id_ok = false;
	} else {
		for (size_t i = 0; i < w.id_len; i++) {
			if (sts_is_alnum((unsigned char)w.id[i]))
				continue;
			it = add(c, "txt.id", STS_CHECK_FAIL, RFC_TXT, name,
			    "id '%.*s' contains '%c'; only letters and "
			    "digits are allowed",
			    (int)w.id_len, w.id, w.id[i]);
			fix(it, "use only letters and digits, e.g. "
				"20260101T120000 instead of "
				"2026-01-01T12:00:00");
			id_ok = false;
			break;
		}
	}
	if (id_ok && w.n_id > 1) {
		it = add(c, "txt.id", STS_CHECK_WARN, RFC_TXT, name,
		    "id appears %u times; senders use the first, '%.*s' "
		    "(RFC 8461 §3.2: the first occurrence wins)",
		    w.n_id, (int)w.id_len, w.id);
		fix(it, "keep a single id field");
	} else if (id_ok) {
		add(c, "txt.id", STS_CHECK_PASS, RFC_TXT, name,
		    "id '%.*s'; change it whenever the policy changes",
		    (int)w.id_len, w.id);
	}
	if (w.n_ext > 0) {
		it = add(c, "txt.extensions", STS_CHECK_WARN, RFC_TXT, name,
		    "unknown field%s %s%s: senders ignore %s (no extension "
		    "is registered, RFC 8461 §9.2)",
		    w.n_ext > 1 ? "s" : "", w.ext, w.n_ext > 4 ? ", ..." : "",
		    w.n_ext > 1 ? "them" : "it");
		fix(it, "remove the unknown fields unless a documented "
			"extension needs them");
	} else {
		add(c, "txt.extensions", STS_CHECK_PASS, RFC_TXT, name,
		    "no unknown fields");
	}
	if (id_ok) {
		c->txt_ok = true;
		snprintf(
		    c->r->id, sizeof(c->r->id), "%.*s", (int)w.id_len, w.id);
	}
}

static void
check_txt(struct ctx *c)
{
	const struct sts_check_facts *f = c->f;
	const struct sts_check_lookup *l = &f->txt;
	const struct sts_txt_record *chosen = NULL;
	struct sts_check_item *it;
	char name[STS_DOMAIN_MAX + 16], q[160];
	size_t n_sts = 0, n_other = 0, first_other = 0;
	bool spf = false;

	snprintf(name, sizeof(name), "_mta-sts.%s", f->domain);
	if (!l->done)
		return;
	if (l->status == STS_ENOTFOUND && c->not_needed) {
		add(c, "txt.record", STS_CHECK_PASS, RFC_TXT, name,
		    "no TXT record at %s: %s publishes a null MX (accepts no "
		    "mail), so it needs no MTA-STS",
		    name, f->domain);
	} else if (l->status == STS_ENOTFOUND) {
		it = add(c, "txt.record", STS_CHECK_FAIL, RFC_TXT, name,
		    "no TXT record at %s (%s): senders see no MTA-STS "
		    "policy",
		    name, notfound_word(l));
		fix(it,
		    "publish %s. IN TXT \"v=STSv1; id=<timestamp>\" "
		    "('mta-sts policy new' prints one)",
		    name);
	} else if (l->status != STS_OK) {
		it = add(c, "txt.record", STS_CHECK_FAIL, RFC_TXT, name,
		    "TXT lookup of %s failed: %s; senders cannot discover "
		    "the policy",
		    name, l->reason);
		fix(it, "make the name servers of %s answer for %s", f->domain,
		    name);
	} else {
		for (size_t i = 0; i < f->n_txt; i++) {
			const struct sts_txt_record *rec = &f->txt_records[i];

			if (starts_with(rec, "v=STSv1;") ||
			    (f->n_txt == 1 && starts_with_ci(rec, "v=STSv1"))) {
				if (n_sts++ == 0)
					chosen = rec;
			} else {
				if (n_other++ == 0)
					first_other = i;
				if (starts_with_ci(rec, "v=spf1"))
					spf = true;
			}
		}
		if (n_sts == 0) {
			quote(&f->txt_records[0], q, sizeof(q));
			it = add(c, "txt.record", STS_CHECK_FAIL, RFC_TXT, name,
			    "%zu TXT record%s at %s but none begins with "
			    "'v=STSv1;' (e.g. '%s'): senders see no MTA-STS "
			    "policy",
			    f->n_txt, f->n_txt == 1 ? "" : "s", name, q);
			fix(it,
			    "publish \"v=STSv1; id=<timestamp>\" at %s; "
			    "the version is case-sensitive",
			    name);
		} else {
			add(c, "txt.record", STS_CHECK_PASS, RFC_TXT, name,
			    "%s has %zu TXT record%s", name, f->n_txt,
			    f->n_txt == 1 ? "" : "s");
			if (n_sts > 1) {
				it = add(c, "txt.count", STS_CHECK_FAIL,
				    RFC_TXT, name,
				    "%zu records begin with 'v=STSv1;': "
				    "senders use none of them and see no "
				    "policy",
				    n_sts);
				fix(it,
				    "delete all but one MTA-STS record at "
				    "%s",
				    name);
			} else {
				add(c, "txt.count", STS_CHECK_PASS, RFC_TXT,
				    name,
				    "exactly one record is an MTA-STS record");
			}
			if (n_other > 0) {
				quote(
				    &f->txt_records[first_other], q, sizeof(q));
				it = add(c, "txt.other", STS_CHECK_WARN,
				    RFC_TXT, name,
				    "%zu other TXT record%s beside the "
				    "MTA-STS one (e.g. '%s'): senders discard "
				    "them%s",
				    n_other, n_other == 1 ? "" : "s", q,
				    spf ? "; an SPF record here usually "
					  "comes from a wildcard or CNAME "
					  "catch-all"
					: "");
				fix(it,
				    "remove the unrelated TXT records at "
				    "%s (check for a wildcard *.%s TXT "
				    "record)",
				    name, f->domain);
			} else {
				add(c, "txt.other", STS_CHECK_PASS, RFC_TXT,
				    name, "no unrelated TXT records");
			}
			if (n_sts == 1)
				check_txt_record(c, chosen, name);
		}
	}
	dnssec_item(c, "txt.dnssec", RFC_DNSSEC, l, name,
	    ": its absence cannot be forged",
	    "an attacker on the path can hide it from senders that "
	    "have no policy cached yet; MTA-STS does not need DNSSEC");
}

/* ---- host --------------------------------------------------------------- */

static size_t
count_family(const struct sts_dns_addr *a, size_t n, int family)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (a[i].family == family)
			k++;
	return k;
}

static void
addr_list(const struct sts_dns_addr *a, size_t n, char *buf, size_t size)
{
	buf[0] = '\0';
	for (size_t i = 0; i < n && i < 6; i++)
		cat(buf, size, "%s%s %s", i ? ", " : "",
		    a[i].family == AF_INET6 ? "AAAA" : "A", a[i].addr);
	if (n > 6)
		cat(buf, size, ", ...");
}

static const char *
family_name(int idx)
{
	return idx == 0 ? "IPv4" : "IPv6";
}

static void
check_family(struct ctx *c, int idx)
{
	const struct sts_check_facts *f = c->f;
	const struct sts_check_fetch *fe = &f->fetch[idx];
	const char *id = idx == 0 ? "host.ipv4" : "host.ipv6";
	int family = idx == 0 ? AF_INET : AF_INET6;
	size_t n = count_family(f->host_addrs, f->n_host_addrs, family);
	size_t other = f->n_host_addrs - n;
	struct sts_check_item *it;

	if (n == 0) {
		if (idx == 0 && other > 0) {
			it = add(c, id, STS_CHECK_WARN, RFC_FETCH, c->host,
			    "%s has no A record: senders without IPv6 "
			    "cannot fetch the policy",
			    c->host);
			fix(it, "publish an A record for %s", c->host);
		} else if (idx == 1) {
			add(c, id, STS_CHECK_PASS, RFC_FETCH, c->host,
			    "no AAAA record: the policy is reachable over "
			    "IPv4 only");
		}
		return;
	}
	if (!fe->done)
		return;
	if (fe->status == STS_OK) {
		add(c, id, STS_CHECK_PASS, RFC_FETCH, c->host,
		    "policy fetched over %s from %s (HTTP 200, %s, %zu "
		    "bytes)",
		    family_name(idx), fe->address[0] ? fe->address : "?",
		    fe->tls_version[0] ? fe->tls_version : "TLS", fe->body_len);
		return;
	}
	it = add(c, id, STS_CHECK_FAIL, RFC_FETCH, c->host,
	    "fetching https://%s/.well-known/mta-sts.txt over %s failed: %s",
	    c->host, family_name(idx), fe->reason);
	if (fe->http_status == 0 && fe->status == STS_ETEMP)
		fix(it,
		    "make the web server of %s accept HTTPS on port 443 "
		    "at its %s address%s",
		    c->host, family_name(idx), n > 1 ? "es" : "");
	else
		fix(it,
		    "see the other host.* items; senders over %s get "
		    "no policy",
		    family_name(idx));
}

/* Certificate items from a TLS probe (policy host or MX). */
static void
cert_items(struct ctx *c, const char *prefix_trust, const char *prefix_name,
    const char *prefix_expiry, const char *rfc, const char *subject,
    const struct sts_smtp_probe_result *res, const char *fix_ca)
{
	struct sts_check_item *it;
	char names[STS_CHECK_MESSAGE_MAX / 2] = "", date[32];
	int64_t days;

	if (!res->have_cert) {
		it = add(c, prefix_trust, STS_CHECK_FAIL, rfc, subject,
		    "no certificate presented (%s)", res->cipher);
		fix(it, "%s", fix_ca);
		return;
	}
	if (res->chain_trusted) {
		add(c, prefix_trust, STS_CHECK_PASS, rfc, subject,
		    "chain leads to a trusted root (issuer %s)", res->issuer);
	} else {
		it = add(c, prefix_trust, STS_CHECK_FAIL, rfc, subject,
		    "certificate not trusted: %s%s (issuer %s)",
		    res->verify_reason, res->self_signed ? ", self-signed" : "",
		    res->issuer);
		fix(it, "%s", fix_ca);
	}

	for (size_t i = 0; i < res->n_names; i++)
		cat(names, sizeof(names), "%s%s", i ? ", " : "", res->names[i]);
	if (res->names_truncated)
		cat(names, sizeof(names), ", ...");
	if (res->name_ok) {
		add(c, prefix_name, STS_CHECK_PASS, rfc, subject,
		    "valid for %s (DNS names: %s)", res->host, names);
	} else {
		it = add(c, prefix_name, STS_CHECK_FAIL, rfc, subject,
		    "certificate is not valid for %s: %s%s", res->host,
		    res->n_names ? "its DNS names are "
				 : "it has no DNS "
				   "names (the subject "
				   "CN is not used)",
		    names);
		fix(it,
		    "get a certificate with DNS:%s in subjectAltName "
		    "(a wildcard covers one whole leftmost label only)",
		    res->host);
	}

	days = (res->not_after - c->f->now) / DAY;
	date_text(res->not_after, date, sizeof(date));
	if (res->not_after <= c->f->now) {
		it = add(c, prefix_expiry, STS_CHECK_FAIL, rfc, subject,
		    "certificate expired on %s", date);
		fix(it, "renew the certificate (and automate renewal)");
	} else if (res->not_before > c->f->now) {
		date_text(res->not_before, date, sizeof(date));
		it = add(c, prefix_expiry, STS_CHECK_FAIL, rfc, subject,
		    "certificate is not valid before %s", date);
		fix(it, "check the clock of the issuing system, or wait");
	} else if (!res->dates_ok && res->dates_reason[0]) {
		it = add(c, prefix_expiry, STS_CHECK_FAIL, rfc, subject,
		    "certificate chain out of date: %s", res->dates_reason);
		fix(it, "install a current intermediate certificate");
	} else if (days < (int64_t)c->warn_days) {
		it = add(c, prefix_expiry, STS_CHECK_WARN, rfc, subject,
		    "certificate expires on %s, in %lld day%s", date,
		    (long long)days, days == 1 ? "" : "s");
		fix(it, "renew the certificate now (and automate renewal)");
	} else {
		add(c, prefix_expiry, STS_CHECK_PASS, rfc, subject,
		    "certificate valid until %s (%lld days)", date,
		    (long long)days);
	}
}

static bool
tls_version_ok(const char *v)
{
	return strcmp(v, "TLSv1") != 0 && strcmp(v, "TLSv1.0") != 0 &&
	       strcmp(v, "TLSv1.1") != 0 && strncmp(v, "SSL", 3) != 0;
}

static void
check_host_tls(struct ctx *c)
{
	const struct sts_check_facts *f = c->f;
	const struct sts_check_probe *p = &f->host_tls;
	const struct sts_smtp_probe_result *res = &p->result;
	struct sts_check_item *it;

	if (p->done && p->start_error == STS_OK && res->tls) {
		if (res->tls_version_num < TLS1_2_NUM) {
			it = add(c, "host.tls", STS_CHECK_FAIL, RFC_TLSVER,
			    c->host,
			    "the policy host negotiated %s; senders need TLS "
			    "1.2 or newer",
			    res->tls_version);
			fix(it,
			    "enable TLS 1.2 and 1.3 on the web server of "
			    "%s",
			    c->host);
		} else {
			add(c, "host.tls", STS_CHECK_PASS, RFC_TLSVER, c->host,
			    "%s with %s at %s", res->tls_version, res->cipher,
			    res->address);
		}
		cert_items(c, "host.cert_trust", "host.cert_name",
		    "host.cert_expiry", RFC_FETCH, c->host, res,
		    "serve a certificate from a public CA with its full "
		    "chain (e.g. Let's Encrypt)");
		return;
	}
	if (p->done && p->start_error == STS_OK &&
	    res->failed_stage == STS_PROBE_HANDSHAKE &&
	    res->status == STS_ETLS) {
		it = add(c, "host.tls", STS_CHECK_FAIL, RFC_FETCH, c->host,
		    "TLS with %s (SNI %s) failed at %s: %s", c->host, c->host,
		    res->address, res->reason);
		fix(it,
		    "configure the web server to answer TLS for the name "
		    "%s (SNI) with its own certificate",
		    c->host);
		return;
	}
	/* No probe result: judge from the fetches. */
	for (int i = 0; i < 2; i++) {
		const struct sts_check_fetch *fe = &f->fetch[i];

		if (!fe->done)
			continue;
		if (fe->tls_version[0] != '\0') {
			if (tls_version_ok(fe->tls_version))
				add(c, "host.tls", STS_CHECK_PASS, RFC_TLSVER,
				    c->host, "%s", fe->tls_version);
			else {
				it = add(c, "host.tls", STS_CHECK_FAIL,
				    RFC_TLSVER, c->host,
				    "%s negotiated; senders need TLS 1.2 or "
				    "newer",
				    fe->tls_version);
				fix(it, "enable TLS 1.2 and 1.3");
			}
		}
		if (fe->status == STS_ETLS) {
			it = add(c, "host.cert_trust", STS_CHECK_FAIL,
			    RFC_FETCH, c->host, "%s", fe->reason);
			fix(it,
			    "serve a certificate for %s from a public CA "
			    "with its full chain",
			    c->host);
		}
		return;
	}
}

/* The media type of a Content-Type value is text/plain (§3.2). */
static bool
is_text_plain(const char *ct)
{
	size_t n = strcspn(ct, ";");

	while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	while (n > 0 && (*ct == ' ' || *ct == '\t')) {
		ct++;
		n--;
	}
	return n == 10 && strncasecmp(ct, "text/plain", 10) == 0;
}

static void
check_http(struct ctx *c)
{
	const struct sts_check_facts *f = c->f;
	const struct sts_check_fetch *fe = NULL;
	struct sts_check_item *it;

	/* The first fetch that got an HTTP answer (or was too big). */
	for (int i = 0; i < 2 && fe == NULL; i++)
		if (f->fetch[i].done && (f->fetch[i].http_status != 0 ||
					    f->fetch[i].status == STS_ETOOBIG))
			fe = &f->fetch[i];
	if (fe == NULL)
		return;
	if (fe->http_status >= 300 && fe->http_status < 400) {
		it = add(c, "host.redirect", STS_CHECK_FAIL, RFC_FETCH, c->host,
		    "HTTP %ld: %s; senders MUST NOT follow redirects",
		    fe->http_status, fe->reason);
		fix(it,
		    "serve the policy itself at https://%s/.well-known/"
		    "mta-sts.txt with status 200 (no redirect to "
		    "another host or path)",
		    c->host);
		return;
	}
	add(c, "host.redirect", STS_CHECK_PASS, RFC_FETCH, c->host,
	    "no redirect");
	if (fe->http_status != 200 && fe->http_status != 0) {
		it = add(c, "host.status", STS_CHECK_FAIL, RFC_FETCH, c->host,
		    "HTTP status %ld; only 200 delivers a policy",
		    fe->http_status);
		fix(it,
		    "put the policy file at /.well-known/mta-sts.txt "
		    "in the web root of %s",
		    c->host);
		return;
	}
	add(c, "host.status", STS_CHECK_PASS, RFC_FETCH, c->host,
	    "HTTP status 200");
	if (fe->content_type[0] == '\0') {
		it = add(c, "host.content_type", STS_CHECK_FAIL, RFC_POLICY,
		    c->host,
		    "no Content-Type: senders expect text/plain and may "
		    "refuse the policy");
		fix(it, "serve mta-sts.txt as text/plain (nginx: types { "
			"text/plain txt; })");
	} else if (!is_text_plain(fe->content_type)) {
		it = add(c, "host.content_type", STS_CHECK_FAIL, RFC_POLICY,
		    c->host,
		    "Content-Type '%s', not text/plain: senders refuse the "
		    "policy",
		    fe->content_type);
		fix(it, "serve mta-sts.txt as text/plain (nginx: types { "
			"text/plain txt; } or default_type text/plain)");
	} else {
		add(c, "host.content_type", STS_CHECK_PASS, RFC_POLICY, c->host,
		    "Content-Type '%s'", fe->content_type);
	}
	if (fe->status == STS_ETOOBIG) {
		it = add(c, "host.size", STS_CHECK_FAIL, RFC_FETCH, c->host,
		    "%s; senders stop reading at 64 KiB", fe->reason);
		fix(it, "shorten the policy: list mx patterns only (use "
			"wildcards for many hosts)");
	} else if (fe->status == STS_OK &&
		   fe->body_len >= STS_POLICY_NEAR_CAP_BYTES) {
		it = add(c, "host.size", STS_CHECK_WARN, RFC_FETCH, c->host,
		    "policy has %zu bytes, near the 64 KiB senders accept",
		    fe->body_len);
		fix(it, "shorten the policy");
	} else if (fe->status == STS_OK) {
		add(c, "host.size", STS_CHECK_PASS, RFC_FETCH, c->host,
		    "%zu bytes", fe->body_len);
	}
}

static void
check_host(struct ctx *c)
{
	const struct sts_check_facts *f = c->f;
	const struct sts_check_lookup *l = &f->host_addr;
	struct sts_check_item *it;
	char list[STS_CHECK_MESSAGE_MAX / 2];

	if (f->proxied) {
		const struct sts_check_fetch *fe = &f->fetch[0];

		if (!fe->done)
			return;
		if (fe->status == STS_OK) {
			add(c, "host.fetch", STS_CHECK_PASS, RFC_FETCH, c->host,
			    "policy fetched through the proxy (HTTP 200, %zu "
			    "bytes)",
			    fe->body_len);
		} else {
			it = add(c, "host.fetch", STS_CHECK_FAIL, RFC_FETCH,
			    c->host, "fetch through the proxy failed: %s",
			    fe->reason);
			fix(it, "see the other host.* items");
		}
		check_host_tls(c);
		check_http(c);
		return;
	}
	if (!l->done)
		return;
	if (l->status == STS_ENOTFOUND && c->not_needed) {
		add(c, "host.address", STS_CHECK_PASS, RFC_FETCH, c->host,
		    "no policy host, and none needed (null MX)");
		return;
	}
	if (l->status == STS_ENOTFOUND) {
		it = add(c, "host.address", STS_CHECK_FAIL, RFC_FETCH, c->host,
		    "%s has no A or AAAA record (%s): senders cannot fetch "
		    "the policy",
		    c->host, notfound_word(l));
		fix(it,
		    "publish A (and AAAA) records for %s pointing to the "
		    "web server that serves the policy",
		    c->host);
		return;
	}
	if (l->status != STS_OK) {
		it = add(c, "host.address", STS_CHECK_FAIL, RFC_FETCH, c->host,
		    "address lookup of %s failed: %s", c->host, l->reason);
		fix(it, "make the name servers of %s answer for %s", f->domain,
		    c->host);
		return;
	}
	addr_list(f->host_addrs, f->n_host_addrs, list, sizeof(list));
	add(c, "host.address", STS_CHECK_PASS, RFC_FETCH, c->host, "%s", list);
	check_family(c, 0);
	check_family(c, 1);
	check_host_tls(c);
	check_http(c);
	if (f->fetch[0].done && f->fetch[1].done &&
	    f->fetch[0].status == STS_OK && f->fetch[1].status == STS_OK) {
		if (f->fetch[0].body_len != f->fetch[1].body_len ||
		    memcmp(f->fetch[0].body, f->fetch[1].body,
			f->fetch[0].body_len) != 0) {
			it = add(c, "host.same_policy", STS_CHECK_FAIL,
			    RFC_FETCH, c->host,
			    "IPv4 (%s) and IPv6 (%s) serve different "
			    "policies: what a sender caches depends on its "
			    "network",
			    f->fetch[0].address, f->fetch[1].address);
			fix(it, "serve the same file on every address of %s",
			    c->host);
		} else {
			add(c, "host.same_policy", STS_CHECK_PASS, RFC_FETCH,
			    c->host, "IPv4 and IPv6 serve the same policy");
		}
	}
}

/* ---- policy ------------------------------------------------------------- */

static const struct sts_check_mx *
mx_at(const struct sts_check_facts *f, size_t i)
{
	return &f->mxs[i];
}

/* MX hosts to judge: none for a failed lookup or a null MX. */
static bool
have_mx_hosts(const struct sts_check_facts *f)
{
	return f->mx.done && !f->null_mx && f->n_mx > 0 &&
	       (f->mx.status == STS_OK || f->implicit_mx);
}

static const char *
matching_pattern(const struct sts_policy *pol, const char *host)
{
	for (size_t i = 0; i < pol->n_mx; i++)
		if (sts_mxmatch(pol->mx[i], host))
			return pol->mx[i];
	return NULL;
}

static void
check_policy_body(
    struct ctx *c, const char *body, size_t len, const char *source)
{
	const struct sts_check_facts *f = c->f;
	struct sts_policy *pol = NULL;
	struct sts_diag diag = {0};
	struct sts_check_item *it;
	char age[48], findings[STS_CHECK_MESSAGE_MAX] = "";
	bool stale = false;
	unsigned w;
	int r;

	r = sts_policy_parse(body, len, &pol, &diag);
	if (r == STS_ENOMEM) {
		c->oom = true;
		return;
	}
	if (r != STS_OK) {
		if (diag.line > 0)
			it = add(c, "policy.syntax", STS_CHECK_FAIL, RFC_POLICY,
			    source, "line %d: %s; senders discard the policy",
			    diag.line, diag.message);
		else
			it = add(c, "policy.syntax", STS_CHECK_FAIL, RFC_POLICY,
			    source, "%s; senders discard the policy",
			    diag.message);
		fix(it, "correct the policy file (check it with 'mta-sts "
			"lint policy FILE'), publish it and bump the id");
		return;
	}
	c->r->policy = pol;
	c->pol = pol;
	add(c, "policy.syntax", STS_CHECK_PASS, RFC_POLICY, source,
	    "valid STSv1 policy: mode %s, max_age %u, %zu mx pattern%s",
	    sts_mode_name(pol->mode), pol->max_age, pol->n_mx,
	    pol->n_mx == 1 ? "" : "s");

	switch (pol->mode) {
	case STS_MODE_ENFORCE:
		add(c, "policy.mode", STS_CHECK_PASS, RFC_APPLY, source,
		    "enforce: senders refuse MX hosts that fail validation");
		break;
	case STS_MODE_TESTING:
		it = add(c, "policy.mode", STS_CHECK_WARN, RFC_APPLY, source,
		    "testing: failures are only reported (TLS-RPT); mail is "
		    "delivered anyway, so nothing is protected yet");
		fix(it, "when readiness.enforce passes, switch with "
			"'mta-sts policy enforce FILE'");
		break;
	case STS_MODE_NONE:
		it = add(c, "policy.mode", STS_CHECK_WARN, RFC_APPLY, source,
		    "none: MTA-STS is switched off (the way to remove it, "
		    "RFC 8461 §8.3)");
		fix(it, "unless MTA-STS is being removed, use testing or "
			"enforce");
		break;
	}

	w = sts_policy_warnings(pol);
	age_text(pol->max_age, age, sizeof(age));
	if (pol->mode == STS_MODE_ENFORCE && pol->max_age == 0) {
		it =
		    add(c, "policy.max_age", STS_CHECK_FAIL, RFC_MAXAGE, source,
			"max_age 0 with enforce: senders never cache the "
			"policy, so an attacker who blocks its discovery "
			"defeats it");
		fix(it, "use max_age 604800 (a week) or more; 31557600 once "
			"stable");
	} else if (w & (STS_WARN_ENFORCE_SHORT_AGE | STS_WARN_TESTING_AGE |
			   STS_WARN_ZERO_AGE)) {
		enum sts_policy_warning bit = (w & STS_WARN_ENFORCE_SHORT_AGE)
						  ? STS_WARN_ENFORCE_SHORT_AGE
					      : (w & STS_WARN_TESTING_AGE)
						  ? STS_WARN_TESTING_AGE
						  : STS_WARN_ZERO_AGE;

		it =
		    add(c, "policy.max_age", STS_CHECK_WARN, RFC_MAXAGE, source,
			"max_age %s: %s", age, sts_policy_warning_text(bit));
		fix(it, "%s",
		    pol->mode == STS_MODE_ENFORCE
			? "use max_age 604800 (a week) or more with enforce"
			: "use max_age 604800 to 1209600 (one to two weeks) "
			  "while testing");
	} else {
		add(c, "policy.max_age", STS_CHECK_PASS, RFC_MAXAGE, source,
		    "max_age %s suits mode %s", age, sts_mode_name(pol->mode));
	}

	if (w & STS_WARN_DUPLICATE_MX)
		cat(findings, sizeof(findings), "%s%s", findings[0] ? "; " : "",
		    sts_policy_warning_text(STS_WARN_DUPLICATE_MX));
	if (w & STS_WARN_BLANK_LINES)
		cat(findings, sizeof(findings), "%s%s", findings[0] ? "; " : "",
		    sts_policy_warning_text(STS_WARN_BLANK_LINES));
	if (w & STS_WARN_NEAR_CAP)
		cat(findings, sizeof(findings), "%s%s", findings[0] ? "; " : "",
		    sts_policy_warning_text(STS_WARN_NEAR_CAP));
	if (w & STS_WARN_NONE_WITH_MX)
		cat(findings, sizeof(findings), "%s%s", findings[0] ? "; " : "",
		    sts_policy_warning_text(STS_WARN_NONE_WITH_MX));
	if (findings[0]) {
		it = add(c, "policy.lint", STS_CHECK_WARN, RFC_POLICY, source,
		    "%s", findings);
		fix(it, "see 'mta-sts lint policy FILE'");
	} else {
		add(c, "policy.lint", STS_CHECK_PASS, RFC_POLICY, source,
		    "no lint findings");
	}

	if (!have_mx_hosts(f) || pol->mode == STS_MODE_NONE)
		return;
	for (size_t i = 0; i < f->n_mx; i++) {
		const struct sts_check_mx *mx = mx_at(f, i);
		const char *pat = matching_pattern(pol, mx->host);

		if (pat != NULL) {
			add(c, "policy.mx_covered", STS_CHECK_PASS, RFC_MATCH,
			    mx->host, "%s matches mx pattern '%s'", mx->host,
			    pat);
			continue;
		}
		it = add(c, "policy.mx_covered",
		    pol->mode == STS_MODE_ENFORCE ? STS_CHECK_FAIL
						  : STS_CHECK_WARN,
		    RFC_MATCH, mx->host, "no mx pattern matches %s%s: %s",
		    mx->host, f->implicit_mx ? " (the implicit MX)" : "",
		    pol->mode == STS_MODE_ENFORCE
			? "senders refuse to deliver to it"
			: "senders report a failure for it (and deliver)");
		fix(it,
		    "add 'mx: %s' to the policy, publish it, then bump "
		    "the TXT id",
		    mx->host);
	}
	for (size_t k = 0; k < pol->n_mx; k++) {
		bool used = false;

		for (size_t i = 0; i < f->n_mx && !used; i++)
			used = sts_mxmatch(pol->mx[k], mx_at(f, i)->host);
		if (used)
			continue;
		stale = true;
		it = add(c, "policy.mx_stale", STS_CHECK_WARN, RFC_MATCH,
		    pol->mx[k], "mx pattern '%s' matches no current MX host",
		    pol->mx[k]);
		fix(it, "remove it if that host is retired: a stale pattern "
			"still lets a server by that name receive the mail");
	}
	if (!stale && pol->n_mx > 0)
		add(c, "policy.mx_stale", STS_CHECK_PASS, RFC_MATCH, source,
		    "every mx pattern matches a current MX host");
}

static void
check_policy(struct ctx *c)
{
	const struct sts_check_facts *f = c->f;

	if (f->local_policy != NULL) {
		c->r->policy_is_local = true;
		check_policy_body(
		    c, f->local_policy, f->local_policy_len, "local file");
		return;
	}
	for (int i = 0; i < 2; i++) {
		if (f->fetch[i].done && f->fetch[i].status == STS_OK &&
		    f->fetch[i].body != NULL) {
			check_policy_body(
			    c, f->fetch[i].body, f->fetch[i].body_len, c->host);
			return;
		}
	}
}

/* ---- mx ----------------------------------------------------------------- */

static bool
probe_unreached(const struct sts_smtp_probe_result *res)
{
	return res->status == STS_ETEMP || res->status == STS_ENOMEM;
}

static void
check_probe(struct ctx *c, const struct sts_check_mx *mx,
    const struct sts_check_probe *p)
{
	const struct sts_smtp_probe_result *res = &p->result;
	struct sts_check_item *it;
	char subject[STS_CHECK_SUBJECT_MAX];

	snprintf(subject, sizeof(subject), "%s [%s]", mx->host, res->address);
	if (p->start_error != STS_OK) {
		it = add(c, "mx.starttls", STS_CHECK_WARN, RFC_STARTTLS,
		    subject, "not probed: %s", sts_strerror(p->start_error));
		fix(it,
		    "run the check where a TCP connection to port %u is "
		    "possible",
		    c->f->smtp_port);
		return;
	}
	if (!p->done)
		return;
	if (res->failed_stage < STS_PROBE_HANDSHAKE) {
		if (probe_unreached(res)) {
			it = add(c, "mx.starttls", STS_CHECK_WARN, RFC_STARTTLS,
			    subject, "could not check STARTTLS: %s",
			    res->reason);
			fix(it,
			    "check that %s accepts SMTP on port %u from "
			    "the Internet (many networks block outgoing "
			    "port 25: run the check from a server)",
			    mx->host, c->f->smtp_port);
		} else {
			it = add(c, "mx.starttls", STS_CHECK_FAIL, RFC_STARTTLS,
			    subject, "%s", res->reason);
			fix(it, "enable STARTTLS on this MTA (Postfix: "
				"smtpd_tls_security_level = may and "
				"smtpd_tls_chain_files)");
		}
		return;
	}
	add(c, "mx.starttls", STS_CHECK_PASS, RFC_STARTTLS, subject,
	    "STARTTLS offered and accepted (banner: %d %s)", res->banner_code,
	    res->banner);
	if (!res->tls) {
		if (probe_unreached(res)) {
			it = add(c, "mx.tls_version", STS_CHECK_WARN,
			    RFC_TLSVER, subject, "TLS handshake incomplete: %s",
			    res->reason);
			fix(it, "retry; check the MTA's TLS logs");
		} else {
			it = add(c, "mx.tls_version", STS_CHECK_FAIL,
			    RFC_TLSVER, subject, "%s", res->reason);
			fix(it, "check the MTA's TLS setup: certificate, key "
				"and protocols (TLS 1.2 and 1.3 on)");
		}
		return;
	}
	if (res->tls_version_num < TLS1_2_NUM) {
		it = add(c, "mx.tls_version", STS_CHECK_FAIL, RFC_TLSVER,
		    subject,
		    "%s negotiated: MTA-STS senders need TLS 1.2 or newer",
		    res->tls_version);
		fix(it, "enable TLS 1.2 and 1.3 (Postfix: "
			"smtpd_tls_protocols = >=TLSv1.2)");
	} else {
		add(c, "mx.tls_version", STS_CHECK_PASS, RFC_TLSVER, subject,
		    "%s, %s", res->tls_version, res->cipher);
	}
	cert_items(c, "mx.cert_trust", "mx.cert_name", "mx.cert_expiry",
	    RFC_MXCERT, subject, res,
	    "install a certificate from a public CA (e.g. Let's Encrypt) "
	    "with its full chain; MTA-STS needs PKIX trust");
}

static void
check_mx(struct ctx *c)
{
	const struct sts_check_facts *f = c->f;
	const struct sts_check_lookup *l = &f->mx;
	struct sts_check_item *it;
	char list[STS_CHECK_MESSAGE_MAX / 2] = "";

	if (!l->done)
		return;
	if (f->null_mx) {
		if (c->txt_ok) {
			it = add(c, "mx.records", STS_CHECK_WARN, RFC_MXREC,
			    f->domain,
			    "null MX: %s accepts no mail, so MTA-STS "
			    "protects nothing",
			    f->domain);
			fix(it, "remove the MTA-STS records, or publish real "
				"MX records");
		} else {
			add(c, "mx.records", STS_CHECK_PASS, RFC_MXREC,
			    f->domain, "null MX: %s accepts no mail",
			    f->domain);
		}
		return;
	}
	if (f->implicit_mx) {
		it = add(c, "mx.records", STS_CHECK_WARN, RFC_MXREC, f->domain,
		    "no MX records: senders deliver to %s itself (implicit "
		    "MX)",
		    f->domain);
		fix(it, "publish MX records; the policy needs an mx line for "
			"each MX host");
	} else if (l->status != STS_OK) {
		it = add(c, "mx.records", STS_CHECK_FAIL, RFC_MXREC, f->domain,
		    "MX lookup of %s failed: %s", f->domain, l->reason);
		fix(it, "make the name servers of %s answer MX queries",
		    f->domain);
		return;
	} else {
		for (size_t i = 0; i < f->n_mx && i < 6; i++)
			cat(list, sizeof(list), "%s%u %s", i ? ", " : "",
			    mx_at(f, i)->pref, mx_at(f, i)->host);
		if (f->n_mx > 6)
			cat(list, sizeof(list), ", ...");
		if (f->n_mx_total > f->n_mx)
			cat(list, sizeof(list),
			    " (only the first %zu of %zu "
			    "checked)",
			    f->n_mx, f->n_mx_total);
		add(c, "mx.records", STS_CHECK_PASS, RFC_MXREC, f->domain,
		    "%zu MX: %s", f->n_mx_total, list);
	}
	for (size_t i = 0; i < f->n_mx; i++) {
		const struct sts_check_mx *mx = mx_at(f, i);

		if (!mx->addr.done)
			continue;
		if (mx->addr.status == STS_ENOTFOUND) {
			it = add(c, "mx.address", STS_CHECK_FAIL, RFC_MXREC,
			    mx->host, "%s has no A or AAAA record (%s)",
			    mx->host, notfound_word(&mx->addr));
			fix(it, "publish its address, or remove the MX "
				"record");
			continue;
		}
		if (mx->addr.status != STS_OK) {
			it = add(c, "mx.address", STS_CHECK_FAIL, RFC_MXREC,
			    mx->host, "address lookup failed: %s",
			    mx->addr.reason);
			fix(it, "make the name servers of %s answer", mx->host);
			continue;
		}
		addr_list(mx->addrs, mx->n_addrs, list, sizeof(list));
		add(c, "mx.address", STS_CHECK_PASS, RFC_MXREC, mx->host, "%s",
		    list);
		for (size_t k = 0; k < mx->n_probes; k++)
			check_probe(c, mx, &mx->probes[k]);
	}
}

/* ---- tlsrpt ------------------------------------------------------------- */

static void
check_tlsrpt(struct ctx *c)
{
	const struct sts_check_facts *f = c->f;
	const struct sts_check_lookup *l = &f->tlsrpt;
	const struct sts_txt_record *chosen = NULL;
	struct sts_tlsrpt *t = NULL;
	struct sts_diag diag = {0};
	struct sts_check_item *it;
	char name[STS_DOMAIN_MAX + 16], list[STS_CHECK_MESSAGE_MAX / 2] = "";
	size_t n = 0;
	int r;

	snprintf(name, sizeof(name), "_smtp._tls.%s", f->domain);
	if (!l->done)
		return;
	if (l->status == STS_OK)
		for (size_t i = 0; i < f->n_tlsrpt; i++)
			if (starts_with(&f->tlsrpt_records[i],
				f->n_tlsrpt == 1 ? "v=TLSRPTv1"
						 : "v=TLSRPTv1;") &&
			    n++ == 0)
				chosen = &f->tlsrpt_records[i];
	if (l->status == STS_ENOTFOUND && c->not_needed) {
		add(c, "tlsrpt.record", STS_CHECK_PASS, RFC_TLSRPT, name,
		    "no TLS-RPT record, and none needed (null MX)");
		return;
	}
	if (l->status == STS_ENOTFOUND || (l->status == STS_OK && n == 0)) {
		it = add(c, "tlsrpt.record", STS_CHECK_WARN, RFC_TLSRPT, name,
		    "no TLS-RPT record at %s: senders send no reports of TLS "
		    "failures%s",
		    name,
		    c->txt_ok ? ", although MTA-STS is deployed (RFC 8461 §6)"
			      : "");
		fix(it,
		    "publish %s. IN TXT \"v=TLSRPTv1; "
		    "rua=mailto:tlsrpt@%s\"",
		    name, f->domain);
		return;
	}
	if (l->status != STS_OK) {
		it = add(c, "tlsrpt.record", STS_CHECK_FAIL, RFC_TLSRPT, name,
		    "TXT lookup of %s failed: %s", name, l->reason);
		fix(it, "make the name servers of %s answer for %s", f->domain,
		    name);
		return;
	}
	if (n > 1) {
		it = add(c, "tlsrpt.record", STS_CHECK_FAIL, RFC_TLSRPT, name,
		    "%zu records begin with 'v=TLSRPTv1;': senders use none",
		    n);
		fix(it, "delete all but one TLS-RPT record at %s", name);
		return;
	}
	add(c, "tlsrpt.record", STS_CHECK_PASS, RFC_TLSRPT, name,
	    "one TLS-RPT record");
	r = sts_tlsrpt_parse_record(chosen->data, chosen->len, &t, &diag);
	if (r == STS_ENOMEM) {
		c->oom = true;
		return;
	}
	if (r != STS_OK) {
		it = add(c, "tlsrpt.rua", STS_CHECK_FAIL, RFC_TLSRPT, name,
		    "%s: senders send no reports", diag.message);
		fix(it, "publish \"v=TLSRPTv1; rua=mailto:ADDRESS\" (or "
			"https:); %%-encode ',', '!' and ';' inside URIs");
		return;
	}
	for (size_t i = 0; i < t->n_rua; i++)
		cat(list, sizeof(list), "%s%s", i ? ", " : "", t->rua[i]);
	if (t->n_ignored > 0) {
		it = add(c, "tlsrpt.rua", STS_CHECK_WARN, RFC_TLSRPT, name,
		    "rua '%s' has a scheme other than mailto: or https: and "
		    "is ignored; reports go to %s",
		    t->ignored[0], list);
		fix(it, "use only mailto: and https: URIs");
	} else {
		add(c, "tlsrpt.rua", STS_CHECK_PASS, RFC_TLSRPT, name,
		    "reports go to %s", list);
	}
	sts_tlsrpt_free(t);
}

/* ---- dane --------------------------------------------------------------- */

static bool
tlsa_matches(const struct sts_dns_tlsa *t, const struct sts_smtp_probe_cert *c)
{
	const uint8_t *d = NULL;
	size_t len = 0;

	if (t->mtype == 1) {
		d = t->selector == 0 ? c->cert_sha256 : c->spki_sha256;
		len = 32;
	} else if (t->mtype == 2) {
		d = t->selector == 0 ? c->cert_sha512 : c->spki_sha512;
		len = 64;
	}
	return d != NULL && t->selector <= 1 && t->len == len &&
	       memcmp(t->data, d, len) == 0;
}

/* Does a usable record (DANE-TA 2, DANE-EE 3) match the presented chain?
 * DANE-EE against the leaf, DANE-TA against any certificate sent. */
static bool
dane_match(const struct sts_check_mx *mx, const struct sts_smtp_probe_result *r)
{
	for (size_t i = 0; i < mx->n_tlsa; i++) {
		const struct sts_dns_tlsa *t = &mx->tlsa_records[i];

		if (t->usage == 3 && r->n_chain > 0 &&
		    tlsa_matches(t, &r->chain[0]))
			return true;
		if (t->usage == 2)
			for (size_t k = 0; k < r->n_chain; k++)
				if (tlsa_matches(t, &r->chain[k]))
					return true;
	}
	return false;
}

static void
check_dane_host(struct ctx *c, const struct sts_check_mx *mx)
{
	const struct sts_check_facts *f = c->f;
	const struct sts_check_lookup *l = &mx->tlsa;
	struct sts_check_item *it;
	char name[STS_DOMAIN_MAX + 16];
	size_t usable = 0, full = 0, compared = 0, matched = 0;

	snprintf(name, sizeof(name), "_25._tcp.%s", mx->host);
	if (!l->done)
		return;
	if (l->status == STS_ENOTFOUND) {
		add(c, "dane.tlsa", STS_CHECK_PASS, RFC_DANE, mx->host,
		    "no TLSA records at %s: DANE does not apply to %s", name,
		    mx->host);
		return;
	}
	if (l->status != STS_OK) {
		if (!f->dnssec_validating) {
			add(c, "dane.tlsa", STS_CHECK_PASS, RFC_DANE, mx->host,
			    "TLSA lookup of %s failed (%s); DNSSEC not "
			    "validated here, DANE not judged",
			    name, l->reason);
			return;
		}
		it = add(c, "dane.tlsa", STS_CHECK_FAIL, RFC_DANE, mx->host,
		    "TLSA lookup of %s failed: %s; DANE senders defer mail "
		    "to %s (RFC 7672 §2.1.1)",
		    name, l->reason, mx->host);
		fix(it, "make the name servers answer TLSA queries (with "
			"valid DNSSEC signatures or an authenticated denial)");
		return;
	}
	if (!f->dnssec_validating) {
		add(c, "dane.tlsa", STS_CHECK_PASS, RFC_DANE, mx->host,
		    "%zu TLSA record%s at %s; DNSSEC not validated here, DANE "
		    "not judged",
		    mx->n_tlsa, mx->n_tlsa == 1 ? "" : "s", name);
		return;
	}
	if (l->security != STS_DNS_SECURE) {
		it = add(c, "dane.tlsa", STS_CHECK_WARN, RFC_DANE, mx->host,
		    "TLSA records at %s are not DNSSEC-signed: senders "
		    "ignore them",
		    name);
		fix(it,
		    "sign the zone of %s with DNSSEC, or remove the TLSA "
		    "records",
		    mx->host);
		return;
	}
	if (!f->implicit_mx && f->mx.security != STS_DNS_SECURE) {
		it = add(c, "dane.tlsa", STS_CHECK_WARN, RFC_DANE_MX, mx->host,
		    "TLSA records at %s are signed but the MX RRset of %s "
		    "is not: DANE senders never look them up",
		    name, f->domain);
		fix(it, "sign the zone of %s with DNSSEC", f->domain);
		return;
	}
	if (mx->addr.done && mx->addr.status == STS_OK &&
	    mx->addr.security != STS_DNS_SECURE) {
		it = add(c, "dane.tlsa", STS_CHECK_WARN, "RFC 7672 §2.2.2",
		    mx->host,
		    "TLSA records at %s are signed but the address records "
		    "of %s are not: DANE senders ignore them",
		    name, mx->host);
		fix(it, "sign the zone that holds the address of %s", mx->host);
		return;
	}
	for (size_t i = 0; i < mx->n_tlsa; i++) {
		const struct sts_dns_tlsa *t = &mx->tlsa_records[i];

		if (t->usage == 2 || t->usage == 3) {
			usable++;
			if (t->mtype == 0)
				full++;
		}
	}
	if (usable == 0) {
		it = add(c, "dane.tlsa", STS_CHECK_WARN, RFC_DANE, mx->host,
		    "%zu TLSA record%s at %s but none is DANE-TA(2) or "
		    "DANE-EE(3): SMTP senders treat PKIX-TA(0)/PKIX-EE(1) as "
		    "unusable (RFC 7672 §3.1.3)",
		    mx->n_tlsa, mx->n_tlsa == 1 ? "" : "s", name);
		fix(it, "publish '3 1 1 <SHA-256 of the public key>' records");
		return;
	}
	for (size_t k = 0; k < mx->n_probes; k++) {
		const struct sts_check_probe *p = &mx->probes[k];

		if (!p->done || p->start_error != STS_OK ||
		    !p->result.have_cert)
			continue;
		compared++;
		if (dane_match(mx, &p->result)) {
			matched++;
			continue;
		}
		if (full == usable)
			continue; /* only full-data records: not compared */
		it = add(c, "dane.tlsa", STS_CHECK_FAIL, RFC_DANE, mx->host,
		    "no usable TLSA record at %s matches the certificate %s "
		    "presents at %s: DANE senders refuse to deliver",
		    name, mx->host, p->result.address);
		fix(it, "publish TLSA records for the current key before "
			"deploying it (e.g. '3 1 1' of the public key), keep "
			"old ones until the new key is live");
		return;
	}
	if (compared == 0 || (full == usable && matched < compared)) {
		it = add(c, "dane.tlsa", STS_CHECK_WARN, RFC_DANE, mx->host,
		    "%zu usable TLSA record%s at %s, not compared with the "
		    "certificate (%s)",
		    usable, usable == 1 ? "" : "s", name,
		    compared == 0 ? "no TLS connection"
				  : "full-data records only");
		fix(it, "run the check where port %u of %s is reachable",
		    f->smtp_port, mx->host);
		return;
	}
	add(c, "dane.tlsa", STS_CHECK_PASS, RFC_DANE, mx->host,
	    "%zu usable TLSA record%s at %s match%s the certificate on every "
	    "probed address: DANE protects %s",
	    usable, usable == 1 ? "" : "s", name, usable == 1 ? "es" : "",
	    mx->host);
}

static void
check_dane(struct ctx *c)
{
	const struct sts_check_facts *f = c->f;

	if (!f->mx.done || f->null_mx)
		return;
	dnssec_item(c, "dane.dnssec", RFC_DANE_MX, &f->mx, f->domain,
	    ": DANE (TLSA) can protect the MX hosts",
	    "DANE cannot apply to its MX hosts; MTA-STS is their "
	    "protection");
	if (!have_mx_hosts(f))
		return;
	for (size_t i = 0; i < f->n_mx; i++)
		check_dane_host(c, mx_at(f, i));
}

/* ---- readiness ---------------------------------------------------------- */

static void block(struct ctx *c, const char *host, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
block(struct ctx *c, const char *host, const char *fmt, ...)
{
	struct sts_check_report *r = c->r;
	struct sts_check_blocker *b;
	va_list ap;

	for (size_t i = 0; i < r->n_blockers; i++)
		if (strcmp(r->blockers[i].host, host) == 0)
			return; /* one reason per host is enough */
	b = realloc(r->blockers, (r->n_blockers + 1) * sizeof(*b));
	if (b == NULL) {
		c->oom = true;
		return;
	}
	r->blockers = b;
	b = &r->blockers[r->n_blockers++];
	snprintf(b->host, sizeof(b->host), "%s", host);
	va_start(ap, fmt);
	vsnprintf(b->why, sizeof(b->why), fmt, ap);
	va_end(ap);
}

/* Why this probe's MX would fail MTA-STS validation; NULL if it passes. */
static const char *
probe_blocks(const struct ctx *c, const struct sts_smtp_probe_result *res)
{
	if (res->failed_stage < STS_PROBE_HANDSHAKE)
		return "STARTTLS not available";
	if (!res->tls)
		return "TLS handshake fails";
	if (res->tls_version_num < TLS1_2_NUM)
		return "TLS older than 1.2";
	if (!res->have_cert || !res->chain_trusted)
		return "certificate not trusted";
	if (!res->name_ok)
		return "certificate not valid for the MX name";
	if (res->not_after <= c->f->now || res->not_before > c->f->now ||
	    !res->dates_ok)
		return "certificate expired or not yet valid";
	return NULL;
}

static void
check_readiness(struct ctx *c)
{
	const struct sts_check_facts *f = c->f;
	const struct sts_policy *pol = c->pol;
	struct sts_check_report *r = c->r;
	struct sts_check_item *it;
	char unknown[STS_CHECK_MESSAGE_MAX / 2] = "", list[320] = "";
	const char *with = r->policy_is_local ? "with the local policy, " : "";
	size_t n_hosts = 0, n_unknown = 0;

	if (pol == NULL && c->not_needed) {
		snprintf(r->readiness, sizeof(r->readiness),
		    "null MX: no mail, nothing to enforce");
		return;
	}
	if (pol == NULL) {
		snprintf(r->readiness, sizeof(r->readiness),
		    "no valid policy: nothing to enforce");
		if (f->txt.done || f->local_policy)
			add(c, "readiness.enforce", STS_CHECK_WARN, RFC_APPLY,
			    f->domain, "%s", r->readiness);
		return;
	}
	if (!have_mx_hosts(f)) {
		snprintf(r->readiness, sizeof(r->readiness), "%s",
		    f->null_mx ? "null MX: no mail to protect"
			       : "MX hosts unknown (MX lookup failed)");
		add(c, "readiness.enforce", STS_CHECK_WARN, RFC_APPLY,
		    f->domain, "%s", r->readiness);
		return;
	}
	for (size_t i = 0; i < f->n_mx; i++) {
		const struct sts_check_mx *mx = mx_at(f, i);
		size_t probed = 0;

		if (mx->host[0] == '\0')
			continue;
		n_hosts++;
		if (matching_pattern(pol, mx->host) == NULL)
			block(c, mx->host, "no mx pattern matches it");
		if (!mx->addr.done || mx->addr.status != STS_OK)
			continue; /* no address: not reachable either way */
		for (size_t k = 0; k < mx->n_probes; k++) {
			const struct sts_check_probe *p = &mx->probes[k];
			const char *why;

			if (!p->done || p->start_error != STS_OK ||
			    probe_unreached(&p->result)) {
				if (n_unknown++ < 3)
					cat(unknown, sizeof(unknown),
					    "%s%s [%s]",
					    n_unknown > 1 ? ", " : "", mx->host,
					    p->result.address);
				continue;
			}
			probed++;
			if ((why = probe_blocks(c, &p->result)) != NULL)
				block(c, mx->host, "%s at %s", why,
				    p->result.address);
		}
		if (probed == 0 && mx->n_probes == 0 && n_unknown++ < 3)
			cat(unknown, sizeof(unknown), "%s%s (not probed)",
			    n_unknown > 1 ? ", " : "", mx->host);
	}
	for (size_t i = 0; i < r->n_blockers && i < 4; i++)
		cat(list, sizeof(list), "%s%s (%s)", i ? ", " : "",
		    r->blockers[i].host, r->blockers[i].why);
	if (r->n_blockers > 4)
		cat(list, sizeof(list), ", ...");

	if (r->n_blockers > 0) {
		snprintf(r->readiness, sizeof(r->readiness),
		    "%senforce would refuse mail to %zu of %zu MX host%s: %s",
		    with, r->n_blockers, n_hosts, n_hosts == 1 ? "" : "s",
		    list);
		if (pol->mode == STS_MODE_ENFORCE && !r->policy_is_local) {
			it = add(c, "readiness.enforce", STS_CHECK_FAIL,
			    RFC_APPLY, f->domain,
			    "mode enforce is refusing mail to %zu of %zu MX "
			    "host%s: %s",
			    r->n_blockers, n_hosts, n_hosts == 1 ? "" : "s",
			    list);
			fix(it, "fix those MX hosts or cover them in the "
				"policy; or go back to mode testing (publish, "
				"then bump the id)");
		} else {
			it = add(c, "readiness.enforce", STS_CHECK_WARN,
			    RFC_APPLY, f->domain,
			    "%sswitching to enforce now would refuse mail to "
			    "%s",
			    with, list);
			fix(it, "fix the MX hosts listed before switching to "
				"enforce");
		}
		return;
	}
	if (n_unknown > 0) {
		snprintf(r->readiness, sizeof(r->readiness),
		    "%scannot confirm: %s%s could not be probed", with, unknown,
		    n_unknown > 3 ? ", ..." : "");
		it = add(c, "readiness.enforce", STS_CHECK_WARN, RFC_APPLY,
		    f->domain, "%s", r->readiness);
		fix(it,
		    "run the check where port %u of every MX host is "
		    "reachable",
		    f->smtp_port);
		return;
	}
	r->enforce_ready = true;
	if (pol->mode == STS_MODE_ENFORCE && !r->policy_is_local)
		snprintf(r->readiness, sizeof(r->readiness),
		    "mode enforce refuses mail to none of the MX hosts (%zu "
		    "checked)",
		    n_hosts);
	else
		snprintf(r->readiness, sizeof(r->readiness),
		    "%sswitching to enforce now would refuse mail to none of "
		    "the MX hosts (%zu checked)",
		    with, n_hosts);
	add(c, "readiness.enforce", STS_CHECK_PASS, RFC_APPLY, f->domain, "%s",
	    r->readiness);
}

/* ---- entry points ------------------------------------------------------- */

int
sts_check_evaluate(
    const struct sts_check_facts *facts, struct sts_check_report **ret_report)
{
	struct ctx c = {0};
	struct sts_check_report *r;

	if (facts == NULL || facts->domain == NULL || ret_report == NULL ||
	    strlen(facts->domain) > STS_DOMAIN_MAX)
		return STS_EINVAL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return STS_ENOMEM;
	c.f = facts;
	c.r = r;
	c.warn_days = facts->expiry_warn_days ? facts->expiry_warn_days
					      : STS_CHECK_EXPIRY_WARN_DAYS;
	snprintf(r->domain, sizeof(r->domain), "%s", facts->domain);
	snprintf(c.host, sizeof(c.host), "mta-sts.%s", facts->domain);
	r->verdict = STS_CHECK_PASS;
	c.not_needed = facts->null_mx && facts->txt.done &&
		       facts->txt.status == STS_ENOTFOUND &&
		       facts->local_policy == NULL;

	check_txt(&c);
	check_host(&c);
	check_policy(&c);
	check_mx(&c);
	check_tlsrpt(&c);
	check_dane(&c);
	check_readiness(&c);

	if (c.oom) {
		sts_check_report_free(r);
		return STS_ENOMEM;
	}
	*ret_report = r;
	return STS_OK;
}

void
sts_check_report_free(struct sts_check_report *report)
{
	if (report == NULL)
		return;
	sts_policy_free(report->policy);
	free(report->blockers);
	free(report->items);
	free(report);
}

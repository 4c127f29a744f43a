/*
 * tlsrpt_txt.c - the _smtp._tls TXT record (RFC 8460 §3).
 *
 *   tlsrpt-record = tlsrpt-version 1*(field-delim tlsrpt-field)
 *                   [field-delim]
 *   tlsrpt-rua    = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
 *   tlsrpt-uri    = URI (RFC 3986); ",", "!" and ";" MUST be encoded
 *
 * Only "mailto" and "https" are supported schemes (§3).  Well-formed URIs
 * of other schemes are set aside, not errors; a record left with no
 * usable URI is reported as unusable.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "diag.h"
#include "mtasts/tlsrpt.h"
#include "txtfields.h"

#define RFC "RFC 8460 §3"

struct rua_state {
	struct sts_tlsrpt *t;
	bool seen_rua;
	/* why the last mailto:/https: URI was unusable, if one was */
	bool had_unusable;
	struct sts_diag unusable;
};

static bool
is_hex(unsigned char c)
{
	return sts_is_digit(c) || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

/* RFC 3986 §2: unreserved, sub-delims (less the three RFC 8460 forbids),
 * gen-delims that may appear after the scheme. */
static bool
uri_char(unsigned char c)
{
	return sts_is_alnum(c) ||
	       (c != '\0' && strchr("-._~$&'()*+=:@/?#[]", c) != NULL);
}

/*
 * RFC 3986 §3.2.2: IP-literal = "[" ( IPv6address / IPvFuture ) "]";
 * s is what stands between the brackets.
 */
static bool
ip_literal(const char *s, size_t len)
{
	char buf[INET6_ADDRSTRLEN];
	struct in6_addr addr;
	size_t p = 1;

	if (len > 0 && (s[0] == 'v' || s[0] == 'V')) {
		/* IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims
		 * / ":" ) */
		while (p < len && is_hex((unsigned char)s[p]))
			p++;
		if (p == 1 || p + 1 >= len || s[p] != '.')
			return false;
		for (p++; p < len; p++)
			if (s[p] == '%' || s[p] == '/' || s[p] == '?' ||
			    s[p] == '#' || s[p] == '@' || s[p] == '[' ||
			    s[p] == ']')
				return false;
		return true;
	}
	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return inet_pton(AF_INET6, buf, &addr) == 1;
}

/*
 * host [ ":" port ] of an authority (RFC 3986 §3.2.2, §3.2.3).  *lit is
 * set to the length of an IP-literal host with its brackets, else 0.
 */
static const char *
hostport_error(const char *h, size_t len, size_t *lit)
{
	size_t p = 0;

	*lit = 0;
	if (len > 0 && h[0] == '[') {
		const char *close = memchr(h, ']', len);

		if (close == NULL ||
		    !ip_literal(h + 1, (size_t)(close - h) - 1))
			return "has a bad IP literal host (RFC 3986 §3.2.2)";
		p = *lit = (size_t)(close - h) + 1;
		if (p < len && h[p] != ':')
			return "has a bad IP literal host (RFC 3986 §3.2.2)";
	} else {
		while (p < len && h[p] != ':')
			p++;
	}
	/* port = *DIGIT */
	for (p++; p < len; p++)
		if (!sts_is_digit((unsigned char)h[p]))
			return "has a port that is not digits "
			       "(RFC 3986 §3.2.3)";
	return NULL;
}

/*
 * RFC 3986 §3: URI = scheme ":" hier-part [ "?" query ] [ "#" fragment ],
 * hier-part = "//" authority path-abempty / path; p is just after the
 * scheme's ":".  The bytes are known to be URI characters; this checks
 * where the delimiters stand: one "#", one "@" in the authority, a port
 * of digits, "[" and "]" only around an IP-literal host.
 */
static const char *
uri_structure_error(const char *u, size_t len, size_t p)
{
	const char *hash = memchr(u + p, '#', len - p);
	size_t host = 0, lit = 0;

	if (hash != NULL &&
	    memchr(hash + 1, '#', len - (size_t)(hash + 1 - u)) != NULL)
		return "has more than one '#' (RFC 3986 §3.5)";
	if (len - p >= 2 && u[p] == '/' && u[p + 1] == '/') {
		size_t end = p + 2;
		const char *why, *at = NULL;

		while (end < len && u[end] != '/' && u[end] != '?' &&
		    u[end] != '#')
			end++;
		for (size_t i = p + 2; i < end; i++) {
			if (u[i] != '@')
				continue;
			if (at != NULL)
				return "has more than one '@' in its authority "
				       "(RFC 3986 §3.2.1)";
			at = u + i;
		}
		host = at != NULL ? (size_t)(at + 1 - u) : p + 2;
		if ((why = hostport_error(u + host, end - host, &lit)) != NULL)
			return why;
	}
	for (size_t i = p; i < len; i++)
		if ((u[i] == '[' || u[i] == ']') &&
		    (lit == 0 || (i != host && i != host + lit - 1)))
			return "has '[' or ']' outside an IP literal host "
			       "(RFC 3986 §3.2.2)";
	return NULL;
}

static int
check_uri(const char *u, size_t len, int line, struct sts_diag *diag)
{
	size_t p = 0, rest;
	const char *why;
	char q[80];

	sts_diag_quote(u, len, q, sizeof(q));
	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
	if (len == 0 || !sts_is_alpha((unsigned char)u[0])) {
		sts_diag_set(diag, line,
		    "rua URI '%s' does not start with a scheme (" RFC
		    ", RFC 3986 §3.1)",
		    q);
		return STS_ESYNTAX;
	}
	while (p < len && (sts_is_alnum((unsigned char)u[p]) ||
			      u[p] == '+' || u[p] == '-' || u[p] == '.'))
		p++;
	if (p == len || u[p] != ':' || p + 1 == len) {
		sts_diag_set(diag, line,
		    "rua URI '%s' is not scheme:rest (" RFC ", RFC 3986 §3)",
		    q);
		return STS_ESYNTAX;
	}
	rest = p + 1;
	for (p++; p < len; p++) {
		unsigned char c = (unsigned char)u[p];

		if (c == '%') {
			if (p + 2 >= len || !is_hex((unsigned char)u[p + 1]) ||
			    !is_hex((unsigned char)u[p + 2])) {
				sts_diag_set(diag, line,
				    "rua URI '%s' has a bad %%-escape "
				    "(RFC 3986 §2.1)",
				    q);
				return STS_ESYNTAX;
			}
			p += 2;
			continue;
		}
		if (c == '!') {
			sts_diag_set(diag, line,
			    "rua URI '%s' has a literal '!'; it must be "
			    "written %%21 (" RFC ")",
			    q);
			return STS_ESYNTAX;
		}
		if (!uri_char(c)) {
			sts_diag_set(diag, line,
			    "rua URI '%s' has character '%c' not allowed in a "
			    "URI (RFC 3986 §2)",
			    q, c);
			return STS_ESYNTAX;
		}
	}
	if ((why = uri_structure_error(u, len, rest)) != NULL) {
		sts_diag_set(diag, line, "rua URI '%s' %s", q, why);
		return STS_ESYNTAX;
	}
	return STS_OK;
}

static bool
has_scheme(const char *u, size_t len, const char *scheme)
{
	size_t n = strlen(scheme);

	return len > n && strncasecmp(u, scheme, n) == 0;
}

/*
 * RFC 3986 §3.2: authority = [ userinfo "@" ] host [ ":" port ] runs to
 * the first "/", "?" or "#"; RFC 9110 §4.2.2: an https URI with an empty
 * host MUST be rejected.
 */
static bool
https_has_host(const char *a, size_t len)
{
	size_t end = 0, host = 0;

	while (end < len && a[end] != '/' && a[end] != '?' && a[end] != '#')
		end++;
	for (size_t i = 0; i < end; i++)
		if (a[i] == '@')
			host = i + 1;
	return host < end && a[host] != ':';
}

/* The scheme-specific minimum a reporter needs to use the URI. */
static int
check_usable(const char *u, size_t len, int line, struct sts_diag *diag)
{
	char q[80];

	sts_diag_quote(u, len, q, sizeof(q));
	if (has_scheme(u, len, "mailto:")) {
		const char *at = memchr(u, '@', len);

		if (at == NULL || at == u + 7 || at == u + len - 1) {
			sts_diag_set(diag, line,
			    "rua URI '%s' has no address local@domain "
			    "(RFC 6068 §2)",
			    q);
			return STS_ESYNTAX;
		}
		return STS_OK;
	}
	if (len <= 8 || memcmp(u + 6, "//", 2) != 0 ||
	    !https_has_host(u + 8, len - 8)) {
		sts_diag_set(diag, line,
		    "rua URI '%s' has no host after https:// (RFC 9110 §4.2.2)",
		    q);
		return STS_ESYNTAX;
	}
	return STS_OK;
}

static int
push(char ***list, size_t *n, const char *s, size_t len)
{
	char **grown = realloc(*list, (*n + 1) * sizeof(**list));

	if (grown == NULL)
		return STS_ENOMEM;
	*list = grown;
	if ((grown[*n] = strndup(s, len)) == NULL)
		return STS_ENOMEM;
	(*n)++;
	return STS_OK;
}

/*
 * File one well-formed URI: usable ones in rua; other schemes, and
 * mailto:/https: URIs a reporter cannot use (no address, no host), in
 * ignored.  One bad URI must not cost the domain its other endpoints
 * (RFC 8460 §3: a reporter MAY deliver to any of them).
 */
static int
keep_uri(struct rua_state *st, const char *u, size_t len, int line,
    struct sts_diag *diag)
{
	if (!has_scheme(u, len, "mailto:") && !has_scheme(u, len, "https:"))
		return push(&st->t->ignored, &st->t->n_ignored, u, len);
	if (check_usable(u, len, line, &st->unusable) != STS_OK) {
		st->had_unusable = true;
		return push(&st->t->ignored, &st->t->n_ignored, u, len);
	}
	if (st->t->n_rua == STS_TLSRPT_MAX_RUA) {
		sts_diag_set(diag, line, "more than %d rua URIs",
		    STS_TLSRPT_MAX_RUA);
		return STS_ETOOBIG;
	}
	return push(&st->t->rua, &st->t->n_rua, u, len);
}

/*
 * Split the rua list and check each URI.  With keep, the URIs are filed
 * by keep_uri; without, the list is only checked (a later rua field is
 * ignored, but must still be a tlsrpt-rua).
 */
static int
on_rua(struct rua_state *st, const char *v, size_t len, bool keep, int line,
    struct sts_diag *diag)
{
	size_t p = 0;

	for (;;) {
		size_t start = p, end;
		int r;

		while (p < len && v[p] != ',')
			p++;
		end = p;
		while (end > start && sts_is_wsp((unsigned char)v[end - 1]))
			end--;
		if (end == start) {
			sts_diag_set(diag, line,
			    "empty URI in the rua list (" RFC ")");
			return STS_ESYNTAX;
		}
		r = check_uri(v + start, end - start, line, diag);
		if (r == STS_OK && keep)
			r = keep_uri(st, v + start, end - start, line, diag);
		if (r != STS_OK)
			return r;
		if (p == len)
			return STS_OK;
		p++; /* the comma, then *WSP */
		while (p < len && sts_is_wsp((unsigned char)v[p]))
			p++;
	}
}

static int
on_field(void *arg, const char *name, size_t name_len, const char *value,
    size_t value_len, int line, struct sts_diag *diag)
{
	struct rua_state *st = arg;

	/* %s"rua=": "RUA" is an extension, ignored like any other. */
	if (name_len != 3 || memcmp(name, "rua", 3) != 0)
		return STS_OK;
	if (value_len == 0) {
		sts_diag_set(diag, line, "rua is empty (" RFC ")");
		return STS_ESYNTAX;
	}
	if (st->seen_rua) /* the first occurrence wins */
		return on_rua(st, value, value_len, false, line, diag);
	st->seen_rua = true;
	return on_rua(st, value, value_len, true, line, diag);
}

void
sts_tlsrpt_free(struct sts_tlsrpt *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n_rua; i++)
		free(t->rua[i]);
	for (size_t i = 0; i < t->n_ignored; i++)
		free(t->ignored[i]);
	free(t->rua);
	free(t->ignored);
	free(t);
}

static int
parse_record(const char *data, size_t len, int line,
    struct sts_tlsrpt **ret_tlsrpt, struct sts_diag *diag)
{
	struct rua_state st = {0};
	int r;

	if (len > STS_TXT_MAX_BYTES) {
		sts_diag_set(diag, line, "record has %zu bytes; at most %d",
		    len, STS_TXT_MAX_BYTES);
		return STS_ETOOBIG;
	}
	if ((st.t = calloc(1, sizeof(*st.t))) == NULL)
		return STS_ENOMEM;
	r = sts_txt_fields(data, len, "v=TLSRPTv1", "rua", RFC, line,
	    on_field, &st, diag);
	if (r != STS_OK)
		goto fail;
	r = STS_ESYNTAX;
	if (!st.seen_rua) {
		sts_diag_set(diag, line, "rua is missing (" RFC ")");
		goto fail;
	}
	if (st.t->n_rua == 0 && st.had_unusable) {
		sts_diag_set(diag, line, "no usable rua URI: %s",
		    st.unusable.message);
		goto fail;
	}
	if (st.t->n_rua == 0) {
		sts_diag_set(diag, line,
		    "no rua URI uses a supported scheme, mailto: or https: "
		    "(" RFC ")");
		goto fail;
	}
	*ret_tlsrpt = st.t;
	return STS_OK;
fail:
	sts_tlsrpt_free(st.t);
	return r;
}

int
sts_tlsrpt_parse_record(const char *data, size_t len,
    struct sts_tlsrpt **ret_tlsrpt, struct sts_diag *reterr_diag)
{
	return parse_record(data, len, 0, ret_tlsrpt, reterr_diag);
}

int
sts_tlsrpt_parse(const struct sts_txt_record *records, size_t n,
    struct sts_tlsrpt **ret_tlsrpt, struct sts_diag *reterr_diag)
{
	size_t i;
	int r;

	r = sts_txt_select(records, n, "v=TLSRPTv1;", RFC, &i, reterr_diag);
	if (r != STS_OK)
		return r;
	return parse_record(records[i].data, records[i].len,
	    n > 1 ? (int)i + 1 : 0, ret_tlsrpt, reterr_diag);
}

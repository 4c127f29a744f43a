/*
 * reply.c - decisions to Postfix policy-table replies (see reply.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "reply.h"

void
reply_buf_init(struct reply_buf *b, char *data, size_t cap)
{
	b->data = data;
	b->cap = cap;
	b->len = 0;
	b->overflow = false;
	if (cap > 0)
		data[0] = '\0';
}

static void
put(struct reply_buf *b, const char *s, size_t n)
{
	if (b->overflow || b->len + n + 1 > b->cap) {
		b->overflow = true;
		return;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void
puts_(struct reply_buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* Lower-case ASCII copy (domain names fold case, RFC 4343). */
static void
put_lower(struct reply_buf *b, const char *s, size_t n)
{
	char *d;

	if (b->overflow || b->len + n + 1 > b->cap) {
		b->overflow = true;
		return;
	}
	d = b->data + b->len;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		d[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	b->len += n;
	b->data[b->len] = '\0';
}

void
reply_notfound(struct reply_buf *b)
{
	reply_buf_init(b, b->data, b->cap);
	puts_(b, "NOTFOUND ");
}

void
reply_dane(struct reply_buf *b, bool mandatory)
{
	reply_buf_init(b, b->data, b->cap);
	puts_(b, mandatory ? "OK dane-only" : "OK dane");
}

/* Reasons come from DNS and HTTP: keep them printable, short, one line. */
static void
status_reason(struct reply_buf *b, const char *status, const char *reason)
{
	reply_buf_init(b, b->data, b->cap);
	puts_(b, status);
	for (size_t i = 0; reason[i] != '\0' && i < 200; i++) {
		char c = reason[i];

		put(b, c >= 0x20 && c < 0x7F ? &c : "?", 1);
	}
}

void
reply_temp(struct reply_buf *b, const char *reason)
{
	status_reason(b, "TEMP ", reason);
}

void
reply_perm(struct reply_buf *b, const char *reason)
{
	status_reason(b, "PERM ", reason);
}

/* The match= list: policy order, case folded, "*." as ".", no duplicate. */
static void
put_match(struct reply_buf *b, const struct sts_policy *pol)
{
	puts_(b, " match=");
	for (size_t i = 0; i < pol->n_mx; i++) {
		const char *mx = pol->mx[i];
		bool dup = false;

		for (size_t k = 0; k < i && !dup; k++)
			dup = strcasecmp(pol->mx[k], mx) == 0;
		if (dup)
			continue;
		if (b->data[b->len - 1] != '=')
			puts_(b, ":");
		if (mx[0] == '*')
			mx++; /* "*.example.net" -> ".example.net" */
		put_lower(b, mx, strlen(mx));
	}
}

static bool
field_is(const struct sts_policy_field *f, const char *name)
{
	return f->name_len == strlen(name) &&
	       memcmp(f->name, name, f->name_len) == 0;
}

/* Postfix's "{ name = value }" cannot carry a brace inside the value. */
static bool
braces_safe(const struct sts_policy_field *f)
{
	return memchr(f->value, '{', f->value_len) == NULL &&
	       memchr(f->value, '}', f->value_len) == NULL;
}

static void
put_policy_string(struct reply_buf *b, const struct sts_policy_field *f)
{
	if (!braces_safe(f))
		return;
	puts_(b, " { policy_string = ");
	put(b, f->name, f->name_len);
	puts_(b, ": ");
	put(b, f->value, f->value_len);
	puts_(b, " }");
}

/*
 * The Postfix 3.10 TLS-RPT attributes (TLSRPT_README), in
 * postfix-mta-sts-resolver's order: mx lines first, then the other
 * fields' first occurrences in policy order, max_age as a plain integer.
 */
static void
put_tlsrpt(struct reply_buf *b, const struct sts_policy *pol,
    const char *domain, bool with_strings)
{
	char age[16];

	puts_(b, " policy_type=sts policy_domain=");
	puts_(b, domain);
	for (size_t i = 0; i < pol->n_mx; i++) {
		puts_(b, " mx_host_pattern=");
		puts_(b, pol->mx[i]);
	}
	if (!with_strings)
		return;
	for (size_t i = 0; i < pol->n_fields; i++)
		if (field_is(&pol->fields[i], "mx"))
			put_policy_string(b, &pol->fields[i]);
	for (size_t i = 0; i < pol->n_fields; i++) {
		const struct sts_policy_field *f = &pol->fields[i];
		bool first = true;

		if (field_is(f, "mx"))
			continue;
		for (size_t k = 0; k < i && first; k++)
			first = !(pol->fields[k].name_len == f->name_len &&
				  memcmp(pol->fields[k].name, f->name,
				      f->name_len) == 0);
		if (!first)
			continue;
		if (field_is(f, "max_age")) {
			snprintf(age, sizeof(age), "%u", pol->max_age);
			puts_(b, " { policy_string = max_age: ");
			puts_(b, age);
			puts_(b, " }");
		} else {
			put_policy_string(b, f);
		}
	}
}

static void
compose(struct reply_buf *b, const struct sts_policy *pol, const char *domain,
    const struct reply_opts *opts, bool with_strings)
{
	reply_buf_init(b, b->data, b->cap);
	puts_(b, "OK secure");
	put_match(b, pol);
	if (opts->require_sni)
		puts_(b, " servername=hostname");
	if (opts->tlsrpt)
		put_tlsrpt(b, pol, domain, with_strings);
}

bool
reply_policy(struct reply_buf *b, const struct sts_policy *pol,
    const char *domain, const struct reply_opts *opts)
{
	bool applies = pol->mode == STS_MODE_ENFORCE ||
		       (pol->mode == STS_MODE_TESTING && opts->strict_testing);

	if (!applies) {
		reply_notfound(b);
		return !b->overflow;
	}
	compose(b, pol, domain, opts, true);
	if (b->overflow) /* a huge policy: the policy strings are optional */
		compose(b, pol, domain, opts, false);
	return !b->overflow;
}

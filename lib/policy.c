/*
 * policy.c - parse an MTA-STS policy body (RFC 8461 §3.2).
 *
 *   sts-policy-record = sts-policy-field *WSP
 *                       *(sts-policy-term sts-policy-field *WSP)
 *                       [sts-policy-term]
 *   sts-policy-term   = LF / CRLF
 *   field             = name ":" *WSP value
 *
 * Lines may end in LF or CRLF (erratum 6253: the ABNF allows both, the
 * prose says CRLF).  Field names and the version and mode values are
 * case-sensitive (%s).  Every field but mx keeps its first occurrence;
 * later duplicates are ignored but must still be well-formed lines.
 * Unknown keys that are well-formed extensions are ignored.  Empty lines
 * are tolerated and counted (the grammar has none; see CONFORMANCE.md).
 */
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "mtasts/domain.h"
#include "mtasts/policy.h"

#define RFC "RFC 8461 §3.2"

struct parse {
	struct sts_policy *policy;
	size_t mx_cap, fields_cap;
	bool seen_version, seen_mode, seen_max_age;
	struct sts_diag *diag;
};

const char *
sts_mode_name(enum sts_mode mode)
{
	switch (mode) {
	case STS_MODE_NONE:
		return "none";
	case STS_MODE_TESTING:
		return "testing";
	case STS_MODE_ENFORCE:
		return "enforce";
	}
	return "?";
}

/* A policy being parsed: its struct, arrays, patterns and text apart. */
static void
free_parts(struct sts_policy *policy)
{
	if (policy == NULL)
		return;
	for (size_t i = 0; i < policy->n_mx; i++)
		free(policy->mx[i]);
	free(policy->mx);
	free(policy->fields);
	free(policy->text);
	free(policy);
}

/*
 * The parsed policy in one allocation: struct, mx pointers, fields,
 * text, then the patterns.  A daemon keeps one per cached domain; five
 * to seven small blocks and the growth slack of the arrays cost twice
 * the policy's own size (doc/PERFORMANCE.md, "RSS").  Frees parts.
 */
static struct sts_policy *
compact(struct sts_policy *parts)
{
	size_t mx_bytes = 0, size;
	struct sts_policy *pol;
	char *p;

	for (size_t i = 0; i < parts->n_mx; i++)
		mx_bytes += strlen(parts->mx[i]) + 1;
	size = sizeof(*pol) + parts->n_mx * sizeof(char *) +
	       parts->n_fields * sizeof(struct sts_policy_field) +
	       parts->body_bytes + mx_bytes;
	if ((pol = malloc(size)) == NULL) {
		free_parts(parts);
		return NULL;
	}
	*pol = *parts;
	p = (char *)(pol + 1);
	pol->mx = (char **)(void *)p;
	p += parts->n_mx * sizeof(char *);
	pol->fields = (struct sts_policy_field *)(void *)p;
	p += parts->n_fields * sizeof(struct sts_policy_field);
	pol->text = p;
	memcpy(pol->text, parts->text, parts->body_bytes);
	p += parts->body_bytes;
	for (size_t i = 0; i < parts->n_fields; i++) {
		pol->fields[i] = parts->fields[i];
		pol->fields[i].name = pol->text + (parts->fields[i].name -
						      parts->text);
		pol->fields[i].value = pol->text + (parts->fields[i].value -
						       parts->text);
	}
	for (size_t i = 0; i < parts->n_mx; i++) {
		size_t n = strlen(parts->mx[i]) + 1;

		memcpy(p, parts->mx[i], n);
		pol->mx[i] = p;
		p += n;
	}
	free_parts(parts);
	return pol;
}

void
sts_policy_free(struct sts_policy *policy)
{
	free(policy); /* one block: see compact() */
}

static bool
value_is(const char *v, size_t len, const char *lit)
{
	return strlen(lit) == len && memcmp(v, lit, len) == 0;
}

/*
 * sts-policy-ext-value = vchar [*(%x20 / vchar) vchar], vchar being
 * %x21-7E or a UTF-8 multi-byte character.  The caller has already
 * trimmed WSP at both ends, so only the middle needs looking at.
 */
static int
check_ext_value(const char *v, size_t len, int line, struct sts_diag *diag)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c == '\t') {
			sts_diag_set(diag, line,
			    "tab inside a value; only spaces may separate "
			    "words (" RFC ")");
			return STS_ESYNTAX;
		}
		if (c < 0x20 || c == 0x7F) {
			sts_diag_set(diag, line,
			    "control character 0x%02X in a value (" RFC ")", c);
			return STS_ESYNTAX;
		}
	}
	if (!sts_utf8_valid(v, len)) {
		sts_diag_set(diag, line, "value is not valid UTF-8 (" RFC ")");
		return STS_ESYNTAX;
	}
	return STS_OK;
}

static int
add_mx(struct parse *ps, const char *v, size_t len, int line)
{
	struct sts_policy *pol = ps->policy;
	char norm[STS_DOMAIN_MAX + 1];
	struct sts_diag d;
	char *copy;
	int r;

	r = sts_domain_normalize(v, len, STS_DOMAIN_WILDCARD, norm, &d);
	if (r != STS_OK) {
		char q[80];

		sts_diag_quote(v, len, q, sizeof(q));
		sts_diag_set(ps->diag, line, "mx '%s': %s", q, d.message);
		return r;
	}
	if (pol->n_mx == ps->mx_cap) {
		size_t cap = ps->mx_cap ? ps->mx_cap * 2 : 4;
		char **mx = realloc(pol->mx, cap * sizeof(*mx));

		if (mx == NULL)
			return STS_ENOMEM;
		pol->mx = mx;
		ps->mx_cap = cap;
	}
	/* Keep the pattern as published; matching folds case itself. */
	if ((copy = strndup(v, len)) == NULL)
		return STS_ENOMEM;
	pol->mx[pol->n_mx++] = copy;
	return STS_OK;
}

static int
parse_max_age(struct parse *ps, const char *v, size_t len, int line)
{
	uint64_t n = 0;

	if (len == 0 || len > STS_MAX_AGE_DIGITS) {
		sts_diag_set(ps->diag, line,
		    "max_age has %zu digits; 1 to %d allowed (" RFC ")", len,
		    STS_MAX_AGE_DIGITS);
		return STS_ESYNTAX;
	}
	for (size_t i = 0; i < len; i++) {
		if (!sts_is_digit((unsigned char)v[i])) {
			char q[48];

			sts_diag_quote(v, len, q, sizeof(q));
			sts_diag_set(ps->diag, line,
			    "max_age '%s' is not a plain decimal number "
			    "(" RFC ")",
			    q);
			return STS_ESYNTAX;
		}
		n = n * 10 + (uint64_t)(v[i] - '0'); /* 10 digits fit */
	}
	if (n > STS_MAX_AGE_MAX) {
		sts_diag_set(ps->diag, line,
		    "max_age %llu exceeds the maximum %u (" RFC ")",
		    (unsigned long long)n, STS_MAX_AGE_MAX);
		return STS_ESYNTAX;
	}
	ps->policy->max_age = (uint32_t)n;
	return STS_OK;
}

static int
add_field(struct parse *ps, const char *name, size_t name_len, const char *v,
    size_t len)
{
	struct sts_policy *pol = ps->policy;

	if (pol->n_fields == ps->fields_cap) {
		size_t cap = ps->fields_cap ? ps->fields_cap * 2 : 8;
		struct sts_policy_field *f =
		    realloc(pol->fields, cap * sizeof(*f));

		if (f == NULL)
			return STS_ENOMEM;
		pol->fields = f;
		ps->fields_cap = cap;
	}
	pol->fields[pol->n_fields++] = (struct sts_policy_field){
	    name, name_len, v, len};
	return STS_OK;
}

static int
parse_field(struct parse *ps, const char *name, size_t name_len,
    const char *v, size_t len, int line)
{
	struct sts_policy *pol = ps->policy;
	char q[80];
	int r;

	if ((r = check_ext_value(v, len, line, ps->diag)) != STS_OK)
		return r;
	if ((r = add_field(ps, name, name_len, v, len)) != STS_OK)
		return r;
	if (value_is(name, name_len, "mx"))
		return add_mx(ps, v, len, line);
	if (value_is(name, name_len, "version")) {
		if (ps->seen_version)
			return STS_OK;
		if (!value_is(v, len, "STSv1")) {
			/* Quoted: a value may be long or hold UTF-8, which
			 * a truncated message must not cut in half. */
			sts_diag_quote(v, len, q, sizeof(q));
			sts_diag_set(ps->diag, line,
			    "version '%s' is not STSv1 (" RFC
			    "; case-sensitive)",
			    q);
			return STS_ESYNTAX;
		}
		ps->seen_version = true;
		return STS_OK;
	}
	if (value_is(name, name_len, "mode")) {
		if (ps->seen_mode)
			return STS_OK;
		if (value_is(v, len, "enforce"))
			pol->mode = STS_MODE_ENFORCE;
		else if (value_is(v, len, "testing"))
			pol->mode = STS_MODE_TESTING;
		else if (value_is(v, len, "none"))
			pol->mode = STS_MODE_NONE;
		else {
			sts_diag_quote(v, len, q, sizeof(q));
			sts_diag_set(ps->diag, line,
			    "mode '%s' is not one of enforce, testing, none "
			    "(" RFC "; case-sensitive)",
			    q);
			return STS_ESYNTAX;
		}
		ps->seen_mode = true;
		return STS_OK;
	}
	if (value_is(name, name_len, "max_age")) {
		if (ps->seen_max_age)
			return STS_OK;
		if ((r = parse_max_age(ps, v, len, line)) != STS_OK)
			return r;
		ps->seen_max_age = true;
		return STS_OK;
	}
	return STS_OK; /* a well-formed extension: ignored (§3.2) */
}

static bool
ext_name_char(unsigned char c)
{
	return sts_is_alnum(c) || c == '_' || c == '-' || c == '.';
}

/* One line without its terminator. */
static int
parse_line(struct parse *ps, const char *s, size_t len, int line)
{
	size_t p = 0, name_len;

	if (memchr(s, '\0', len) != NULL) {
		sts_diag_set(ps->diag, line, "NUL byte (" RFC ")");
		return STS_ESYNTAX;
	}
	if (memchr(s, '\r', len) != NULL) {
		sts_diag_set(ps->diag, line,
		    "CR not followed by LF; lines end in LF or CRLF (" RFC ")");
		return STS_ESYNTAX;
	}
	if (len == 0) {
		ps->policy->blank_lines++;
		return STS_OK;
	}
	if (sts_is_wsp((unsigned char)s[0])) {
		sts_diag_set(ps->diag, line,
		    "line starts with whitespace (" RFC ")");
		return STS_ESYNTAX;
	}
	if (!sts_is_alnum((unsigned char)s[0])) {
		sts_diag_set(ps->diag, line,
		    "field name must start with a letter or digit (" RFC ")");
		return STS_ESYNTAX;
	}
	while (p < len && ext_name_char((unsigned char)s[p]))
		p++;
	name_len = p;
	if (name_len > STS_EXT_NAME_MAX) {
		sts_diag_set(ps->diag, line,
		    "field name has %zu characters; at most %d allowed (" RFC
		    ")",
		    name_len, STS_EXT_NAME_MAX);
		return STS_ESYNTAX;
	}
	if (p == len) {
		sts_diag_set(ps->diag, line,
		    "no ':' after field name '%.*s' (" RFC ")", (int)name_len,
		    s);
		return STS_ESYNTAX;
	}
	if (s[p] != ':') {
		if (sts_is_wsp((unsigned char)s[p]))
			sts_diag_set(ps->diag, line,
			    "whitespace between '%.*s' and ':' (" RFC ")",
			    (int)name_len, s);
		else
			sts_diag_set(ps->diag, line,
			    "character 0x%02X not allowed in field name "
			    "(" RFC ")",
			    (unsigned char)s[p]);
		return STS_ESYNTAX;
	}
	p++;
	while (p < len && sts_is_wsp((unsigned char)s[p]))
		p++;
	while (len > p && sts_is_wsp((unsigned char)s[len - 1]))
		len--; /* the *WSP after each field */
	if (p == len) {
		sts_diag_set(ps->diag, line, "field '%.*s' has no value (" RFC
		    ")",
		    (int)name_len, s);
		return STS_ESYNTAX;
	}
	return parse_field(ps, s, name_len, s + p, len - p, line);
}

int
sts_policy_parse(const char *body, size_t len, struct sts_policy **ret_policy,
    struct sts_diag *reterr_diag)
{
	struct parse ps = {.diag = reterr_diag};
	size_t p = 0;
	int line = 0, r;

	if (len > STS_POLICY_MAX_BYTES) {
		sts_diag_set(reterr_diag, 0,
		    "policy has %zu bytes; at most %d accepted (RFC 8461 "
		    "§3.3)",
		    len, STS_POLICY_MAX_BYTES);
		return STS_ETOOBIG;
	}
	if (len == 0) {
		sts_diag_set(reterr_diag, 0, "policy is empty (" RFC ")");
		return STS_ESYNTAX;
	}
	if ((ps.policy = calloc(1, sizeof(*ps.policy))) == NULL)
		return STS_ENOMEM;
	ps.policy->body_bytes = len;
	/* Parse the policy's own copy so that fields can point into it. */
	if ((ps.policy->text = malloc(len)) == NULL) {
		r = STS_ENOMEM;
		goto fail;
	}
	memcpy(ps.policy->text, body, len);
	body = ps.policy->text;
	while (p < len) {
		const char *nl = memchr(body + p, '\n', len - p);
		size_t end = nl ? (size_t)(nl - body) : len;
		size_t text_end = end;

		line++;
		if (nl && text_end > p && body[text_end - 1] == '\r')
			text_end--; /* CRLF */
		r = parse_line(&ps, body + p, text_end - p, line);
		if (r != STS_OK)
			goto fail;
		p = end + 1;
	}
	r = STS_ESYNTAX;
	if (!ps.seen_version) {
		sts_diag_set(reterr_diag, 0,
		    "version field is missing (" RFC ")");
		goto fail;
	}
	if (!ps.seen_mode) {
		sts_diag_set(reterr_diag, 0, "mode field is missing (" RFC ")");
		goto fail;
	}
	if (!ps.seen_max_age) {
		sts_diag_set(reterr_diag, 0,
		    "max_age field is missing (" RFC ")");
		goto fail;
	}
	if (ps.policy->n_mx == 0 && ps.policy->mode != STS_MODE_NONE) {
		sts_diag_set(reterr_diag, 0,
		    "mode %s needs at least one mx field (" RFC ")",
		    sts_mode_name(ps.policy->mode));
		goto fail;
	}
	if ((*ret_policy = compact(ps.policy)) == NULL)
		return STS_ENOMEM;
	return STS_OK;
fail:
	free_parts(ps.policy);
	return r;
}

/*
 * txt.c - the _mta-sts TXT record and RRset (RFC 8461 §3.1).
 *
 *   sts-text-record = sts-version 1*(sts-field-delim sts-field)
 *                     [sts-field-delim]
 *   sts-field-delim = *WSP ";" *WSP
 *   sts-version     = %s"v=STSv1"
 *   sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
 *   sts-extension   = sts-ext-name "=" sts-ext-value
 *
 * The field walker (sts_txt_fields) is shared with the TLS-RPT record of
 * RFC 8460 §3, whose grammar has the same shape.
 */
#include <string.h>

#include "diag.h"
#include "mtasts/txt.h"
#include "txtfields.h"

static const char sts_version[] = "v=STSv1";

/* RFC 8461 §3.1 and RFC 8460 §3: only US-ASCII; CTLs only as WSP. */
static int
check_bytes(const char *p, size_t len, const char *rfc, int line,
    struct sts_diag *diag)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\t')
			continue;
		if (c == 0) {
			sts_diag_set(diag, line,
			    "NUL byte at offset %zu (%s: US-ASCII text)", i,
			    rfc);
			return STS_ESYNTAX;
		}
		if (c >= 0x80) {
			sts_diag_set(diag, line,
			    "non-ASCII byte 0x%02X at offset %zu (%s: "
			    "US-ASCII text)",
			    c, i, rfc);
			return STS_ESYNTAX;
		}
		if (c < 0x20 || c == 0x7F) {
			sts_diag_set(diag, line,
			    "control character 0x%02X at offset %zu (%s)", c,
			    i, rfc);
			return STS_ESYNTAX;
		}
	}
	return STS_OK;
}

static bool
ext_name_char(unsigned char c)
{
	return sts_is_alnum(c) || c == '_' || c == '-' || c == '.';
}

/* ext-value = 1*(%x21-3A / %x3C / %x3E-7E): no SP, ";", "=", CTL. */
static bool
ext_value_char(unsigned char c)
{
	return c >= 0x21 && c <= 0x7E && c != ';' && c != '=';
}

int
sts_txt_fields(const char *data, size_t len, const char *version,
    const char *list_field, const char *rfc, int line, sts_txt_field_cb *cb,
    void *arg, struct sts_diag *diag)
{
	size_t vlen = strlen(version);
	size_t p, nfields = 0;
	int r;

	if ((r = check_bytes(data, len, rfc, line, diag)) != STS_OK)
		return r;
	if (len < vlen || memcmp(data, version, vlen) != 0) {
		char q[48];

		sts_diag_quote(data, len < 24 ? len : 24, q, sizeof(q));
		sts_diag_set(diag, line,
		    "record '%s' does not begin with '%s' (%s; the version "
		    "is case-sensitive)",
		    q, version, rfc);
		return STS_ESYNTAX;
	}
	p = vlen;
	while (p < len) {
		size_t name, name_len, value, value_len;

		/* sts-field-delim = *WSP ";" *WSP */
		while (p < len && sts_is_wsp((unsigned char)data[p]))
			p++;
		if (p == len) {
			sts_diag_set(diag, line,
			    "whitespace at the end of the record without "
			    "';' (%s)",
			    rfc);
			return STS_ESYNTAX;
		}
		if (data[p] != ';') {
			sts_diag_set(diag, line,
			    "expected ';' at offset %zu, found '%c' (%s)", p,
			    data[p], rfc);
			return STS_ESYNTAX;
		}
		p++;
		while (p < len && sts_is_wsp((unsigned char)data[p]))
			p++;
		if (p == len)
			break; /* [sts-field-delim] at the end */

		/* field = name "=" value */
		name = p;
		if (!sts_is_alnum((unsigned char)data[p])) {
			sts_diag_set(diag, line,
			    "field at offset %zu must start with a letter or "
			    "digit, found '%c' (%s)",
			    p, data[p], rfc);
			return STS_ESYNTAX;
		}
		while (p < len && ext_name_char((unsigned char)data[p]))
			p++;
		name_len = p - name;
		if (name_len > STS_EXT_NAME_MAX) {
			sts_diag_set(diag, line,
			    "field name at offset %zu has %zu characters; at "
			    "most %d allowed (%s)",
			    name, name_len, STS_EXT_NAME_MAX, rfc);
			return STS_ESYNTAX;
		}
		if (p == len || data[p] != '=') {
			sts_diag_set(diag, line,
			    "field '%.*s' has no '=' directly after its name "
			    "(%s)",
			    (int)name_len, data + name, rfc);
			return STS_ESYNTAX;
		}
		p++;
		value = p;
		if (list_field != NULL && name_len == strlen(list_field) &&
		    memcmp(data + name, list_field, name_len) == 0) {
			/* A list may hold WSP around its commas: it runs to
			 * the next ';', less trailing WSP (the delimiter's). */
			while (p < len && data[p] != ';')
				p++;
			while (p > value && sts_is_wsp((unsigned char)data[p - 1]))
				p--;
		} else {
			while (p < len && ext_value_char((unsigned char)data[p]))
				p++;
		}
		value_len = p - value;
		/* ext-value = 1*(...) and every known field needs a value
		 * too: "name=" alone matches no rule. */
		if (value_len == 0) {
			sts_diag_set(diag, line,
			    "field '%.*s' has an empty value (%s)",
			    (int)name_len, data + name, rfc);
			return STS_ESYNTAX;
		}
		if (p < len && data[p] == '=') {
			sts_diag_set(diag, line,
			    "field '%.*s' value contains '=' (%s)",
			    (int)name_len, data + name, rfc);
			return STS_ESYNTAX;
		}
		r = cb(arg, data + name, name_len, data + value, value_len,
		    line, diag);
		if (r != STS_OK)
			return r;
		nfields++;
	}
	if (nfields == 0) {
		sts_diag_set(diag, line, "no field after '%s' (%s)", version,
		    rfc);
		return STS_ESYNTAX;
	}
	return STS_OK;
}

struct id_state {
	bool seen;
	char id[STS_ID_MAX + 1];
};

static int
on_sts_field(void *arg, const char *name, size_t name_len, const char *value,
    size_t value_len, int line, struct sts_diag *diag)
{
	struct id_state *st = arg;

	/* %s"id=": a field named "ID" is an extension, not the id. */
	if (name_len != 2 || memcmp(name, "id", 2) != 0)
		return STS_OK; /* extension: ignored (§3.1) */
	if (st->seen)
		return STS_OK; /* duplicates: the first wins (§3.2) */
	if (value_len == 0) {
		sts_diag_set(diag, line, "id is empty (RFC 8461 §3.1)");
		return STS_ESYNTAX;
	}
	if (value_len > STS_ID_MAX) {
		sts_diag_set(diag, line,
		    "id has %zu characters; at most %d allowed (RFC 8461 "
		    "§3.1)",
		    value_len, STS_ID_MAX);
		return STS_ESYNTAX;
	}
	for (size_t i = 0; i < value_len; i++) {
		if (!sts_is_alnum((unsigned char)value[i])) {
			sts_diag_set(diag, line,
			    "id '%.*s' has '%c'; only letters and digits are "
			    "allowed (RFC 8461 §3.1)",
			    (int)value_len, value, value[i]);
			return STS_ESYNTAX;
		}
	}
	memcpy(st->id, value, value_len);
	st->id[value_len] = '\0';
	st->seen = true;
	return STS_OK;
}

static int
parse_record(const char *data, size_t len, int line, struct sts_txt *ret_txt,
    struct sts_diag *diag)
{
	struct id_state st = {0};
	int r;

	if (len > STS_TXT_MAX_BYTES) {
		sts_diag_set(diag, line, "record has %zu bytes; at most %d",
		    len, STS_TXT_MAX_BYTES);
		return STS_ETOOBIG;
	}
	r = sts_txt_fields(data, len, sts_version, NULL, "RFC 8461 §3.1",
	    line, on_sts_field, &st, diag);
	if (r != STS_OK)
		return r;
	if (!st.seen) {
		sts_diag_set(diag, line, "id is missing (RFC 8461 §3.1)");
		return STS_ESYNTAX;
	}
	memcpy(ret_txt->id, st.id, sizeof(st.id));
	return STS_OK;
}

int
sts_txt_parse_record(const char *data, size_t len, struct sts_txt *ret_txt,
    struct sts_diag *reterr_diag)
{
	return parse_record(data, len, 0, ret_txt, reterr_diag);
}

int
sts_txt_select(const struct sts_txt_record *records, size_t n,
    const char *prefix, const char *rfc, size_t *ret_index,
    struct sts_diag *diag)
{
	size_t plen = strlen(prefix), found = 0, index = 0;

	if (n == 0) {
		sts_diag_set(diag, 0, "no TXT record (%s)", rfc);
		return STS_ENOTFOUND;
	}
	if (n == 1) {
		*ret_index = 0;
		return STS_OK;
	}
	/* Several records: drop those not beginning with the literal
	 * prefix, then exactly one must remain. */
	for (size_t i = 0; i < n; i++) {
		if (records[i].len >= plen &&
		    memcmp(records[i].data, prefix, plen) == 0) {
			if (found++ == 0)
				index = i;
		}
	}
	if (found == 0) {
		sts_diag_set(diag, 0,
		    "none of the %zu TXT records begins with '%s' (%s)", n,
		    prefix, rfc);
		return STS_ENOTFOUND;
	}
	if (found > 1) {
		sts_diag_set(diag, 0,
		    "%zu TXT records begin with '%s'; exactly one is allowed "
		    "(%s)",
		    found, prefix, rfc);
		return STS_ESYNTAX;
	}
	*ret_index = index;
	return STS_OK;
}

int
sts_txt_parse(const struct sts_txt_record *records, size_t n,
    struct sts_txt *ret_txt, struct sts_diag *reterr_diag)
{
	size_t i;
	int r;

	r = sts_txt_select(records, n, "v=STSv1;", "RFC 8461 §3.1", &i,
	    reterr_diag);
	if (r != STS_OK)
		return r;
	return parse_record(records[i].data, records[i].len,
	    n > 1 ? (int)i + 1 : 0, ret_txt, reterr_diag);
}

/*
 * domain.c - domain names and mx patterns: validate, fold case.
 *
 * RFC 5321 §4.1.2: Domain = sub-domain *("." sub-domain),
 * sub-domain = Let-dig [Ldh-str]: letters, digits and inner hyphens.
 * RFC 1035 §2.3.4 bounds labels (63) and names (253 in text).
 * RFC 8461 §3.2: an mx pattern may start with "*." and IDNs appear as
 * A-labels only; an "xn--" label that is not a valid A-label is rejected.
 */
#include <idn2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "diag.h"
#include "mtasts/domain.h"

/* RFC 5890 §2.3.2.1: a label starting "xn--" must decode and re-encode. */
static bool
alabel_valid(const char *label, size_t len)
{
	char in[STS_LABEL_MAX + 1];
	char *ulabel = NULL, *back = NULL;
	bool ok = false;

	memcpy(in, label, len);
	in[len] = '\0';
	if (idn2_to_unicode_8z8z(in, &ulabel, 0) != IDN2_OK)
		goto out;
	if (idn2_to_ascii_8z(ulabel, &back, IDN2_NONTRANSITIONAL) != IDN2_OK)
		goto out;
	ok = strcasecmp(back, in) == 0;
out:
	free(ulabel);
	free(back);
	return ok;
}

/* The label quoted for a message; made only when a message is due. */
static const char *
quoted(const char *label, size_t len, char q[80])
{
	sts_diag_quote(label, len, q, 80);
	return q;
}

static int
check_label(const char *label, size_t len, struct sts_diag *diag)
{
	char q[80];

	if (len == 0) {
		sts_diag_set(diag, 0, "empty label (RFC 5321 §4.1.2)");
		return STS_ESYNTAX;
	}
	if (len > STS_LABEL_MAX) {
		sts_diag_set(diag, 0,
		    "label '%s' has %zu characters; at most %d allowed "
		    "(RFC 1035 §2.3.4)",
		    quoted(label, len, q), len, STS_LABEL_MAX);
		return STS_ESYNTAX;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)label[i];

		if (c >= 0x80) {
			sts_diag_set(diag, 0,
			    "label '%s' is not ASCII; IDNs must be written as "
			    "A-labels (RFC 8461 §3.2)",
			    quoted(label, len, q));
			return STS_ESYNTAX;
		}
		if (c == '*') {
			sts_diag_set(diag, 0,
			    "'*' is allowed only as the whole leftmost label "
			    "of an mx pattern (RFC 8461 §3.2, §4.1)");
			return STS_ESYNTAX;
		}
		if (!sts_is_alnum(c) && c != '-') {
			sts_diag_set(diag, 0,
			    "label '%s' has a character other than letters, "
			    "digits and '-' (RFC 5321 §4.1.2)",
			    quoted(label, len, q));
			return STS_ESYNTAX;
		}
	}
	if (label[0] == '-' || label[len - 1] == '-') {
		sts_diag_set(diag, 0,
		    "label '%s' starts or ends with '-' (RFC 5321 §4.1.2)",
		    quoted(label, len, q));
		return STS_ESYNTAX;
	}
	if (len >= 4 && label[2] == '-' && label[3] == '-' &&
	    strncasecmp(label, "xn--", 4) == 0 && !alabel_valid(label, len)) {
		sts_diag_set(diag, 0,
		    "label '%s' is not a valid A-label (RFC 5890 §2.3.2.1)",
		    quoted(label, len, q));
		return STS_ESYNTAX;
	}
	return STS_OK;
}

int
sts_domain_normalize(const char *name, size_t len, unsigned flags,
    char ret_name[STS_DOMAIN_MAX + 1], struct sts_diag *reterr_diag)
{
	size_t start = 0;

	if ((flags & STS_DOMAIN_TRAILING_DOT) && len > 0 &&
	    name[len - 1] == '.')
		len--;
	if (len == 0) {
		sts_diag_set(reterr_diag, 0, "empty domain name");
		return STS_ESYNTAX;
	}
	if (len > STS_DOMAIN_MAX) {
		sts_diag_set(reterr_diag, 0,
		    "domain name has %zu characters; at most %d allowed "
		    "(RFC 1035 §2.3.4)",
		    len, STS_DOMAIN_MAX);
		return STS_ESYNTAX;
	}
	if ((flags & STS_DOMAIN_WILDCARD) && len >= 2 && name[0] == '*' &&
	    name[1] == '.')
		start = 2;
	if (start == len) {
		sts_diag_set(reterr_diag, 0,
		    "'*.' must be followed by a domain (RFC 8461 §3.2)");
		return STS_ESYNTAX;
	}
	for (size_t i = start; i <= len;) {
		const char *dot = memchr(name + i, '.', len - i);
		size_t end = dot ? (size_t)(dot - name) : len;
		int r = check_label(name + i, end - i, reterr_diag);

		if (r != STS_OK)
			return r;
		i = end + 1;
	}
	for (size_t i = 0; i < len; i++)
		ret_name[i] = (char)sts_ascii_lower((unsigned char)name[i]);
	ret_name[len] = '\0';
	return STS_OK;
}

int
sts_domain_to_alabel(const char *name, size_t len,
    char ret_name[STS_DOMAIN_MAX + 1], struct sts_diag *reterr_diag)
{
	char *utf8 = NULL, *ascii = NULL;
	bool is_ascii = true;
	int r, rc;

	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] >= 0x80)
			is_ascii = false;
	if (is_ascii)
		return sts_domain_normalize(name, len, STS_DOMAIN_TRAILING_DOT,
		    ret_name, reterr_diag);
	if (memchr(name, '\0', len) != NULL || !sts_utf8_valid(name, len)) {
		sts_diag_set(reterr_diag, 0, "name is not valid UTF-8");
		return STS_ESYNTAX;
	}
	if ((utf8 = strndup(name, len)) == NULL)
		return STS_ENOMEM;
	rc = idn2_to_ascii_8z(utf8, &ascii,
	    IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
	if (rc != IDN2_OK) {
		sts_diag_set(reterr_diag, 0,
		    "cannot convert to A-labels: %s (RFC 5891)",
		    idn2_strerror(rc));
		r = STS_ESYNTAX;
		goto out;
	}
	r = sts_domain_normalize(ascii, strlen(ascii), STS_DOMAIN_TRAILING_DOT,
	    ret_name, reterr_diag);
out:
	free(utf8);
	free(ascii);
	return r;
}

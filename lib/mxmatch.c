/*
 * mxmatch.c - RFC 8461 §4.1 mx pattern matching.
 *
 * Identical to RFC 6125 with the wildcard restricted to the whole
 * leftmost label: "*.example.com" matches "mail.example.com" but neither
 * "example.com" nor "foo.bar.example.com".  Both sides are normalised
 * first (ASCII case folded, one trailing dot dropped), so a malformed
 * name never matches anything.
 */
#include <string.h>

#include "mtasts/domain.h"
#include "mtasts/mxmatch.h"

bool
sts_mxmatch(const char *pattern, const char *host)
{
	char p[STS_DOMAIN_MAX + 1], h[STS_DOMAIN_MAX + 1];
	const char *dot;

	if (sts_domain_normalize(pattern, strlen(pattern),
		STS_DOMAIN_WILDCARD | STS_DOMAIN_TRAILING_DOT, p,
		NULL) != STS_OK)
		return false;
	if (sts_domain_normalize(host, strlen(host), STS_DOMAIN_TRAILING_DOT,
		h, NULL) != STS_OK)
		return false;
	if (p[0] != '*')
		return strcmp(p, h) == 0;
	/* "*." + suffix: the host is one non-empty label, then suffix. */
	dot = strchr(h, '.');
	return dot != NULL && dot != h && strcmp(dot + 1, p + 2) == 0;
}

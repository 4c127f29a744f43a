/*
 * fuzz-mxmatch.c - RFC 8461 §4.1 matching; pattern and host split at the
 * first NUL byte.  Properties checked, besides memory safety:
 *   - ASCII case never changes the outcome (RFC 4343);
 *   - a valid plain name matches itself, with or without a final dot.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts/domain.h"
#include "mtasts/mxmatch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
upper(char *s)
{
	for (; *s; s++)
		if (*s >= 'a' && *s <= 'z')
			*s = (char)(*s - 'a' + 'A');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(2 * size + 4);
	char *pattern, *host, *host_up, norm[STS_DOMAIN_MAX + 1];
	size_t plen;

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	buf[size + 1] = '\0';
	pattern = buf;
	plen = strlen(pattern);
	host = buf + plen + (plen < size ? 1 : 0);
	host_up = buf + size + 2;
	memcpy(host_up, host, strlen(host) + 1);
	upper(host_up);

	if (sts_mxmatch(pattern, host) != sts_mxmatch(pattern, host_up))
		__builtin_trap();
	if (strchr(pattern, '*') == NULL &&
	    sts_domain_normalize(pattern, plen, 0, norm, NULL) == STS_OK) {
		if (!sts_mxmatch(pattern, pattern))
			__builtin_trap();
		if (plen < STS_DOMAIN_MAX) {
			char dotted[STS_DOMAIN_MAX + 2];

			memcpy(dotted, pattern, plen);
			dotted[plen] = '.';
			dotted[plen + 1] = '\0';
			if (!sts_mxmatch(pattern, dotted))
				__builtin_trap();
		}
	}
	free(buf);
	return 0;
}

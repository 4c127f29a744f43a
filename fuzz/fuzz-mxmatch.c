/* fuzz-mxmatch.c - pattern and host split at the first NUL byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts/mxmatch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 2);
	size_t plen;

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	buf[size + 1] = '\0';
	plen = strlen(buf);
	/* A pattern matches itself when it is a plain name. */
	if (sts_mxmatch(buf, buf + plen + (plen < size ? 1 : 0)) &&
	    !sts_mxmatch(buf, buf + plen + (plen < size ? 1 : 0)))
		__builtin_trap();
	free(buf);
	return 0;
}

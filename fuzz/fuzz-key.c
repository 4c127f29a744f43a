/*
 * fuzz-key.c - the socketmap request as the daemon takes it apart: the
 * "<name> <key>" split, then the Postfix key to a Policy Domain.  A
 * domain that comes out must be one sts_domain_normalize accepts as is.
 */
#include <stdint.h>
#include <string.h>

#include "key.h"
#include "netstring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sts_netstring_request req;
	char domain[STS_DOMAIN_MAX + 1], again[STS_DOMAIN_MAX + 1];
	const char *why;

	if (sts_netstring_split_request((const char *)data, size, &req) !=
	    STS_OK)
		return 0;
	if (key_to_domain(req.key, req.key_len, domain, &why) != STS_OK)
		return 0;
	if (sts_domain_normalize(domain, strlen(domain), 0, again, NULL) !=
		STS_OK ||
	    strcmp(domain, again) != 0)
		__builtin_trap();
	return 0;
}

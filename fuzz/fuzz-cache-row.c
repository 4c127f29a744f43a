/*
 * fuzz-cache-row.c - the stored-metadata decoder of the policy cache
 * (the Redis value "STS1 <fetched> <expires> <checked> <id>\n<body>").
 *
 * Property: a value that decodes re-encodes to the same bytes (the
 * encoding is canonical), and what it decodes to passes the cache's
 * entry validator.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sts_cache_entry e;
	char hdr[STS_CACHE_REDIS_HEADER_MAX];
	size_t hlen;

	memset(&e, 0, sizeof(e));
	memcpy(e.domain, "example.com", sizeof("example.com"));
	if (sts_cache_redis_decode((const char *)data, size, &e) != STS_OK)
		return 0;
	if (sts_cache_check(&e) != STS_OK)
		abort();
	if ((const uint8_t *)e.body < data ||
	    (const uint8_t *)e.body + e.body_len != data + size)
		abort();
	hlen = sts_cache_redis_encode_header(&e, hdr);
	if (hlen == 0 || hlen + e.body_len != size ||
	    memcmp(hdr, data, hlen) != 0)
		abort();
	return 0;
}

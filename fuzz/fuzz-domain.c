/* fuzz-domain.c - domain and mx-pattern validation with every flag set. */
#include <stdint.h>
#include <string.h>

#include "mtasts/domain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[STS_DOMAIN_MAX + 1];
	struct sts_diag diag;

	for (unsigned flags = 0; flags < 4; flags++)
		if (sts_domain_normalize((const char *)data, size, flags, out,
			&diag) == STS_OK &&
		    strlen(out) > STS_DOMAIN_MAX)
			__builtin_trap();
	return 0;
}

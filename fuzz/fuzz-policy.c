/* fuzz-policy.c - RFC 8461 §3.2 policy parser and its lint. */
#include <stdint.h>
#include <stdlib.h>

#include "mtasts/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sts_policy *pol = NULL;
	struct sts_diag diag;

	if (sts_policy_parse((const char *)data, size, &pol, &diag) == STS_OK) {
		(void)sts_policy_warnings(pol);
		sts_policy_free(pol);
	}
	return 0;
}

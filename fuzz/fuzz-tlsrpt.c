/* fuzz-tlsrpt.c - RFC 8460 §3 TLS-RPT TXT RRset (0xFF between records). */
#include <stdint.h>
#include <string.h>

#include "mtasts/tlsrpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sts_txt_record recs[STS_TXT_MAX_RECORDS];
	const char *p = (const char *)data, *end = p + size;
	struct sts_tlsrpt *t = NULL;
	struct sts_diag diag;
	size_t n = 0;

	while (n < STS_TXT_MAX_RECORDS) {
		const char *sep = memchr(p, 0xFF, (size_t)(end - p));

		recs[n].data = p;
		recs[n].len = (size_t)((sep ? sep : end) - p);
		n++;
		if (sep == NULL)
			break;
		p = sep + 1;
	}
	if (sts_tlsrpt_parse(recs, n, &t, &diag) == STS_OK)
		sts_tlsrpt_free(t);
	return 0;
}

/* fuzz-txt.c - RFC 8461 §3.1 TXT RRset; records split at 0xFF bytes. */
#include <stdint.h>
#include <string.h>

#include "mtasts/txt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sts_txt_record recs[STS_TXT_MAX_RECORDS];
	const char *p = (const char *)data, *end = p + size;
	struct sts_diag diag;
	struct sts_txt txt;
	size_t n = 0;

	/* A 0xFF byte separates records so the RRset rule is exercised
	 * while NUL stays available as record content. */
	while (n < STS_TXT_MAX_RECORDS) {
		const char *sep = memchr(p, 0xFF, (size_t)(end - p));

		recs[n].data = p;
		recs[n].len = (size_t)((sep ? sep : end) - p);
		n++;
		if (sep == NULL)
			break;
		p = sep + 1;
	}
	(void)sts_txt_parse(recs, n, &txt, &diag);
	(void)sts_txt_parse_record((const char *)data, size, &txt, &diag);
	return 0;
}

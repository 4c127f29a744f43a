/*
 * txt.h - the _mta-sts TXT RRset (RFC 8461 §3.1).
 *
 * Input is the list of TXT records as DNS returned them, each already
 * joined from its character-strings without separator (§3.1).  The parser
 * applies the discovery rule (drop records not beginning "v=STSv1;" when
 * several are returned, exactly one must remain) and the record grammar.
 * It does no I/O and keeps no pointer into its input.
 */
#ifndef MTASTS_TXT_H
#define MTASTS_TXT_H

#include <stddef.h>

#include "err.h"
#include "limits.h"

/* One TXT record: bytes, not a C string (it may hold NUL). */
struct sts_txt_record {
	const char *data;
	size_t len;
};

struct sts_txt {
	char id[STS_ID_MAX + 1];
};

/*
 * Parse the RRset of n records.  STS_OK fills *ret_txt.  STS_ENOTFOUND:
 * no record is an STS record (nothing to parse); STS_ESYNTAX: several STS
 * records, or the one is malformed.  Both mean "no MTA-STS policy
 * available" (§3.1); reterr_diag (may be NULL) says why.
 */
int sts_txt_parse(const struct sts_txt_record *records, size_t n,
    struct sts_txt *ret_txt, struct sts_diag *reterr_diag);

/* Parse one record alone, without the RRset discovery rule. */
int sts_txt_parse_record(const char *data, size_t len, struct sts_txt *ret_txt,
    struct sts_diag *reterr_diag);

#endif

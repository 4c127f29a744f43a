/*
 * tlsrpt.h - the _smtp._tls TLS-RPT TXT record (RFC 8460 §3).
 *
 * Same discovery rule as MTA-STS: records not beginning "v=TLSRPTv1;" are
 * dropped, exactly one must remain.  rua is a comma-separated list of
 * URIs; mailto: and https: are the schemes a reporter can use, others are
 * kept out of the usable list but do not invalidate the record.
 */
#ifndef MTASTS_TLSRPT_H
#define MTASTS_TLSRPT_H

#include <stddef.h>

#include "err.h"
#include "limits.h"
#include "txt.h"

struct sts_tlsrpt {
	size_t n_rua;
	char **rua;          /* usable URIs (mailto:, https:) in record order */
	size_t n_ignored;
	char **ignored;      /* well-formed URIs with another scheme */
};

int sts_tlsrpt_parse(const struct sts_txt_record *records, size_t n,
    struct sts_tlsrpt **ret_tlsrpt, struct sts_diag *reterr_diag);

int sts_tlsrpt_parse_record(const char *data, size_t len,
    struct sts_tlsrpt **ret_tlsrpt, struct sts_diag *reterr_diag);

void sts_tlsrpt_free(struct sts_tlsrpt *tlsrpt);

#endif

/*
 * txtfields.h - the "v=...; name=value; ..." record grammar shared by the
 * MTA-STS record (RFC 8461 §3.1) and the TLS-RPT record (RFC 8460 §3).
 */
#ifndef STS_LIB_TXTFIELDS_H
#define STS_LIB_TXTFIELDS_H

#include <stddef.h>

#include "mtasts/err.h"
#include "mtasts/txt.h"

/* Called for each name=value field after the version, in order. */
typedef int sts_txt_field_cb(void *arg, const char *name, size_t name_len,
    const char *value, size_t value_len, int line, struct sts_diag *diag);

/*
 * Walk one record: version literal, then 1*(delim field) [delim].  Field
 * values follow the generic ext-value rule (no SP, ";", "=", CTL), except
 * the field named list_field (may be NULL), whose value runs to the next
 * ";" so that a comma list with WSP around its commas reaches the
 * callback whole.  A callback applies the stricter rules of the fields it
 * knows.
 */
int sts_txt_fields(const char *data, size_t len, const char *version,
    const char *list_field, const char *rfc, int line, sts_txt_field_cb *cb,
    void *arg, struct sts_diag *diag);

/*
 * The discovery rule of RFC 8461 §3.1 and RFC 8460 §3: with several
 * records, keep those beginning with prefix; exactly one must remain.
 * With a single record it is chosen as is (its grammar decides).
 */
int sts_txt_select(const struct sts_txt_record *records, size_t n,
    const char *prefix, const char *rfc, size_t *ret_index,
    struct sts_diag *diag);

#endif

/*
 * domain.h - validate and normalise domain names and mx patterns.
 *
 * Grammar: RFC 5321 §4.1.2 Domain (LDH labels, no trailing dot) as
 * imported by RFC 8461 §3.2, with the DNS length limits of RFC 1035
 * §2.3.4.  Labels beginning "xn--" must be valid A-labels (RFC 5890
 * §2.3.2.1); RFC 8461 §3.2 requires A-labels, never U-labels.
 * Normalising folds ASCII letters to lower case (RFC 4343) and touches
 * nothing else.
 */
#ifndef MTASTS_DOMAIN_H
#define MTASTS_DOMAIN_H

#include <stddef.h>

#include "err.h"
#include "limits.h"

enum sts_domain_flags {
	/* Accept (and drop) one trailing dot, as DNS presents names. */
	STS_DOMAIN_TRAILING_DOT = 1 << 0,
	/* Accept "*." as the whole leftmost label (an mx pattern). */
	STS_DOMAIN_WILDCARD = 1 << 1,
};

/*
 * Check the len bytes at name; on success write the lower-cased form,
 * without any trailing dot, NUL-terminated, to ret_name (which holds
 * STS_DOMAIN_MAX + 1 bytes) and return STS_OK.  On failure return
 * STS_ESYNTAX, leave ret_name untouched and explain in reterr_diag
 * (may be NULL).
 */
int sts_domain_normalize(const char *name, size_t len, unsigned flags,
    char ret_name[STS_DOMAIN_MAX + 1], struct sts_diag *reterr_diag);

/*
 * A name as a person or Postfix writes it (ASCII, or UTF-8 with U-labels)
 * to its normalised A-label form: UTF-8 goes through IDNA2008 (libidn2,
 * non-transitional, NFC), then sts_domain_normalize with
 * STS_DOMAIN_TRAILING_DOT.  Same contract as sts_domain_normalize.
 */
int sts_domain_to_alabel(const char *name, size_t len,
    char ret_name[STS_DOMAIN_MAX + 1], struct sts_diag *reterr_diag);

#endif

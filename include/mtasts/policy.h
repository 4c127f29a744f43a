/*
 * policy.h - the MTA-STS policy body (RFC 8461 §3.2).
 *
 * A pure parser over bytes: LF or CRLF lines of "key: value", any field
 * order, case-sensitive names and values, first occurrence wins for every
 * key but mx, unknown well-formed keys ignored.  The parsed policy owns
 * copies of everything it keeps.
 */
#ifndef MTASTS_POLICY_H
#define MTASTS_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "limits.h"

enum sts_mode {
	STS_MODE_NONE,
	STS_MODE_TESTING,
	STS_MODE_ENFORCE,
};

/* One "name: value" line of the body, pointing into sts_policy.text. */
struct sts_policy_field {
	const char *name;
	size_t name_len;
	const char *value; /* without the WSP around it */
	size_t value_len;
};

struct sts_policy {
	enum sts_mode mode;
	uint32_t max_age;  /* seconds, <= STS_MAX_AGE_MAX */
	size_t n_mx;
	char **mx;         /* patterns as published, in policy order */
	size_t body_bytes; /* size of the body this was parsed from */
	unsigned blank_lines; /* empty lines tolerated (see CONFORMANCE.md) */
	/* Every field line in body order, duplicates and extensions
	 * included: RFC 8460 §4.4 policy-string and Postfix's
	 * { policy_string = ... } attributes are built from these. */
	size_t n_fields;
	struct sts_policy_field *fields;
	char *text; /* the policy's own copy of the body */
};

/*
 * Parse len bytes of body.  STS_OK stores a new policy in *ret_policy
 * (free with sts_policy_free).  STS_ESYNTAX / STS_ETOOBIG: the body is not
 * a usable policy (§3.1, §3.2); reterr_diag (may be NULL) has the line and
 * rule.  STS_ENOMEM on allocation failure.
 */
int sts_policy_parse(const char *body, size_t len,
    struct sts_policy **ret_policy, struct sts_diag *reterr_diag);

void sts_policy_free(struct sts_policy *policy);

/* "none", "testing", "enforce". */
const char *sts_mode_name(enum sts_mode mode);

/* Valid-but-risky findings on a parsed policy, for lint and check. */
enum sts_policy_warning {
	STS_WARN_ENFORCE_SHORT_AGE = 1 << 0, /* enforce, max_age < 1 day */
	STS_WARN_TESTING_AGE = 1 << 1,       /* testing outside 1..2 weeks */
	STS_WARN_WILDCARD_MX = 1 << 2,       /* some mx is "*.suffix" */
	STS_WARN_NEAR_CAP = 1 << 3,          /* body near the 64 KiB cap */
	STS_WARN_DUPLICATE_MX = 1 << 4,      /* the same mx listed twice */
	STS_WARN_ZERO_AGE = 1 << 5,          /* max_age 0: never cached */
	STS_WARN_BLANK_LINES = 1 << 6,       /* empty lines in the body */
	STS_WARN_NONE_WITH_MX = 1 << 7,      /* mode none still lists mx */
};

/* Bitmask of sts_policy_warning for policy. */
unsigned sts_policy_warnings(const struct sts_policy *policy);

/* Human text for one warning bit (with the RFC section); never NULL. */
const char *sts_policy_warning_text(enum sts_policy_warning warning);

#endif

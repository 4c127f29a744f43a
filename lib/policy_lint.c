/*
 * policy_lint.c - valid but risky policies (advice, not RFC violations).
 */
#include <strings.h>

#include "mtasts/policy.h"

unsigned
sts_policy_warnings(const struct sts_policy *pol)
{
	unsigned w = 0;

	if (pol->mode == STS_MODE_ENFORCE &&
	    pol->max_age < STS_LINT_ENFORCE_MIN_AGE)
		w |= STS_WARN_ENFORCE_SHORT_AGE;
	if (pol->mode == STS_MODE_TESTING &&
	    (pol->max_age < STS_LINT_TESTING_MIN_AGE ||
		pol->max_age > STS_LINT_TESTING_MAX_AGE))
		w |= STS_WARN_TESTING_AGE;
	if (pol->max_age == 0)
		w |= STS_WARN_ZERO_AGE;
	if (pol->mode == STS_MODE_NONE && pol->n_mx > 0)
		w |= STS_WARN_NONE_WITH_MX;
	if (pol->body_bytes >= STS_POLICY_NEAR_CAP_BYTES)
		w |= STS_WARN_NEAR_CAP;
	if (pol->blank_lines > 0)
		w |= STS_WARN_BLANK_LINES;
	for (size_t i = 0; i < pol->n_mx; i++) {
		if (pol->mx[i][0] == '*')
			w |= STS_WARN_WILDCARD_MX;
		for (size_t k = 0; k < i; k++)
			if (strcasecmp(pol->mx[i], pol->mx[k]) == 0)
				w |= STS_WARN_DUPLICATE_MX;
	}
	return w;
}

const char *
sts_policy_warning_text(enum sts_policy_warning warning)
{
	switch (warning) {
	case STS_WARN_ENFORCE_SHORT_AGE:
		return "enforce with max_age under one day: a short cache "
		       "gives little protection against DNS blocking "
		       "(RFC 8461 §10.2 recommends weeks or more)";
	case STS_WARN_TESTING_AGE:
		return "testing with max_age outside one to two weeks "
		       "(604800-1209600), the usual range while rolling out "
		       "(RFC 8461 §3.2, §10.2)";
	case STS_WARN_WILDCARD_MX:
		return "wildcard mx pattern: any host with a certificate "
		       "under that name is accepted (RFC 8461 §10.4)";
	case STS_WARN_NEAR_CAP:
		return "policy is near the 64 KiB size senders accept "
		       "(RFC 8461 §3.3)";
	case STS_WARN_DUPLICATE_MX:
		return "the same mx pattern is listed more than once";
	case STS_WARN_ZERO_AGE:
		return "max_age 0: senders will not cache the policy "
		       "(RFC 8461 §3.2)";
	case STS_WARN_BLANK_LINES:
		return "empty lines: the RFC 8461 §3.2 grammar has none; "
		       "strict parsers may reject the policy";
	case STS_WARN_NONE_WITH_MX:
		return "mode none ignores the mx lines (RFC 8461 §5)";
	}
	return "?";
}

/*
 * mxmatch.h - does an MX host name satisfy a policy mx pattern?
 *
 * RFC 8461 §4.1: matching follows RFC 6125 with the wildcard restricted
 * to the entire leftmost label; "*.example.com" matches
 * "mail.example.com" but neither "example.com" nor
 * "foo.bar.example.com".  Comparison folds ASCII case only; one trailing
 * dot on either side is ignored.
 */
#ifndef MTASTS_MXMATCH_H
#define MTASTS_MXMATCH_H

#include <stdbool.h>

/*
 * True when host matches pattern.  Either being malformed (per
 * sts_domain_normalize) is no match.
 */
bool sts_mxmatch(const char *pattern, const char *host);

#endif

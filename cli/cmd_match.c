/*
 * cmd_match.c - mta-sts match PATTERN HOST: RFC 8461 §4.1 mx matching.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "mtasts/mtasts.h"

int
cmd_match(int argc, char **argv)
{
	char norm[STS_DOMAIN_MAX + 1];
	struct sts_diag diag;

	if (argc != 3) {
		fprintf(stderr, "usage: %s match PATTERN HOST\n", cli_progname);
		return CLI_USAGE;
	}
	if (sts_domain_normalize(argv[1], strlen(argv[1]),
		STS_DOMAIN_WILDCARD | STS_DOMAIN_TRAILING_DOT, norm,
		&diag) != STS_OK) {
		printf("no match: pattern: %s\n", diag.message);
		return CLI_INVALID;
	}
	if (sts_domain_normalize(argv[2], strlen(argv[2]),
		STS_DOMAIN_TRAILING_DOT, norm, &diag) != STS_OK) {
		printf("no match: host: %s\n", diag.message);
		return CLI_INVALID;
	}
	if (sts_mxmatch(argv[1], argv[2])) {
		printf("match\n");
		return CLI_OK;
	}
	printf("no match (RFC 8461 §4.1)\n");
	return CLI_INVALID;
}

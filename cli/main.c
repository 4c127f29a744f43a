/*
 * main.c - mta-sts: the domain owner's and postmaster's tool.
 *
 * Dispatches to one subcommand per file (cmd_*.c).  Exit codes: 0 valid
 * or match, 1 invalid or no match, 2 usage or I/O error; check and
 * policy grade instead: 0 ok, 1 warnings, 2 failures, 3 usage.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

const char *cli_progname = "mta-sts";

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
} commands[] = {
	{"lint", cmd_lint,
	    "lint policy [--json] FILE|-\n"
	    "       lint txt [--json] RECORD...\n"
	    "       lint tlsrpt [--json] RECORD..."},
	{"match", cmd_match, "match PATTERN HOST"},
	{"fetch", cmd_fetch,
	    "fetch [--json] [--concurrency N] [--timeout S] [--resolver ADDR]\n"
	    "         [--dnssec validate|off] [--trust-anchor FILE]\n"
	    "         [--ca-file FILE] [--connect-to MAP] DOMAIN..."},
	{"query", cmd_query,
	    "query [--socket inet:HOST:PORT|unix:PATH] [--map NAME] DOMAIN..."},
	{"cache", cmd_cache,
	    "cache [--file DB|--config FILE] [--json] list|show DOMAIN|purge "
	    "[DOMAIN]"},
	{"check", cmd_check,
	    "check [--json] [--smtp-timeout S] [--smtp-port N] [--no-smtp]\n"
	    "         [network options] DOMAIN... | --from-file FILE "
	    "[--concurrency N]"},
	{"policy", cmd_policy,
	    "policy new --domain D [--mode testing] [--mx PATTERN]... "
	    "[--max-age S] [--out FILE]\n"
	    "       policy bump [--domain D] FILE\n"
	    "       policy enforce [--domain D] [--force] FILE\n"
	    "       policy diff FILE DOMAIN"},
};

static void
usage(FILE *out)
{
	fprintf(out, "usage:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %s %s\n", cli_progname, commands[i].usage);
	fprintf(out, "  %s --version\n", cli_progname);
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	/* A peer closing early must be an error return, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return CLI_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("mta-sts %s\n", MTASTS_VERSION);
		return CLI_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command '%s'\n", cli_progname, argv[1]);
	usage(stderr);
	return CLI_USAGE;
}

/*
 * cli.h - what the mta-sts subcommands share.
 */
#ifndef STS_CLI_H
#define STS_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Exit codes of every subcommand. */
enum {
	CLI_OK = 0,      /* valid, match */
	CLI_INVALID = 1, /* invalid, no match */
	CLI_USAGE = 2,   /* usage or I/O error */
};

/* Each subcommand gets argv after its own name (argv[0] is its name). */
int cmd_lint(int argc, char **argv);
int cmd_match(int argc, char **argv);
int cmd_fetch(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_cache(int argc, char **argv);
/* check and policy exit 0 ok, 1 warnings/refused, 2 failures, 3 usage. */
int cmd_check(int argc, char **argv);
int cmd_policy(int argc, char **argv);

/* Print a JSON value compactly on one line of stdout; steals obj. */
void cli_json_print(json_t *obj);

/* {"line": line, "message": message} */
json_t *cli_json_error(int line, const char *message);

/*
 * Read a whole file ("-" is stdin), at most max bytes plus one so that the
 * caller can tell "too big" from "exactly max".  Returns 0 or -1 with a
 * message on stderr.
 */
int cli_read_file(const char *path, size_t max, char **ret_data,
    size_t *ret_len);

/* An unsigned decimal in [min, max], digits only (no sign, no space). */
bool cli_parse_uint(const char *s, unsigned long min, unsigned long max,
    unsigned long *ret);

/* Name of the program for messages. */
extern const char *cli_progname;

#endif

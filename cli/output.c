/*
 * output.c - JSON printing and file reading shared by the subcommands.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void
cli_json_print(json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT);

	if (s != NULL) {
		puts(s);
		free(s);
	}
	json_decref(obj);
}

json_t *
cli_json_error(int line, const char *message)
{
	return json_pack("{s:i, s:s}", "line", line, "message", message);
}

int
cli_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char *data;
	size_t len;

	if (f == NULL) {
		fprintf(stderr, "%s: %s: %s\n", cli_progname, path,
		    strerror(errno));
		return -1;
	}
	if ((data = malloc(max + 1)) == NULL) {
		fprintf(stderr, "%s: out of memory\n", cli_progname);
		goto fail;
	}
	len = fread(data, 1, max + 1, f);
	if (ferror(f)) {
		fprintf(stderr, "%s: %s: read error\n", cli_progname, path);
		free(data);
		goto fail;
	}
	if (f != stdin)
		fclose(f);
	*ret_data = data;
	*ret_len = len;
	return 0;
fail:
	if (f != stdin)
		fclose(f);
	return -1;
}

bool
cli_parse_uint(const char *s, unsigned long min, unsigned long max,
    unsigned long *ret)
{
	char *end;
	unsigned long v;

	if (s[0] < '0' || s[0] > '9')
		return false;
	v = strtoul(s, &end, 10);
	if (*end != '\0' || v < min || v > max)
		return false;
	*ret = v;
	return true;
}

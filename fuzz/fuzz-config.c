/*
 * fuzz-config.c - the config loader on arbitrary YAML.
 *
 * Checks, beyond the sanitizers: a failed load leaves the out-pointer
 * alone and a located, non-empty message; a good load dumps to YAML
 * that loads again and dumps to the same text; zone lookup never fails.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *
dump(const struct sts_config *cfg, unsigned flags)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return NULL;
	if (sts_config_dump(cfg, f, flags) != STS_OK) {
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	return buf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sts_config *cfg = (struct sts_config *)&size, *again = NULL;
	struct sts_diag diag;
	char *a = NULL, *b = NULL, *n = NULL;
	int r;

	memset(&diag, 0, sizeof(diag));
	r = sts_config_load_string(
	    (const char *)data, size, "fuzz.yml", &cfg, &diag);
	if (r != STS_OK) {
		if (cfg != (struct sts_config *)&size)
			abort();
		if (r != STS_ENOMEM &&
		    (diag.message[0] == '\0' ||
			memchr(diag.message, '\0', sizeof(diag.message)) ==
			    NULL ||
			strncmp(diag.message, "fuzz.yml", 8) != 0))
			abort();
		return 0;
	}

	(void)sts_config_zone(cfg, "postfix", 7);
	(void)sts_config_zone(cfg, (const char *)data, size < 16 ? size : 16);
	for (size_t i = 0; i < cfg->n_zones; i++)
		if (sts_config_zone(cfg, cfg->zones[i].name,
			strlen(cfg->zones[i].name)) != &cfg->zones[i])
			abort();

	a = dump(cfg, 0);
	n = dump(cfg, STS_CONFIG_DUMP_NONDEFAULT);
	if (a == NULL || n == NULL)
		goto out;
	if (sts_config_load_string(a, strlen(a), "dump.yml", &again, &diag) !=
	    STS_OK) {
		fprintf(stderr, "dump does not load: %s\n%s", diag.message, a);
		abort();
	}
	b = dump(again, 0);
	if (b != NULL && strcmp(a, b) != 0) {
		fprintf(stderr, "dump changed:\n%s---\n%s", a, b);
		abort();
	}
	sts_config_free(again);
	again = NULL;
	/* The non-default dump loads to the same config too. */
	if (sts_config_load_string(n, strlen(n), "n.yml", &again, &diag) !=
	    STS_OK) {
		fprintf(
		    stderr, "-n dump does not load: %s\n%s", diag.message, n);
		abort();
	}
	free(b);
	b = dump(again, 0);
	if (b != NULL && strcmp(a, b) != 0) {
		fprintf(stderr, "-n dump changed:\n%s---\n%s", a, b);
		abort();
	}
out:
	free(a);
	free(b);
	free(n);
	sts_config_free(again);
	sts_config_free(cfg);
	return 0;
}

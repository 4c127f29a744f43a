/*
 * cmd_cache.c - mta-sts cache list|show|purge: the daemon's SQLite cache.
 *
 * list and show open the file read-only, so they are safe beside a
 * running daemon.  purge changes the file only: a running daemon keeps
 * what it holds in memory until it restarts (say so, do not pretend).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "config.h"
#include "mtasts/cache.h"
#include "mtasts/mtasts.h"

struct list_ctx {
	bool json;
	int64_t now;
	const char *only; /* show: one domain */
	unsigned shown;
};

static void
fmt_time(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL)
		snprintf(buf, size, "-");
	else
		strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int
print_entry(const struct sts_cache_entry *e, void *arg)
{
	struct list_ctx *ctx = arg;
	struct sts_policy *pol = NULL;
	struct sts_diag diag = {0};
	char fetched[32], expires[32], checked[32];
	bool valid;

	if (ctx->only != NULL && strcmp(ctx->only, e->domain) != 0)
		return 0;
	ctx->shown++;
	valid = sts_policy_parse(e->body, e->body_len, &pol, &diag) == STS_OK;
	fmt_time(e->fetched_at, fetched, sizeof(fetched));
	fmt_time(e->expires_at, expires, sizeof(expires));
	fmt_time(e->checked_at, checked, sizeof(checked));
	if (ctx->json) {
		json_t *mx = json_array();

		for (size_t i = 0; pol && i < pol->n_mx; i++)
			json_array_append_new(mx, json_string(pol->mx[i]));
		cli_json_print(json_pack(
		    "{s:s, s:s, s:o, s:I, s:o, s:s, s:s, s:s, s:b, s:s%}",
		    "domain", e->domain, "id", e->id, "mode",
		    pol ? json_string(sts_mode_name(pol->mode)) : json_null(),
		    "max_age", (json_int_t)(pol ? pol->max_age : 0), "mx", mx,
		    "fetched_at", fetched, "checked_at", checked, "expires_at",
		    expires, "expired", e->expires_at <= ctx->now, "body",
		    e->body, e->body_len));
	} else if (ctx->only != NULL) {
		printf("domain:     %s\nid:         %s\nfetched:    %s\n"
		       "checked:    %s\nexpires:    %s%s\n",
		    e->domain, e->id, fetched, checked, expires,
		    e->expires_at <= ctx->now ? " (expired)" : "");
		if (!valid)
			printf("error:      cached body does not parse: %s\n",
			    diag.message);
		printf("---\n%.*s", (int)e->body_len, e->body);
	} else {
		printf("%-40s %-12s %-8s expires %s%s\n", e->domain, e->id,
		    pol ? sts_mode_name(pol->mode) : "invalid", expires,
		    e->expires_at <= ctx->now ? " (expired)" : "");
	}
	sts_policy_free(pol);
	return 0;
}

static char *
cache_file_from_config(const char *path)
{
	struct sts_config *cfg = NULL;
	struct sts_diag diag = {0};
	char *file = NULL;
	int r = path ? sts_config_load_file(path, &cfg, &diag)
		     : sts_config_load_file(STS_CONFIG_DEFAULT_PATH, &cfg,
			   &diag);

	if (r == STS_ENOTFOUND && path == NULL)
		r = sts_config_defaults(&cfg);
	if (r != STS_OK) {
		fprintf(stderr, "%s: %s\n", cli_progname, diag.message);
		return NULL;
	}
	if (cfg->cache.filename != NULL)
		file = strdup(cfg->cache.filename);
	else
		fprintf(stderr, "%s: the configured cache is not sqlite\n",
		    cli_progname);
	sts_config_free(cfg);
	return file;
}

int
cmd_cache(int argc, char **argv)
{
	static const struct option options[] = {
	    {"file", required_argument, NULL, 'f'},
	    {"config", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0},
	};
	struct list_ctx ctx = {.now = (int64_t)time(NULL)};
	struct sts_cache_config cc = {.type = "sqlite"};
	struct sts_cache *cache = NULL;
	struct sts_diag diag = {0};
	const char *file = NULL, *config = NULL, *verb;
	char *owned = NULL;
	int c, r, status = CLI_USAGE;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c == 'f')
			file = optarg;
		else if (c == 'c')
			config = optarg;
		else if (c == 'j')
			ctx.json = true;
		else
			goto usage;
	}
	if (optind >= argc)
		goto usage;
	verb = argv[optind++];
	if (file == NULL && (file = owned = cache_file_from_config(config)) ==
				NULL)
		return CLI_USAGE;
	cc.filename = file;
	cc.max_entries = STS_CACHE_MAX_ENTRIES;
	cc.read_only = strcmp(verb, "purge") != 0;
	if (strcmp(verb, "list") == 0 && optind == argc) {
	} else if (strcmp(verb, "show") == 0 && optind + 1 == argc) {
		ctx.only = argv[optind];
	} else if (strcmp(verb, "purge") == 0 && optind + 1 >= argc) {
	} else {
		free(owned);
		goto usage;
	}
	r = sts_cache_new(NULL, &cc, &cache, &diag);
	if (r != STS_OK) {
		fprintf(stderr, "%s: %s: %s\n", cli_progname, file,
		    diag.message[0] ? diag.message : sts_strerror(r));
		free(owned);
		return CLI_USAGE;
	}
	if (strcmp(verb, "purge") == 0) {
		r = optind < argc ? sts_cache_del(cache, argv[optind])
				  : sts_cache_clear(cache);
		if (r == STS_OK) {
			printf("purged %s from %s; a running mta-stsd keeps "
			       "its copy in memory until it restarts\n",
			    optind < argc ? argv[optind] : "every policy",
			    file);
			status = CLI_OK;
		} else {
			printf("%s: %s\n",
			    optind < argc ? argv[optind] : "purge",
			    sts_strerror(r));
			status = r == STS_ENOTFOUND ? CLI_INVALID : CLI_USAGE;
		}
	} else {
		sts_cache_foreach(cache, print_entry, &ctx);
		status = ctx.only != NULL && ctx.shown == 0 ? CLI_INVALID
							    : CLI_OK;
		if (status == CLI_INVALID)
			fprintf(stderr, "%s: %s is not in %s\n", cli_progname,
			    ctx.only, file);
	}
	sts_cache_free(cache);
	free(owned);
	return status;
usage:
	fprintf(stderr,
	    "usage: %s cache [--file DB | --config FILE] [--json] list\n"
	    "       %s cache [--file DB | --config FILE] [--json] show DOMAIN\n"
	    "       %s cache [--file DB | --config FILE] purge [DOMAIN]\n",
	    cli_progname, cli_progname, cli_progname);
	return CLI_USAGE;
}

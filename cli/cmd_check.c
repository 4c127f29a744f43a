/*
 * cmd_check.c - mta-sts check: judge a domain's whole MTA-STS deployment.
 *
 * For each domain collect.c gathers the facts on one event loop (DNS,
 * HTTPS per address family, TLS probes of the policy host and of every
 * MX), check.c judges them, and this file prints: grouped human lines
 * (coloured on a terminal) or one JSON object per domain.  Many domains
 * (arguments, or --from-file for audits) run --concurrency at a time;
 * results are printed as they complete.
 *
 * Exit: 0 every domain ok, 1 warnings only, 2 failures, 3 usage.
 */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "collect.h"
#include "mtasts/mtasts.h"

enum {
	CHECK_EXIT_OK = 0,
	CHECK_EXIT_WARN = 1,
	CHECK_EXIT_FAIL = 2,
	CHECK_EXIT_USAGE = 3,
};

#define CHECK_DEFAULT_CONCURRENCY 16
#define CHECK_MAX_CONCURRENCY     10000
#define CHECK_LINE_MAX            1024 /* one line of --from-file */
#define PROGRESS_INTERVAL_MS      100

struct check_run {
	struct collector *col;
	char **domains;
	size_t n_domains, next, running, concurrency, done;
	bool json, color, progress;
	unsigned counts[3]; /* by verdict */
	enum sts_check_status worst;
	struct timespec start, last_progress;
};

struct check_slot {
	struct check_run *run;
};

static void start_more(struct check_run *run);

/* ---- output ------------------------------------------------------------ */

static const char *
color_of(enum sts_check_status s)
{
	switch (s) {
	case STS_CHECK_PASS:
		return "\033[32m";
	case STS_CHECK_WARN:
		return "\033[33m";
	case STS_CHECK_FAIL:
		return "\033[31m";
	}
	return "";
}

static const char *
group_title(const char *id)
{
	static const struct {
		const char *prefix, *title;
	} groups[] = {
	    {"txt.", "MTA-STS TXT record"},
	    {"host.", "policy host"},
	    {"policy.", "policy"},
	    {"mx.", "MX hosts"},
	    {"tlsrpt.", "TLS-RPT record"},
	    {"dane.", "DNSSEC and DANE"},
	    {"readiness.", "enforce readiness"},
	};

	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		if (strncmp(id, groups[i].prefix, strlen(groups[i].prefix)) ==
		    0)
			return groups[i].title;
	return "other";
}

static void
print_human(const struct check_run *run, const struct sts_check_report *r)
{
	const char *bold = run->color ? "\033[1m" : "";
	const char *reset = run->color ? "\033[0m" : "";
	const char *last_group = NULL;
	unsigned n[3] = {0, 0, 0};

	for (size_t i = 0; i < r->n_items; i++)
		n[r->items[i].status]++;
	printf("%s%s%s: %s%s%s (%u fail, %u warn, %u pass); enforce %s\n", bold,
	    r->domain, reset, run->color ? color_of(r->verdict) : "",
	    sts_check_verdict_name(r->verdict), reset, n[STS_CHECK_FAIL],
	    n[STS_CHECK_WARN], n[STS_CHECK_PASS],
	    r->enforce_ready ? "ready" : "not ready");
	for (size_t i = 0; i < r->n_items; i++) {
		const struct sts_check_item *it = &r->items[i];
		const char *group = group_title(it->id);

		if (last_group == NULL || strcmp(group, last_group) != 0) {
			printf("  %s%s%s\n", bold, group, reset);
			last_group = group;
		}
		printf("    %s%-4s%s %-18s ",
		    run->color ? color_of(it->status) : "",
		    sts_check_status_name(it->status), reset, it->id);
		if (it->subject[0] && strstr(it->message, it->subject) == NULL)
			printf("%s: ", it->subject);
		printf("%s (%s)", it->message, it->rfc);
		if (it->fix[0])
			printf("; fix: %s", it->fix);
		printf("\n");
	}
	fflush(stdout);
}

static json_t *
report_json(const struct sts_check_report *r)
{
	json_t *checks = json_array(), *blocking = json_array();

	for (size_t i = 0; i < r->n_items; i++) {
		const struct sts_check_item *it = &r->items[i];
		json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "id", it->id,
		    "status", sts_check_status_name(it->status), "message",
		    it->message, "rfc", it->rfc);

		if (it->subject[0])
			json_object_set_new(
			    o, "subject", json_string(it->subject));
		if (it->fix[0])
			json_object_set_new(o, "fix", json_string(it->fix));
		json_array_append_new(checks, o);
	}
	for (size_t i = 0; i < r->n_blockers; i++)
		json_array_append_new(blocking,
		    json_pack("{s:s, s:s}", "host", r->blockers[i].host, "why",
			r->blockers[i].why));
	return json_pack("{s:s, s:s, s:o, s:{s:b, s:s, s:o}, s:o, s:o}",
	    "domain", r->domain, "verdict", sts_check_verdict_name(r->verdict),
	    "id", r->id[0] ? json_string(r->id) : json_null(), "readiness",
	    "enforce_ready", r->enforce_ready, "message", r->readiness,
	    "blocking", blocking, "mode",
	    r->policy ? json_string(sts_mode_name(r->policy->mode))
		      : json_null(),
	    "checks", checks);
}

/* A domain name that could not be checked at all. */
static void
print_bad_domain(const struct check_run *run, const char *arg, const char *why)
{
	if (run->json) {
		cli_json_print(
		    json_pack("{s:s, s:s, s:n, s:{s:b, s:s, s:[]}, s:n, "
			      "s:[{s:s, s:s, s:s, s:s}]}",
			"domain", arg, "verdict", "fail", "id", "readiness",
			"enforce_ready", 0, "message", why, "blocking", "mode",
			"checks", "id", "domain.name", "status", "fail",
			"message", why, "rfc", "RFC 5321 §4.1.2"));
	} else {
		printf("%s: fail\n    fail domain.name %s\n", arg, why);
	}
	fflush(stdout);
}

static double
seconds_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) +
	       (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void
progress(struct check_run *run, bool final)
{
	enum { WIDTH = 30 };
	char bar[WIDTH + 1];
	size_t fill;
	double el;

	if (!run->progress)
		return;
	if (!final &&
	    seconds_since(&run->last_progress) * 1000 < PROGRESS_INTERVAL_MS)
		return;
	clock_gettime(CLOCK_MONOTONIC, &run->last_progress);
	fill = run->n_domains ? run->done * WIDTH / run->n_domains : 0;
	memset(bar, '#', fill);
	memset(bar + fill, '-', WIDTH - fill);
	bar[WIDTH] = '\0';
	el = seconds_since(&run->start);
	fprintf(stderr, "\r\033[K[%s] %zu/%zu  ok %u  warn %u  fail %u  %.1f/s",
	    bar, run->done, run->n_domains, run->counts[STS_CHECK_PASS],
	    run->counts[STS_CHECK_WARN], run->counts[STS_CHECK_FAIL],
	    el > 0 ? (double)run->done / el : 0.0);
	if (final)
		fprintf(stderr, "\n"); /* the last state stays as a summary */
}

static void
account(struct check_run *run, enum sts_check_status verdict)
{
	run->counts[verdict]++;
	if (verdict > run->worst)
		run->worst = verdict;
	run->done++;
	progress(run, false);
}

/* ---- the run ----------------------------------------------------------- */

static void
on_collected(struct collected *c, void *arg)
{
	struct check_slot *slot = arg;
	struct check_run *run = slot->run;
	struct sts_check_report *r = NULL;
	int err;

	free(slot);
	run->running--;
	err = sts_check_evaluate(collected_facts(c), &r);
	if (err != STS_OK) {
		print_bad_domain(
		    run, collected_facts(c)->domain, sts_strerror(err));
		account(run, STS_CHECK_FAIL);
	} else {
		if (run->json)
			cli_json_print(report_json(r));
		else
			print_human(run, r);
		account(run, r->verdict);
	}
	sts_check_report_free(r);
	collected_free(c);
	start_more(run);
}

static void
start_more(struct check_run *run)
{
	while (run->running < run->concurrency && run->next < run->n_domains) {
		const char *arg = run->domains[run->next++];
		char domain[STS_DOMAIN_MAX + 1];
		struct check_slot *slot;
		struct sts_diag diag = {0};
		int r;

		if (sts_domain_to_alabel(arg, strlen(arg), domain, &diag) !=
		    STS_OK) {
			print_bad_domain(run, arg, diag.message);
			account(run, STS_CHECK_FAIL);
			continue;
		}
		if ((slot = malloc(sizeof(*slot))) == NULL) {
			print_bad_domain(run, arg, "out of memory");
			account(run, STS_CHECK_FAIL);
			continue;
		}
		slot->run = run;
		r = collect_start(run->col, domain, on_collected, slot, NULL);
		if (r != STS_OK) {
			free(slot);
			print_bad_domain(run, arg, sts_strerror(r));
			account(run, STS_CHECK_FAIL);
			continue;
		}
		run->running++;
	}
}

/* One domain a line; blank lines and '#' comments skipped. */
static int
read_domains(const char *path, char ***ret, size_t *ret_n)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char line[CHECK_LINE_MAX], **list = NULL;
	size_t n = 0, cap = 0;

	if (f == NULL) {
		fprintf(stderr, "%s: %s: %s\n", cli_progname, path,
		    strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *s = line, *e;

		while (*s == ' ' || *s == '\t')
			s++;
		e = s + strcspn(s, " \t\r\n#");
		*e = '\0';
		if (*s == '\0')
			continue;
		if (n == cap) {
			char **l;

			cap = cap ? cap * 2 : 256;
			if ((l = realloc(list, cap * sizeof(*l))) == NULL)
				goto oom;
			list = l;
		}
		if ((list[n] = strdup(s)) == NULL)
			goto oom;
		n++;
	}
	if (f != stdin)
		fclose(f);
	*ret = list;
	*ret_n = n;
	return 0;
oom:
	fprintf(stderr, "%s: out of memory\n", cli_progname);
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
	if (f != stdin)
		fclose(f);
	return -1;
}

static void
check_usage(void)
{
	fprintf(stderr,
	    "usage: %s check [--json] [--color auto|always|never]\n"
	    "         [--smtp-timeout S] [--smtp-port N] [--no-smtp] "
	    "[--helo NAME]\n"
	    "         [--timeout S] [--resolver ADDR[@PORT]]... "
	    "[--dnssec validate|off]\n"
	    "         [--trust-anchor FILE] [--ca-file FILE] "
	    "[--connect-to MAP]...\n"
	    "         DOMAIN... | --from-file FILE [--concurrency N]\n",
	    cli_progname);
}

int
cmd_check(int argc, char **argv)
{
	static const struct option options[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"color", required_argument, NULL, 'C'},
	    {"from-file", required_argument, NULL, 'f'},
	    {"concurrency", required_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    COLLECT_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct check_run run = {.concurrency = CHECK_DEFAULT_CONCURRENCY};
	struct collect_opts o;
	struct event_base *base = NULL;
	struct sts_diag diag = {0};
	const char *from_file = NULL, *color = "auto";
	char **list = NULL;
	size_t n_list = 0;
	unsigned long v;
	int c, r, status = CHECK_EXIT_USAGE;

	collect_opts_init(&o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'j':
			run.json = true;
			break;
		case 'C':
			if (strcmp(optarg, "auto") != 0 &&
			    strcmp(optarg, "always") != 0 &&
			    strcmp(optarg, "never") != 0)
				goto usage;
			color = optarg;
			break;
		case 'f':
			from_file = optarg;
			break;
		case 'n':
			if (!cli_parse_uint(
				optarg, 1, CHECK_MAX_CONCURRENCY, &v))
				goto usage;
			run.concurrency = v;
			break;
		case 'h':
			check_usage();
			return CHECK_EXIT_OK;
		default:
			if (collect_option(&o, c, optarg) != 1)
				goto usage;
		}
	}
	if ((from_file == NULL) == (optind >= argc))
		goto usage; /* domains either as arguments or from a file */
	if (from_file != NULL) {
		if (read_domains(from_file, &list, &n_list) < 0)
			return CHECK_EXIT_USAGE;
		run.domains = list;
		run.n_domains = n_list;
		run.json = true; /* JSON lines for audits */
		run.progress = isatty(STDERR_FILENO);
	} else {
		run.domains = argv + optind;
		run.n_domains = (size_t)(argc - optind);
	}
	run.color = strcmp(color, "always") == 0 ||
		    (strcmp(color, "auto") == 0 && isatty(STDOUT_FILENO) &&
			getenv("NO_COLOR") == NULL);
	clock_gettime(CLOCK_MONOTONIC, &run.start);
	run.last_progress = run.start;

	if ((base = event_base_new()) == NULL) {
		fprintf(
		    stderr, "%s: cannot create the event loop\n", cli_progname);
		goto out;
	}
	r = collector_new(base, &o.cfg, &run.col, &diag);
	if (r != STS_OK) {
		fprintf(stderr, "%s: %s\n", cli_progname,
		    diag.message[0] ? diag.message : sts_strerror(r));
		goto out;
	}
	start_more(&run);
	event_base_dispatch(base);
	progress(&run, true);
	status = run.worst == STS_CHECK_FAIL   ? CHECK_EXIT_FAIL
		 : run.worst == STS_CHECK_WARN ? CHECK_EXIT_WARN
					       : CHECK_EXIT_OK;
out:
	collector_free(run.col);
	if (base)
		event_base_free(base);
	for (size_t i = 0; i < n_list; i++)
		free(list[i]);
	free(list);
	return status;
usage:
	check_usage();
	return CHECK_EXIT_USAGE;
}

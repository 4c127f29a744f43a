/*
 * cmd_lint.c - mta-sts lint policy|txt|tlsrpt: check a policy file or
 * DNS records against RFC 8461 §3.1/§3.2 and RFC 8460 §3.
 *
 * Human output is compiler-style ("FILE:LINE: error: ...") so editors can
 * jump to the line; --json prints exactly one object.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mtasts/mtasts.h"

static void
lint_usage(void)
{
	fprintf(stderr,
	    "usage: %s lint policy [--json] FILE|-\n"
	    "       %s lint txt [--json] RECORD...\n"
	    "       %s lint tlsrpt [--json] RECORD...\n",
	    cli_progname, cli_progname, cli_progname);
}

static const char *
age_words(uint32_t s, char *buf, size_t size)
{
	if (s % 86400 == 0 && s > 0)
		snprintf(buf, size, " (%u day%s)", s / 86400,
		    s == 86400 ? "" : "s");
	else if (s % 3600 == 0 && s > 0)
		snprintf(buf, size, " (%u hour%s)", s / 3600,
		    s == 3600 ? "" : "s");
	else
		buf[0] = '\0';
	return buf;
}

static int
lint_policy(const char *path, bool json)
{
	struct sts_policy *pol = NULL;
	struct sts_diag diag = {0};
	char *body;
	size_t len;
	unsigned warn = 0;
	int r;

	if (cli_read_file(path, STS_POLICY_MAX_BYTES, &body, &len) < 0)
		return CLI_USAGE;
	r = sts_policy_parse(body, len, &pol, &diag);
	free(body);
	if (r == STS_ENOMEM) {
		fprintf(stderr, "%s: out of memory\n", cli_progname);
		return CLI_USAGE;
	}
	if (r == STS_OK)
		warn = sts_policy_warnings(pol);

	if (json) {
		json_t *mx = json_array(), *errors = json_array();
		json_t *warnings = json_array();

		for (size_t i = 0; pol && i < pol->n_mx; i++)
			json_array_append_new(mx, json_string(pol->mx[i]));
		if (r != STS_OK)
			json_array_append_new(errors,
			    cli_json_error(diag.line, diag.message));
		for (unsigned bit = 1; bit != 0 && bit <= warn; bit <<= 1)
			if (warn & bit)
				json_array_append_new(warnings,
				    json_string(sts_policy_warning_text(bit)));
		cli_json_print(json_pack("{s:b, s:o, s:o, s:o, s:o, s:o, s:o}",
		    "valid", r == STS_OK,
		    "version", pol ? json_string("STSv1") : json_null(),
		    "mode", pol ? json_string(sts_mode_name(pol->mode))
				: json_null(),
		    "mx", mx,
		    "max_age", pol ? json_integer(pol->max_age) : json_null(),
		    "errors", errors, "warnings", warnings));
	} else if (r != STS_OK) {
		if (diag.line > 0)
			printf("%s:%d: error: %s\n", path, diag.line,
			    diag.message);
		else
			printf("%s: error: %s\n", path, diag.message);
	} else {
		char words[32];

		printf("%s: valid MTA-STS policy (RFC 8461 §3.2)\n", path);
		printf("  version: STSv1\n");
		printf("  mode:    %s\n", sts_mode_name(pol->mode));
		printf("  max_age: %u%s\n", pol->max_age,
		    age_words(pol->max_age, words, sizeof(words)));
		for (size_t i = 0; i < pol->n_mx; i++)
			printf("  mx:      %s\n", pol->mx[i]);
		for (unsigned bit = 1; bit != 0 && bit <= warn; bit <<= 1)
			if (warn & bit)
				printf("%s: warning: %s\n", path,
				    sts_policy_warning_text(bit));
	}
	sts_policy_free(pol);
	return r == STS_OK ? CLI_OK : CLI_INVALID;
}

static void
records_from_argv(int n, char **argv, struct sts_txt_record *records)
{
	for (int i = 0; i < n; i++) {
		records[i].data = argv[i];
		records[i].len = strlen(argv[i]);
	}
}

static void
print_error(const struct sts_diag *diag)
{
	if (diag->line > 0)
		printf("record %d: error: %s\n", diag->line, diag->message);
	else
		printf("error: %s\n", diag->message);
}

static int
lint_txt(int n, char **argv, bool json)
{
	struct sts_txt_record records[STS_TXT_MAX_RECORDS];
	struct sts_diag diag = {0};
	struct sts_txt txt;
	int r;

	records_from_argv(n, argv, records);
	r = sts_txt_parse(records, (size_t)n, &txt, &diag);
	if (json) {
		json_t *errors = json_array();

		if (r != STS_OK)
			json_array_append_new(errors,
			    cli_json_error(diag.line, diag.message));
		cli_json_print(json_pack("{s:b, s:o, s:o}", "valid",
		    r == STS_OK, "id",
		    r == STS_OK ? json_string(txt.id) : json_null(), "errors",
		    errors));
	} else if (r == STS_OK) {
		printf("valid MTA-STS record (RFC 8461 §3.1)\n  id: %s\n",
		    txt.id);
	} else {
		print_error(&diag);
	}
	return r == STS_OK ? CLI_OK : CLI_INVALID;
}

static int
lint_tlsrpt(int n, char **argv, bool json)
{
	struct sts_txt_record records[STS_TXT_MAX_RECORDS];
	struct sts_tlsrpt *t = NULL;
	struct sts_diag diag = {0};
	int r;

	records_from_argv(n, argv, records);
	r = sts_tlsrpt_parse(records, (size_t)n, &t, &diag);
	if (r == STS_ENOMEM) {
		fprintf(stderr, "%s: out of memory\n", cli_progname);
		return CLI_USAGE;
	}
	if (json) {
		json_t *rua = json_array(), *ignored = json_array();
		json_t *errors = json_array();

		for (size_t i = 0; t && i < t->n_rua; i++)
			json_array_append_new(rua, json_string(t->rua[i]));
		for (size_t i = 0; t && i < t->n_ignored; i++)
			json_array_append_new(ignored,
			    json_string(t->ignored[i]));
		if (r != STS_OK)
			json_array_append_new(errors,
			    cli_json_error(diag.line, diag.message));
		cli_json_print(json_pack("{s:b, s:o, s:o, s:o}", "valid",
		    r == STS_OK, "rua", rua, "ignored_rua", ignored, "errors",
		    errors));
	} else if (r == STS_OK) {
		printf("valid TLS-RPT record (RFC 8460 §3)\n");
		for (size_t i = 0; i < t->n_rua; i++)
			printf("  rua: %s\n", t->rua[i]);
		for (size_t i = 0; i < t->n_ignored; i++)
			printf("warning: rua '%s' has a scheme other than "
			       "mailto: or https: and is ignored (RFC 8460 "
			       "§3)\n",
			    t->ignored[i]);
	} else {
		print_error(&diag);
	}
	sts_tlsrpt_free(t);
	return r == STS_OK ? CLI_OK : CLI_INVALID;
}

int
cmd_lint(int argc, char **argv)
{
	bool json = false;
	const char *what;
	int first;

	if (argc < 2) {
		lint_usage();
		return CLI_USAGE;
	}
	what = argv[1];
	first = 2;
	if (first < argc && strcmp(argv[first], "--json") == 0) {
		json = true;
		first++;
	}
	argc -= first;
	argv += first;
	if (strcmp(what, "policy") == 0) {
		if (argc != 1) {
			lint_usage();
			return CLI_USAGE;
		}
		return lint_policy(argv[0], json);
	}
	if (strcmp(what, "txt") == 0 || strcmp(what, "tlsrpt") == 0) {
		if (argc < 1 || argc > STS_TXT_MAX_RECORDS) {
			lint_usage();
			return CLI_USAGE;
		}
		return what[0] == 't' && what[1] == 'x'
			   ? lint_txt(argc, argv, json)
			   : lint_tlsrpt(argc, argv, json);
	}
	lint_usage();
	return CLI_USAGE;
}

/*
 * cmd_policy.c - mta-sts policy new|bump|enforce|diff: write and roll out
 * a domain's policy file.
 *
 *   new      a valid policy (CRLF lines, RFC 8461 §3.2) with mx lines from
 *            the domain's MX records, plus the TXT records to publish
 *   bump     a fresh id and the _mta-sts record for a changed policy
 *   enforce  switch a testing policy to enforce only when no MX host of
 *            the domain would be refused (the check's readiness verdict)
 *   diff     the local file against what the domain publishes
 *
 * Nothing invalid is ever written: every body is parsed with
 * sts_policy_parse() first.  Exit: 0 done (diff: same), 1 refused (diff:
 * different), 2 a lookup, fetch or file failed, 3 usage.
 */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "collect.h"
#include "mtasts/discover.h"
#include "mtasts/mtasts.h"

enum {
	POLICY_EXIT_OK = 0,
	POLICY_EXIT_NO = 1,
	POLICY_EXIT_ERR = 2,
	POLICY_EXIT_USAGE = 3,
};

#define POLICY_MAX_MX          64
#define POLICY_TESTING_AGE     1209600u /* two weeks */
#define POLICY_NONE_AGE        86400u   /* RFC 8461 §8.3: small */
#define POLICY_ENFORCE_MIN_AGE 604800u  /* a week */
#define POLICY_ID_MAX          sizeof("20260101T120000")

/* ---- small helpers ------------------------------------------------------- */

/* A fresh id: the UTC time as 20260101T120000 (RFC 8461 §3.1 allows
 * 1-32 letters and digits; a time stamp is unique and sortable). */
static void
fresh_id(char id[POLICY_ID_MAX])
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(id, POLICY_ID_MAX, "%Y%m%dT%H%M%S", &tm);
}

/* The domain named by a path like .../mta-sts.example.com/.well-known/
 * mta-sts.txt (a policy host's web root); false if there is none. */
static bool
domain_from_path(const char *path, char out[STS_DOMAIN_MAX + 1])
{
	const char *p = path;

	while ((p = strstr(p, "mta-sts.")) != NULL) {
		const char *start = p + strlen("mta-sts.");
		size_t len = strcspn(start, "/");

		if ((p == path || p[-1] == '/') && start[len] == '/' &&
		    strcmp(start + len, "/.well-known/mta-sts.txt") == 0 &&
		    sts_domain_to_alabel(start, len, out, NULL) == STS_OK)
			return true;
		p = start;
	}
	return false;
}

static int
read_policy(const char *path, char **ret_body, size_t *ret_len,
    struct sts_policy **ret_pol)
{
	struct sts_diag diag = {0};
	int r;

	if (cli_read_file(path, STS_POLICY_MAX_BYTES, ret_body, ret_len) < 0)
		return POLICY_EXIT_ERR;
	r = sts_policy_parse(*ret_body, *ret_len, ret_pol, &diag);
	if (r != STS_OK) {
		if (diag.line > 0)
			fprintf(stderr, "%s:%d: error: %s\n", path, diag.line,
			    diag.message);
		else
			fprintf(stderr, "%s: error: %s\n", path,
			    r == STS_ENOMEM ? "out of memory" : diag.message);
		free(*ret_body);
		*ret_body = NULL;
		return POLICY_EXIT_ERR;
	}
	return POLICY_EXIT_OK;
}

/* Write body to path through a temporary file and rename (atomic), or
 * to stdout for "-". */
static int
write_file(const char *path, const char *body, size_t len)
{
	char tmp[4096];
	FILE *f;

	if (strcmp(path, "-") == 0) {
		fwrite(body, 1, len, stdout);
		fflush(stdout);
		return 0;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path,
		(long)getpid()) >= sizeof(tmp)) {
		fprintf(stderr, "%s: %s: path too long\n", cli_progname, path);
		return -1;
	}
	if ((f = fopen(tmp, "wb")) == NULL) {
		fprintf(
		    stderr, "%s: %s: %s\n", cli_progname, tmp, strerror(errno));
		return -1;
	}
	if (fwrite(body, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "%s: %s: write failed\n", cli_progname, tmp);
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) != 0) {
		fprintf(stderr, "%s: %s: %s\n", cli_progname, path,
		    strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* The records to publish, after the policy file is served. */
static void
print_records(FILE *out, const char *domain, const char *id, const char *rua)
{
	fprintf(out, "_mta-sts.%s. IN TXT \"v=STSv1; id=%s\"\n",
	    domain ? domain : "<your-domain>", id);
	if (rua != NULL)
		fprintf(out, "_smtp._tls.%s. IN TXT \"v=TLSRPTv1; rua=%s\"\n",
		    domain, rua);
}

/* Validate an mx pattern given on the command line (U-labels allowed). */
static int
mx_pattern(const char *arg, char out[STS_DOMAIN_MAX + 1])
{
	struct sts_diag diag = {0};
	char name[STS_DOMAIN_MAX + 1];
	bool wild = strncmp(arg, "*.", 2) == 0;

	if (sts_domain_to_alabel(wild ? arg + 2 : arg,
		strlen(wild ? arg + 2 : arg), name, &diag) != STS_OK ||
	    (wild && strlen(name) + 2 > STS_DOMAIN_MAX)) {
		fprintf(stderr, "%s: mx '%s': %s\n", cli_progname, arg,
		    diag.message[0] ? diag.message : "too long");
		return -1;
	}
	snprintf(out, STS_DOMAIN_MAX + 1, "%s%s", wild ? "*." : "", name);
	return 0;
}

/* ---- policy new ---------------------------------------------------------- */

struct mx_lookup {
	bool done;
	int status;
	bool nxdomain;
	char reason[STS_DNS_REASON_MAX];
	size_t n;
	char hosts[POLICY_MAX_MX][STS_DOMAIN_MAX + 1];
	bool null_mx;
};

static void
on_mx(const struct sts_dns_answer *a, void *arg)
{
	struct mx_lookup *m = arg;
	size_t order[POLICY_MAX_MX], n = 0;

	m->done = true;
	m->status = a->status;
	m->nxdomain = a->nxdomain;
	snprintf(m->reason, sizeof(m->reason), "%s", a->reason);
	if (a->status != STS_OK)
		return;
	if (a->n == 1 && a->mx[0].host[0] == '\0') {
		m->null_mx = true;
		return;
	}
	for (size_t i = 0; i < a->n && n < POLICY_MAX_MX; i++) {
		size_t j = n++;

		while (j > 0 && a->mx[order[j - 1]].pref > a->mx[i].pref) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
	for (size_t i = 0; i < n; i++) {
		const char *h = a->mx[order[i]].host;
		bool dup = h[0] == '\0';

		for (size_t k = 0; k < m->n && !dup; k++)
			dup = strcmp(m->hosts[k], h) == 0;
		if (!dup)
			snprintf(
			    m->hosts[m->n++], sizeof(m->hosts[0]), "%s", h);
	}
}

static int
lookup_mx(const struct collect_opts *o, const char *domain, struct mx_lookup *m)
{
	struct event_base *base = event_base_new();
	struct sts_dns *dns = NULL;
	struct sts_diag diag = {0};
	int r, status = POLICY_EXIT_ERR;

	if (base == NULL)
		return POLICY_EXIT_ERR;
	r = sts_dns_new(base, &o->cfg.dns, &dns, &diag);
	if (r != STS_OK) {
		fprintf(stderr, "%s: %s\n", cli_progname,
		    diag.message[0] ? diag.message : sts_strerror(r));
		goto out;
	}
	r = sts_dns_query_mx(dns, domain, on_mx, m, NULL);
	if (r != STS_OK) {
		fprintf(stderr, "%s: MX lookup of %s: %s\n", cli_progname,
		    domain, sts_strerror(r));
		goto out;
	}
	event_base_dispatch(base);
	status = POLICY_EXIT_OK;
out:
	sts_dns_free(dns);
	event_base_free(base);
	return status;
}

static int
policy_new(int argc, char **argv)
{
	static const struct option options[] = {
	    {"domain", required_argument, NULL, 'd'},
	    {"mode", required_argument, NULL, 'm'},
	    {"mx", required_argument, NULL, 'x'},
	    {"max-age", required_argument, NULL, 'a'},
	    {"out", required_argument, NULL, 'o'},
	    {"rua", required_argument, NULL, 'r'},
	    COLLECT_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	static char mx[POLICY_MAX_MX][STS_DOMAIN_MAX + 1];
	char domain[STS_DOMAIN_MAX + 1], id[POLICY_ID_MAX], rua[512];
	char body[STS_POLICY_MAX_BYTES];
	const char *arg_domain = NULL, *out = NULL, *mode = "testing";
	const char *arg_rua = NULL;
	struct collect_opts o;
	struct sts_policy *pol = NULL;
	struct sts_diag diag = {0};
	struct mx_lookup *m = NULL;
	unsigned long max_age = 0;
	size_t n_mx = 0, len = 0;
	bool derived = false;
	int c, r, status = POLICY_EXIT_ERR;
	FILE *info;

	collect_opts_init(&o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'd':
			arg_domain = optarg;
			break;
		case 'm':
			if (strcmp(optarg, "testing") != 0 &&
			    strcmp(optarg, "enforce") != 0 &&
			    strcmp(optarg, "none") != 0)
				return POLICY_EXIT_USAGE;
			mode = optarg;
			break;
		case 'x':
			if (n_mx == POLICY_MAX_MX ||
			    mx_pattern(optarg, mx[n_mx]) < 0)
				return POLICY_EXIT_USAGE;
			n_mx++;
			break;
		case 'a':
			if (!cli_parse_uint(
				optarg, 0, STS_MAX_AGE_MAX, &max_age))
				return POLICY_EXIT_USAGE;
			break;
		case 'o':
			out = optarg;
			break;
		case 'r':
			arg_rua = optarg;
			break;
		default:
			if (collect_option(&o, c, optarg) != 1)
				return POLICY_EXIT_USAGE;
		}
	}
	if (arg_domain == NULL || optind != argc) {
		fprintf(stderr, "%s: policy new needs --domain DOMAIN\n",
		    cli_progname);
		return POLICY_EXIT_USAGE;
	}
	if (sts_domain_to_alabel(
		arg_domain, strlen(arg_domain), domain, &diag) != STS_OK) {
		fprintf(stderr, "%s: '%s': %s\n", cli_progname, arg_domain,
		    diag.message);
		return POLICY_EXIT_USAGE;
	}
	if (max_age == 0 && strcmp(mode, "none") == 0)
		max_age = POLICY_NONE_AGE;
	else if (max_age == 0)
		max_age = POLICY_TESTING_AGE;

	/* No --mx: the domain's MX hosts, exactly (RFC 8461 §10.4 advises
	 * against broad wildcards). */
	if (n_mx == 0 && strcmp(mode, "none") != 0) {
		if ((m = calloc(1, sizeof(*m))) == NULL)
			return POLICY_EXIT_ERR;
		if (lookup_mx(&o, domain, m) != POLICY_EXIT_OK || !m->done)
			goto out;
		if (m->null_mx) {
			fprintf(stderr,
			    "%s: %s has a null MX (RFC 7505): it receives no "
			    "mail; give --mx if that is about to change\n",
			    cli_progname, domain);
			goto out;
		}
		if (m->status == STS_ENOTFOUND) {
			/* RFC 5321 §5.1: the implicit MX */
			fprintf(stderr,
			    "%s: %s has no MX records: senders deliver to the "
			    "domain itself (implicit MX)\n",
			    cli_progname, domain);
			snprintf(mx[n_mx++], sizeof(mx[0]), "%s", domain);
		} else if (m->status != STS_OK) {
			fprintf(stderr,
			    "%s: MX lookup of %s failed: %s; give --mx\n",
			    cli_progname, domain, m->reason);
			goto out;
		} else {
			for (size_t i = 0; i < m->n; i++)
				if (mx_pattern(m->hosts[i], mx[n_mx]) == 0)
					n_mx++;
		}
		derived = true;
	}

	len = (size_t)snprintf(
	    body, sizeof(body), "version: STSv1\r\nmode: %s\r\n", mode);
	for (size_t i = 0; i < n_mx && len < sizeof(body); i++)
		len += (size_t)snprintf(
		    body + len, sizeof(body) - len, "mx: %s\r\n", mx[i]);
	if (len < sizeof(body))
		len += (size_t)snprintf(body + len, sizeof(body) - len,
		    "max_age: %lu\r\n", max_age);
	if (len >= sizeof(body)) {
		fprintf(stderr, "%s: policy too long\n", cli_progname);
		goto out;
	}
	/* Never write what senders would reject. */
	r = sts_policy_parse(body, len, &pol, &diag);
	if (r != STS_OK) {
		fprintf(stderr, "%s: generated policy invalid: %s\n",
		    cli_progname, diag.message);
		goto out;
	}
	if (write_file(out ? out : "-", body, len) < 0)
		goto out;

	fresh_id(id);
	if (arg_rua != NULL)
		snprintf(rua, sizeof(rua), "%s", arg_rua);
	else
		snprintf(rua, sizeof(rua), "mailto:tlsrpt@%s", domain);
	/* With --out the records are the output; else the policy is. */
	info = out ? stdout : stderr;
	if (out)
		fprintf(info, "wrote %s: mode %s, max_age %lu, %zu mx%s\n", out,
		    mode, max_age, n_mx,
		    derived ? " (from the current MX records)" : "");
	fprintf(info,
	    "# 1. serve the policy as https://mta-sts.%s/.well-known/"
	    "mta-sts.txt (text/plain)\n"
	    "# 2. then publish (RFC 8461 §8.1: the policy first):\n",
	    domain);
	print_records(info, domain, id, rua);
	status = POLICY_EXIT_OK;
out:
	sts_policy_free(pol);
	free(m);
	return status;
}

/* ---- policy bump --------------------------------------------------------- */

static int
policy_bump(int argc, char **argv)
{
	static const struct option options[] = {
	    {"domain", required_argument, NULL, 'd'},
	    {NULL, 0, NULL, 0},
	};
	char domain[STS_DOMAIN_MAX + 1], id[POLICY_ID_MAX];
	const char *arg_domain = NULL, *path;
	struct sts_policy *pol = NULL;
	struct sts_diag diag = {0};
	bool have_domain = false;
	char *body = NULL;
	size_t len;
	int c, status;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c != 'd')
			return POLICY_EXIT_USAGE;
		arg_domain = optarg;
	}
	if (optind != argc - 1)
		return POLICY_EXIT_USAGE;
	path = argv[optind];
	if (arg_domain != NULL) {
		if (sts_domain_to_alabel(arg_domain, strlen(arg_domain), domain,
			&diag) != STS_OK) {
			fprintf(stderr, "%s: '%s': %s\n", cli_progname,
			    arg_domain, diag.message);
			return POLICY_EXIT_USAGE;
		}
		have_domain = true;
	} else {
		have_domain = domain_from_path(path, domain);
	}
	if ((status = read_policy(path, &body, &len, &pol)) != POLICY_EXIT_OK)
		return status;
	fresh_id(id);
	printf("# %s: valid, mode %s, max_age %u; once it is served, "
	       "publish:\n",
	    path, sts_mode_name(pol->mode), pol->max_age);
	print_records(stdout, have_domain ? domain : NULL, id, NULL);
	sts_policy_free(pol);
	free(body);
	return POLICY_EXIT_OK;
}

/* ---- policy enforce ------------------------------------------------------ */

struct enforce_run {
	struct collected *c;
};

static void
on_collected(struct collected *c, void *arg)
{
	struct enforce_run *run = arg;

	run->c = c;
}

/*
 * body with the value of its first "mode:" line and first "max_age:"
 * line replaced; everything else, line ends included, kept.
 */
static int
rewrite(const char *body, size_t len, unsigned long max_age, char *out,
    size_t outsz, size_t *ret_len)
{
	bool mode_done = false, age_done = false;
	size_t p = 0, o = 0;

	while (p < len) {
		const char *l = body + p, *nl = memchr(l, '\n', len - p);
		size_t end = nl ? (size_t)(nl - body) + 1 : len;
		size_t content = end; /* end of the line less its LF / CRLF */
		int n = -1;           /* >= 0: the line was replaced */

		while (content > p &&
		       (body[content - 1] == '\n' || body[content - 1] == '\r'))
			content--;
		/* The first occurrence of a field is the one that counts
		 * (RFC 8461 §3.2), so it is the one to change. */
		if (!mode_done && content - p >= 5 &&
		    strncmp(l, "mode:", 5) == 0) {
			mode_done = true;
			n = snprintf(out + o, outsz - o, "mode: enforce");
		} else if (!age_done && content - p >= 8 &&
			   strncmp(l, "max_age:", 8) == 0) {
			age_done = true;
			n = snprintf(
			    out + o, outsz - o, "max_age: %lu", max_age);
		}
		if (n < 0) { /* kept as it is */
			if (end - p >= outsz - o)
				return -1;
			memcpy(out + o, l, end - p);
			o += end - p;
		} else { /* new text, old line end */
			if ((size_t)n >= outsz - o ||
			    end - content >= outsz - o - (size_t)n)
				return -1;
			o += (size_t)n;
			memcpy(out + o, body + content, end - content);
			o += end - content;
		}
		p = end;
	}
	*ret_len = o;
	return mode_done && age_done ? 0 : -1;
}

static int
policy_enforce(int argc, char **argv)
{
	static const struct option options[] = {
	    {"domain", required_argument, NULL, 'd'},
	    {"force", no_argument, NULL, 'f'},
	    {"max-age", required_argument, NULL, 'a'},
	    {"out", required_argument, NULL, 'o'},
	    COLLECT_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	static char newbody[STS_POLICY_MAX_BYTES];
	char domain[STS_DOMAIN_MAX + 1], id[POLICY_ID_MAX];
	const char *arg_domain = NULL, *out = NULL, *path;
	struct enforce_run run = {0};
	struct collect_opts o;
	struct collector *col = NULL;
	struct event_base *base = NULL;
	struct sts_policy *pol = NULL, *check = NULL;
	struct sts_check_report *rep = NULL;
	struct sts_check_facts facts;
	struct sts_diag diag = {0};
	unsigned long max_age = 0;
	char *body = NULL;
	size_t len, newlen;
	bool force = false;
	int c, r, status = POLICY_EXIT_ERR;

	collect_opts_init(&o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'd':
			arg_domain = optarg;
			break;
		case 'f':
			force = true;
			break;
		case 'a':
			if (!cli_parse_uint(
				optarg, 1, STS_MAX_AGE_MAX, &max_age))
				return POLICY_EXIT_USAGE;
			break;
		case 'o':
			out = optarg;
			break;
		default:
			if (collect_option(&o, c, optarg) != 1)
				return POLICY_EXIT_USAGE;
		}
	}
	if (optind != argc - 1)
		return POLICY_EXIT_USAGE;
	path = argv[optind];
	if (arg_domain != NULL) {
		if (sts_domain_to_alabel(arg_domain, strlen(arg_domain), domain,
			&diag) != STS_OK) {
			fprintf(stderr, "%s: '%s': %s\n", cli_progname,
			    arg_domain, diag.message);
			return POLICY_EXIT_USAGE;
		}
	} else if (!domain_from_path(path, domain)) {
		fprintf(stderr,
		    "%s: policy enforce: give --domain DOMAIN (or keep the "
		    "file at .../mta-sts.DOMAIN/.well-known/mta-sts.txt)\n",
		    cli_progname);
		return POLICY_EXIT_USAGE;
	}
	if ((status = read_policy(path, &body, &len, &pol)) != POLICY_EXIT_OK)
		return status;
	status = POLICY_EXIT_ERR;
	if (pol->mode == STS_MODE_ENFORCE && max_age == 0) {
		printf("%s: already mode enforce; nothing to do\n", path);
		status = POLICY_EXIT_OK;
		goto out;
	}
	if (pol->n_mx == 0) {
		fprintf(
		    stderr, "%s: no mx lines: add the MX hosts first\n", path);
		goto out;
	}

	/* The readiness check, with this file's mx patterns. */
	if ((base = event_base_new()) == NULL)
		goto out;
	r = collector_new(base, &o.cfg, &col, &diag);
	if (r != STS_OK) {
		fprintf(stderr, "%s: %s\n", cli_progname,
		    diag.message[0] ? diag.message : sts_strerror(r));
		goto out;
	}
	r = collect_start(col, domain, on_collected, &run, NULL);
	if (r != STS_OK) {
		fprintf(stderr, "%s: %s: %s\n", cli_progname, domain,
		    sts_strerror(r));
		goto out;
	}
	event_base_dispatch(base);
	if (run.c == NULL)
		goto out;
	facts = *collected_facts(run.c);
	facts.local_policy = body;
	facts.local_policy_len = len;
	if (sts_check_evaluate(&facts, &rep) != STS_OK)
		goto out;
	printf("%s: %s\n", domain, rep->readiness);
	for (size_t i = 0; i < rep->n_blockers; i++)
		printf("  blocked: %s: %s\n", rep->blockers[i].host,
		    rep->blockers[i].why);
	if (!rep->enforce_ready && !force) {
		printf("%s: not switched to enforce (use --force to switch "
		       "anyway)\n",
		    path);
		status = POLICY_EXIT_NO;
		goto out;
	}
	if (!rep->enforce_ready)
		printf(
		    "%s: --force: switching although readiness failed\n", path);

	/* max_age: as given; else at least a week (RFC 8461 §10.2: as
	 * long as practical), never shorter than the file's. */
	if (max_age == 0)
		max_age = pol->max_age > POLICY_ENFORCE_MIN_AGE
			      ? pol->max_age
			      : POLICY_ENFORCE_MIN_AGE;
	if (rewrite(body, len, max_age, newbody, sizeof(newbody), &newlen) <
	    0) {
		fprintf(stderr,
		    "%s: cannot rewrite the mode and max_age "
		    "lines\n",
		    path);
		goto out;
	}
	r = sts_policy_parse(newbody, newlen, &check, &diag);
	if (r != STS_OK || check->mode != STS_MODE_ENFORCE) {
		fprintf(stderr, "%s: rewritten policy invalid: %s\n", path,
		    diag.message);
		goto out;
	}
	if (write_file(out ? out : path, newbody, newlen) < 0)
		goto out;
	fresh_id(id);
	printf("%s: mode enforce, max_age %lu; once it is served, "
	       "publish:\n",
	    out ? out : path, max_age);
	print_records(stdout, domain, id, NULL);
	status = POLICY_EXIT_OK;
out:
	sts_check_report_free(rep);
	collected_free(run.c);
	collector_free(col);
	if (base)
		event_base_free(base);
	sts_policy_free(check);
	sts_policy_free(pol);
	free(body);
	return status;
}

/* ---- policy diff --------------------------------------------------------- */

struct diff_run {
	struct sts_discovery *d;
};

static void
on_discovery(struct sts_discovery *d, void *arg)
{
	((struct diff_run *)arg)->d = d;
}

static bool
has_mx(const struct sts_policy *pol, const char *mx)
{
	for (size_t i = 0; i < pol->n_mx; i++)
		if (strcasecmp(pol->mx[i], mx) == 0)
			return true;
	return false;
}

/* Extension fields (not version, mode, max_age, mx) as "name: value". */
static bool
field_in(const struct sts_policy *pol, const struct sts_policy_field *f)
{
	for (size_t i = 0; i < pol->n_fields; i++) {
		const struct sts_policy_field *g = &pol->fields[i];

		if (g->name_len == f->name_len &&
		    g->value_len == f->value_len &&
		    memcmp(g->name, f->name, f->name_len) == 0 &&
		    memcmp(g->value, f->value, f->value_len) == 0)
			return true;
	}
	return false;
}

static bool
is_core(const struct sts_policy_field *f)
{
	static const char *const core[] = {"version", "mode", "max_age", "mx"};

	for (size_t i = 0; i < 4; i++)
		if (f->name_len == strlen(core[i]) &&
		    memcmp(f->name, core[i], f->name_len) == 0)
			return true;
	return false;
}

static void add_diff(json_t *list, bool json, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
add_diff(json_t *list, bool json, const char *fmt, ...)
{
	char line[STS_DOMAIN_MAX + 256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (json)
		json_array_append_new(list, json_string(line));
	else
		printf("  %s\n", line);
}

static void
diff_policies(const struct sts_policy *pub, const struct sts_policy *loc,
    json_t *list, bool json, size_t *n)
{
	size_t before = json ? json_array_size(list) : 0;
	size_t count = 0;

	if (pub->mode != loc->mode) {
		add_diff(list, json, "mode: published %s, local %s",
		    sts_mode_name(pub->mode), sts_mode_name(loc->mode));
		count++;
	}
	if (pub->max_age != loc->max_age) {
		add_diff(list, json, "max_age: published %u, local %u",
		    pub->max_age, loc->max_age);
		count++;
	}
	for (size_t i = 0; i < loc->n_mx; i++)
		if (!has_mx(pub, loc->mx[i])) {
			add_diff(list, json,
			    "+ mx: %s (only in the local file)", loc->mx[i]);
			count++;
		}
	for (size_t i = 0; i < pub->n_mx; i++)
		if (!has_mx(loc, pub->mx[i])) {
			add_diff(list, json, "- mx: %s (only published)",
			    pub->mx[i]);
			count++;
		}
	for (size_t i = 0; i < loc->n_fields; i++)
		if (!is_core(&loc->fields[i]) &&
		    !field_in(pub, &loc->fields[i])) {
			add_diff(list, json, "+ %.*s: %.*s",
			    (int)loc->fields[i].name_len, loc->fields[i].name,
			    (int)loc->fields[i].value_len,
			    loc->fields[i].value);
			count++;
		}
	for (size_t i = 0; i < pub->n_fields; i++)
		if (!is_core(&pub->fields[i]) &&
		    !field_in(loc, &pub->fields[i])) {
			add_diff(list, json, "- %.*s: %.*s",
			    (int)pub->fields[i].name_len, pub->fields[i].name,
			    (int)pub->fields[i].value_len,
			    pub->fields[i].value);
			count++;
		}
	(void)before;
	*n = count;
}

static json_t *
policy_json(const struct sts_policy *pol)
{
	json_t *mx = json_array();

	for (size_t i = 0; i < pol->n_mx; i++)
		json_array_append_new(mx, json_string(pol->mx[i]));
	return json_pack("{s:s, s:o, s:I}", "mode", sts_mode_name(pol->mode),
	    "mx", mx, "max_age", (json_int_t)pol->max_age);
}

static int
policy_diff(int argc, char **argv)
{
	static const struct option options[] = {
	    {"json", no_argument, NULL, 'j'},
	    COLLECT_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	char domain[STS_DOMAIN_MAX + 1];
	struct sts_discover_config cfg;
	struct collect_opts o;
	struct sts_discoverer *disc = NULL;
	struct event_base *base = NULL;
	struct sts_policy *loc = NULL;
	struct diff_run run = {0};
	struct sts_diag diag = {0};
	json_t *list = NULL;
	const char *path;
	char *body = NULL;
	size_t len, n = 0;
	bool json = false, same_bytes = false;
	int c, r, status = POLICY_EXIT_ERR;

	collect_opts_init(&o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else if (collect_option(&o, c, optarg) != 1)
			return POLICY_EXIT_USAGE;
	}
	if (optind != argc - 2)
		return POLICY_EXIT_USAGE;
	path = argv[optind];
	if (sts_domain_to_alabel(argv[optind + 1], strlen(argv[optind + 1]),
		domain, &diag) != STS_OK) {
		fprintf(stderr, "%s: '%s': %s\n", cli_progname,
		    argv[optind + 1], diag.message);
		return POLICY_EXIT_USAGE;
	}
	if ((status = read_policy(path, &body, &len, &loc)) != POLICY_EXIT_OK)
		return status;
	status = POLICY_EXIT_ERR;

	cfg.dns = o.cfg.dns;
	cfg.fetch = o.cfg.fetch;
	if ((base = event_base_new()) == NULL)
		goto out;
	r = sts_discoverer_new(base, &cfg, &disc, &diag);
	if (r != STS_OK) {
		fprintf(stderr, "%s: %s\n", cli_progname,
		    diag.message[0] ? diag.message : sts_strerror(r));
		goto out;
	}
	r = sts_discover(disc, domain, NULL, 0, on_discovery, &run, NULL);
	if (r != STS_OK) {
		fprintf(stderr, "%s: %s: %s\n", cli_progname, domain,
		    sts_strerror(r));
		goto out;
	}
	event_base_dispatch(base);
	if (run.d == NULL)
		goto out;
	list = json_array();
	if (!json)
		printf("%s (local) vs https://mta-sts.%s/.well-known/"
		       "mta-sts.txt (published):\n",
		    path, domain);
	if (run.d->status == STS_ETEMP) {
		if (json)
			cli_json_print(json_pack("{s:s, s:s, s:n, s:o, s:s}",
			    "domain", domain, "file", path, "same", "local",
			    policy_json(loc), "error", run.d->reason));
		else
			printf("  cannot tell: %s\n", run.d->reason);
		goto out;
	}
	if (run.d->policy == NULL) {
		add_diff(list, json, "nothing valid is published: %s",
		    run.d->reason);
		n = 1;
	} else {
		diff_policies(run.d->policy, loc, list, json, &n);
		same_bytes = run.d->body_len == len &&
			     memcmp(run.d->body, body, len) == 0;
		if (n == 0 && !same_bytes)
			add_diff(list, json,
			    "same policy, different bytes (line ends, "
			    "spacing or field order)");
	}
	if (n > 0 && run.d->id[0])
		add_diff(list, json,
		    "after serving the local file, change the TXT id "
		    "(published id %s): mta-sts policy bump %s",
		    run.d->id, path);
	if (json) {
		cli_json_print(json_pack("{s:s, s:s, s:b, s:o, s:o, s:o, s:o}",
		    "domain", domain, "file", path, "same", n == 0, "id",
		    run.d->id[0] ? json_string(run.d->id) : json_null(),
		    "published",
		    run.d->policy ? policy_json(run.d->policy) : json_null(),
		    "local", policy_json(loc), "differences", list));
		list = NULL;
	} else if (n == 0) {
		printf("  same policy (id %s)\n", run.d->id);
	}
	status = n == 0 ? POLICY_EXIT_OK : POLICY_EXIT_NO;
out:
	json_decref(list);
	sts_discovery_free(run.d);
	sts_discoverer_free(disc);
	if (base)
		event_base_free(base);
	sts_policy_free(loc);
	free(body);
	return status;
}

/* ---- dispatch ------------------------------------------------------------ */

static void
policy_usage(void)
{
	fprintf(stderr,
	    "usage: %s policy new --domain D [--mode testing|enforce|none] "
	    "[--mx PATTERN]...\n"
	    "                 [--max-age S] [--out FILE] [--rua URI] "
	    "[network options]\n"
	    "       %s policy bump [--domain D] FILE\n"
	    "       %s policy enforce [--domain D] [--force] [--max-age S] "
	    "[--out FILE]\n"
	    "                 [network options] FILE\n"
	    "       %s policy diff [--json] [network options] FILE DOMAIN\n"
	    "network options: --resolver ADDR[@PORT] --dnssec validate|off "
	    "--trust-anchor FILE\n"
	    "  --ca-file FILE --connect-to MAP --timeout S --smtp-timeout S "
	    "--smtp-port N\n"
	    "  --no-smtp --helo NAME\n",
	    cli_progname, cli_progname, cli_progname, cli_progname);
}

int
cmd_policy(int argc, char **argv)
{
	int r;

	if (argc < 2) {
		policy_usage();
		return POLICY_EXIT_USAGE;
	}
	if (strcmp(argv[1], "new") == 0)
		r = policy_new(argc - 1, argv + 1);
	else if (strcmp(argv[1], "bump") == 0)
		r = policy_bump(argc - 1, argv + 1);
	else if (strcmp(argv[1], "enforce") == 0)
		r = policy_enforce(argc - 1, argv + 1);
	else if (strcmp(argv[1], "diff") == 0)
		r = policy_diff(argc - 1, argv + 1);
	else
		r = POLICY_EXIT_USAGE;
	if (r == POLICY_EXIT_USAGE)
		policy_usage();
	return r;
}

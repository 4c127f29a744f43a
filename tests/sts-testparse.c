/*
 * sts-testparse - the driver of the data-driven parser tests.
 *
 *   sts-testparse KIND < case.in > case.out   (then diffed with .expect)
 *
 * KIND is policy (raw body), txt or tlsrpt (one record per line, with
 * \xNN and \\ escapes so that any byte can be written), domain,
 * domain-mx, domain-dns (one name per line) or mxmatch ("PATTERN HOST"
 * per line).  Output is a canonical dump: the parsed values, or
 * "invalid line N: message".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts/mtasts.h"

static char *
read_all(size_t *ret_len)
{
	size_t cap = 4096, len = 0, n;
	char *buf = malloc(cap);

	while (buf && (n = fread(buf + len, 1, cap - len, stdin)) > 0) {
		len += n;
		if (len == cap) {
			char *grown = realloc(buf, cap *= 2);

			if (grown == NULL) {
				free(buf);
				return NULL;
			}
			buf = grown;
		}
	}
	*ret_len = len;
	return buf;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode \xNN and \\ in place; returns the new length. */
static size_t
unescape(char *s, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\\' && i + 1 < len && s[i + 1] == '\\') {
			s[o++] = '\\';
			i++;
		} else if (s[i] == '\\' && i + 3 < len && s[i + 1] == 'x' &&
			   hexval(s[i + 2]) >= 0 && hexval(s[i + 3]) >= 0) {
			s[o++] = (char)(hexval(s[i + 2]) * 16 + hexval(s[i + 3]));
			i += 3;
		} else {
			s[o++] = s[i];
		}
	}
	return o;
}

static void
print_invalid(int r, const struct sts_diag *diag)
{
	printf("invalid (%s) line %d: %s\n", sts_strerror(r), diag->line,
	    diag->message);
}

static int
do_policy(char *in, size_t len)
{
	struct sts_policy *pol;
	struct sts_diag diag = {0};
	unsigned warn;
	int r = sts_policy_parse(in, len, &pol, &diag);

	if (r != STS_OK) {
		print_invalid(r, &diag);
		return 0;
	}
	printf("valid\nmode: %s\nmax_age: %u\n", sts_mode_name(pol->mode),
	    pol->max_age);
	for (size_t i = 0; i < pol->n_mx; i++)
		printf("mx: %s\n", pol->mx[i]);
	warn = sts_policy_warnings(pol);
	for (unsigned bit = 1; bit != 0 && bit <= warn; bit <<= 1)
		if (warn & bit)
			printf("warning: %s\n", sts_policy_warning_text(bit));
	sts_policy_free(pol);
	return 0;
}

/* Split lines into records (the final newline ends the last one). */
static size_t
split_records(char *in, size_t len, struct sts_txt_record *recs, size_t max)
{
	size_t n = 0, p = 0;

	while (p < len && n < max) {
		char *nl = memchr(in + p, '\n', len - p);
		size_t end = nl ? (size_t)(nl - in) : len;

		recs[n].data = in + p;
		recs[n].len = unescape(in + p, end - p);
		n++;
		p = end + 1;
	}
	return n;
}

static int
do_txt(char *in, size_t len)
{
	struct sts_txt_record recs[STS_TXT_MAX_RECORDS];
	size_t n = split_records(in, len, recs, STS_TXT_MAX_RECORDS);
	struct sts_diag diag = {0};
	struct sts_txt txt;
	int r = sts_txt_parse(recs, n, &txt, &diag);

	if (r != STS_OK)
		print_invalid(r, &diag);
	else
		printf("valid\nid: %s\n", txt.id);
	return 0;
}

static int
do_tlsrpt(char *in, size_t len)
{
	struct sts_txt_record recs[STS_TXT_MAX_RECORDS];
	size_t n = split_records(in, len, recs, STS_TXT_MAX_RECORDS);
	struct sts_diag diag = {0};
	struct sts_tlsrpt *t;
	int r = sts_tlsrpt_parse(recs, n, &t, &diag);

	if (r != STS_OK) {
		print_invalid(r, &diag);
		return 0;
	}
	printf("valid\n");
	for (size_t i = 0; i < t->n_rua; i++)
		printf("rua: %s\n", t->rua[i]);
	for (size_t i = 0; i < t->n_ignored; i++)
		printf("ignored: %s\n", t->ignored[i]);
	sts_tlsrpt_free(t);
	return 0;
}

static int
do_lines(char *in, size_t len, const char *kind)
{
	struct sts_txt_record lines[4096];
	size_t n = split_records(in, len, lines, 4096);
	unsigned flags = strcmp(kind, "domain-mx") == 0 ? STS_DOMAIN_WILDCARD
			 : strcmp(kind, "domain-dns") == 0
			     ? STS_DOMAIN_TRAILING_DOT
			     : 0;

	for (size_t i = 0; i < n; i++) {
		char norm[STS_DOMAIN_MAX + 1];
		struct sts_diag diag = {0};

		if (strcmp(kind, "mxmatch") == 0) {
			char *line = strndup(lines[i].data, lines[i].len);
			char *sp = line ? strchr(line, ' ') : NULL;

			if (sp == NULL) {
				printf("bad test line %zu\n", i + 1);
				free(line);
				return 1;
			}
			*sp = '\0';
			printf("%s %s: %s\n", line, sp + 1,
			    sts_mxmatch(line, sp + 1) ? "match" : "no match");
			free(line);
			continue;
		}
		if (sts_domain_normalize(lines[i].data, lines[i].len, flags,
			norm, &diag) == STS_OK)
			printf("ok %s\n", norm);
		else
			printf("error: %s\n", diag.message);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	size_t len;
	char *in;
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: sts-testparse KIND < input\n");
		return 2;
	}
	if ((in = read_all(&len)) == NULL)
		return 2;
	if (strcmp(argv[1], "policy") == 0)
		r = do_policy(in, len);
	else if (strcmp(argv[1], "txt") == 0)
		r = do_txt(in, len);
	else if (strcmp(argv[1], "tlsrpt") == 0)
		r = do_tlsrpt(in, len);
	else if (strncmp(argv[1], "domain", 6) == 0 ||
		 strcmp(argv[1], "mxmatch") == 0)
		r = do_lines(in, len, argv[1]);
	else
		r = 2;
	free(in);
	return r;
}

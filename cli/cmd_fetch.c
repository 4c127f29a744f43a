/*
 * cmd_fetch.c - mta-sts fetch: discover domains' policies, explain why.
 *
 * For each domain: the TXT record and id, the facts of the HTTPS fetch,
 * the parsed policy or the exact reason there is none, and the reply
 * mta-stsd would give Postfix.  All domains share one event loop, at most
 * --concurrency at a time.
 */
#include <event2/event.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mtasts/dane.h"
#include "mtasts/discover.h"
#include "mtasts/mtasts.h"
#include "reply.h"

#define FETCH_MAX_LIST 32 /* --resolver / --connect-to entries */

struct fetch_run {
	struct sts_discoverer *disc;
	char **domains;
	size_t n_domains, next, running, concurrency;
	/* Results are printed in argument order as soon as every earlier
	 * domain is done: done[i] holds a finished slot until then. */
	struct fetch_slot **done;
	bool *failed;
	size_t next_print;
	bool dane; /* validating: check DANE beside MTA-STS (RFC 8461 §2) */
	bool json;
	unsigned with_policy, without_policy;
	struct reply_opts reply;
};

/* One domain: its MTA-STS discovery and, when validating, its DANE
 * state, both needed before it is printed. */
struct fetch_slot {
	struct fetch_run *run;
	size_t index;
	unsigned pending;
	struct sts_discovery *d;
	bool dane_checked;
	struct sts_dane_result dane;
};

static void start_more(struct fetch_run *run);

static const char *
security_name(enum sts_dns_security s)
{
	switch (s) {
	case STS_DNS_SECURE:
		return "secure";
	case STS_DNS_BOGUS:
		return "bogus";
	case STS_DNS_INSECURE:
		return "insecure";
	}
	return "?";
}

static json_t *
json_str_or_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

static json_t *
policy_json(const struct sts_policy *pol)
{
	json_t *mx = json_array();

	for (size_t i = 0; i < pol->n_mx; i++)
		json_array_append_new(mx, json_string(pol->mx[i]));
	return json_pack("{s:s, s:s, s:o, s:I}", "version", "STSv1", "mode",
	    sts_mode_name(pol->mode), "mx", mx, "max_age",
	    (json_int_t)pol->max_age);
}

static json_t *
dane_json(const struct sts_dane_result *dane)
{
	json_t *hosts = json_array();

	if (dane == NULL)
		return json_null();
	for (size_t i = 0; i < dane->n_hosts; i++)
		json_array_append_new(hosts,
		    json_pack("{s:s, s:s}", "host", dane->hosts[i].name,
			"tlsa",
			dane->hosts[i].state == STS_DANE_HOST_USABLE ? "usable"
			: dane->hosts[i].state == STS_DANE_HOST_UNUSABLE
			    ? "unusable"
			: dane->hosts[i].state == STS_DANE_HOST_FAILED
			    ? "failed"
			    : "none"));
	return json_pack("{s:s, s:s, s:b, s:I, s:o, s:s}", "state",
	    sts_dane_status_name(dane->status), "mx_dnssec",
	    security_name(dane->mx_security), "implicit_mx",
	    dane->implicit_mx, "ttl", (json_int_t)dane->ttl, "hosts", hosts,
	    "reason", dane->reason);
}

static void
print_json(const struct sts_discovery *d, const struct sts_dane_result *dane,
    const char *postfix)
{
	json_t *txt = json_array(), *addrs = json_array(), *fetch = json_null();

	for (size_t i = 0; i < d->n_txt; i++)
		json_array_append_new(txt, json_string(d->txt[i]));
	for (size_t i = 0; i < d->n_addrs; i++)
		json_array_append_new(addrs, json_string(d->addrs[i]));
	if (d->fetched)
		fetch = json_pack("{s:s?, s:I, s:o, s:I, s:o, s:o, s:I, s:I}",
		    "address", d->address[0] ? d->address : NULL, "port",
		    (json_int_t)d->port, "http_status",
		    d->http_status ? json_integer(d->http_status) : json_null(),
		    "bytes", (json_int_t)d->body_len, "content_type",
		    json_str_or_null(d->content_type), "tls_version",
		    json_str_or_null(d->tls_version), "ms",
		    (json_int_t)d->fetch_ms, "total_ms",
		    (json_int_t)d->elapsed_ms);
	cli_json_print(json_pack(
	    "{s:s, s:b, s:s, s:o, s:{s:o, s:o, s:s}, s:o, s:o, s:o, s:o, s:o, "
	    "s:o, s:s}",
	    "domain", d->domain, "valid", d->status == STS_OK, "step",
	    sts_discover_step_name(d->failed_step), "id",
	    json_str_or_null(d->id), "txt", "records", txt, "ttl",
	    json_integer(d->txt_ttl), "dnssec",
	    security_name(d->txt_security), "policy_host_addresses", addrs,
	    "fetch", fetch, "policy",
	    d->policy ? policy_json(d->policy) : json_null(), "result_type",
	    json_str_or_null(d->tlsrpt_result), "reason",
	    json_str_or_null(d->reason), "dane", dane_json(dane), "postfix",
	    postfix));
}

static void
print_human(const struct sts_discovery *d,
    const struct sts_dane_result *dane, const char *postfix)
{
	printf("%s\n", d->domain);
	for (size_t i = 0; i < d->n_txt; i++)
		printf("  txt:      %s\n", d->txt[i]);
	if (d->id[0] != '\0')
		printf("  id:       %s (DNSSEC %s, TTL %u)\n", d->id,
		    security_name(d->txt_security), d->txt_ttl);
	if (d->fetched) {
		printf("  fetch:    https://mta-sts.%s/.well-known/mta-sts.txt",
		    d->domain);
		if (d->address[0] != '\0')
			printf(" from %s port %ld", d->address, d->port);
		printf("\n");
		if (d->http_status != 0)
			printf("            HTTP %ld, %s, %s, %zu bytes, %u ms\n",
			    d->http_status,
			    d->content_type[0] ? d->content_type
					       : "no content type",
			    d->tls_version[0] ? d->tls_version : "no TLS",
			    d->body_len, d->fetch_ms);
	}
	if (d->policy != NULL) {
		printf("  policy:   mode %s, max_age %u\n",
		    sts_mode_name(d->policy->mode), d->policy->max_age);
		for (size_t i = 0; i < d->policy->n_mx; i++)
			printf("  mx:       %s\n", d->policy->mx[i]);
	}
	if (d->status != STS_OK) {
		printf("  result:   no policy: %s", d->reason);
		if (d->tlsrpt_result != NULL)
			printf(" [%s]", d->tlsrpt_result);
		printf("\n");
	}
	if (dane != NULL)
		printf("  dane:     %s: %s\n", sts_dane_status_name(dane->status),
		    dane->reason);
	printf("  postfix:  %s\n", postfix);
}

static void
print_slot(struct fetch_run *run, const struct fetch_slot *slot)
{
	static char postfix[STS_SOCKMAP_MAX_REPLY];
	const struct sts_discovery *d = slot->d;
	const struct sts_dane_result *dane =
	    slot->dane_checked ? &slot->dane : NULL;
	struct reply_buf b;

	reply_buf_init(&b, postfix, sizeof(postfix));
	if (d->status == STS_OK && d->policy != NULL)
		run->with_policy++;
	else
		run->without_policy++;
	/* The decision mta-stsd makes with its default zone. */
	if (dane && dane->status == STS_DANE_APPLIES)
		reply_dane(&b, true);
	else if (dane && dane->status == STS_DANE_FAILED)
		reply_temp(&b, dane->reason);
	else if (d->status == STS_OK && d->policy != NULL)
		reply_policy(&b, d->policy, d->domain, &run->reply);
	else
		reply_notfound(&b); /* no cache here: MTA-STS never TEMPs */
	if (run->json)
		print_json(d, dane, postfix);
	else
		print_human(d, dane, postfix);
	fflush(stdout);
}

/* Print every finished result whose predecessors are all printed. */
static void
print_ready(struct fetch_run *run)
{
	while (run->next_print < run->n_domains &&
	       (run->done[run->next_print] != NULL ||
		   run->failed[run->next_print])) {
		struct fetch_slot *slot = run->done[run->next_print];

		if (slot != NULL) {
			print_slot(run, slot);
			sts_discovery_free(slot->d);
			free(slot);
			run->done[run->next_print] = NULL;
		}
		run->next_print++;
	}
}

static void
slot_done(struct fetch_slot *slot)
{
	struct fetch_run *run = slot->run;

	if (--slot->pending > 0)
		return;
	run->done[slot->index] = slot;
	run->running--;
	print_ready(run);
	start_more(run);
}

static void
on_discovery(struct sts_discovery *d, void *arg)
{
	struct fetch_slot *slot = arg;

	slot->d = d;
	slot_done(slot);
}

static void
on_dane(const struct sts_dane_result *r, void *arg)
{
	struct fetch_slot *slot = arg;

	slot->dane = *r;
	slot->dane_checked = true;
	slot_done(slot);
}

static void
start_more(struct fetch_run *run)
{
	while (run->running < run->concurrency && run->next < run->n_domains) {
		size_t index = run->next++;
		const char *arg = run->domains[index];
		char domain[STS_DOMAIN_MAX + 1];
		struct fetch_slot *slot;
		struct sts_diag diag;
		int r;

		if (sts_domain_to_alabel(arg, strlen(arg), domain, &diag) !=
		    STS_OK) {
			fprintf(stderr, "%s: '%s': %s\n", cli_progname, arg,
			    diag.message);
			run->without_policy++;
			run->failed[index] = true;
			continue;
		}
		if ((slot = calloc(1, sizeof(*slot))) == NULL) {
			run->failed[index] = true;
			run->without_policy++;
			continue;
		}
		slot->run = run;
		slot->index = index;
		slot->pending = 1;
		r = sts_discover(run->disc, domain, NULL, 0, on_discovery, slot,
		    NULL);
		if (r == STS_OK && run->dane &&
		    sts_dane_check(sts_discoverer_dns(run->disc), domain,
			on_dane, slot, NULL) == STS_OK)
			slot->pending++;
		if (r != STS_OK) {
			fprintf(stderr, "%s: %s: %s\n", cli_progname, domain,
			    sts_strerror(r));
			free(slot);
			run->without_policy++;
			run->failed[index] = true;
			continue;
		}
		run->running++;
	}
	print_ready(run);
}

static void
fetch_usage(void)
{
	fprintf(stderr,
	    "usage: %s fetch [--json] [--concurrency N] [--timeout S]\n"
	    "         [--resolver ADDR[@PORT]]... [--dnssec validate|off]\n"
	    "         [--trust-anchor FILE] [--ca-file FILE]\n"
	    "         [--connect-to HOST:PORT:HOST:PORT]... DOMAIN...\n",
	    cli_progname);
}

int
cmd_fetch(int argc, char **argv)
{
	static const struct option options[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"concurrency", required_argument, NULL, 'n'},
	    {"timeout", required_argument, NULL, 't'},
	    {"resolver", required_argument, NULL, 'r'},
	    {"dnssec", required_argument, NULL, 'd'},
	    {"trust-anchor", required_argument, NULL, 'a'},
	    {"ca-file", required_argument, NULL, 'c'},
	    {"connect-to", required_argument, NULL, 'C'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *resolvers[FETCH_MAX_LIST], *connect_to[FETCH_MAX_LIST];
	struct sts_discover_config cfg = {0};
	struct fetch_run run = {.concurrency = 16,
	    .reply = {.require_sni = true}};
	struct event_base *base = NULL;
	struct sts_diag diag = {0};
	unsigned long v, timeout_s = 0;
	int c, r, status = CLI_USAGE;

	cfg.dns.dnssec = true;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'j':
			run.json = true;
			break;
		case 'n':
			if (!cli_parse_uint(optarg, 1, 10000, &v))
				goto usage;
			run.concurrency = v;
			break;
		case 't':
			if (!cli_parse_uint(optarg, 1, 3600, &timeout_s))
				goto usage;
			break;
		case 'r':
			if (cfg.dns.n_forwarders == FETCH_MAX_LIST)
				goto usage;
			resolvers[cfg.dns.n_forwarders++] = optarg;
			break;
		case 'd':
			if (strcmp(optarg, "validate") == 0)
				cfg.dns.dnssec = true;
			else if (strcmp(optarg, "off") == 0)
				cfg.dns.dnssec = false;
			else
				goto usage;
			break;
		case 'a':
			cfg.dns.trust_anchor_file = optarg;
			break;
		case 'c':
			cfg.fetch.ca_file = optarg;
			break;
		case 'C':
			if (cfg.fetch.n_connect_to == FETCH_MAX_LIST)
				goto usage;
			connect_to[cfg.fetch.n_connect_to++] = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (optind >= argc)
		goto usage;
	cfg.dns.forwarders = resolvers;
	cfg.fetch.connect_to = connect_to;
	if (timeout_s > 0) {
		cfg.dns.timeout_ms = (unsigned)timeout_s * 1000;
		cfg.fetch.timeout_ms = (unsigned)timeout_s * 1000;
	}
	run.domains = argv + optind;
	run.n_domains = (size_t)(argc - optind);
	run.done = calloc(run.n_domains, sizeof(*run.done));
	run.failed = calloc(run.n_domains, sizeof(*run.failed));
	if (run.done == NULL || run.failed == NULL) {
		free(run.done);
		free(run.failed);
		return CLI_USAGE;
	}

	if ((base = event_base_new()) == NULL) {
		fprintf(stderr, "%s: cannot create the event loop\n",
		    cli_progname);
		return CLI_USAGE;
	}
	r = sts_discoverer_new(base, &cfg, &run.disc, &diag);
	if (r != STS_OK) {
		fprintf(stderr, "%s: %s\n", cli_progname,
		    diag.message[0] ? diag.message : sts_strerror(r));
		goto out;
	}
	run.dane = sts_dns_validating(sts_discoverer_dns(run.disc));
	start_more(&run);
	event_base_dispatch(base);
	status = run.without_policy > 0 ? CLI_INVALID : CLI_OK;
out:
	sts_discoverer_free(run.disc);
	event_base_free(base);
	free(run.done);
	free(run.failed);
	return status;
usage:
	fetch_usage();
	return CLI_USAGE;
}

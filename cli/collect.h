/*
 * collect.h - gather the facts about one domain that check.c judges.
 *
 * All lookups of a domain run at once on one event loop: the _mta-sts
 * and _smtp._tls TXT records, the MX RRset, the addresses of the policy
 * host with one HTTPS fetch per address family and a TLS probe of it,
 * and per MX host its addresses, its TLSA RRset and an SMTP STARTTLS
 * probe of its first IPv4 and first IPv6 address.  Shared by
 * `mta-sts check` and `mta-sts policy enforce`.
 */
#ifndef STS_CLI_COLLECT_H
#define STS_CLI_COLLECT_H

#include <stdbool.h>
#include <stddef.h>

#include "mtasts/check.h"
#include "mtasts/dns.h"
#include "mtasts/fetch.h"
#include "mtasts/smtp_probe.h"

struct event_base;
struct collector;
struct collect_req;

struct collect_config {
	struct sts_dns_config dns;
	struct sts_fetch_config fetch; /* connect_to also maps the TLS
					  probe of the policy host */
	struct sts_smtp_probe_config probe;
	unsigned smtp_port; /* 0: 25 */
	bool no_smtp;       /* probe no MX host */
};

/*
 * The network knobs shared by check and policy: each command lists
 * COLLECT_LONG_OPTIONS in its getopt_long table and hands every option
 * it does not know itself to collect_option().
 */
#define COLLECT_MAX_LIST 32 /* --resolver / --connect-to entries */

enum {
	COLLECT_OPT_RESOLVER = 1000,
	COLLECT_OPT_DNSSEC,
	COLLECT_OPT_TRUST_ANCHOR,
	COLLECT_OPT_CA_FILE,
	COLLECT_OPT_CONNECT_TO,
	COLLECT_OPT_TIMEOUT,
	COLLECT_OPT_SMTP_TIMEOUT,
	COLLECT_OPT_SMTP_PORT,
	COLLECT_OPT_NO_SMTP,
	COLLECT_OPT_HELO,
};

/* clang-format off */
#define COLLECT_LONG_OPTIONS                                               \
	{"resolver", required_argument, NULL, COLLECT_OPT_RESOLVER},       \
	{"dnssec", required_argument, NULL, COLLECT_OPT_DNSSEC},           \
	{"trust-anchor", required_argument, NULL, COLLECT_OPT_TRUST_ANCHOR}, \
	{"ca-file", required_argument, NULL, COLLECT_OPT_CA_FILE},         \
	{"connect-to", required_argument, NULL, COLLECT_OPT_CONNECT_TO},   \
	{"timeout", required_argument, NULL, COLLECT_OPT_TIMEOUT},         \
	{"smtp-timeout", required_argument, NULL, COLLECT_OPT_SMTP_TIMEOUT}, \
	{"smtp-port", required_argument, NULL, COLLECT_OPT_SMTP_PORT},     \
	{"no-smtp", no_argument, NULL, COLLECT_OPT_NO_SMTP},               \
	{"helo", required_argument, NULL, COLLECT_OPT_HELO}
/* clang-format on */

struct collect_opts {
	struct collect_config cfg;
	const char *resolvers[COLLECT_MAX_LIST];
	const char *connect_to[COLLECT_MAX_LIST];
	char helo[STS_DOMAIN_MAX + 1];
};

/* Defaults: DNSSEC validation on, system resolver and CA store, EHLO
 * with this host's name when it is a domain name. */
void collect_opts_init(struct collect_opts *o);

/* 1: option handled; 0: not one of ours; -1: bad value. */
int collect_option(struct collect_opts *o, int c, const char *arg);

/* The facts of one domain and the storage they point into. */
struct collected;

const struct sts_check_facts *collected_facts(const struct collected *c);
void collected_free(struct collected *c);

typedef void collect_cb(struct collected *c, void *arg);

int collector_new(struct event_base *base, const struct collect_config *cfg,
    struct collector **ret, struct sts_diag *reterr_diag);
void collector_free(struct collector *col);

/* The DNS context, for other lookups on the same loop. */
struct sts_dns *collector_dns(struct collector *col);

/*
 * Collect the facts of domain (A-label).  The callback runs once, later,
 * and owns the result.  Returns STS_OK, STS_EINVAL or STS_ENOMEM.
 */
int collect_start(struct collector *col, const char *domain, collect_cb *cb,
    void *arg, struct collect_req **ret_req);

void collect_cancel(struct collect_req *req);

#endif

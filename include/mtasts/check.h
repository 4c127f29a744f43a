/*
 * check.h - judge a domain's MTA-STS, TLS-RPT and DANE deployment (L2).
 *
 * A pure function: facts collected elsewhere (DNS answers, HTTPS
 * fetches of the policy per address family, TLS probes of the policy host
 * and of every MX address) go in; a list of check items comes out, each
 * pass, warn or fail with a message, the RFC section it rests on and how
 * to fix it, plus an overall verdict and the enforce-readiness verdict
 * ("would mode: enforce refuse mail to any of this domain's own MX
 * hosts?").  No I/O, no clock (the time is a fact), no logging.
 *
 * Item ids are stable strings "<group>.<name>" (txt.record, host.ipv6,
 * mx.cert_name, ...); per-host items repeat their id with a different
 * subject.  doc/mta-sts.1.scd lists them.
 */
#ifndef MTASTS_CHECK_H
#define MTASTS_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns.h"
#include "err.h"
#include "fetch.h"
#include "limits.h"
#include "policy.h"
#include "smtp_probe.h"
#include "txt.h"

enum sts_check_status {
	STS_CHECK_PASS,
	STS_CHECK_WARN,
	STS_CHECK_FAIL,
};

/* One DNS lookup's outcome, copied from a struct sts_dns_answer. */
struct sts_check_lookup {
	bool done;  /* false: the lookup was not made */
	int status; /* STS_OK, STS_ENOTFOUND, STS_ETEMP, ... */
	bool nxdomain;
	enum sts_dns_security security;
	char reason[STS_DNS_REASON_MAX];
};

/* One HTTPS fetch of the policy, copied from a struct sts_fetch_result. */
struct sts_check_fetch {
	bool done; /* false: not attempted (no address of the family) */
	int status;
	char reason[STS_FETCH_REASON_MAX];
	long http_status;
	char content_type[STS_FETCH_CONTENT_TYPE_MAX];
	char address[STS_ADDR_STR_MAX];
	char tls_version[STS_FETCH_TLS_VERSION_MAX];
	const char *body; /* STS_OK only; not NUL-terminated necessarily */
	size_t body_len;
};

/* One TLS probe (SMTP STARTTLS to an MX, or TLS to the policy host). */
struct sts_check_probe {
	bool done;       /* false: not probed */
	int start_error; /* STS_OK, or why sts_smtp_probe() refused */
	struct sts_smtp_probe_result result; /* valid when done */
};

struct sts_check_mx {
	char host[STS_DOMAIN_MAX + 1]; /* "" only for the null MX */
	unsigned pref;
	struct sts_check_lookup addr; /* A and AAAA of host */
	size_t n_addrs;
	const struct sts_dns_addr *addrs;
	struct sts_check_lookup tlsa; /* _25._tcp.<host> */
	size_t n_tlsa;
	const struct sts_dns_tlsa *tlsa_records;
	size_t n_probes; /* one per probed address */
	const struct sts_check_probe *probes;
};

struct sts_check_facts {
	const char *domain;     /* A-label, no trailing dot */
	int64_t now;            /* seconds since the epoch (UTC) */
	unsigned smtp_port;     /* where the probes went (25 unless told) */
	bool dnssec_validating; /* answers can be secure (sts_dns_validating) */
	unsigned expiry_warn_days; /* 0: STS_CHECK_EXPIRY_WARN_DAYS */

	/* TXT _mta-sts.<domain> (RFC 8461 §3.1), records as received */
	struct sts_check_lookup txt;
	size_t n_txt;
	const struct sts_txt_record *txt_records;

	/* MX <domain>; implicit_mx: none, the domain itself is the MX
	 * host (RFC 5321 §5.1) and is mxs[0]; null_mx: "MX 0 ." only */
	struct sts_check_lookup mx;
	bool implicit_mx, null_mx;
	size_t n_mx_total; /* records in the answer (n_mx may be capped) */
	size_t n_mx;
	const struct sts_check_mx *mxs; /* in preference order */

	/* mta-sts.<domain>: addresses, a fetch per family, a TLS probe */
	struct sts_check_lookup host_addr;
	size_t n_host_addrs;
	const struct sts_dns_addr *host_addrs;
	bool proxied; /* one fetch through a proxy, in fetch[0] */
	struct sts_check_fetch fetch[2]; /* [0] IPv4, [1] IPv6 */
	struct sts_check_probe host_tls;

	/* TXT _smtp._tls.<domain> (RFC 8460 §3) */
	struct sts_check_lookup tlsrpt;
	size_t n_tlsrpt;
	const struct sts_txt_record *tlsrpt_records;

	/* Judge this policy body instead of the published one (mta-sts
	 * policy enforce FILE); NULL: the fetched policy. */
	const char *local_policy;
	size_t local_policy_len;
};

struct sts_check_item {
	const char *id; /* static, e.g. "mx.cert_name" */
	enum sts_check_status status;
	const char *rfc;                     /* static, e.g. "RFC 8461 §4.2" */
	char subject[STS_CHECK_SUBJECT_MAX]; /* "" or "host [address]" */
	char message[STS_CHECK_MESSAGE_MAX];
	char fix[STS_CHECK_FIX_MAX]; /* "" when there is nothing to do */
};

/* An MX host mode: enforce would refuse, and why. */
struct sts_check_blocker {
	char host[STS_DOMAIN_MAX + 1];
	char why[STS_CHECK_FIX_MAX];
};

struct sts_check_report {
	char domain[STS_DOMAIN_MAX + 1];
	enum sts_check_status verdict; /* the worst item */
	/* Would mode: enforce with this policy's mx patterns refuse mail
	 * to none of the MX hosts?  False without a valid policy, with a
	 * blocker, or when an MX could not be probed. */
	bool enforce_ready;
	char readiness[STS_CHECK_MESSAGE_MAX];
	size_t n_blockers;
	struct sts_check_blocker *blockers;
	char id[STS_ID_MAX + 1];   /* the published TXT id, "" if none */
	struct sts_policy *policy; /* the policy judged, NULL if none */
	bool policy_is_local;
	size_t n_items;
	struct sts_check_item *items;
};

/*
 * Judge facts.  STS_OK stores a new report in *ret_report (free with
 * sts_check_report_free); STS_EINVAL (no domain) or STS_ENOMEM.
 */
int sts_check_evaluate(
    const struct sts_check_facts *facts, struct sts_check_report **ret_report);

void sts_check_report_free(struct sts_check_report *report);

/* "pass", "warn", "fail". */
const char *sts_check_status_name(enum sts_check_status status);

/* The verdict word: "ok", "warn", "fail". */
const char *sts_check_verdict_name(enum sts_check_status verdict);

#endif

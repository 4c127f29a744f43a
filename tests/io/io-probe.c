/*
 * io-probe - drive lib/dns.c and lib/fetch.c from the command line and
 * print every field of the answers, one "key=value" per line, for the
 * scripts in tests/io/.
 *
 *   io-probe dns txt|mx|addr|tlsa NAME [--fwd ADDR[@PORT]]... [--dnssec]
 *            [--ta FILE] [--auto-ta FILE] [--timeout MS] [--port N]
 *            [--repeat N] [--cancel] [--free-early] [--free-in-cb]
 *   io-probe fetch DOMAIN [ADDR]... [--ca FILE] [--connect-to STR]...
 *            [--timeout MS] [--proxy URL] [--repeat N] [--cancel]
 *            [--free-early] [--free-in-cb] [--body]
 *
 * --repeat N   start N identical requests at once (output: one block each)
 * --cancel     cancel every request right after starting it; the loop
 *              then runs 300 ms and any callback is an error
 * --free-early free the context while requests are outstanding
 * --free-in-cb free the context from inside the first callback
 * Exit status: 0 when the expected number of callbacks ran, else 1;
 * 2 on a usage or start error.
 */
#include <arpa/inet.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "mtasts/dns.h"
#include "mtasts/err.h"
#include "mtasts/fetch.h"

#define MAX_LIST 32

static struct {
	struct event_base *base;
	struct sts_dns *dns;
	struct sts_fetch *fetch;
	int callbacks;
	int expect; /* stop the loop after this many callbacks */
	bool free_in_cb;
	bool print_body;
} g;

static const char *
status_name(int s)
{
	switch (s) {
	case STS_OK:
		return "OK";
	case STS_ENOMEM:
		return "ENOMEM";
	case STS_EINVAL:
		return "EINVAL";
	case STS_ENOTFOUND:
		return "ENOTFOUND";
	case STS_ETEMP:
		return "ETEMP";
	case STS_ETLS:
		return "ETLS";
	case STS_EPROTO:
		return "EPROTO";
	case STS_ETOOBIG:
		return "ETOOBIG";
	case STS_EIO:
		return "EIO";
	case STS_EINTERNAL:
		return "EINTERNAL";
	default:
		return "?";
	}
}

static const char *
security_name(enum sts_dns_security s)
{
	switch (s) {
	case STS_DNS_INSECURE:
		return "insecure";
	case STS_DNS_SECURE:
		return "secure";
	case STS_DNS_BOGUS:
		return "bogus";
	}
	return "?";
}

/* Print bytes with C escapes so that NUL and friends are visible. */
static void
print_bytes(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '\\' || c == '"')
			printf("\\%c", c);
		else if (c >= 0x20 && c < 0x7f)
			putchar(c);
		else
			printf("\\x%02x", c);
	}
}

static void
on_dns(const struct sts_dns_answer *a, void *arg)
{
	size_t i, j;

	(void)arg;
	g.callbacks++;
	printf("status=%s\nsecurity=%s\nrcode=%d\nnxdomain=%d\nttl=%u\n"
	       "n=%zu\nname=%s\nelapsed_ms=%u\nreason=%s\n",
	    status_name(a->status), security_name(a->security), a->rcode,
	    a->nxdomain, (unsigned)a->ttl, a->n, a->name, a->elapsed_ms,
	    a->reason);
	for (i = 0; i < a->n; i++) {
		switch (a->type) {
		case STS_DNS_TXT:
			printf("txt[%zu]=\"", i);
			print_bytes(a->txt[i].data, a->txt[i].len);
			printf("\" len=%zu\n", a->txt[i].len);
			break;
		case STS_DNS_MX:
			printf(
			    "mx[%zu]=%u %s\n", i, a->mx[i].pref, a->mx[i].host);
			break;
		case STS_DNS_ADDR:
			printf("addr[%zu]=%s %s\n", i,
			    a->addr[i].family == AF_INET6 ? "ipv6" : "ipv4",
			    a->addr[i].addr);
			break;
		case STS_DNS_TLSA:
			printf("tlsa[%zu]=%u %u %u ", i, a->tlsa[i].usage,
			    a->tlsa[i].selector, a->tlsa[i].mtype);
			for (j = 0; j < a->tlsa[i].len; j++)
				printf("%02x", a->tlsa[i].data[j]);
			printf("\n");
			break;
		}
	}
	printf("--\n");
	fflush(stdout);
	if (g.free_in_cb) {
		sts_dns_free(g.dns);
		g.dns = NULL;
		g.free_in_cb = false;
	}
	/*
	 * libunbound keeps working on timed-out queries for a while; do
	 * not wait for it, sts_dns_free() must cope.
	 */
	if (g.callbacks == g.expect)
		event_base_loopbreak(g.base);
}

static void
on_fetch(const struct sts_fetch_result *r, void *arg)
{
	(void)arg;
	g.callbacks++;
	printf("status=%s\ntlsrpt=%s\nhttp=%ld\nctype=%s\naddress=%s\n"
	       "port=%ld\ntls=%s\nbody_len=%zu\nurl=%s\nelapsed_ms=%u\n"
	       "reason=%s\n",
	    status_name(r->status),
	    r->tlsrpt_result != NULL ? r->tlsrpt_result : "-", r->http_status,
	    r->content_type, r->address, r->port, r->tls_version, r->body_len,
	    r->url, r->elapsed_ms, r->reason);
	if (g.print_body && r->body != NULL) {
		printf("body=\"");
		print_bytes(r->body, r->body_len);
		printf("\"\n");
	}
	printf("--\n");
	fflush(stdout);
	if (g.free_in_cb) {
		sts_fetch_free(g.fetch);
		g.fetch = NULL;
		g.free_in_cb = false;
	}
	if (g.callbacks == g.expect)
		event_base_loopbreak(g.base);
}

static void
on_stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	event_base_loopbreak(g.base);
}

static int
usage(void)
{
	fprintf(stderr, "usage: io-probe dns txt|mx|addr|tlsa NAME [opts]\n"
			"       io-probe fetch DOMAIN [ADDR]... [opts]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	const char *fwd[MAX_LIST], *cto[MAX_LIST], *addrs[MAX_LIST];
	size_t n_fwd = 0, n_cto = 0, n_addrs = 0;
	const char *ta = NULL, *auto_ta = NULL, *ca = NULL, *proxy = NULL;
	const char *kind, *qtype = NULL, *name;
	unsigned timeout = 0, port = 25;
	int repeat = 1, i, r, expect, argi;
	bool dnssec = false, cancel = false, free_early = false;
	bool free_in_cb = false;
	struct sts_diag diag = {0, ""};
	struct event *stop = NULL;

	if (argc < 3)
		return usage();
	kind = argv[1];
	argi = 2;
	if (strcmp(kind, "dns") == 0) {
		if (argc < 4)
			return usage();
		qtype = argv[argi++];
	} else if (strcmp(kind, "fetch") != 0)
		return usage();
	name = argv[argi++];
	for (; argi < argc; argi++) {
		const char *a = argv[argi];
		const char *v = argi + 1 < argc ? argv[argi + 1] : NULL;

		if (strcmp(a, "--fwd") == 0 && v && n_fwd < MAX_LIST)
			fwd[n_fwd++] = v, argi++;
		else if (strcmp(a, "--connect-to") == 0 && v &&
			 n_cto < MAX_LIST)
			cto[n_cto++] = v, argi++;
		else if (strcmp(a, "--ta") == 0 && v)
			ta = v, argi++;
		else if (strcmp(a, "--auto-ta") == 0 && v)
			auto_ta = v, argi++;
		else if (strcmp(a, "--ca") == 0 && v)
			ca = v, argi++;
		else if (strcmp(a, "--proxy") == 0 && v)
			proxy = v, argi++;
		else if (strcmp(a, "--timeout") == 0 && v)
			timeout = (unsigned)strtoul(v, NULL, 10), argi++;
		else if (strcmp(a, "--port") == 0 && v)
			port = (unsigned)strtoul(v, NULL, 10), argi++;
		else if (strcmp(a, "--repeat") == 0 && v)
			repeat = (int)strtol(v, NULL, 10), argi++;
		else if (strcmp(a, "--dnssec") == 0)
			dnssec = true;
		else if (strcmp(a, "--cancel") == 0)
			cancel = true;
		else if (strcmp(a, "--free-early") == 0)
			free_early = true;
		else if (strcmp(a, "--free-in-cb") == 0)
			g.free_in_cb = free_in_cb = true;
		else if (strcmp(a, "--body") == 0)
			g.print_body = true;
		else if (a[0] != '-' && n_addrs < MAX_LIST)
			addrs[n_addrs++] = a;
		else
			return usage();
	}
	if (repeat < 1 || repeat > 100000)
		return usage();

	g.expect = cancel || free_early ? -1 : free_in_cb ? 1 : repeat;
	g.base = event_base_new();
	if (g.base == NULL)
		return 2;
	if (qtype != NULL) {
		struct sts_dns_config cfg = {
		    .forwarders = fwd,
		    .n_forwarders = n_fwd,
		    .dnssec = dnssec,
		    .trust_anchor_file = ta,
		    .auto_trust_anchor_file = auto_ta,
		    .timeout_ms = timeout,
		};
		r = sts_dns_new(g.base, &cfg, &g.dns, &diag);
		if (r != STS_OK) {
			printf(
			    "new=%s\ndiag=%s\n", status_name(r), diag.message);
			event_base_free(g.base);
			return 2;
		}
		printf("validating=%d\n", sts_dns_validating(g.dns));
	} else {
		struct sts_fetch_config cfg = {
		    .ca_file = ca,
		    .connect_to = cto,
		    .n_connect_to = n_cto,
		    .timeout_ms = timeout,
		    .proxy = proxy,
		};
		r = sts_fetch_new(g.base, &cfg, &g.fetch, &diag);
		if (r != STS_OK) {
			printf(
			    "new=%s\ndiag=%s\n", status_name(r), diag.message);
			event_base_free(g.base);
			return 2;
		}
	}

	for (i = 0; i < repeat; i++) {
		struct sts_dns_query *q = NULL;
		struct sts_fetch_req *fr = NULL;

		if (qtype == NULL)
			r = sts_fetch_policy(
			    g.fetch, name, addrs, n_addrs, on_fetch, NULL, &fr);
		else if (strcmp(qtype, "txt") == 0)
			r = sts_dns_query_txt(g.dns, name, on_dns, NULL, &q);
		else if (strcmp(qtype, "mx") == 0)
			r = sts_dns_query_mx(g.dns, name, on_dns, NULL, &q);
		else if (strcmp(qtype, "addr") == 0)
			r = sts_dns_query_addr(g.dns, name, on_dns, NULL, &q);
		else if (strcmp(qtype, "tlsa") == 0)
			r = sts_dns_query_tlsa(
			    g.dns, name, port, on_dns, NULL, &q);
		else
			return usage();
		if (r != STS_OK) {
			printf("start=%s\n", status_name(r));
			break;
		}
		/* the callback must never run inside the starting call */
		if (g.callbacks != 0) {
			printf("error=callback ran inside the starting call\n");
			return 1;
		}
		if (cancel) {
			sts_dns_cancel(q);
			sts_fetch_cancel(fr);
		}
	}
	if (r != STS_OK) {
		sts_dns_free(g.dns);
		sts_fetch_free(g.fetch);
		event_base_free(g.base);
		return 2;
	}
	if (free_early) {
		sts_dns_free(g.dns);
		sts_fetch_free(g.fetch);
		g.dns = NULL;
		g.fetch = NULL;
	}
	if (cancel || free_early) {
		struct timeval tv = {0, 300000};

		stop = evtimer_new(g.base, on_stop, NULL);
		evtimer_add(stop, &tv);
	}
	event_base_dispatch(g.base);
	if (stop != NULL)
		event_free(stop);
	sts_dns_free(g.dns);
	sts_fetch_free(g.fetch);
	event_base_free(g.base);
	expect = g.expect < 0 ? 0 : g.expect;
	printf("callbacks=%d\n", g.callbacks);
	return g.callbacks == expect ? 0 : 1;
}

/*
 * fetch.h - asynchronous HTTPS fetch of an MTA-STS policy (L3 adapter).
 *
 * GET https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461 §3.3)
 * with libcurl's multi-socket API on the caller's libevent event_base:
 * SNI and PKIX validation of mta-sts.<domain> against DNS-IDs only, TLS
 * 1.2 or newer, no redirects, no HTTP cache, status 200 and text/plain
 * only, a body cap of STS_POLICY_MAX_BYTES, a total timeout.  The body is
 * returned as bytes and never parsed here: that is policy.c's job.
 *
 * Addresses: the caller resolves mta-sts.<domain> (dns.h) and passes the
 * addresses (CURLOPT_RESOLVE); libcurl never resolves the policy host
 * itself.  When a proxy is configured (cfg->proxy, or https_proxy /
 * HTTPS_PROXY / all_proxy in the environment, read once by
 * sts_fetch_new) the proxy resolves and connects instead: addresses are
 * not pinned and n_addrs may be 0.  (A host that no_proxy exempts is
 * then resolved by libcurl itself.)
 *
 * Callbacks: a request's callback runs exactly once, always from the
 * event loop and never from inside sts_fetch_policy(), unless the
 * request is cancelled first (then never).  It may start or cancel
 * requests and may free the context.
 *
 * libcurl global state: sts_fetch_new() calls curl_global_init() and
 * sts_fetch_free() calls curl_global_cleanup() (libcurl counts them).
 * When libcurl lacks CURL_VERSION_THREADSAFE (older than 7.84), create
 * and free fetch contexts while no other thread uses libcurl.
 */
#ifndef MTASTS_FETCH_H
#define MTASTS_FETCH_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "limits.h"

struct event_base;
struct sts_fetch;
struct sts_fetch_req;

struct sts_fetch_config {
	/* PEM bundle of trusted CAs; NULL: the system store (libcurl's
	 * default bundle).  Loaded once per context, shared by all
	 * requests; reloaded after a day. */
	const char *ca_file;
	/*
	 * libcurl CURLOPT_CONNECT_TO entries "HOST:PORT:CONNECT-HOST:
	 * CONNECT-PORT", e.g. ":443::8443" or
	 * "mta-sts.a.example:443:127.0.0.1:8443".  The certificate is still
	 * checked against mta-sts.<domain>.  An empty CONNECT-HOST keeps
	 * the caller's addresses; a host name there is resolved by libcurl.
	 */
	const char *const *connect_to;
	size_t n_connect_to;
	/* Total per request (connect, TLS, transfer); 0 means
	 * STS_FETCH_TIMEOUT_S. */
	unsigned timeout_ms;
	/* Proxy URL; NULL: libcurl reads the environment. */
	const char *proxy;
	/* User-Agent header; NULL: "libmtasts". */
	const char *user_agent;
};

/*
 * One finished request; everything lives only during the callback.
 * status:
 *   STS_OK       HTTP 200, text/plain, body within the cap;
 *   STS_ETLS     the certificate of mta-sts.<domain> did not validate;
 *   STS_EPROTO   an HTTP rule broken: status not 200 (not 5xx), a
 *                redirect, wrong or missing media type;
 *   STS_ETOOBIG  body over STS_POLICY_MAX_BYTES;
 *   STS_ETEMP    connect failure, timeout, TLS handshake failure, 5xx,
 *                408, 429, transfer error;
 *   STS_EIO      the CA file cannot be used;
 *   STS_ENOMEM.
 */
struct sts_fetch_result {
	int status;
	/*
	 * RFC 8460 §4.3 result type: "sts-webpki-invalid" (STS_ETLS),
	 * "sts-policy-fetch-error" (any other failure), NULL on STS_OK.
	 * The caller classifies a body policy.c rejects as
	 * "sts-policy-invalid".
	 */
	const char *tlsrpt_result;
	/*
	 * Why, for humans: "HTTP status 404, only 200 is a policy (RFC 8461
	 * §3.3)", "certificate is for mta-sts.other.example, not valid for
	 * mta-sts.a.example"; untrusted parts made printable and shortened.
	 */
	char reason[STS_FETCH_REASON_MAX];
	/* https://mta-sts.<domain>/.well-known/mta-sts.txt */
	const char *url;
	/* The HTTP status, 0 when there was no response. */
	long http_status;
	/* Content-Type as sent (printable), "" when absent. */
	char content_type[STS_FETCH_CONTENT_TYPE_MAX];
	/* IP and port connected to (the proxy's when proxied), "" / 0 when
	 * no connection was made. */
	char address[STS_ADDR_STR_MAX];
	long port;
	/* Negotiated protocol, e.g. "TLSv1.3"; "" without a handshake. */
	char tls_version[STS_FETCH_TLS_VERSION_MAX];
	/* On STS_OK the body (may hold NUL; body[body_len] is NUL), else
	 * NULL. */
	const char *body;
	size_t body_len;
	/* Time of the transfer as libcurl measured it. */
	unsigned elapsed_ms;
};

typedef void sts_fetch_cb(const struct sts_fetch_result *result, void *arg);

/*
 * Create a fetch context on base; cfg may be NULL (defaults).  Sets up
 * everything shared by requests once: the multi handle, the share handle
 * (TLS sessions), a template request with the common options.  Returns
 * STS_OK, STS_EINVAL (bad connect_to entry or unreadable ca_file;
 * reterr_diag, may be NULL, says which), STS_ENOMEM or STS_EINTERNAL
 * (libcurl lacks something we need, e.g. HTTPS).
 */
int sts_fetch_new(struct event_base *base, const struct sts_fetch_config *cfg,
    struct sts_fetch **ret_fetch, struct sts_diag *reterr_diag);

/* Cancel every outstanding request (no callbacks) and free; NULL ok. */
void sts_fetch_free(struct sts_fetch *fetch);

/*
 * Fetch the policy of policy_domain (A-label, no trailing dot) from the
 * n_addrs IPv4/IPv6 address literals addrs (tried in order, libcurl's
 * happy eyeballs across families).  On STS_OK the callback will run once,
 * later; *ret_req (ret_req may be NULL) is valid until the callback
 * starts or until sts_fetch_cancel().  Errors (no callback): STS_EINVAL
 * (bad domain, bad address, n_addrs == 0 without a proxy), STS_ENOMEM,
 * STS_EINTERNAL.
 */
int sts_fetch_policy(struct sts_fetch *fetch, const char *policy_domain,
    const char *const *addrs, size_t n_addrs, sts_fetch_cb *cb, void *arg,
    struct sts_fetch_req **ret_req);

/* The callback of req will never run; NULL ok. */
void sts_fetch_cancel(struct sts_fetch_req *req);

/* Is a proxy in use (cfg->proxy or the environment at sts_fetch_new)? */
bool sts_fetch_proxied(const struct sts_fetch *fetch);

#endif

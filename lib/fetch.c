/*
 * fetch.c - asynchronous HTTPS policy fetch: libcurl's multi-socket API
 * on the caller's event_base, OpenSSL for the certificate facts.
 *
 * Set up once per context (sts_fetch_new): the multi handle with its
 * socket and timer callbacks, a share handle for TLS sessions, and a
 * template easy handle carrying every option common to all requests.  A
 * request is a curl_easy_duphandle() of the template plus its URL, its
 * pinned addresses (CURLOPT_RESOLVE) and its private pointers.
 *
 * The CA store: libcurl (7.87+, OpenSSL) keeps the X509_STORE built from
 * CURLOPT_CAINFO in the multi handle and hands it to every new TLS
 * context for CURLOPT_CA_CACHE_TIMEOUT seconds, provided no CAPATH is
 * set; we set none.  So the bundle is read once per context per day,
 * however many fetches run (tests/io measures this with strace).
 *
 * Certificates: in the per-connection SSL_CTX callback we make OpenSSL
 * check the host name during the handshake, against DNS-IDs only and with
 * a wildcard only as the whole leftmost label (RFC 8461 §3.3 via RFC 6125;
 * no CN fallback), and install a verify callback that records the first
 * X.509 error and the leaf's DNS names for the reason text.  libcurl's own
 * host name check still runs afterwards.
 *
 * Completion: when curl_multi_info_read() reports a transfer done we
 * compute the result at once, release the easy handle, and activate the
 * request's own event; the user's callback runs from that event, never
 * inside libcurl and never inside sts_fetch_policy(), so it may cancel
 * requests or free the context.
 */
#include "mtasts/fetch.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mtasts/err.h"
#include "mtasts/limits.h"

#define POLICY_PORT    443
#define POLICY_PREFIX  "mta-sts."
#define POLICY_PATH    "/.well-known/mta-sts.txt"
#define CA_CACHE_S     86400L
/*
 * libcurl's DNS cache only carries the addresses we pin per request
 * (CURLOPT_RESOLVE, resolved by us a moment before), read when the
 * transfer starts.  A short life lets libcurl prune them (the default
 * 60 s keeps an entry, ~300 bytes, per policy host fetched in the last
 * minute); forget_pinned() removes them explicitly as well.
 */
#define DNS_CACHE_S    5L
/* Receive buffer per transfer (libcurl's default: 16 KiB); bodies are
 * small and at most STS_POLICY_MAX_BYTES, read in as many calls. */
#define RECV_BUFFER    4096L
#define BODY_FIRST_CAP 4096
#define SAN_TEXT_MAX   160 /* > SAN_NAME_SHOWN: one name always fits */
#define SAN_NAME_SHOWN 100
#define RFC_33         "(RFC 8461 §3.3)"
#define RFC_32         "(RFC 8461 §3.2)"

struct sock {
	struct sts_fetch *fetch;
	struct sock *prev, *next;
	curl_socket_t fd;
	struct event *ev;
};

/* One parsed CURLOPT_CONNECT_TO entry; "" and 0 mean "any" / "same". */
struct connect_to {
	char host[STS_DOMAIN_MAX + 1];
	unsigned port;
	char chost[STS_DOMAIN_MAX + 3]; /* IPv6 literals keep brackets */
	unsigned cport;
};

struct sts_fetch {
	struct event_base *base;
	CURLM *multi;
	CURLSH *share;
	CURL *tmpl;
	struct event *timer;
	struct curl_slist *connect_to;
	struct curl_slist *headers;
	struct connect_to *cto;
	size_t n_cto;
	unsigned timeout_ms;
	bool proxied;
	bool global_init;
	struct sts_fetch_req *reqs; /* callback not yet run */
	struct sock *socks;
	/* "-host:port" for the pinned addresses of finished transfers:
	 * the next request removes them from libcurl's DNS cache. */
	struct curl_slist *forget;
};

enum stop {
	STOP_NONE,
	STOP_DISCARD, /* a redirect: let it finish for CURLINFO_REDIRECT_URL */
	STOP_STATUS,  /* not 200: the body is not wanted */
	STOP_TYPE,    /* 200 but not text/plain */
	STOP_TOO_BIG, /* over STS_POLICY_MAX_BYTES */
	STOP_NOMEM,
};

struct sts_fetch_req {
	struct sts_fetch *fetch;
	struct sts_fetch_req *prev, *next;
	CURL *easy;
	struct curl_slist *resolve;
	sts_fetch_cb *cb;
	void *arg;
	struct event *ev; /* deferred delivery */
	bool done;
	enum stop stop;
	bool checked_head;
	unsigned timeout_ms;
	char *body;
	size_t len, cap;
	int x509_err;
	int x509_depth;
	X509 *leaf; /* kept for the reason text, read only on failure */
	bool sans_seen;
	unsigned n_sans;  /* DNS names in the leaf */
	unsigned n_shown; /* of which in sans[] */
	char sans[SAN_TEXT_MAX];
	char target[STS_FETCH_REASON_MAX / 2]; /* where we will connect */
	char tls_version[STS_FETCH_TLS_VERSION_MAX];
	char host[STS_DOMAIN_MAX + 1];
	char url[STS_DOMAIN_MAX + 64];
	char errbuf[CURL_ERROR_SIZE];
	struct sts_fetch_result result;
};

/* Copy len bytes of untrusted text as printable ASCII ('?' otherwise),
 * NUL-terminated, marking a cut with "...". */
static void
copy_printable(char *out, size_t outsz, const char *in, size_t len)
{
	size_t i, o = 0;

	if (outsz == 0)
		return;
	for (i = 0; in != NULL && i < len && o + 1 < outsz; i++) {
		unsigned char c = (unsigned char)in[i];
		out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[o] = '\0';
	if (in != NULL && i < len && outsz > 4)
		memcpy(out + outsz - 4, "...", 4);
}

static bool
ascii_ieq(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x + ('a' - 'A'));
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y + ('a' - 'A'));
		if (x != y)
			return false;
	}
	return true;
}

/* RFC 8461 §3.2: media type text/plain; parameters are ignored. */
static bool
is_text_plain(const char *ct)
{
	static const char want[] = "text/plain";
	size_t n = sizeof(want) - 1;

	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strlen(ct) < n || !ascii_ieq(ct, want, n))
		return false;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* ---- event loop glue ------------------------------------------------ */

static void check_done(struct sts_fetch *f);

static void
on_sock_event(evutil_socket_t fd, short what, void *arg)
{
	struct sts_fetch *f = arg;
	int running, flags = 0;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	(void)curl_multi_socket_action(f->multi, fd, flags, &running);
	check_done(f);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct sts_fetch *f = arg;
	int running;

	(void)fd;
	(void)what;
	(void)curl_multi_socket_action(
	    f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(f);
}

static void
sock_free(struct sock *sk)
{
	struct sts_fetch *f = sk->fetch;

	if (sk->prev != NULL)
		sk->prev->next = sk->next;
	else
		f->socks = sk->next;
	if (sk->next != NULL)
		sk->next->prev = sk->prev;
	event_free(sk->ev);
	free(sk);
}

/* CURLMOPT_SOCKETFUNCTION: watch fd as libcurl asks. */
static int
on_curl_socket(
    CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct sts_fetch *f = userp;
	struct sock *sk = socketp;
	short kind = EV_PERSIST;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (sk != NULL) {
			sock_free(sk);
			(void)curl_multi_assign(f->multi, fd, NULL);
		}
		return 0;
	}
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (sk == NULL) {
		sk = calloc(1, sizeof(*sk));
		if (sk == NULL)
			return -1;
		sk->fetch = f;
		sk->fd = fd;
		sk->ev = event_new(f->base, fd, kind, on_sock_event, f);
		if (sk->ev == NULL) {
			free(sk);
			return -1;
		}
		sk->next = f->socks;
		if (f->socks != NULL)
			f->socks->prev = sk;
		f->socks = sk;
		(void)curl_multi_assign(f->multi, fd, sk);
	} else {
		event_del(sk->ev);
		if (event_assign(sk->ev, f->base, fd, kind, on_sock_event, f) !=
		    0)
			return -1;
	}
	return event_add(sk->ev, NULL) == 0 ? 0 : -1;
}

/* CURLMOPT_TIMERFUNCTION: one timer for the whole multi handle. */
static int
on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct sts_fetch *f = userp;
	struct timeval tv;

	(void)multi;
	if (timeout_ms < 0)
		return event_del(f->timer) == 0 ? 0 : -1;
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000;
	return evtimer_add(f->timer, &tv) == 0 ? 0 : -1;
}

/* ---- per-transfer libcurl and OpenSSL callbacks ---------------------- */

/* At the first body bytes: is this a response we want the body of? */
static void
check_head(struct sts_fetch_req *req)
{
	long code = 0;
	char *ct = NULL;

	req->checked_head = true;
	(void)curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 300 && code < 400) {
		/* libcurl computes the would-be redirect URL only for a
		 * transfer that completes, so read (and drop) the body */
		req->stop = STOP_DISCARD;
		return;
	}
	if (code != 200) {
		req->stop = STOP_STATUS;
		return;
	}
	(void)curl_easy_getinfo(req->easy, CURLINFO_CONTENT_TYPE, &ct);
	if (ct == NULL || !is_text_plain(ct))
		req->stop = STOP_TYPE;
}

/* CURLOPT_WRITEFUNCTION: keep at most STS_POLICY_MAX_BYTES, chunked or
 * not (CURLOPT_MAXFILESIZE only sees a Content-Length). */
static size_t
on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct sts_fetch_req *req = userdata;
	size_t n = size * nmemb;

	if (!req->checked_head)
		check_head(req);
	if (req->stop == STOP_DISCARD && n <= STS_POLICY_MAX_BYTES - req->len) {
		req->len += n;
		return n;
	}
	if (req->stop != STOP_NONE)
		return 0; /* != n: libcurl aborts with CURLE_WRITE_ERROR */
	if (n > STS_POLICY_MAX_BYTES - req->len) {
		req->stop = STOP_TOO_BIG;
		return 0;
	}
	if (req->len + n + 1 > req->cap) {
		size_t cap = req->cap == 0 ? BODY_FIRST_CAP : req->cap;
		char *nb;

		while (cap < req->len + n + 1)
			cap *= 2;
		if (cap > STS_POLICY_MAX_BYTES + 1)
			cap = STS_POLICY_MAX_BYTES + 1;
		nb = realloc(req->body, cap);
		if (nb == NULL) {
			req->stop = STOP_NOMEM;
			return 0;
		}
		req->body = nb;
		req->cap = cap;
	}
	memcpy(req->body + req->len, ptr, n);
	req->len += n;
	req->body[req->len] = '\0';
	return n;
}

static struct sts_fetch_req *
req_of_ssl(const SSL *ssl)
{
	if (ssl == NULL)
		return NULL;
	return SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
}

/* Remember up to STS_FETCH_SAN_SHOWN DNS names of the leaf. */
static void
take_sans(struct sts_fetch_req *req, X509 *cert)
{
	GENERAL_NAMES *gens;
	size_t used = 0;
	bool full = false;
	int i, n;

	req->sans_seen = true;
	gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	if (gens == NULL)
		return;
	n = sk_GENERAL_NAME_num(gens);
	for (i = 0; i < n; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char name[SAN_NAME_SHOWN + 1]; /* longer ones end in "..." */
		int len;

		if (g->type != GEN_DNS)
			continue;
		req->n_sans++;
		if (req->n_sans > STS_FETCH_SAN_SHOWN || full)
			continue;
		len = ASN1_STRING_length(g->d.dNSName);
		copy_printable(name, sizeof(name),
		    (const char *)ASN1_STRING_get0_data(g->d.dNSName),
		    len < 0 ? 0 : (size_t)len);
		len = snprintf(req->sans + used, sizeof(req->sans) - used,
		    "%s%s", used > 0 ? ", " : "", name);
		if (len < 0 || (size_t)len >= sizeof(req->sans) - used) {
			req->sans[used] = '\0'; /* drop the cut name */
			full = true;
			continue;
		}
		used += (size_t)len;
		req->n_shown++;
	}
	GENERAL_NAMES_free(gens);
}

/* SSL verify callback: record, never change, OpenSSL's verdict. */
static int
on_verify(int ok, X509_STORE_CTX *sctx)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(
	    sctx, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct sts_fetch_req *req = req_of_ssl(ssl);
	int depth = X509_STORE_CTX_get_error_depth(sctx);

	if (req == NULL)
		return ok;
	/* Decoding and printing the names costs on every handshake; most
	 * succeed, so only a reference is taken here (see classify_x509). */
	if (depth == 0 && req->leaf == NULL) {
		X509 *cert = X509_STORE_CTX_get_current_cert(sctx);
		if (cert != NULL && X509_up_ref(cert) == 1)
			req->leaf = cert;
	}
	if (!ok && req->x509_err == 0) {
		req->x509_err = X509_STORE_CTX_get_error(sctx);
		req->x509_depth = depth;
	}
	return ok;
}

static void
on_ssl_info(const SSL *ssl, int where, int ret)
{
	struct sts_fetch_req *req;

	(void)ret;
	if (!(where & SSL_CB_HANDSHAKE_DONE))
		return;
	req = req_of_ssl(ssl);
	if (req != NULL)
		snprintf(req->tls_version, sizeof(req->tls_version), "%s",
		    SSL_get_version(ssl));
}

/*
 * CURLOPT_SSL_CTX_FUNCTION, once per connection (libcurl 7.88 makes an
 * SSL_CTX per connection; we forbid connection reuse, so the request
 * pointer stored here never outlives its request).
 */
static CURLcode
on_ssl_ctx(CURL *easy, void *sslctx, void *parm)
{
	SSL_CTX *ctx = sslctx;
	struct sts_fetch_req *req = parm;
	X509_VERIFY_PARAM *vp = SSL_CTX_get0_param(ctx);

	(void)easy;
	if (X509_VERIFY_PARAM_set1_host(vp, req->host, 0) != 1)
		return CURLE_OUT_OF_MEMORY;
	X509_VERIFY_PARAM_set_hostflags(
	    vp, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
		    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	SSL_CTX_set_app_data(ctx, req);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, on_verify);
	SSL_CTX_set_info_callback(ctx, on_ssl_info);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	return CURLE_OK;
}

/* ---- classification ----------------------------------------------- */

static void set_reason(struct sts_fetch_result *r, int status, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static void
set_reason(struct sts_fetch_result *r, int status, const char *fmt, ...)
{
	va_list ap;

	r->status = status;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

static void
classify_x509(struct sts_fetch_req *req, struct sts_fetch_result *r)
{
	switch (req->x509_err) {
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case 0:
		if (!req->sans_seen && req->leaf != NULL)
			take_sans(req, req->leaf);
		if (req->n_sans == 0)
			set_reason(r, STS_ETLS,
			    "certificate is not valid for %s (it has no DNS "
			    "names) " RFC_33,
			    req->host);
		else
			set_reason(r, STS_ETLS,
			    "certificate is for %s%s, not valid for %s",
			    req->sans,
			    req->n_sans > req->n_shown ? ", ..." : "",
			    req->host);
		break;
	case X509_V_ERR_CERT_HAS_EXPIRED:
		set_reason(r, STS_ETLS, "certificate expired%s",
		    req->x509_depth > 0 ? " (an issuer in the chain)" : "");
		break;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		set_reason(r, STS_ETLS, "certificate not yet valid%s",
		    req->x509_depth > 0 ? " (an issuer in the chain)" : "");
		break;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_UNTRUSTED:
		set_reason(r, STS_ETLS,
		    "certificate not signed by a trusted CA (%s)",
		    X509_verify_cert_error_string(req->x509_err));
		break;
	case X509_V_ERR_CERT_REVOKED:
		set_reason(r, STS_ETLS, "certificate revoked");
		break;
	default:
		set_reason(r, STS_ETLS, "certificate rejected: %s",
		    X509_verify_cert_error_string(req->x509_err));
		break;
	}
}

static void
classify_status(struct sts_fetch_req *req, struct sts_fetch_result *r)
{
	long code = r->http_status;

	if (code >= 300 && code < 400) {
		char *loc = NULL;
		char q[STS_FETCH_REASON_MAX / 2];

		(void)curl_easy_getinfo(req->easy, CURLINFO_REDIRECT_URL, &loc);
		if (loc != NULL) {
			copy_printable(q, sizeof(q), loc, strlen(loc));
			set_reason(r, STS_EPROTO,
			    "redirect %ld to %s, not followed " RFC_33, code,
			    q);
		} else {
			set_reason(r, STS_EPROTO,
			    "redirect %ld, not followed " RFC_33, code);
		}
		return;
	}
	set_reason(r,
	    code >= 500 || code == 408 || code == 429 ? STS_ETEMP : STS_EPROTO,
	    "HTTP status %ld, only 200 is a policy " RFC_33, code);
}

static void
classify_transport(
    struct sts_fetch_req *req, CURLcode code, struct sts_fetch_result *r)
{
	long oserr = 0;
	char err[CURL_ERROR_SIZE];

	copy_printable(err, sizeof(err), req->errbuf, strlen(req->errbuf));
	if (err[0] == '\0')
		snprintf(err, sizeof(err), "%s", curl_easy_strerror(code));
	(void)curl_easy_getinfo(req->easy, CURLINFO_OS_ERRNO, &oserr);
	switch (code) {
	case CURLE_OPERATION_TIMEDOUT:
		set_reason(
		    r, STS_ETEMP, "timed out after %u ms", req->timeout_ms);
		break;
	case CURLE_COULDNT_CONNECT:
		if (oserr == ECONNREFUSED)
			set_reason(r, STS_ETEMP, "connection to %s refused",
			    req->target);
		else if (oserr != 0)
			set_reason(r, STS_ETEMP, "connection to %s failed: %s",
			    req->target, strerror((int)oserr));
		else
			set_reason(r, STS_ETEMP, "connection to %s failed: %s",
			    req->target, err);
		break;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		/* CURLINFO_OS_ERRNO covers connect() only: keep curl's text */
		if (r->address[0] != '\0')
			set_reason(r, STS_ETEMP,
			    "connection to %s%s%s:%ld broken: %s",
			    strchr(r->address, ':') ? "[" : "", r->address,
			    strchr(r->address, ':') ? "]" : "", r->port, err);
		else
			set_reason(
			    r, STS_ETEMP, "%s (curl error %d)", err, (int)code);
		break;
	case CURLE_GOT_NOTHING:
		set_reason(r, STS_ETEMP,
		    "connection to %s closed without a "
		    "response",
		    req->target);
		break;
	case CURLE_SSL_CACERT_BADFILE:
		set_reason(r, STS_EIO, "cannot load the CA file: %s", err);
		break;
	case CURLE_OUT_OF_MEMORY:
		set_reason(r, STS_ENOMEM, "out of memory");
		break;
	case CURLE_SSL_CONNECT_ERROR:
		set_reason(r, STS_ETEMP, "TLS handshake failed: %s", err);
		break;
	default:
		set_reason(r, STS_ETEMP, "%s (curl error %d)", err, (int)code);
		break;
	}
}

/* Fill req->result from the finished transfer. */
static void
finish(struct sts_fetch_req *req, CURLcode code)
{
	struct sts_fetch_result *r = &req->result;
	char *ct = NULL, *ip = NULL;
	curl_off_t us = 0;
	bool got_head;

	r->url = req->url;
	(void)curl_easy_getinfo(
	    req->easy, CURLINFO_RESPONSE_CODE, &r->http_status);
	(void)curl_easy_getinfo(req->easy, CURLINFO_CONTENT_TYPE, &ct);
	if (ct != NULL)
		copy_printable(
		    r->content_type, sizeof(r->content_type), ct, strlen(ct));
	(void)curl_easy_getinfo(req->easy, CURLINFO_PRIMARY_IP, &ip);
	if (ip != NULL)
		snprintf(r->address, sizeof(r->address), "%s", ip);
	(void)curl_easy_getinfo(req->easy, CURLINFO_PRIMARY_PORT, &r->port);
	(void)curl_easy_getinfo(req->easy, CURLINFO_TOTAL_TIME_T, &us);
	r->elapsed_ms = (unsigned)(us / 1000);
	memcpy(r->tls_version, req->tls_version, sizeof(r->tls_version));

	got_head = code == CURLE_OK || code == CURLE_FILESIZE_EXCEEDED ||
		   (code == CURLE_WRITE_ERROR && req->stop != STOP_NONE);
	if (req->x509_err != 0 || code == CURLE_PEER_FAILED_VERIFICATION)
		classify_x509(req, r);
	else if (req->stop == STOP_NOMEM)
		set_reason(r, STS_ENOMEM, "out of memory");
	else if (got_head || (r->http_status != 0 && r->http_status != 200)) {
		if (r->http_status != 200)
			classify_status(req, r);
		else if (req->stop == STOP_TOO_BIG ||
			 code == CURLE_FILESIZE_EXCEEDED)
			set_reason(r, STS_ETOOBIG,
			    "body exceeds %d bytes " RFC_33,
			    STS_POLICY_MAX_BYTES);
		else if (r->content_type[0] == '\0')
			set_reason(r, STS_EPROTO,
			    "no Content-Type, need text/plain " RFC_32);
		else if (!is_text_plain(r->content_type))
			set_reason(r, STS_EPROTO,
			    "media type %.100s, need text/plain " RFC_32,
			    r->content_type);
		else if (code != CURLE_OK)
			classify_transport(req, code, r);
		else {
			r->status = STS_OK;
			r->body = req->body != NULL ? req->body : "";
			r->body_len = req->len;
			snprintf(r->reason, sizeof(r->reason),
			    "HTTP 200, %zu bytes", req->len);
		}
	} else
		classify_transport(req, code, r);

	if (r->status == STS_OK)
		r->tlsrpt_result = NULL;
	else if (r->status == STS_ETLS)
		r->tlsrpt_result = "sts-webpki-invalid";
	else
		r->tlsrpt_result = "sts-policy-fetch-error";
}

static void
req_unlink(struct sts_fetch_req *req)
{
	struct sts_fetch *f = req->fetch;

	if (f == NULL)
		return;
	if (req->prev != NULL)
		req->prev->next = req->next;
	else
		f->reqs = req->next;
	if (req->next != NULL)
		req->next->prev = req->prev;
	req->prev = req->next = NULL;
	req->fetch = NULL;
}

/*
 * libcurl keeps a CURLOPT_RESOLVE entry in the multi handle's DNS cache
 * after the transfer, and 7.88 prunes stale ones lazily: with only the
 * short timeout, heaptrack still counted about 1 MiB of them after
 * 10 000 fetches (doc/PERFORMANCE.md, "RSS").  Queue "-host:port" for
 * the next request, whose list libcurl reads when it starts (a transfer
 * that started already holds its own reference to the entry).
 */
static void
forget_pinned(struct sts_fetch *f, const struct curl_slist *resolve)
{
	for (; resolve != NULL; resolve = resolve->next) {
		/* "+host:port:addrs" -> "-host:port" */
		const char *host = resolve->data + 1;
		const char *colon = strchr(host, ':');
		const char *end = colon ? strchr(colon + 1, ':') : NULL;
		char entry[STS_DOMAIN_MAX + 16];
		struct curl_slist *nl;

		if (end == NULL || (size_t)(end - host) >= sizeof(entry) - 2)
			continue;
		snprintf(entry, sizeof(entry), "-%.*s", (int)(end - host), host);
		if ((nl = curl_slist_append(f->forget, entry)) != NULL)
			f->forget = nl;
	}
}

/* Detach the transfer from libcurl and free its easy handle; f is NULL
 * when the context is going away. */
static void
req_release_easy(struct sts_fetch_req *req, struct sts_fetch *f)
{
	if (req->easy == NULL)
		return;
	if (f != NULL) {
		(void)curl_multi_remove_handle(f->multi, req->easy);
		forget_pinned(f, req->resolve);
	}
	curl_easy_cleanup(req->easy);
	req->easy = NULL;
	curl_slist_free_all(req->resolve);
	req->resolve = NULL;
}

static void
req_free(struct sts_fetch_req *req)
{
	if (req == NULL)
		return;
	req_release_easy(req, NULL);
	if (req->ev != NULL)
		event_free(req->ev);
	X509_free(req->leaf);
	free(req->body);
	free(req);
}

static void
on_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct sts_fetch_req *req = arg;

	(void)fd;
	(void)what;
	req_unlink(req); /* first: the callback may free the context */
	req->cb(&req->result, req->arg);
	req_free(req);
}

static void
check_done(struct sts_fetch *f)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(f->multi, &left)) != NULL) {
		struct sts_fetch_req *req = NULL;
		CURLcode code = msg->data.result;
		CURL *easy = msg->easy_handle;

		if (msg->msg != CURLMSG_DONE)
			continue;
		(void)curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&req);
		if (req == NULL) {
			(void)curl_multi_remove_handle(f->multi, easy);
			continue;
		}
		/* before curl_multi_remove_handle(), which forgets the
		 * would-be redirect URL */
		finish(req, code);
		req_release_easy(req, f);
		req->done = true;
		event_active(req->ev, EV_TIMEOUT, 1);
	}
}

/* ---- requests ----------------------------------------------------- */

/* A-label domain: LDH labels separated by single dots. */
static bool
domain_ok(const char *d)
{
	size_t i, len = strlen(d), label = 0;

	if (len == 0 || len > STS_DOMAIN_MAX - (sizeof(POLICY_PREFIX) - 1))
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)d[i];

		if (c == '.') {
			if (label == 0 || d[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '-'))
			return false;
		if (c == '-' && label == 0)
			return false;
		if (++label > STS_LABEL_MAX)
			return false;
	}
	return label > 0 && d[len - 1] != '-';
}

/*
 * The connect_to entry libcurl will apply to host on port 443: the
 * first whose HOST and PORT match (lib/connect.c: parse_connect_to_slist).
 */
static const struct connect_to *
find_connect_to(const struct sts_fetch *f, const char *host)
{
	size_t i;

	for (i = 0; i < f->n_cto; i++) {
		const struct connect_to *c = &f->cto[i];

		if ((c->host[0] == '\0' || strcasecmp(c->host, host) == 0) &&
		    (c->port == 0 || c->port == POLICY_PORT))
			return c;
	}
	return NULL;
}

/* Describe where the connection will go, for reasons: "a:p, [b]:p". */
static void
describe_target(struct sts_fetch_req *req, const struct connect_to *c,
    unsigned port, const char *const *addrs, size_t n)
{
	size_t i, used = 0;
	int len;

	if (c != NULL && c->chost[0] != '\0') {
		snprintf(req->target, sizeof(req->target), "%.100s:%u",
		    c->chost, port);
		return;
	}
	if (n == 0) {
		snprintf(req->target, sizeof(req->target), "%.100s:%u",
		    req->host, port);
		return;
	}
	for (i = 0; i < n; i++) {
		bool v6 = strchr(addrs[i], ':') != NULL;

		len = snprintf(req->target + used, sizeof(req->target) - used,
		    "%s%s%s%s:%u", i > 0 ? ", " : "", v6 ? "[" : "", addrs[i],
		    v6 ? "]" : "", port);
		if (len < 0 || (size_t)len >= sizeof(req->target) - used) {
			/* cut: end with "..." */
			memcpy(req->target + sizeof(req->target) - 4, "...", 4);
			return;
		}
		used += (size_t)len;
	}
}

/* "+host:port:a1,[a2],..." with '+' so that libcurl's DNS cache entry
 * times out like a resolved one instead of staying forever. */
static struct curl_slist *
add_resolve(struct curl_slist *list, const char *host, unsigned port,
    const char *const *addrs, size_t n, bool *ret_fail)
{
	size_t i, need = strlen(host) + 16, used;
	struct curl_slist *nl;
	char *s;
	int len;

	for (i = 0; i < n; i++)
		need += strlen(addrs[i]) + 3;
	s = malloc(need);
	if (s == NULL) {
		*ret_fail = true;
		return list;
	}
	len = snprintf(s, need, "+%s:%u:", host, port);
	used = (size_t)len;
	for (i = 0; i < n; i++) {
		bool v6 = strchr(addrs[i], ':') != NULL;

		len = snprintf(s + used, need - used, "%s%s%s%s",
		    i > 0 ? "," : "", v6 ? "[" : "", addrs[i], v6 ? "]" : "");
		used += (size_t)len;
	}
	nl = curl_slist_append(list, s);
	free(s);
	if (nl == NULL) {
		*ret_fail = true;
		return list;
	}
	return nl;
}

int
sts_fetch_policy(struct sts_fetch *fetch, const char *policy_domain,
    const char *const *addrs, size_t n_addrs, sts_fetch_cb *cb, void *arg,
    struct sts_fetch_req **ret_req)
{
	struct sts_fetch_req *req = NULL;
	const struct connect_to *cto;
	unsigned char bin[16];
	unsigned port;
	bool fail = false;
	size_t i;
	int err;

	if (fetch == NULL || policy_domain == NULL || cb == NULL ||
	    !domain_ok(policy_domain) || (n_addrs == 0 && !fetch->proxied) ||
	    (n_addrs > 0 && addrs == NULL))
		return STS_EINVAL;
	for (i = 0; i < n_addrs; i++)
		if (addrs[i] == NULL ||
		    (inet_pton(AF_INET, addrs[i], bin) != 1 &&
			inet_pton(AF_INET6, addrs[i], bin) != 1))
			return STS_EINVAL;

	req = calloc(1, sizeof(*req));
	if (req == NULL)
		return STS_ENOMEM;
	req->cb = cb;
	req->arg = arg;
	snprintf(
	    req->host, sizeof(req->host), POLICY_PREFIX "%s", policy_domain);
	for (i = 0; req->host[i] != '\0'; i++)
		if (req->host[i] >= 'A' && req->host[i] <= 'Z')
			req->host[i] = (char)(req->host[i] + ('a' - 'A'));
	snprintf(
	    req->url, sizeof(req->url), "https://%s" POLICY_PATH, req->host);
	req->timeout_ms = fetch->timeout_ms;
	cto = find_connect_to(fetch, req->host);
	port = cto != NULL && cto->cport != 0 ? cto->cport : POLICY_PORT;
	describe_target(req, cto, port, addrs, n_addrs);
	req->ev = event_new(fetch->base, -1, 0, on_deliver, req);
	if (req->ev == NULL) {
		err = STS_ENOMEM;
		goto fail;
	}
	if (n_addrs > 0 && !fetch->proxied) {
		/*
		 * Removals first (forget_pinned), then this request's own
		 * entries.  When connect_to keeps the host name but changes
		 * the port, libcurl looks up host:newport: pin that too.
		 */
		req->resolve = add_resolve(
		    fetch->forget, req->host, POLICY_PORT, addrs, n_addrs, &fail);
		fetch->forget = NULL;
		if (port != POLICY_PORT && !fail &&
		    (cto == NULL || cto->chost[0] == '\0'))
			req->resolve = add_resolve(req->resolve, req->host,
			    port, addrs, n_addrs, &fail);
		if (fail) {
			err = STS_ENOMEM;
			goto fail;
		}
	}
	req->easy = curl_easy_duphandle(fetch->tmpl);
	if (req->easy == NULL) {
		err = STS_ENOMEM;
		goto fail;
	}
	if (curl_easy_setopt(req->easy, CURLOPT_URL, req->url) != CURLE_OK ||
	    curl_easy_setopt(req->easy, CURLOPT_RESOLVE, req->resolve) !=
		CURLE_OK ||
	    curl_easy_setopt(req->easy, CURLOPT_PRIVATE, req) != CURLE_OK ||
	    curl_easy_setopt(req->easy, CURLOPT_WRITEDATA, req) != CURLE_OK ||
	    curl_easy_setopt(req->easy, CURLOPT_SSL_CTX_DATA, req) !=
		CURLE_OK ||
	    curl_easy_setopt(req->easy, CURLOPT_ERRORBUFFER, req->errbuf) !=
		CURLE_OK ||
	    curl_easy_setopt(req->easy, CURLOPT_SHARE, fetch->share) !=
		CURLE_OK) {
		err = STS_ENOMEM;
		goto fail;
	}
	if (curl_multi_add_handle(fetch->multi, req->easy) != CURLM_OK) {
		err = STS_EINTERNAL;
		goto fail;
	}
	req->fetch = fetch;
	req->next = fetch->reqs;
	if (fetch->reqs != NULL)
		fetch->reqs->prev = req;
	fetch->reqs = req;
	if (ret_req != NULL)
		*ret_req = req;
	return STS_OK;
fail:
	req_free(req);
	return err;
}

void
sts_fetch_cancel(struct sts_fetch_req *req)
{
	if (req == NULL)
		return;
	if (req->fetch != NULL)
		req_release_easy(req, req->fetch);
	req_unlink(req);
	req_free(req);
}

bool
sts_fetch_proxied(const struct sts_fetch *fetch)
{
	return fetch != NULL && fetch->proxied;
}

/* ---- context ------------------------------------------------------ */

static int
diag_fail(
    struct sts_diag *reterr_diag, int err, const char *what, const char *arg)
{
	char q[STS_DIAG_MAX / 2];

	if (reterr_diag != NULL) {
		copy_printable(
		    q, sizeof(q), arg, arg != NULL ? strlen(arg) : 0);
		reterr_diag->line = 0;
		snprintf(reterr_diag->message, sizeof(reterr_diag->message),
		    "%s '%s'", what, q);
	}
	return err;
}

static bool
parse_port(const char *s, size_t len, unsigned *ret_port)
{
	unsigned long v = 0;
	size_t i;

	if (len == 0 || len > 5)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return false;
	*ret_port = (unsigned)v;
	return true;
}

/*
 * Parse one CURLOPT_CONNECT_TO entry "HOST:PORT:CHOST:CPORT" (any field
 * may be empty; CHOST may be a bracketed IPv6 literal).
 */
static bool
connect_to_parse(const char *e, struct connect_to *ret)
{
	const char *c1 = strchr(e, ':'), *c2, *chost, *c3;
	size_t hlen, clen;

	memset(ret, 0, sizeof(*ret));
	if (c1 == NULL)
		return false;
	c2 = strchr(c1 + 1, ':');
	if (c2 == NULL)
		return false;
	if (c2 > c1 + 1 &&
	    !parse_port(c1 + 1, (size_t)(c2 - c1 - 1), &ret->port))
		return false;
	chost = c2 + 1;
	if (*chost == '[') {
		c3 = strchr(chost, ']');
		if (c3 == NULL || c3[1] != ':')
			return false;
		c3++;
	} else {
		c3 = strchr(chost, ':');
		if (c3 == NULL)
			return false;
	}
	if (c3[1] != '\0' && !parse_port(c3 + 1, strlen(c3 + 1), &ret->cport))
		return false;
	hlen = (size_t)(c1 - e);
	clen = (size_t)(c3 - chost);
	if (hlen >= sizeof(ret->host) || clen >= sizeof(ret->chost))
		return false;
	memcpy(ret->host, e, hlen);
	memcpy(ret->chost, chost, clen);
	return true;
}

static bool
env_set(const char *name)
{
	const char *v = getenv(name);
	return v != NULL && v[0] != '\0';
}

#define SETOPT(h, opt, val)                                                    \
	do {                                                                   \
		if (curl_easy_setopt((h), (opt), (val)) != CURLE_OK) {         \
			err = diag_fail(reterr_diag, STS_EINTERNAL,            \
			    "libcurl refuses option", #opt);                   \
			goto fail;                                             \
		}                                                              \
	} while (0)

int
sts_fetch_new(struct event_base *base, const struct sts_fetch_config *cfg,
    struct sts_fetch **ret_fetch, struct sts_diag *reterr_diag)
{
	static const struct sts_fetch_config defaults;
	const curl_version_info_data *vi;
	struct sts_fetch *f = NULL;
	struct curl_slist *nl;
	size_t i;
	int err;

	if (base == NULL || ret_fetch == NULL)
		return STS_EINVAL;
	if (cfg == NULL)
		cfg = &defaults;
	if (cfg->ca_file != NULL && access(cfg->ca_file, R_OK) != 0)
		return diag_fail(reterr_diag, STS_EINVAL, "cannot read CA file",
		    cfg->ca_file);

	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return STS_ENOMEM;
	f->base = base;
	f->timeout_ms = cfg->timeout_ms != 0 ? cfg->timeout_ms
					     : STS_FETCH_TIMEOUT_S * 1000u;
	if (cfg->n_connect_to > 0) {
		f->cto = calloc(cfg->n_connect_to, sizeof(*f->cto));
		if (f->cto == NULL) {
			err = STS_ENOMEM;
			goto fail;
		}
	}
	for (i = 0; i < cfg->n_connect_to; i++) {
		if (cfg->connect_to[i] == NULL ||
		    !connect_to_parse(cfg->connect_to[i], &f->cto[i])) {
			err = diag_fail(reterr_diag, STS_EINVAL,
			    "connect_to is not HOST:PORT:CONNECT-HOST:"
			    "CONNECT-PORT:",
			    cfg->connect_to[i] != NULL ? cfg->connect_to[i]
						       : "(null)");
			goto fail;
		}
		nl = curl_slist_append(f->connect_to, cfg->connect_to[i]);
		if (nl == NULL) {
			err = STS_ENOMEM;
			goto fail;
		}
		f->connect_to = nl;
		f->n_cto++;
	}
	f->proxied = (cfg->proxy != NULL && cfg->proxy[0] != '\0') ||
		     (cfg->proxy == NULL &&
			 (env_set("https_proxy") || env_set("HTTPS_PROXY") ||
			     env_set("all_proxy") || env_set("ALL_PROXY")));

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		err = STS_EINTERNAL;
		goto fail;
	}
	f->global_init = true;
	vi = curl_version_info(CURLVERSION_NOW);
	if (!(vi->features & CURL_VERSION_SSL) ||
	    vi->version_num < 0x075500 /* 7.85: CURLOPT_PROTOCOLS_STR */) {
		err = diag_fail(reterr_diag, STS_EINTERNAL,
		    "libcurl lacks TLS or is older than 7.85:", vi->version);
		goto fail;
	}

	nl = curl_slist_append(NULL, "Cache-Control: no-cache");
	if (nl == NULL) {
		err = STS_ENOMEM;
		goto fail;
	}
	f->headers = nl;
	f->timer = evtimer_new(base, on_timer, f);
	f->multi = curl_multi_init();
	f->share = curl_share_init();
	f->tmpl = curl_easy_init();
	if (f->timer == NULL || f->multi == NULL || f->share == NULL ||
	    f->tmpl == NULL) {
		err = STS_ENOMEM;
		goto fail;
	}
	if (curl_share_setopt(f->share, CURLSHOPT_SHARE,
		CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK ||
	    curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION,
		on_curl_socket) != CURLM_OK ||
	    curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f) != CURLM_OK ||
	    curl_multi_setopt(
		f->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer) != CURLM_OK ||
	    curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f) != CURLM_OK) {
		err = STS_EINTERNAL;
		goto fail;
	}

	/* The options every request shares (RFC 8461 §3.3, §7). */
	SETOPT(f->tmpl, CURLOPT_PROTOCOLS_STR, "https");
	SETOPT(f->tmpl, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SETOPT(f->tmpl, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(f->tmpl, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(f->tmpl, CURLOPT_SSL_VERIFYHOST, 2L);
	SETOPT(f->tmpl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (cfg->ca_file != NULL)
		SETOPT(f->tmpl, CURLOPT_CAINFO, cfg->ca_file);
	/* no CAPATH, so that libcurl caches the store in the multi */
	SETOPT(f->tmpl, CURLOPT_CAPATH, (char *)NULL);
	SETOPT(f->tmpl, CURLOPT_CA_CACHE_TIMEOUT, CA_CACHE_S);
	SETOPT(f->tmpl, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
	SETOPT(f->tmpl, CURLOPT_TIMEOUT_MS, (long)f->timeout_ms);
	SETOPT(f->tmpl, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)STS_POLICY_MAX_BYTES);
	SETOPT(f->tmpl, CURLOPT_WRITEFUNCTION, on_write);
	SETOPT(f->tmpl, CURLOPT_NOSIGNAL, 1L);
	SETOPT(f->tmpl, CURLOPT_DNS_CACHE_TIMEOUT, DNS_CACHE_S);
	SETOPT(f->tmpl, CURLOPT_BUFFERSIZE, RECV_BUFFER);
	/* one connection per fetch: no stale SSL_CTX app data, no idle fds */
	SETOPT(f->tmpl, CURLOPT_FORBID_REUSE, 1L);
	SETOPT(f->tmpl, CURLOPT_HTTPHEADER, f->headers);
	SETOPT(f->tmpl, CURLOPT_USERAGENT,
	    cfg->user_agent != NULL ? cfg->user_agent : "libmtasts");
	if (f->connect_to != NULL)
		SETOPT(f->tmpl, CURLOPT_CONNECT_TO, f->connect_to);
	if (cfg->proxy != NULL)
		SETOPT(f->tmpl, CURLOPT_PROXY, cfg->proxy);
	SETOPT(f->tmpl, CURLOPT_SHARE, f->share);

	*ret_fetch = f;
	return STS_OK;
fail:
	sts_fetch_free(f);
	return err;
}

void
sts_fetch_free(struct sts_fetch *fetch)
{
	if (fetch == NULL)
		return;
	while (fetch->reqs != NULL)
		sts_fetch_cancel(fetch->reqs);
	if (fetch->multi != NULL)
		(void)curl_multi_cleanup(fetch->multi);
	while (fetch->socks != NULL)
		sock_free(fetch->socks);
	if (fetch->tmpl != NULL)
		curl_easy_cleanup(fetch->tmpl);
	if (fetch->share != NULL)
		(void)curl_share_cleanup(fetch->share);
	if (fetch->timer != NULL)
		event_free(fetch->timer);
	curl_slist_free_all(fetch->connect_to);
	curl_slist_free_all(fetch->headers);
	curl_slist_free_all(fetch->forget);
	free(fetch->cto);
	if (fetch->global_init)
		curl_global_cleanup();
	free(fetch);
}

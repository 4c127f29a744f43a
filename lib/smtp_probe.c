/*
 * smtp_probe.c - SMTP STARTTLS (or implicit TLS) probe on libevent.
 *
 * One state machine per probe over a non-blocking socket: connect,
 * banner, EHLO, STARTTLS, handshake.  OpenSSL is driven directly (no
 * bufferevent_openssl) through a tiny BIO that sends with MSG_NOSIGNAL,
 * so a peer that closes early never raises SIGPIPE in the host process.
 * The handshake accepts every certificate (SSL_VERIFY_NONE); the chain is
 * verified afterwards against the prober's store, once without and once
 * with validity dates, so that "untrusted", "expired" and "wrong name"
 * are reported separately.
 */
#include "mtasts/smtp_probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "mtasts/domain.h"

/* Bytes of one command we send: "EHLO " + a domain + CRLF at most. */
#define OUT_MAX (16 + STS_DOMAIN_MAX)

struct sts_smtp_prober {
	struct event_base *base;
	SSL_CTX *ctx;
	X509_STORE *store;
	BIO_METHOD *bio_method;
	char helo[STS_DOMAIN_MAX + 1];
	unsigned timeout_ms;
	struct sts_smtp_probe_req *reqs; /* outstanding, for free() */
};

struct sts_smtp_probe_req {
	struct sts_smtp_prober *p;
	struct sts_smtp_probe_req *prev, *next;
	sts_smtp_probe_cb *cb;
	void *arg;
	int fd;
	struct event *ev_fd;
	struct event *ev_timer;
	bool deferred; /* the timer fires to deliver an early result */
	enum sts_smtp_probe_stage stage;
	SSL *ssl;
	char in[STS_PROBE_REPLY_MAX + 1];
	size_t in_len;
	char out[OUT_MAX];
	size_t out_len, out_off;
	struct timespec start;
	struct sts_smtp_probe_result res;
};

const char *
sts_smtp_probe_stage_name(enum sts_smtp_probe_stage stage)
{
	switch (stage) {
	case STS_PROBE_CONNECT:
		return "connect";
	case STS_PROBE_BANNER:
		return "banner";
	case STS_PROBE_EHLO:
		return "EHLO";
	case STS_PROBE_STARTTLS_CMD:
		return "STARTTLS";
	case STS_PROBE_HANDSHAKE:
		return "TLS handshake";
	case STS_PROBE_DONE:
		return "done";
	}
	return "?";
}

/* ---- a BIO on the socket that never raises SIGPIPE ------------------ */

static int
bio_write(BIO *b, const char *buf, int len)
{
	int fd = (int)(intptr_t)BIO_get_data(b);
	ssize_t n = send(fd, buf, (size_t)len, MSG_NOSIGNAL);

	BIO_clear_retry_flags(b);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			BIO_set_retry_write(b);
		return -1;
	}
	return (int)n;
}

static int
bio_read(BIO *b, char *buf, int len)
{
	int fd = (int)(intptr_t)BIO_get_data(b);
	ssize_t n = recv(fd, buf, (size_t)len, 0);

	BIO_clear_retry_flags(b);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			BIO_set_retry_read(b);
		return -1;
	}
	return (int)n;
}

static int
bio_puts(BIO *b, const char *s)
{
	return bio_write(b, s, (int)strlen(s));
}

static long
bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int
bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static BIO_METHOD *
bio_method_new(void)
{
	BIO_METHOD *m;
	int index = BIO_get_new_index();

	if (index == -1)
		return NULL;
	m = BIO_meth_new(index | BIO_TYPE_SOURCE_SINK, "sts_probe_socket");
	if (m == NULL)
		return NULL;
	if (!BIO_meth_set_write(m, bio_write) ||
	    !BIO_meth_set_read(m, bio_read) ||
	    !BIO_meth_set_puts(m, bio_puts) ||
	    !BIO_meth_set_ctrl(m, bio_ctrl) ||
	    !BIO_meth_set_create(m, bio_create)) {
		BIO_meth_free(m);
		return NULL;
	}
	return m;
}

/* ---- helpers --------------------------------------------------------- */

static unsigned
elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (unsigned)((now.tv_sec - start->tv_sec) * 1000 +
			  (now.tv_nsec - start->tv_nsec) / 1000000);
}

static void set_reason(struct sts_smtp_probe_req *req, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
set_reason(struct sts_smtp_probe_req *req, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(req->res.reason, sizeof(req->res.reason), fmt, ap);
	va_end(ap);
}

static void
unlink_req(struct sts_smtp_probe_req *req)
{
	if (req->prev)
		req->prev->next = req->next;
	else
		req->p->reqs = req->next;
	if (req->next)
		req->next->prev = req->prev;
	req->prev = req->next = NULL;
}

/* Release the connection and the events; the result stays. */
static void
release(struct sts_smtp_probe_req *req)
{
	if (req->ev_fd)
		event_free(req->ev_fd);
	if (req->ev_timer)
		event_free(req->ev_timer);
	req->ev_fd = req->ev_timer = NULL;
	if (req->ssl)
		SSL_free(req->ssl); /* frees its BIO, not the socket */
	req->ssl = NULL;
	if (req->fd >= 0)
		close(req->fd);
	req->fd = -1;
}

static void
finish(struct sts_smtp_probe_req *req, int status)
{
	sts_smtp_probe_cb *cb = req->cb;
	void *arg = req->arg;

	req->res.status = status;
	req->res.failed_stage = status == STS_OK ? STS_PROBE_DONE : req->stage;
	req->res.elapsed_ms = elapsed_ms(&req->start);
	unlink_req(req);
	release(req);
	cb(&req->res, arg);
	free(req);
}

static void fail(struct sts_smtp_probe_req *req, int status, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static void
fail(struct sts_smtp_probe_req *req, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(req->res.reason, sizeof(req->res.reason), fmt, ap);
	va_end(ap);
	finish(req, status);
}

static void on_fd(evutil_socket_t fd, short what, void *arg);

/*
 * Wait for what (EV_READ or EV_WRITE) on the socket until told otherwise:
 * persistent, so that a reply arriving in several segments keeps us
 * reading.
 */
static int
want(struct sts_smtp_probe_req *req, short what)
{
	event_del(req->ev_fd);
	if (event_assign(req->ev_fd, req->p->base, req->fd, what | EV_PERSIST,
		on_fd, req) != 0)
		return -1;
	return event_add(req->ev_fd, NULL);
}

/* Printable copy of len bytes of server text. */
static void
printable(const char *in, size_t len, char *out, size_t outsz)
{
	sts_diag_quote(in, len, out, outsz);
}

/* ---- SMTP ------------------------------------------------------------ */

/*
 * Is a complete reply in req->in?  1: yes, *ret_code set and *ret_len the
 * bytes it spans; 0: need more; -1: malformed (reason set).
 * RFC 5321 §4.2: "ddd-text" continues, "ddd text" or "ddd" ends.
 */
static int
parse_reply(struct sts_smtp_probe_req *req, int *ret_code, size_t *ret_len)
{
	size_t p = 0;
	int code = -1;

	while (p < req->in_len) {
		char *nl = memchr(req->in + p, '\n', req->in_len - p);
		size_t line_len;
		const char *l = req->in + p;
		int c;

		if (nl == NULL)
			return 0;
		line_len = (size_t)(nl - l);
		if (line_len > 0 && l[line_len - 1] == '\r')
			line_len--;
		if (line_len < 3 || !sts_is_digit((unsigned char)l[0]) ||
		    !sts_is_digit((unsigned char)l[1]) ||
		    !sts_is_digit((unsigned char)l[2]) ||
		    (line_len > 3 && l[3] != ' ' && l[3] != '-')) {
			char q[64];

			printable(
			    l, line_len < 40 ? line_len : 40, q, sizeof(q));
			set_reason(req,
			    "malformed SMTP reply line '%s' "
			    "during %s (RFC 5321 §4.2)",
			    q, sts_smtp_probe_stage_name(req->stage));
			return -1;
		}
		c = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
		if (code != -1 && c != code) {
			set_reason(req,
			    "SMTP reply mixes codes %d and %d "
			    "(RFC 5321 §4.2.1)",
			    code, c);
			return -1;
		}
		code = c;
		p = (size_t)(nl - req->in) + 1;
		if (line_len == 3 || l[3] == ' ') {
			*ret_code = code;
			*ret_len = p;
			return 1;
		}
	}
	return 0;
}

/* Text of the first line of the reply in req->in (after "ddd-"). */
static void
first_line_text(const struct sts_smtp_probe_req *req, char *out, size_t outsz)
{
	const char *nl = memchr(req->in, '\n', req->in_len);
	size_t len = nl ? (size_t)(nl - req->in) : req->in_len;

	if (len > 0 && req->in[len - 1] == '\r')
		len--;
	if (len <= 4) {
		out[0] = '\0';
		return;
	}
	printable(req->in + 4, len - 4 > 100 ? 100 : len - 4, out, outsz);
}

/* Does the EHLO reply in req->in[0, len) list the STARTTLS keyword? */
static bool
ehlo_has_starttls(const struct sts_smtp_probe_req *req, size_t len)
{
	size_t p = 0;

	while (p < len) {
		const char *l = req->in + p;
		const char *nl = memchr(l, '\n', len - p);
		size_t line_len = nl ? (size_t)(nl - l) : len - p;
		size_t kw_len;

		p += line_len + 1;
		if (line_len > 0 && l[line_len - 1] == '\r')
			line_len--;
		if (line_len < 4)
			continue;
		kw_len = line_len - 4;
		/* RFC 3207 §4: the keyword, no parameters */
		while (
		    kw_len > 0 && sts_is_wsp((unsigned char)l[4 + kw_len - 1]))
			kw_len--;
		if (kw_len == 8 && strncasecmp(l + 4, "STARTTLS", 8) == 0)
			return true;
	}
	return false;
}

/* Queue a command and wait until it is written. */
static void send_cmd(struct sts_smtp_probe_req *req, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
send_cmd(struct sts_smtp_probe_req *req, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(req->out, sizeof(req->out), fmt, ap);
	va_end(ap);
	req->out_len = n > 0 && (size_t)n < sizeof(req->out) ? (size_t)n : 0;
	req->out_off = 0;
	req->in_len = 0;
	if (want(req, EV_WRITE) != 0)
		fail(req, STS_ENOMEM, "cannot watch the socket");
}

/* Best effort: tell the server we are leaving (plain text). */
static void
quit_plain(struct sts_smtp_probe_req *req)
{
	static const char quit[] = "QUIT\r\n";

	(void)!send(req->fd, quit, sizeof(quit) - 1, MSG_NOSIGNAL);
}

static void start_tls(struct sts_smtp_probe_req *req);

static void
on_reply(struct sts_smtp_probe_req *req, int code, size_t len)
{
	struct sts_smtp_probe_result *res = &req->res;
	char text[112];

	first_line_text(req, text, sizeof(text));
	switch (req->stage) {
	case STS_PROBE_BANNER:
		res->banner_code = code;
		snprintf(res->banner, sizeof(res->banner), "%s", text);
		if (code != 220) {
			fail(req, code >= 500 ? STS_EPROTO : STS_ETEMP,
			    "server greeted with %d %s instead of 220 "
			    "(RFC 5321 §4.3.1)",
			    code, text);
			return;
		}
		req->stage = STS_PROBE_EHLO;
		send_cmd(req, "EHLO %s\r\n", req->p->helo);
		return;
	case STS_PROBE_EHLO:
		res->ehlo_code = code;
		if (code != 250) {
			quit_plain(req);
			fail(req, code >= 500 ? STS_EPROTO : STS_ETEMP,
			    "EHLO answered %d %s (RFC 5321 §4.1.1.1)", code,
			    text);
			return;
		}
		res->starttls_offered = ehlo_has_starttls(req, len);
		if (!res->starttls_offered) {
			quit_plain(req);
			req->stage = STS_PROBE_STARTTLS_CMD;
			fail(req, STS_EPROTO,
			    "STARTTLS not offered: the EHLO reply lists no "
			    "STARTTLS (RFC 3207 §4)");
			return;
		}
		req->stage = STS_PROBE_STARTTLS_CMD;
		send_cmd(req, "STARTTLS\r\n");
		return;
	case STS_PROBE_STARTTLS_CMD:
		res->starttls_code = code;
		if (code != 220) {
			quit_plain(req);
			fail(req, STS_EPROTO,
			    "STARTTLS answered %d %s instead of 220 "
			    "(RFC 3207 §4)",
			    code, text);
			return;
		}
		/* RFC 3207 §6: anything after the 220 is discarded. */
		req->in_len = 0;
		req->stage = STS_PROBE_HANDSHAKE;
		start_tls(req);
		return;
	case STS_PROBE_CONNECT:
	case STS_PROBE_HANDSHAKE:
	case STS_PROBE_DONE:
		break;
	}
	fail(req, STS_EINTERNAL, "reply in stage %d", (int)req->stage);
}

static void
smtp_io(struct sts_smtp_probe_req *req, short what)
{
	ssize_t n;
	size_t len;
	int code, r;

	if (req->out_off < req->out_len) {
		if (!(what & EV_WRITE))
			return;
		n = send(req->fd, req->out + req->out_off,
		    req->out_len - req->out_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR)
				return;
			fail(req, STS_ETEMP, "sending failed during %s: %s",
			    sts_smtp_probe_stage_name(req->stage),
			    strerror(errno));
			return;
		}
		req->out_off += (size_t)n;
		if (req->out_off == req->out_len && want(req, EV_READ) != 0)
			fail(req, STS_ENOMEM, "cannot watch the socket");
		return;
	}
	if (!(what & EV_READ))
		return;
	n = recv(req->fd, req->in + req->in_len,
	    sizeof(req->in) - 1 - req->in_len, 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		fail(req, STS_ETEMP, "reading failed during %s: %s",
		    sts_smtp_probe_stage_name(req->stage), strerror(errno));
		return;
	}
	if (n == 0) {
		fail(req, STS_ETEMP, "server closed the connection during %s",
		    sts_smtp_probe_stage_name(req->stage));
		return;
	}
	req->in_len += (size_t)n;
	req->in[req->in_len] = '\0';
	r = parse_reply(req, &code, &len);
	if (r < 0) {
		finish(req, STS_EPROTO);
		return;
	}
	if (r == 0) {
		if (req->in_len == sizeof(req->in) - 1)
			fail(req, STS_EPROTO,
			    "SMTP reply during %s exceeds %d bytes",
			    sts_smtp_probe_stage_name(req->stage),
			    STS_PROBE_REPLY_MAX);
		return;
	}
	on_reply(req, code, len);
}

/* ---- TLS ------------------------------------------------------------- */

static int64_t
asn1_time_epoch(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

static void
digest(const unsigned char *der, int len, const EVP_MD *md, uint8_t *out)
{
	unsigned n = 0;

	if (der == NULL || len <= 0 ||
	    EVP_Digest(der, (size_t)len, out, &n, md, NULL) != 1)
		memset(out, 0, (size_t)EVP_MD_get_size(md));
}

static void
chain_digests(struct sts_smtp_probe_result *res, STACK_OF(X509) * chain)
{
	int n = chain ? sk_X509_num(chain) : 0;

	for (int i = 0; i < n && res->n_chain < STS_PROBE_CHAIN_MAX; i++) {
		X509 *x = sk_X509_value(chain, i);
		struct sts_smtp_probe_cert *c = &res->chain[res->n_chain++];
		unsigned char *der = NULL;
		int len;

		len = i2d_X509(x, &der);
		digest(der, len, EVP_sha256(), c->cert_sha256);
		digest(der, len, EVP_sha512(), c->cert_sha512);
		OPENSSL_free(der);
		der = NULL;
		len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
		digest(der, len, EVP_sha256(), c->spki_sha256);
		digest(der, len, EVP_sha512(), c->spki_sha512);
		OPENSSL_free(der);
	}
}

static void
san_names(struct sts_smtp_probe_result *res, X509 *leaf)
{
	GENERAL_NAMES *names =
	    X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	int n = names ? sk_GENERAL_NAME_num(names) : 0;

	for (int i = 0; i < n; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		const unsigned char *s;
		int len;

		if (g->type != GEN_DNS)
			continue;
		if (res->n_names == STS_PROBE_NAMES_MAX) {
			res->names_truncated = true;
			break;
		}
		s = ASN1_STRING_get0_data(g->d.dNSName);
		len = ASN1_STRING_length(g->d.dNSName);
		printable((const char *)s, (size_t)(len > 0 ? len : 0),
		    res->names[res->n_names++], sizeof(res->names[0]));
	}
	GENERAL_NAMES_free(names);
}

/* X509_verify_cert of leaf + the presented chain against the store. */
static int
verify(struct sts_smtp_prober *p, X509 *leaf, STACK_OF(X509) * chain,
    unsigned long flags, int *ret_depth)
{
	X509_STORE_CTX *sctx = X509_STORE_CTX_new();
	int err;

	if (sctx == NULL)
		return X509_V_ERR_OUT_OF_MEM;
	if (X509_STORE_CTX_init(sctx, p->store, leaf, chain) != 1) {
		X509_STORE_CTX_free(sctx);
		return X509_V_ERR_UNSPECIFIED;
	}
	X509_STORE_CTX_set_purpose(sctx, X509_PURPOSE_SSL_SERVER);
	if (flags)
		X509_VERIFY_PARAM_set_flags(
		    X509_STORE_CTX_get0_param(sctx), flags);
	err = X509_verify_cert(sctx) == 1 ? X509_V_OK
					  : X509_STORE_CTX_get_error(sctx);
	*ret_depth = X509_STORE_CTX_get_error_depth(sctx);
	if (err == X509_V_OK)
		*ret_depth = 0;
	X509_STORE_CTX_free(sctx);
	ERR_clear_error();
	return err;
}

static void
judge_certificate(struct sts_smtp_probe_req *req)
{
	struct sts_smtp_probe_result *res = &req->res;
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(req->ssl);
	X509 *leaf = SSL_get0_peer_certificate(req->ssl);
	unsigned flags = X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS |
			 X509_CHECK_FLAG_NEVER_CHECK_SUBJECT;
	int err, depth = 0;

	if (leaf == NULL)
		return;
	res->have_cert = true;
	chain_digests(res, chain);
	san_names(res, leaf);
	X509_NAME_oneline(
	    X509_get_subject_name(leaf), res->subject, sizeof(res->subject));
	X509_NAME_oneline(
	    X509_get_issuer_name(leaf), res->issuer, sizeof(res->issuer));
	res->not_before = asn1_time_epoch(X509_get0_notBefore(leaf));
	res->not_after = asn1_time_epoch(X509_get0_notAfter(leaf));
	res->self_signed = X509_check_issued(leaf, leaf) == X509_V_OK;
	res->name_ok = X509_check_host(leaf, res->host, strlen(res->host),
			   flags, NULL) == 1;

	err = verify(req->p, leaf, chain, X509_V_FLAG_NO_CHECK_TIME, &depth);
	res->verify_error = err;
	res->chain_trusted = err == X509_V_OK;
	if (!res->chain_trusted)
		snprintf(res->verify_reason, sizeof(res->verify_reason),
		    "%s (depth %d)", X509_verify_cert_error_string(err), depth);

	if (res->chain_trusted) {
		err = verify(req->p, leaf, chain, 0, &depth);
		res->dates_ok = err == X509_V_OK;
		if (!res->dates_ok)
			snprintf(res->dates_reason, sizeof(res->dates_reason),
			    "%s (depth %d)", X509_verify_cert_error_string(err),
			    depth);
	} else {
		int after = X509_cmp_current_time(X509_get0_notAfter(leaf));
		int before = X509_cmp_current_time(X509_get0_notBefore(leaf));

		res->dates_ok = after > 0 && before < 0;
		if (after <= 0)
			snprintf(res->dates_reason, sizeof(res->dates_reason),
			    "certificate has expired (depth 0)");
		else if (before >= 0)
			snprintf(res->dates_reason, sizeof(res->dates_reason),
			    "certificate is not yet valid (depth 0)");
	}
}

/* Why the handshake failed, from OpenSSL's error queue or errno. */
static void
tls_failure(struct sts_smtp_probe_req *req, int ssl_err, int saved_errno)
{
	unsigned long e = ERR_peek_last_error();
	char buf[160];

	if (ssl_err == SSL_ERROR_SSL && e != 0) {
		const char *reason = ERR_reason_error_string(e);

		if (reason == NULL) {
			ERR_error_string_n(e, buf, sizeof(buf));
			reason = buf;
		}
		ERR_clear_error();
		fail(req, STS_ETLS, "TLS handshake failed: %s", reason);
		return;
	}
	ERR_clear_error();
	if (ssl_err == SSL_ERROR_ZERO_RETURN ||
	    (ssl_err == SSL_ERROR_SYSCALL && saved_errno == 0)) {
		fail(req, STS_ETLS,
		    "TLS handshake failed: the server closed the connection");
		return;
	}
	fail(req, STS_ETLS, "TLS handshake failed: %s",
	    saved_errno ? strerror(saved_errno) : "unknown error");
}

static void
handshake(struct sts_smtp_probe_req *req)
{
	struct sts_smtp_probe_result *res = &req->res;
	int r, e;

	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(req->ssl);
	if (r != 1) {
		int saved_errno = errno;

		e = SSL_get_error(req->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			if (want(req, e == SSL_ERROR_WANT_READ ? EV_READ
							       : EV_WRITE) != 0)
				fail(
				    req, STS_ENOMEM, "cannot watch the socket");
			return;
		}
		tls_failure(req, e, saved_errno);
		return;
	}
	res->tls = true;
	res->tls_version_num = SSL_version(req->ssl);
	snprintf(res->tls_version, sizeof(res->tls_version), "%s",
	    SSL_get_version(req->ssl));
	snprintf(res->cipher, sizeof(res->cipher), "%s",
	    SSL_get_cipher_name(req->ssl));
	judge_certificate(req);
	/* Best effort goodbye; nothing waits for an answer. */
	if (res->mode == STS_PROBE_STARTTLS)
		(void)SSL_write(req->ssl, "QUIT\r\n", 6);
	(void)SSL_shutdown(req->ssl);
	ERR_clear_error();
	finish(req, STS_OK);
}

static void
start_tls(struct sts_smtp_probe_req *req)
{
	BIO *bio;

	ERR_clear_error();
	req->ssl = SSL_new(req->p->ctx);
	bio = req->ssl ? BIO_new(req->p->bio_method) : NULL;
	if (bio == NULL) {
		ERR_clear_error();
		fail(req, STS_ENOMEM, "cannot set up TLS");
		return;
	}
	BIO_set_data(bio, (void *)(intptr_t)req->fd);
	SSL_set_bio(req->ssl, bio, bio);
	SSL_set_connect_state(req->ssl);
	/* RFC 8461 §7.1: SNI is the MX host name (the policy host). */
	if (SSL_set_tlsext_host_name(req->ssl, req->res.host) != 1) {
		ERR_clear_error();
		fail(req, STS_EINTERNAL, "cannot set SNI");
		return;
	}
	handshake(req);
}

/* ---- events ---------------------------------------------------------- */

static void
on_connected(struct sts_smtp_probe_req *req)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(req->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err != 0) {
		fail(req, STS_ETEMP, "connect to %s port %u failed: %s",
		    req->res.address, req->res.port, strerror(err));
		return;
	}
	if (req->res.mode == STS_PROBE_IMPLICIT_TLS) {
		req->stage = STS_PROBE_HANDSHAKE;
		start_tls(req);
		return;
	}
	req->stage = STS_PROBE_BANNER;
	if (want(req, EV_READ) != 0)
		fail(req, STS_ENOMEM, "cannot watch the socket");
}

static void
on_fd(evutil_socket_t fd, short what, void *arg)
{
	struct sts_smtp_probe_req *req = arg;

	(void)fd;
	switch (req->stage) {
	case STS_PROBE_CONNECT:
		on_connected(req);
		return;
	case STS_PROBE_BANNER:
	case STS_PROBE_EHLO:
	case STS_PROBE_STARTTLS_CMD:
		smtp_io(req, what);
		return;
	case STS_PROBE_HANDSHAKE:
		handshake(req);
		return;
	case STS_PROBE_DONE:
		break;
	}
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct sts_smtp_probe_req *req = arg;

	(void)fd;
	(void)what;
	if (req->deferred) {
		finish(req, req->res.status);
		return;
	}
	fail(req, STS_ETEMP, "timed out after %u ms during %s",
	    req->p->timeout_ms, sts_smtp_probe_stage_name(req->stage));
}

/* ---- API ------------------------------------------------------------- */

static int
parse_address(const char *address, unsigned port, struct sockaddr_storage *ss,
    socklen_t *ret_len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, address, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*ret_len = sizeof(*sin);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, address, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*ret_len = sizeof(*sin6);
		return AF_INET6;
	}
	return -1;
}

int
sts_smtp_probe(struct sts_smtp_prober *p, const char *host, const char *address,
    unsigned port, enum sts_smtp_probe_mode mode, sts_smtp_probe_cb *cb,
    void *arg, struct sts_smtp_probe_req **ret_req)
{
	struct sts_smtp_probe_req *req;
	struct sockaddr_storage ss;
	char name[STS_DOMAIN_MAX + 1];
	struct timeval tv;
	socklen_t sslen;
	int family;

	if (p == NULL || host == NULL || address == NULL || cb == NULL ||
	    port == 0 || port > 65535 || strlen(address) >= STS_ADDR_STR_MAX ||
	    sts_domain_normalize(host, strlen(host), STS_DOMAIN_TRAILING_DOT,
		name, NULL) != STS_OK)
		return STS_EINVAL;
	if ((family = parse_address(address, port, &ss, &sslen)) < 0)
		return STS_EINVAL;
	if ((req = calloc(1, sizeof(*req))) == NULL)
		return STS_ENOMEM;
	req->p = p;
	req->cb = cb;
	req->arg = arg;
	req->stage = STS_PROBE_CONNECT;
	req->res.mode = mode;
	req->res.port = port;
	memcpy(req->res.host, name, sizeof(name));
	snprintf(req->res.address, sizeof(req->res.address), "%s", address);
	clock_gettime(CLOCK_MONOTONIC, &req->start);

	req->fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (req->fd < 0) {
		free(req);
		return STS_EIO;
	}
	req->ev_fd = event_new(p->base, req->fd, EV_WRITE, on_fd, req);
	req->ev_timer = evtimer_new(p->base, on_timer, req);
	tv.tv_sec = p->timeout_ms / 1000;
	tv.tv_usec = (p->timeout_ms % 1000) * 1000;
	if (req->ev_fd == NULL || req->ev_timer == NULL ||
	    evtimer_add(req->ev_timer, &tv) != 0) {
		release(req);
		free(req);
		return STS_ENOMEM;
	}
	if (connect(req->fd, (struct sockaddr *)&ss, sslen) != 0 &&
	    errno != EINPROGRESS) {
		/* Refused at once (loopback): report it from the loop. */
		struct timeval zero = {0, 0};

		set_reason(req, "connect to %s port %u failed: %s", address,
		    port, strerror(errno));
		req->res.status = STS_ETEMP;
		req->deferred = true;
		event_del(req->ev_timer);
		evtimer_add(req->ev_timer, &zero);
	} else if (event_add(req->ev_fd, NULL) != 0) {
		release(req);
		free(req);
		return STS_ENOMEM;
	}
	req->next = p->reqs;
	if (p->reqs)
		p->reqs->prev = req;
	p->reqs = req;
	if (ret_req)
		*ret_req = req;
	return STS_OK;
}

void
sts_smtp_probe_cancel(struct sts_smtp_probe_req *req)
{
	if (req == NULL)
		return;
	unlink_req(req);
	release(req);
	free(req);
}

int
sts_smtp_prober_new(struct event_base *base,
    const struct sts_smtp_probe_config *cfg, struct sts_smtp_prober **ret,
    struct sts_diag *reterr_diag)
{
	struct sts_smtp_prober *p;
	const char *helo = cfg && cfg->helo_name ? cfg->helo_name : "localhost";
	int r = STS_ENOMEM;

	if (base == NULL || ret == NULL)
		return STS_EINVAL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return STS_ENOMEM;
	p->base = base;
	p->timeout_ms =
	    cfg && cfg->timeout_ms ? cfg->timeout_ms : STS_PROBE_TIMEOUT_MS;
	if (sts_domain_normalize(helo, strlen(helo), STS_DOMAIN_TRAILING_DOT,
		p->helo, NULL) != STS_OK) {
		sts_diag_set(reterr_diag, 0, "bad EHLO name '%.64s'", helo);
		r = STS_EINVAL;
		goto fail;
	}
	ERR_clear_error();
	if ((p->bio_method = bio_method_new()) == NULL ||
	    (p->ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    (p->store = X509_STORE_new()) == NULL)
		goto fail;
	/*
	 * Observe, do not judge: every version from TLS 1.0 and every
	 * certificate, so that an old server is described, not just
	 * refused.  check.c applies RFC 8461 §7.2 and §4.2.
	 */
	SSL_CTX_set_security_level(p->ctx, 0);
	if (SSL_CTX_set_min_proto_version(p->ctx, TLS1_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(p->ctx, "DEFAULT:@SECLEVEL=0") != 1)
		goto fail;
	SSL_CTX_set_verify(p->ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(p->ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(p->ctx, SSL_OP_NO_TICKET);
	if (cfg && cfg->ca_file) {
		if (X509_STORE_load_file(p->store, cfg->ca_file) != 1) {
			sts_diag_set(reterr_diag, 0,
			    "cannot load CA file '%.200s'", cfg->ca_file);
			r = STS_EINVAL;
			goto fail;
		}
	} else if (X509_STORE_set_default_paths(p->store) != 1) {
		sts_diag_set(reterr_diag, 0, "cannot load the system CA store");
		r = STS_EINVAL;
		goto fail;
	}
	ERR_clear_error();
	*ret = p;
	return STS_OK;
fail:
	ERR_clear_error();
	sts_smtp_prober_free(p);
	return r;
}

void
sts_smtp_prober_free(struct sts_smtp_prober *p)
{
	if (p == NULL)
		return;
	while (p->reqs)
		sts_smtp_probe_cancel(p->reqs);
	SSL_CTX_free(p->ctx);
	X509_STORE_free(p->store);
	BIO_meth_free(p->bio_method);
	free(p);
}

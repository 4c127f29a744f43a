/*
 * smtp_probe.h - asynchronous SMTP STARTTLS probe of one MX address (L3).
 *
 * On the caller's libevent event_base: connect to address:port with a
 * deadline, read the banner, EHLO, check that STARTTLS is offered
 * (RFC 3207), STARTTLS, TLS handshake with SNI = the MX host name
 * (RFC 8461 §7.1), then report what a sender would see: the TLS version
 * and cipher, whether the peer's chain leads to a trusted root (system
 * store or ca_file), whether the certificate is valid for the host name
 * (DNS-IDs only, wildcard only as the whole leftmost label: RFC 8461 §4.2,
 * RFC 6125), its validity dates, its DNS names and digests of the chain
 * for DANE matching (RFC 6698 §2.1).  The same probe without SMTP
 * (implicit TLS, e.g. an HTTPS policy host on 443) reports the same
 * certificate facts.
 *
 * The probe accepts any certificate and any TLS version from 1.0 up: it
 * observes and describes; judging is check.c's job.  It never parses
 * MTA-STS data.  It writes only "EHLO", "STARTTLS" and "QUIT".
 *
 * Callbacks: a probe's callback runs exactly once, always from the event
 * loop and never from inside sts_smtp_probe(), unless the probe is
 * cancelled first (then never).  It may start or cancel probes and may
 * free the prober.
 */
#ifndef MTASTS_SMTP_PROBE_H
#define MTASTS_SMTP_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "limits.h"

struct event_base;
struct sts_smtp_prober;
struct sts_smtp_probe_req;

struct sts_smtp_probe_config {
	/* PEM bundle of trusted CAs; NULL: the system store. */
	const char *ca_file;
	/* Argument of EHLO; NULL: "localhost". */
	const char *helo_name;
	/* Deadline of a whole probe; 0 means STS_PROBE_TIMEOUT_MS. */
	unsigned timeout_ms;
};

enum sts_smtp_probe_mode {
	STS_PROBE_STARTTLS,     /* SMTP, then STARTTLS (port 25) */
	STS_PROBE_IMPLICIT_TLS, /* TLS at once (HTTPS 443, SMTPS 465) */
};

/* How far a probe got; the stage that failed, or STS_PROBE_DONE. */
enum sts_smtp_probe_stage {
	STS_PROBE_CONNECT,
	STS_PROBE_BANNER,
	STS_PROBE_EHLO,
	STS_PROBE_STARTTLS_CMD,
	STS_PROBE_HANDSHAKE,
	STS_PROBE_DONE,
};

/* Digests of one certificate of the presented chain (leaf first). */
struct sts_smtp_probe_cert {
	uint8_t cert_sha256[32]; /* of the DER certificate */
	uint8_t cert_sha512[64];
	uint8_t spki_sha256[32]; /* of the DER SubjectPublicKeyInfo */
	uint8_t spki_sha512[64];
};

/*
 * The outcome, a plain value: copy it (struct assignment) to keep it.
 * status:
 *   STS_OK       the TLS handshake completed (see the certificate facts);
 *   STS_ETEMP    connect failed, refused, reset, timed out, or the server
 *                answered 4xx / closed the connection;
 *   STS_EPROTO   SMTP broken: banner or EHLO refused (5xx), a malformed
 *                or overlong reply, STARTTLS not offered or refused;
 *   STS_ETLS     the TLS handshake failed (alert, no common version);
 *   STS_ENOMEM.
 */
struct sts_smtp_probe_result {
	int status;
	enum sts_smtp_probe_stage failed_stage; /* STS_PROBE_DONE on OK */
	/* e.g. "connection refused", "STARTTLS not offered (EHLO reply
	 * lists no STARTTLS)", "TLS handshake failed: tlsv1 alert protocol
	 * version"; server text made printable and shortened. */
	char reason[STS_PROBE_REASON_MAX];
	char host[STS_DOMAIN_MAX + 1];
	char address[STS_ADDR_STR_MAX];
	unsigned port;
	enum sts_smtp_probe_mode mode;
	unsigned elapsed_ms;

	/* SMTP (STS_PROBE_STARTTLS only); codes 0 when not reached */
	int banner_code;
	char banner[STS_PROBE_LINE_MAX]; /* first banner line, printable */
	int ehlo_code;
	bool starttls_offered;
	int starttls_code;

	/* TLS: set when the handshake completed */
	bool tls;
	int tls_version_num;  /* e.g. 0x0303 for TLS 1.2 */
	char tls_version[16]; /* "TLSv1.2", "TLSv1.3" */
	char cipher[STS_PROBE_CIPHER_MAX];

	/* The certificate (have_cert: the server presented one) */
	bool have_cert;
	/* The chain leads to a trusted root, validity dates ignored. */
	bool chain_trusted;
	/* X509_V_ERR_* of that verification (0 when trusted) and text
	 * such as "self-signed certificate (depth 0)". */
	long verify_error;
	char verify_reason[STS_PROBE_REASON_MAX];
	/* Every certificate of the chain is inside its validity dates
	 * (checked when chain_trusted; otherwise only the leaf). */
	bool dates_ok;
	char dates_reason[STS_PROBE_REASON_MAX];
	bool self_signed;
	/* A DNS-ID of the leaf matches host (RFC 6125 §6.4, wildcard as
	 * the whole leftmost label only, the subject CN never used). */
	bool name_ok;
	/* Leaf validity, seconds since the epoch (UTC). */
	int64_t not_before, not_after;
	/* DNS names of the leaf's subjectAltName (printable). */
	size_t n_names;
	bool names_truncated;
	char names[STS_PROBE_NAMES_MAX][STS_DOMAIN_MAX + 1];
	char subject[STS_PROBE_DN_MAX]; /* one-line X.509 DNs */
	char issuer[STS_PROBE_DN_MAX];
	/* The chain as the server sent it, leaf first. */
	size_t n_chain;
	struct sts_smtp_probe_cert chain[STS_PROBE_CHAIN_MAX];
};

typedef void sts_smtp_probe_cb(
    const struct sts_smtp_probe_result *result, void *arg);

/*
 * Create a prober on base: one TLS client context and one CA store
 * shared by all probes.  cfg may be NULL (defaults).  Returns STS_OK,
 * STS_EINVAL (unreadable ca_file, bad helo_name; reterr_diag, may be
 * NULL, says why) or STS_ENOMEM.
 */
int sts_smtp_prober_new(struct event_base *base,
    const struct sts_smtp_probe_config *cfg, struct sts_smtp_prober **ret,
    struct sts_diag *reterr_diag);

/* Cancel every outstanding probe (no callbacks) and free; NULL ok. */
void sts_smtp_prober_free(struct sts_smtp_prober *prober);

/*
 * Probe address (an IPv4 or IPv6 literal) on port for host (A-label, the
 * SNI and the name the certificate is checked against).  On STS_OK the
 * callback runs once, later; *ret_req (ret_req may be NULL) is valid
 * until the callback starts or until sts_smtp_probe_cancel().  Errors
 * (no callback): STS_EINVAL (bad host, address or port), STS_ENOMEM,
 * STS_EIO (no socket could be made).
 */
int sts_smtp_probe(struct sts_smtp_prober *prober, const char *host,
    const char *address, unsigned port, enum sts_smtp_probe_mode mode,
    sts_smtp_probe_cb *cb, void *arg, struct sts_smtp_probe_req **ret_req);

/* The callback of req will never run; NULL ok. */
void sts_smtp_probe_cancel(struct sts_smtp_probe_req *req);

/* "connect", "banner", "EHLO", "STARTTLS", "TLS handshake", "done". */
const char *sts_smtp_probe_stage_name(enum sts_smtp_probe_stage stage);

#endif

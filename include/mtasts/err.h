/*
 * err.h - the one error type of libmtasts and the parse diagnostic.
 *
 * Every failure in the library is classified once into enum sts_err.
 * Callers map that value in exactly one place each: the daemon's reply
 * module (socketmap NOTFOUND/TEMP), the TLS-RPT result type (RFC 8460
 * §4.3), and human text (sts_strerror).  Parsers additionally fill an
 * optional struct sts_diag that names the line and the RFC rule broken.
 */
#ifndef MTASTS_ERR_H
#define MTASTS_ERR_H

#include <stddef.h>

typedef enum sts_err {
	STS_OK = 0,
	STS_ENOMEM = -1,    /* allocation failed */
	STS_EINVAL = -2,    /* caller passed an impossible argument */
	STS_ESYNTAX = -3,   /* record or policy breaks the RFC grammar */
	STS_ENOTFOUND = -4, /* definitive absence (NXDOMAIN, NODATA, no policy) */
	STS_ETEMP = -5,     /* temporary: SERVFAIL, timeout, backend down */
	STS_ETLS = -6,      /* WebPKI validation of the policy host failed */
	STS_EPROTO = -7,    /* HTTP rule broken: status, redirect, media type */
	STS_ETOOBIG = -8,   /* input over a named limit */
	STS_EIO = -9,       /* local I/O error */
	STS_EINTERNAL = -10 /* broken invariant; a bug */
} sts_err;

/* Short human text for any sts_err value; never NULL. */
const char *sts_strerror(int err);

/* Size of a diagnostic message, including the terminating NUL. */
#define STS_DIAG_MAX 256

/*
 * Where and why a parse failed.  line is 1-based (0 when the input has no
 * lines, e.g. a TXT record); message names the cause and the RFC section,
 * e.g. "max_age has 11 digits; at most 10 allowed (RFC 8461 §3.2)".
 */
struct sts_diag {
	int line;
	char message[STS_DIAG_MAX];
};

#endif

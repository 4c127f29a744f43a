/*
 * err.c - human text for enum sts_err and the diagnostic writer.
 */
#include <stdarg.h>
#include <stdio.h>

#include "diag.h"
#include "mtasts/err.h"

const char *
sts_strerror(int err)
{
	switch ((sts_err)err) {
	case STS_OK:
		return "success";
	case STS_ENOMEM:
		return "out of memory";
	case STS_EINVAL:
		return "invalid argument";
	case STS_ESYNTAX:
		return "syntax error";
	case STS_ENOTFOUND:
		return "not found";
	case STS_ETEMP:
		return "temporary failure";
	case STS_ETLS:
		return "TLS certificate validation failed";
	case STS_EPROTO:
		return "protocol rule broken";
	case STS_ETOOBIG:
		return "too big";
	case STS_EIO:
		return "I/O error";
	case STS_EINTERNAL:
		return "internal error";
	}
	return "unknown error";
}

void
sts_diag_set(struct sts_diag *diag, int line, const char *fmt, ...)
{
	va_list ap;

	if (diag == NULL)
		return;
	diag->line = line;
	va_start(ap, fmt);
	vsnprintf(diag->message, sizeof(diag->message), fmt, ap);
	va_end(ap);
}

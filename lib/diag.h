/*
 * diag.h - library-internal helpers shared by the parsers.
 */
#ifndef STS_LIB_DIAG_H
#define STS_LIB_DIAG_H

#include <stdbool.h>
#include <stddef.h>

#include "mtasts/err.h"

/* Fill diag (NULL ok) with a line number and a printf-style message. */
void sts_diag_set(struct sts_diag *diag, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Render up to max bytes of untrusted input as printable ASCII for a
 * diagnostic: non-printables become \xNN, and "..." marks truncation.
 */
void sts_diag_quote(const char *in, size_t len, char *out, size_t outsz);

/* RFC 3629 §4: is [p, p+len) well-formed UTF-8? */
bool sts_utf8_valid(const char *p, size_t len);

/* RFC 5234 core rules, ASCII only (no locale). */
static inline bool
sts_is_alpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static inline bool
sts_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static inline bool
sts_is_alnum(unsigned char c)
{
	return sts_is_alpha(c) || sts_is_digit(c);
}

static inline bool
sts_is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static inline unsigned char
sts_ascii_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

#endif

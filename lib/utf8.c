/*
 * utf8.c - UTF-8 well-formedness (RFC 3629 §4) and quoting of untrusted
 * bytes for diagnostics.
 */
#include <stdio.h>

#include "diag.h"

bool
sts_utf8_valid(const char *p, size_t len)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t need;
		unsigned char lo = 0x80, hi = 0xBF;

		if (c < 0x80) {
			i++;
			continue;
		}
		/* RFC 3629 §4 UTF8-2 .. UTF8-4, which excludes overlong
		 * forms, surrogates and code points above U+10FFFF. */
		if (c >= 0xC2 && c <= 0xDF) {
			need = 1;
		} else if (c >= 0xE0 && c <= 0xEF) {
			need = 2;
			if (c == 0xE0)
				lo = 0xA0;
			else if (c == 0xED)
				hi = 0x9F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			need = 3;
			if (c == 0xF0)
				lo = 0x90;
			else if (c == 0xF4)
				hi = 0x8F;
		} else {
			return false;
		}
		if (len - i <= need)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= need; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xBF)
				return false;
		i += need + 1;
	}
	return true;
}

void
sts_diag_quote(const char *in, size_t len, char *out, size_t outsz)
{
	static const char ellipsis[] = "...";
	size_t o = 0;

	if (outsz == 0)
		return;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		size_t room = outsz - o;

		/* Keep space for a possible ellipsis and the NUL. */
		if (c >= 0x20 && c < 0x7F && c != '\\') {
			if (room <= 1 + sizeof(ellipsis))
				goto truncated;
			out[o++] = (char)c;
		} else {
			if (room <= 4 + sizeof(ellipsis))
				goto truncated;
			snprintf(out + o, room, "\\x%02X", c);
			o += 4;
		}
	}
	out[o] = '\0';
	return;
truncated:
	snprintf(out + o, outsz - o, "%s", ellipsis);
}

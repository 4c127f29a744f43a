/*
 * netstring.c - incremental netstring decoder, encoder, request split.
 *
 * The decoder is a three-state machine (length digits, payload, comma).
 * A frame that lies whole inside one chunk is returned in place; only a
 * payload that straddles chunks is copied, into a buffer that grows with
 * the bytes received (never beyond the declared length, so never beyond
 * the maximum).
 */
#include "netstring.h"

#include <stdlib.h>
#include <string.h>

/* First allocation for a split payload. */
#define GROW_MIN 256

enum {
	ST_LENGTH = 0, /* reading length digits up to ':' */
	ST_PAYLOAD,    /* copying a payload split across chunks */
	ST_COMMA,      /* payload complete in buf, waiting for ',' */
};

void
sts_netstring_decoder_init(struct sts_netstring_decoder *d, size_t max)
{
	memset(d, 0, sizeof(*d));
	d->max = max;
	d->state = ST_LENGTH;
	d->error = STS_OK;
}

void
sts_netstring_decoder_done(struct sts_netstring_decoder *d)
{
	if (d == NULL)
		return;
	free(d->buf);
	d->buf = NULL;
	d->cap = 0;
}

static void
next_frame(struct sts_netstring_decoder *d)
{
	d->state = ST_LENGTH;
	d->len = 0;
	d->digits = 0;
	d->got = 0;
}

static int
fail(struct sts_netstring_decoder *d, int err)
{
	d->error = err;
	return err;
}

/*
 * Room for need bytes of the current payload.  The buffer grows with the
 * bytes that actually arrived (doubling, capped at the declared length),
 * so a peer that announces a large length and stalls pins little memory.
 */
static int
reserve(struct sts_netstring_decoder *d, size_t need)
{
	size_t cap;
	char *p;

	if (need <= d->cap)
		return STS_OK;
	cap = d->cap < GROW_MIN ? GROW_MIN : d->cap;
	while (cap < need && cap <= (size_t)-1 / 2)
		cap *= 2;
	if (cap < need)
		cap = need;
	if (cap > d->len)
		cap = d->len;
	p = realloc(d->buf, cap);
	if (p == NULL)
		return STS_ENOMEM;
	d->buf = p;
	d->cap = cap;
	return STS_OK;
}

int
sts_netstring_decode(struct sts_netstring_decoder *d, const char *buf,
    size_t len, size_t *ret_consumed, const char **ret_payload,
    size_t *ret_payload_len)
{
	size_t pos = 0;

	if (d->error != STS_OK)
		return d->error;
	if (buf == NULL && len > 0)
		return STS_EINVAL;

	for (;;) {
		switch (d->state) {
		case ST_LENGTH: {
			unsigned char c;
			size_t digit;

			if (pos == len)
				goto more;
			c = (unsigned char)buf[pos];
			if (c == ':') {
				if (d->digits == 0)
					return fail(d, STS_ESYNTAX);
				pos++;
				d->state = ST_PAYLOAD;
				d->got = 0;
				break;
			}
			if (c < '0' || c > '9')
				return fail(d, STS_ESYNTAX);
			/* "0" is a length; "01" is not. */
			if (d->digits > 0 && d->len == 0)
				return fail(d, STS_ESYNTAX);
			digit = (size_t)(c - '0');
			if (digit > d->max || d->len > (d->max - digit) / 10)
				return fail(d, STS_ETOOBIG);
			d->len = d->len * 10 + digit;
			d->digits++;
			pos++;
			break;
		}
		case ST_PAYLOAD: {
			size_t need = d->len - d->got, avail = len - pos;
			int r;

			/* Whole payload and its comma in this chunk: no copy.
			 */
			if (d->got == 0 && avail > need) {
				if (buf[pos + need] != ',')
					return fail(d, STS_ESYNTAX);
				*ret_consumed = pos + need + 1;
				*ret_payload = buf + pos;
				*ret_payload_len = need;
				next_frame(d);
				return STS_OK;
			}
			if (avail > need)
				avail = need;
			if (avail > 0) {
				r = reserve(d, d->got + avail);
				if (r != STS_OK)
					return fail(d, r);
				memcpy(d->buf + d->got, buf + pos, avail);
				d->got += avail;
				pos += avail;
			}
			if (d->got < d->len)
				goto more;
			d->state = ST_COMMA;
			break;
		}
		case ST_COMMA: {
			size_t n = d->len;

			if (pos == len)
				goto more;
			if (buf[pos] != ',')
				return fail(d, STS_ESYNTAX);
			*ret_consumed = pos + 1;
			/* A split empty payload never allocated: point at "".
			 */
			*ret_payload = n > 0 ? d->buf : "";
			*ret_payload_len = n;
			next_frame(d);
			return STS_OK;
		}
		default:
			return fail(d, STS_EINTERNAL);
		}
	}

more:
	*ret_consumed = len;
	return STS_NETSTRING_MORE;
}

size_t
sts_netstring_header(size_t len, char out[STS_NETSTRING_HEADER_MAX])
{
	char digits[STS_NETSTRING_HEADER_MAX];
	size_t n = 0, i;

	do {
		digits[n++] = (char)('0' + len % 10);
		len /= 10;
	} while (len > 0);
	for (i = 0; i < n; i++)
		out[i] = digits[n - 1 - i];
	out[n++] = ':';
	out[n] = '\0';
	return n;
}

size_t
sts_netstring_encoded_size(size_t len)
{
	char hdr[STS_NETSTRING_HEADER_MAX];
	size_t h = sts_netstring_header(len, hdr);

	/* header + payload + ',' */
	if (len > (size_t)-1 - h - 1)
		return 0;
	return h + len + 1;
}

int
sts_netstring_encode(
    const char *payload, size_t len, char *out, size_t outsz, size_t *ret_len)
{
	char hdr[STS_NETSTRING_HEADER_MAX];
	size_t h, total;

	if (payload == NULL && len > 0)
		return STS_EINVAL;
	total = sts_netstring_encoded_size(len);
	if (total == 0 || total > outsz)
		return STS_ETOOBIG;
	h = sts_netstring_header(len, hdr);
	memcpy(out, hdr, h);
	if (len > 0)
		memcpy(out + h, payload, len);
	out[h + len] = ',';
	*ret_len = total;
	return STS_OK;
}

int
sts_netstring_split_request(
    const char *payload, size_t len, struct sts_netstring_request *ret_request)
{
	const char *sp;

	if (payload == NULL || len == 0)
		return STS_ESYNTAX;
	sp = memchr(payload, ' ', len);
	if (sp == NULL || sp == payload)
		return STS_ESYNTAX;
	ret_request->name = payload;
	ret_request->name_len = (size_t)(sp - payload);
	ret_request->key = sp + 1;
	ret_request->key_len = len - ret_request->name_len - 1;
	return STS_OK;
}

/*
 * netstring.h - djb netstrings as Postfix socketmap_table(5) frames them.
 *
 * A netstring is "<length>:<payload>," where length is the payload's
 * byte count in decimal (https://cr.yp.to/proto/netstrings.txt).  The
 * decoder is incremental: feed it whatever read(2) returned, a request
 * split at any byte or several pipelined in one chunk, and take the
 * complete payloads out one at a time.  It knows framing and limits only,
 * nothing about MTA-STS.
 *
 * Length rules (stricter than "any decimal"): at least one digit; no
 * leading zero except the length "0" itself; a length above the
 * decoder's maximum is refused as soon as its digits exceed it, so no
 * digit string can overflow.  Anything else before ':' and any byte but
 * ',' after the payload is a syntax error.  After an error the framing is
 * lost: the decoder keeps returning that error and the connection should
 * be closed.
 */
#ifndef MTASTS_COMMON_NETSTRING_H
#define MTASTS_COMMON_NETSTRING_H

#include <stddef.h>

#include "mtasts/err.h"
#include "mtasts/limits.h"

/* sts_netstring_decode(): every byte taken, no complete payload yet. */
#define STS_NETSTRING_MORE 1

/* Fields are private; the struct is public so it can be embedded. */
struct sts_netstring_decoder {
	size_t max;    /* largest payload accepted */
	int state;     /* length digits, payload, or trailing comma */
	int error;     /* sticky error (an sts_err), STS_OK while healthy */
	size_t len;    /* declared payload length */
	size_t digits; /* length digits seen */
	size_t got;    /* payload bytes held in buf */
	char *buf;     /* payload split across chunks; grows with the bytes */
	size_t cap;
};

/* Set up d for payloads of at most max bytes; it owns no memory yet. */
void sts_netstring_decoder_init(struct sts_netstring_decoder *d, size_t max);

/* Free what d holds; d may then be initialized again.  NULL is fine. */
void sts_netstring_decoder_done(struct sts_netstring_decoder *d);

/*
 * Take bytes from buf[0..len) (buf may be NULL when len is 0).
 *
 * STS_OK: a payload is complete.  *ret_consumed bytes of buf were used
 *   (call again with the rest for pipelined requests); *ret_payload and
 *   *ret_payload_len give the payload, which is not NUL-terminated and
 *   stays valid until the next call with d or sts_netstring_decoder_done.
 *   When the whole frame was inside buf, the pointer is into buf (no
 *   copy); otherwise it points into d's buffer.
 * STS_NETSTRING_MORE: all len bytes were used (*ret_consumed == len),
 *   the frame is incomplete; the payload pointers are untouched.
 * STS_ESYNTAX: bad length, missing ':' or ','.
 * STS_ETOOBIG: the declared length exceeds max.
 * STS_ENOMEM: no memory to hold a split payload.
 * On an error no out-parameter is written.
 */
int sts_netstring_decode(struct sts_netstring_decoder *d, const char *buf,
    size_t len, size_t *ret_consumed, const char **ret_payload,
    size_t *ret_payload_len);

/*
 * Write the header "<len>:" NUL-terminated into out and return its length
 * (without the NUL).  With it a reply can be sent as header, payload, ","
 * without copying the payload.
 */
size_t sts_netstring_header(size_t len, char out[STS_NETSTRING_HEADER_MAX]);

/* Bytes of the netstring for a payload of len bytes; 0 on overflow. */
size_t sts_netstring_encoded_size(size_t len);

/*
 * Write the netstring of payload[0..len) into out (outsz bytes; not
 * NUL-terminated).  STS_OK stores its size in *ret_len; STS_ETOOBIG when
 * it does not fit (out untouched).  payload may be NULL when len is 0.
 */
int sts_netstring_encode(
    const char *payload, size_t len, char *out, size_t outsz, size_t *ret_len);

/*
 * A socketmap request "<name> <key>" split at its first space.  name is
 * the map name Postfix was configured with (our zone); key is everything
 * after that one space, possibly empty or containing more spaces (the
 * caller validates keys).  Both point into the payload.
 */
struct sts_netstring_request {
	const char *name;
	size_t name_len;
	const char *key;
	size_t key_len;
};

/*
 * Split payload[0..len).  STS_OK fills *ret_request; STS_ESYNTAX when
 * there is no space or the name before it is empty.
 */
int sts_netstring_split_request(
    const char *payload, size_t len, struct sts_netstring_request *ret_request);

#endif

/*
 * fuzz-netstring.c - the netstring decoder, encoder and request split.
 *
 * Input: byte 0 picks the maximum payload length, byte 1 seeds how the
 * rest is cut into chunks; the rest is the stream.  Checks, beyond the
 * sanitizers: the payloads and the final result do not depend on how the
 * stream is cut; every payload is within the maximum; each payload
 * encodes and decodes back to itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netstring.h"

#define MAX_PAYLOADS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct record {
	size_t n;
	size_t len[MAX_PAYLOADS];
	unsigned char *payload[MAX_PAYLOADS];
	int result;
};

static void
record_free(struct record *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->payload[i]);
}

static void
check_payload(const char *p, size_t len, size_t max)
{
	struct sts_netstring_decoder d;
	struct sts_netstring_request req;
	char *enc;
	size_t elen = 0, consumed = 0, got_len = 0;
	const char *got = NULL;

	if (len > max)
		abort();
	enc = malloc(len + STS_NETSTRING_HEADER_MAX + 1);
	if (enc == NULL)
		return;
	if (sts_netstring_encode(p, len, enc,
		len + STS_NETSTRING_HEADER_MAX + 1, &elen) != STS_OK)
		abort();
	sts_netstring_decoder_init(&d, len);
	if (sts_netstring_decode(&d, enc, elen, &consumed, &got, &got_len) !=
		STS_OK ||
	    consumed != elen || got_len != len ||
	    (len > 0 && memcmp(got, p, len) != 0))
		abort();
	sts_netstring_decoder_done(&d);
	free(enc);

	if (sts_netstring_split_request(p, len, &req) == STS_OK) {
		if (req.name_len == 0 || req.name != p ||
		    req.name_len + 1 + req.key_len != len ||
		    req.key != p + req.name_len + 1 || p[req.name_len] != ' ' ||
		    memchr(p, ' ', req.name_len) != NULL)
			abort();
	}
}

/* Decode buf cut by the chunk pattern (0: in one piece). */
static void
run(const char *buf, size_t size, size_t max, unsigned seed, struct record *rec)
{
	struct sts_netstring_decoder d;
	size_t pos = 0;

	memset(rec, 0, sizeof(*rec));
	sts_netstring_decoder_init(&d, max);
	rec->result = STS_NETSTRING_MORE;
	while (pos < size || size == 0) {
		size_t chunk = size - pos;
		const char *p = buf + pos;

		if (seed != 0) {
			seed = seed * 1103515245u + 12345u;
			chunk = 1 + (seed >> 16) % 17;
			if (chunk > size - pos)
				chunk = size - pos;
		}
		pos += chunk;
		for (;;) {
			const char *payload = NULL;
			size_t consumed = 0, plen = 0;
			int r = sts_netstring_decode(
			    &d, p, chunk, &consumed, &payload, &plen);

			if (r == STS_NETSTRING_MORE) {
				if (consumed != chunk)
					abort();
				break;
			}
			if (r != STS_OK) {
				rec->result = r;
				goto out;
			}
			if (consumed > chunk)
				abort();
			check_payload(payload, plen, max);
			if (rec->n < MAX_PAYLOADS) {
				rec->payload[rec->n] = malloc(plen + 1);
				if (rec->payload[rec->n] == NULL)
					abort();
				memcpy(rec->payload[rec->n], payload, plen);
				rec->len[rec->n] = plen;
				rec->n++;
			}
			p += consumed;
			chunk -= consumed;
		}
		if (size == 0)
			break;
	}
out:
	sts_netstring_decoder_done(&d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t maxes[] = {
	    0, 1, 5, 100, STS_SOCKMAP_MAX_QUERY, (size_t)-1};
	struct record whole, cut;
	size_t max;
	unsigned seed;

	if (size < 2)
		return 0;
	max = maxes[data[0] % (sizeof(maxes) / sizeof(maxes[0]))];
	seed = data[1] | 1u;
	data += 2;
	size -= 2;

	run((const char *)data, size, max, 0, &whole);
	run((const char *)data, size, max, seed, &cut);
	/* ENOMEM may differ; anything else must be identical. */
	if (whole.result != STS_ENOMEM && cut.result != STS_ENOMEM) {
		if (whole.result != cut.result || whole.n != cut.n)
			abort();
		for (size_t i = 0; i < whole.n; i++)
			if (whole.len[i] != cut.len[i] ||
			    memcmp(whole.payload[i], cut.payload[i],
				whole.len[i]) != 0)
				abort();
	}
	record_free(&whole);
	record_free(&cut);
	return 0;
}

/*
 * test-netstring.c - the incremental netstring decoder, the encoder and
 * the socketmap request split (common/netstring.c).
 */
/* cmocka.h needs <setjmp.h>, <stdarg.h> and <stddef.h> first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
/* clang-format on */

#include "netstring.h"

/* Payloads collected from a decoder, copied out as they arrive. */
struct collected {
	size_t n;
	char payload[16][64];
	size_t len[16];
};

/*
 * Feed len bytes; collect every payload.  Returns the last non-payload
 * result (STS_NETSTRING_MORE, or an error).
 */
static int
feed(struct sts_netstring_decoder *d, const char *buf, size_t len,
    struct collected *out)
{
	for (;;) {
		const char *p = NULL;
		size_t consumed = 0, plen = 0;
		int r = sts_netstring_decode(d, buf, len, &consumed, &p, &plen);

		if (r != STS_OK)
			return r;
		assert_true(consumed <= len);
		assert_non_null(p);
		assert_true(out->n < 16);
		assert_true(plen < sizeof(out->payload[0]));
		memcpy(out->payload[out->n], p, plen);
		out->len[out->n] = plen;
		out->n++;
		buf += consumed;
		len -= consumed;
	}
}

static void
expect_payload(const struct collected *c, size_t i, const char *want)
{
	assert_true(i < c->n);
	assert_int_equal(c->len[i], strlen(want));
	assert_memory_equal(c->payload[i], want, strlen(want));
}

static void
test_single(void **state)
{
	struct sts_netstring_decoder d;
	const char *in = "5:hello,";
	const char *p = NULL;
	size_t consumed = 0, plen = 0;

	(void)state;
	sts_netstring_decoder_init(&d, STS_SOCKMAP_MAX_QUERY);
	assert_int_equal(
	    sts_netstring_decode(&d, in, strlen(in), &consumed, &p, &plen),
	    STS_OK);
	assert_int_equal(consumed, 8);
	assert_int_equal(plen, 5);
	/* Whole frame in one chunk: the payload is not copied. */
	assert_ptr_equal(p, in + 2);
	assert_null(d.buf);
	/* Nothing left: need more, everything consumed. */
	assert_int_equal(
	    sts_netstring_decode(&d, in + 8, 0, &consumed, &p, &plen),
	    STS_NETSTRING_MORE);
	assert_int_equal(consumed, 0);
	sts_netstring_decoder_done(&d);
}

static void
test_empty_payload(void **state)
{
	struct sts_netstring_decoder d;
	struct collected c = {0};

	(void)state;
	sts_netstring_decoder_init(&d, 10);
	assert_int_equal(feed(&d, "0:,", 3, &c), STS_NETSTRING_MORE);
	assert_int_equal(c.n, 1);
	expect_payload(&c, 0, "");
	/* Split right after the colon: the empty payload still decodes. */
	assert_int_equal(feed(&d, "0:", 2, &c), STS_NETSTRING_MORE);
	assert_int_equal(feed(&d, ",", 1, &c), STS_NETSTRING_MORE);
	assert_int_equal(c.n, 2);
	expect_payload(&c, 1, "");
	sts_netstring_decoder_done(&d);
}

static void
test_pipelined(void **state)
{
	static const char in[] = "3:abc,0:,5:hello,19:postfix example.com,";
	struct sts_netstring_decoder d;
	struct collected c = {0};

	(void)state;
	sts_netstring_decoder_init(&d, STS_SOCKMAP_MAX_QUERY);
	assert_int_equal(feed(&d, in, sizeof(in) - 1, &c), STS_NETSTRING_MORE);
	assert_int_equal(c.n, 4);
	expect_payload(&c, 0, "abc");
	expect_payload(&c, 1, "");
	expect_payload(&c, 2, "hello");
	expect_payload(&c, 3, "postfix example.com");
	sts_netstring_decoder_done(&d);
}

/* The same stream cut in two at every byte, and fed byte by byte. */
static void
test_split_everywhere(void **state)
{
	static const char in[] = "3:abc,0:,12:hello, world,19:postfix "
				 "example.com,1:,,";
	const size_t n = sizeof(in) - 1;

	(void)state;
	for (size_t cut = 0; cut <= n; cut++) {
		struct sts_netstring_decoder d;
		struct collected c = {0};

		sts_netstring_decoder_init(&d, STS_SOCKMAP_MAX_QUERY);
		assert_int_equal(feed(&d, in, cut, &c), STS_NETSTRING_MORE);
		assert_int_equal(
		    feed(&d, in + cut, n - cut, &c), STS_NETSTRING_MORE);
		assert_int_equal(c.n, 5);
		expect_payload(&c, 0, "abc");
		expect_payload(&c, 1, "");
		expect_payload(&c, 2, "hello, world");
		expect_payload(&c, 3, "postfix example.com");
		expect_payload(&c, 4, ",");
		sts_netstring_decoder_done(&d);
	}
	{
		struct sts_netstring_decoder d;
		struct collected c = {0};

		sts_netstring_decoder_init(&d, STS_SOCKMAP_MAX_QUERY);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(
			    feed(&d, in + i, 1, &c), STS_NETSTRING_MORE);
		assert_int_equal(c.n, 5);
		expect_payload(&c, 2, "hello, world");
		sts_netstring_decoder_done(&d);
	}
}

/* A request of exactly the Postfix limit, in three chunks; one more. */
static void
test_max_query(void **state)
{
	const size_t max = STS_SOCKMAP_MAX_QUERY;
	char hdr[STS_NETSTRING_HEADER_MAX];
	size_t h = sts_netstring_header(max, hdr), total = h + max + 1;
	char *buf = malloc(total + 1);
	struct sts_netstring_decoder d;
	const char *p = NULL;
	size_t consumed = 0, plen = 0;

	(void)state;
	assert_non_null(buf);
	memcpy(buf, hdr, h);
	memset(buf + h, 'x', max);
	buf[h + max] = ',';

	sts_netstring_decoder_init(&d, max);
	assert_int_equal(sts_netstring_decode(&d, buf, 3, &consumed, &p, &plen),
	    STS_NETSTRING_MORE);
	assert_int_equal(
	    sts_netstring_decode(&d, buf + 3, 5000, &consumed, &p, &plen),
	    STS_NETSTRING_MORE);
	assert_int_equal(sts_netstring_decode(&d, buf + 5003, total - 5003,
			     &consumed, &p, &plen),
	    STS_OK);
	assert_int_equal(consumed, total - 5003);
	assert_int_equal(plen, max);
	assert_true(d.cap <= max);
	for (size_t i = 0; i < max; i++)
		assert_int_equal(p[i], 'x');
	sts_netstring_decoder_done(&d);

	/* One byte over: refused from the length alone. */
	h = sts_netstring_header(max + 1, hdr);
	sts_netstring_decoder_init(&d, max);
	assert_int_equal(sts_netstring_decode(&d, hdr, h, &consumed, &p, &plen),
	    STS_ETOOBIG);
	sts_netstring_decoder_done(&d);
	free(buf);
}

/* A large declared length pins memory for the bytes sent, not declared. */
static void
test_memory_follows_data(void **state)
{
	static const char hdr[] = "4000000000:";
	struct sts_netstring_decoder d;
	char chunk[1000];
	const char *p = NULL;
	size_t consumed = 0, plen = 0;

	(void)state;
	memset(chunk, 'y', sizeof(chunk));
	sts_netstring_decoder_init(&d, SIZE_MAX);
	assert_int_equal(
	    sts_netstring_decode(&d, hdr, strlen(hdr), &consumed, &p, &plen),
	    STS_NETSTRING_MORE);
	assert_int_equal(
	    sts_netstring_decode(&d, chunk, 10, &consumed, &p, &plen),
	    STS_NETSTRING_MORE);
	assert_true(d.cap <= 256);
	for (int i = 0; i < 10; i++)
		assert_int_equal(sts_netstring_decode(&d, chunk, sizeof(chunk),
				     &consumed, &p, &plen),
		    STS_NETSTRING_MORE);
	assert_true(d.cap >= d.got);
	assert_true(d.cap <= 2 * d.got);
	sts_netstring_decoder_done(&d);

	/* Growth stops at the declared length. */
	sts_netstring_decoder_init(&d, 1000);
	assert_int_equal(
	    sts_netstring_decode(&d, "300:", 4, &consumed, &p, &plen),
	    STS_NETSTRING_MORE);
	assert_int_equal(
	    sts_netstring_decode(&d, chunk, 299, &consumed, &p, &plen),
	    STS_NETSTRING_MORE);
	assert_int_equal(d.cap, 300);
	assert_int_equal(
	    sts_netstring_decode(&d, "y,", 2, &consumed, &p, &plen), STS_OK);
	assert_int_equal(plen, 300);
	sts_netstring_decoder_done(&d);
}

static int
decode_all(size_t max, const char *in)
{
	struct sts_netstring_decoder d;
	struct collected c = {0};
	int r;

	sts_netstring_decoder_init(&d, max);
	r = feed(&d, in, strlen(in), &c);
	sts_netstring_decoder_done(&d);
	return r;
}

static void
test_too_big(void **state)
{
	(void)state;
	assert_int_equal(decode_all(10, "11:"), STS_ETOOBIG);
	assert_int_equal(decode_all(10, "10:0123456789,"), STS_NETSTRING_MORE);
	/* Refused at the digit that exceeds max: no need to see ':'. */
	assert_int_equal(decode_all(10, "100"), STS_ETOOBIG);
	assert_int_equal(decode_all(STS_SOCKMAP_MAX_QUERY,
			     "99999999999999999999999999999999999999:"),
	    STS_ETOOBIG);
	/* No overflow even when max is the largest size_t. */
	assert_int_equal(
	    decode_all(SIZE_MAX, "18446744073709551615"), STS_NETSTRING_MORE);
	assert_int_equal(
	    decode_all(SIZE_MAX, "18446744073709551616:"), STS_ETOOBIG);
	assert_int_equal(
	    decode_all(SIZE_MAX, "184467440737095516150:"), STS_ETOOBIG);
	assert_int_equal(decode_all(0, "1:"), STS_ETOOBIG);
	assert_int_equal(decode_all(0, "0:,"), STS_NETSTRING_MORE);
}

static void
test_syntax(void **state)
{
	static const char *const bad[] = {
	    "01:a,",                       /* leading zero */
	    "00:,",                        /* leading zero */
	    "a:",                          /* not a digit */
	    "1a:",                         /* not a digit */
	    "-1:",                         /* no sign */
	    "+1:",                         /* no sign */
	    " 1:",                         /* no blank */
	    "1 :",                         /* no blank */
	    ":",                           /* no digits */
	    ",",                           /* no length */
	    "5hello,",                     /* no colon */
	    "5:helloX",                    /* no comma */
	    "5:hello\n", "0:;", "3:abc,x", /* good frame, then garbage */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("case %s\n", bad[i]);
		assert_int_equal(decode_all(100, bad[i]), STS_ESYNTAX);
	}
}

static void
test_sticky_error(void **state)
{
	struct sts_netstring_decoder d;
	const char *p = (const char *)&d;
	size_t consumed = 77, plen = 78;

	(void)state;
	sts_netstring_decoder_init(&d, 100);
	assert_int_equal(
	    sts_netstring_decode(&d, "5:hello;", 8, &consumed, &p, &plen),
	    STS_ESYNTAX);
	/* Out-params untouched on failure. */
	assert_int_equal(consumed, 77);
	assert_int_equal(plen, 78);
	assert_ptr_equal(p, (const char *)&d);
	/* Framing is lost: good input after an error is refused too. */
	assert_int_equal(
	    sts_netstring_decode(&d, "0:,", 3, &consumed, &p, &plen),
	    STS_ESYNTAX);
	sts_netstring_decoder_done(&d);
	/* done + init starts afresh. */
	sts_netstring_decoder_init(&d, 100);
	assert_int_equal(
	    sts_netstring_decode(&d, "0:,", 3, &consumed, &p, &plen), STS_OK);
	sts_netstring_decoder_done(&d);
	sts_netstring_decoder_done(NULL);
}

static void
test_encode(void **state)
{
	char out[32], hdr[STS_NETSTRING_HEADER_MAX];
	size_t len = 0;

	(void)state;
	assert_int_equal(
	    sts_netstring_encode("hello", 5, out, sizeof(out), &len), STS_OK);
	assert_int_equal(len, 8);
	assert_memory_equal(out, "5:hello,", 8);

	assert_int_equal(
	    sts_netstring_encode(NULL, 0, out, sizeof(out), &len), STS_OK);
	assert_int_equal(len, 3);
	assert_memory_equal(out, "0:,", 3);

	/* The reply pmsr sends for "not found", byte for byte. */
	assert_int_equal(
	    sts_netstring_encode("NOTFOUND ", 9, out, sizeof(out), &len),
	    STS_OK);
	assert_memory_equal(out, "9:NOTFOUND ,", 12);

	/* Too small: error, buffer and length untouched. */
	memset(out, '#', sizeof(out));
	len = 99;
	assert_int_equal(
	    sts_netstring_encode("hello", 5, out, 7, &len), STS_ETOOBIG);
	assert_int_equal(len, 99);
	assert_int_equal(out[0], '#');
	assert_int_equal(
	    sts_netstring_encode("hello", 5, out, 8, &len), STS_OK);

	assert_int_equal(sts_netstring_header(0, hdr), 2);
	assert_string_equal(hdr, "0:");
	assert_int_equal(sts_netstring_header(10000, hdr), 6);
	assert_string_equal(hdr, "10000:");
	assert_int_equal(sts_netstring_header(SIZE_MAX, hdr), 21);
	assert_string_equal(hdr, "18446744073709551615:");

	assert_int_equal(sts_netstring_encoded_size(5), 8);
	assert_int_equal(sts_netstring_encoded_size(SIZE_MAX), 0);
	assert_int_equal(sts_netstring_encoded_size(SIZE_MAX - 21), 0);
}

/* Whatever the encoder writes, the decoder reads back. */
static void
test_roundtrip(void **state)
{
	unsigned seed = 12345;

	(void)state;
	for (int round = 0; round < 200; round++) {
		char payload[300], out[400];
		size_t plen, len = 0, consumed = 0, got_len = 0;
		struct sts_netstring_decoder d;
		const char *got = NULL;

		seed = seed * 1103515245u + 12345u;
		plen = (seed >> 8) % sizeof(payload);
		for (size_t i = 0; i < plen; i++) {
			seed = seed * 1103515245u + 12345u;
			payload[i] = (char)(seed >> 16);
		}
		assert_int_equal(
		    sts_netstring_encode(payload, plen, out, sizeof(out), &len),
		    STS_OK);
		sts_netstring_decoder_init(&d, sizeof(payload));
		assert_int_equal(sts_netstring_decode(
				     &d, out, len, &consumed, &got, &got_len),
		    STS_OK);
		assert_int_equal(consumed, len);
		assert_int_equal(got_len, plen);
		assert_memory_equal(got, payload, plen);
		sts_netstring_decoder_done(&d);
	}
}

static void
test_split_request(void **state)
{
	struct sts_netstring_request req;

	(void)state;
	assert_int_equal(
	    sts_netstring_split_request("postfix example.com", 19, &req),
	    STS_OK);
	assert_int_equal(req.name_len, 7);
	assert_memory_equal(req.name, "postfix", 7);
	assert_int_equal(req.key_len, 11);
	assert_memory_equal(req.key, "example.com", 11);

	/* Split at the first space only; the rest is the key. */
	assert_int_equal(sts_netstring_split_request("a b c", 5, &req), STS_OK);
	assert_int_equal(req.name_len, 1);
	assert_int_equal(req.key_len, 3);
	assert_memory_equal(req.key, "b c", 3);
	assert_int_equal(sts_netstring_split_request("a  b", 4, &req), STS_OK);
	assert_int_equal(req.key_len, 2);
	assert_memory_equal(req.key, " b", 2);

	/* An empty key splits; the socketmap layer answers NOTFOUND. */
	assert_int_equal(
	    sts_netstring_split_request("postfix ", 8, &req), STS_OK);
	assert_int_equal(req.key_len, 0);

	/* Not even a name. */
	memset(&req, 0x5a, sizeof(req));
	assert_int_equal(
	    sts_netstring_split_request(" example.com", 12, &req), STS_ESYNTAX);
	assert_int_equal(
	    sts_netstring_split_request("postfix", 7, &req), STS_ESYNTAX);
	assert_int_equal(sts_netstring_split_request("", 0, &req), STS_ESYNTAX);
	assert_int_equal(
	    sts_netstring_split_request(NULL, 0, &req), STS_ESYNTAX);
	/* Untouched on failure. */
	assert_int_equal(req.name_len, (size_t)0x5a5a5a5a5a5a5a5aULL);

	/* Bytes, not C strings: a NUL is just a byte. */
	assert_int_equal(
	    sts_netstring_split_request("p\0q k", 5, &req), STS_OK);
	assert_int_equal(req.name_len, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_single),
	    cmocka_unit_test(test_empty_payload),
	    cmocka_unit_test(test_pipelined),
	    cmocka_unit_test(test_split_everywhere),
	    cmocka_unit_test(test_max_query),
	    cmocka_unit_test(test_memory_follows_data),
	    cmocka_unit_test(test_too_big),
	    cmocka_unit_test(test_syntax),
	    cmocka_unit_test(test_sticky_error),
	    cmocka_unit_test(test_encode),
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_split_request),
	};

	return cmocka_run_group_tests_name("netstring", tests, NULL, NULL);
}

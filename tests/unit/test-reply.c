/*
 * test-reply.c - Postfix replies, byte for byte as postfix-mta-sts-resolver
 * gives them (peers-resolvers.md §1.4), with our deterministic match=.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mtasts/policy.h"
#include "reply.h"

static struct sts_policy *
parse(const char *body)
{
	struct sts_policy *pol = NULL;

	assert_int_equal(sts_policy_parse(body, strlen(body), &pol, NULL),
	    STS_OK);
	return pol;
}

static const char *
answer(const char *body, const char *domain, struct reply_opts opts)
{
	static char out[100000];
	struct reply_buf b;
	struct sts_policy *pol = parse(body);

	reply_buf_init(&b, out, sizeof(out));
	assert_true(reply_policy(&b, pol, domain, &opts));
	sts_policy_free(pol);
	return out;
}

static const char enforce[] = "version: STSv1\n"
			      "mode: enforce\n"
			      "mx: mail.example.com\n"
			      "mx: *.example.net\n"
			      "max_age: 604800\n";

static void
enforce_is_secure(void **state)
{
	(void)state;
	assert_string_equal(answer(enforce, "example.com",
				(struct reply_opts){false, true, false}),
	    "OK secure match=mail.example.com:.example.net "
	    "servername=hostname");
	/* require_sni: false drops servername */
	assert_string_equal(answer(enforce, "example.com",
				(struct reply_opts){false, false, false}),
	    "OK secure match=mail.example.com:.example.net");
}

static void
testing_and_none(void **state)
{
	const char *testing = "version: STSv1\nmode: testing\n"
			      "mx: mail.example.com\nmax_age: 86400\n";
	const char *none = "version: STSv1\nmode: none\nmax_age: 86400\n";

	(void)state;
	/* RFC 8461 §5: testing delivers as if there were no policy */
	assert_string_equal(answer(testing, "example.com",
				(struct reply_opts){false, true, false}),
	    "NOTFOUND ");
	assert_string_equal(answer(testing, "example.com",
				(struct reply_opts){true, true, false}),
	    "OK secure match=mail.example.com servername=hostname");
	assert_string_equal(answer(none, "example.com",
				(struct reply_opts){true, true, true}),
	    "NOTFOUND ");
}

static void
match_list_folded_deduplicated(void **state)
{
	const char *body = "version: STSv1\nmode: enforce\n"
			   "mx: Mail.Example.com\nmx: *.example.net\n"
			   "mx: mail.example.com\nmax_age: 86400\n";

	(void)state;
	assert_string_equal(answer(body, "example.com",
				(struct reply_opts){false, true, false}),
	    "OK secure match=mail.example.com:.example.net "
	    "servername=hostname");
}

static void
tlsrpt_attributes(void **state)
{
	/* peers-resolvers.md §1.4's verified pmsr example, our match= */
	const char *body = "version: STSv1\nmode: enforce\n"
			   "mx: Mail.Example.com\nmx: *.example.net\n"
			   "mx: mail.example.com\nmax_age: 0604800\n"
			   "x-ext: hello world\n";

	(void)state;
	assert_string_equal(answer(body, "example.com",
				(struct reply_opts){false, true, true}),
	    "OK secure match=mail.example.com:.example.net "
	    "servername=hostname policy_type=sts policy_domain=example.com "
	    "mx_host_pattern=Mail.Example.com "
	    "mx_host_pattern=*.example.net "
	    "mx_host_pattern=mail.example.com "
	    "{ policy_string = mx: Mail.Example.com } "
	    "{ policy_string = mx: *.example.net } "
	    "{ policy_string = mx: mail.example.com } "
	    "{ policy_string = version: STSv1 } "
	    "{ policy_string = mode: enforce } "
	    "{ policy_string = max_age: 604800 } "
	    "{ policy_string = x-ext: hello world }");
}

static void
braces_never_reach_postfix(void **state)
{
	const char *body = "version: STSv1\nmode: enforce\n"
			   "mx: mail.example.com\nmax_age: 86400\n"
			   "x-ext: a } b\n";
	const char *r;

	(void)state;
	r = answer(body, "example.com", (struct reply_opts){false, true, true});
	assert_null(strstr(r, "x-ext"));
	assert_non_null(strstr(r, "{ policy_string = max_age: 86400 }"));
}

static void
statuses(void **state)
{
	char out[64];
	struct reply_buf b;

	(void)state;
	reply_buf_init(&b, out, sizeof(out));
	reply_notfound(&b);
	assert_string_equal(out, "NOTFOUND ");
	reply_temp(&b, "DNSSEC bogus\n\x01");
	assert_string_equal(out, "TEMP DNSSEC bogus??");
	/* a reply that cannot fit is reported, never truncated silently */
	reply_buf_init(&b, out, 8);
	reply_notfound(&b);
	assert_true(b.overflow);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(enforce_is_secure),
		cmocka_unit_test(testing_and_none),
		cmocka_unit_test(match_list_folded_deduplicated),
		cmocka_unit_test(tlsrpt_attributes),
		cmocka_unit_test(braces_never_reach_postfix),
		cmocka_unit_test(statuses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

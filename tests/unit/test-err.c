/* test-err.c - every sts_err value has its own text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mtasts/err.h"

static void
every_error_has_distinct_text(void **state)
{
	(void)state;
	for (int a = STS_EINTERNAL; a <= STS_OK; a++) {
		assert_string_not_equal(sts_strerror(a), "unknown error");
		for (int b = STS_EINTERNAL; b < a; b++)
			assert_string_not_equal(sts_strerror(a),
			    sts_strerror(b));
	}
	assert_string_equal(sts_strerror(1), "unknown error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_error_has_distinct_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

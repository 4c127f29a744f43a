/* test-tlsrpt.c - placeholder replaced by the table-driven suite. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mtasts/mtasts.h"

static void
builds(void **state)
{
	(void)state;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(builds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test-log.c - the logger (common/log.c): escaping of untrusted text,
 * level names, the file target, long lines and control bytes.
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
#include <unistd.h>
#include <cmocka.h>
/* clang-format on */

#include "log.h"
#include "mtasts/err.h"

static void
test_escape(void **state)
{
	char out[STS_LOG_ESCAPE_MAX];

	(void)state;
	assert_int_equal(
	    sts_log_escape("example.com", 11, out, sizeof(out)), 11);
	assert_string_equal(out, "example.com");
	/* Controls, quote, backslash, DEL and non-ASCII are escaped. */
	sts_log_escape("a\nb\r\x01'\\\x7f\xc3\xbc", 10, out, sizeof(out));
	assert_string_equal(out, "a\\x0ab\\x0d\\x01\\x27\\\\\\x7f\\xc3\\xbc");
	/* NUL is a byte like any other. */
	sts_log_escape("a\0b", 3, out, sizeof(out));
	assert_string_equal(out, "a\\x00b");
	/* Empty and NULL input. */
	assert_int_equal(sts_log_escape("", 0, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(sts_log_escape(NULL, 0, out, sizeof(out)), 0);
	assert_string_equal(out, "");
}

static void
test_escape_truncation(void **state)
{
	char out[8];
	char big[1000];

	(void)state;
	/* Exactly fits: 7 characters and the NUL. */
	assert_int_equal(sts_log_escape("1234567", 7, out, sizeof(out)), 7);
	assert_string_equal(out, "1234567");
	/* One more: cut, marked. */
	assert_int_equal(sts_log_escape("12345678", 8, out, sizeof(out)), 7);
	assert_string_equal(out, "1234...");
	/* Never half an escape before the mark. */
	sts_log_escape("123\x01\x02", 5, out, sizeof(out));
	assert_string_equal(out, "123...");
	/* Tiny buffers. */
	assert_int_equal(sts_log_escape("abc", 3, out, 0), 0);
	assert_int_equal(sts_log_escape("abc", 3, out, 1), 0);
	assert_string_equal(out, "");
	assert_int_equal(sts_log_escape("abc", 3, out, 3), 2);
	assert_string_equal(out, "..");
	assert_int_equal(sts_log_escape("abcd", 4, out, 4), 3);
	assert_string_equal(out, "...");
	/* A large input is bounded by outsz. */
	memset(big, '\n', sizeof(big));
	{
		char bounded[STS_LOG_ESCAPE_MAX];
		size_t n =
		    sts_log_escape(big, sizeof(big), bounded, sizeof(bounded));

		assert_true(n < sizeof(bounded));
		assert_int_equal(strlen(bounded), n);
		assert_string_equal(bounded + n - 3, "...");
	}
}

static void
test_levels(void **state)
{
	static const struct {
		const char *name;
		int level;
	} names[] = {
	    {"debug", STS_LOG_DEBUG},
	    {"info", STS_LOG_INFO},
	    {"warn", STS_LOG_WARN},
	    {"warning", STS_LOG_WARN},
	    {"error", STS_LOG_ERROR},
	    {"fatal", STS_LOG_ERROR},
	    {"crit", STS_LOG_ERROR},
	    {"INFO", STS_LOG_INFO},
	    {"Debug", STS_LOG_DEBUG},
	};
	int level = -7;

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(
		    sts_log_level_parse(names[i].name, &level), STS_OK);
		assert_int_equal(level, names[i].level);
	}
	level = -7;
	assert_int_equal(sts_log_level_parse("verbose", &level), STS_EINVAL);
	assert_int_equal(sts_log_level_parse("", &level), STS_EINVAL);
	assert_int_equal(sts_log_level_parse("infoo", &level), STS_EINVAL);
	assert_int_equal(sts_log_level_parse(NULL, &level), STS_EINVAL);
	assert_int_equal(level, -7);
	assert_string_equal(sts_log_level_name(STS_LOG_WARN), "warn");
	assert_string_equal(sts_log_level_name(42), "?");
	assert_string_equal(sts_log_level_name(-1), "?");
}

static char *
read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 65536);
	size_t n;

	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
test_file_target(void **state)
{
	char path[] = "/tmp/test-log-XXXXXX";
	char long_msg[STS_LOG_LINE_MAX * 2];
	int fd = mkstemp(path);
	char *text, *line2;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(
	    sts_log_open("test-log", STS_LOG_TARGET_FILE, path, STS_LOG_INFO),
	    STS_OK);
	assert_false(sts_log_enabled(STS_LOG_DEBUG));
	assert_true(sts_log_enabled(STS_LOG_ERROR));
	sts_log(STS_LOG_DEBUG, "not written");
	sts_log(STS_LOG_INFO, "domain=%s result=%s", "example.com", "secure");
	/* A message cannot forge a second line. */
	sts_log(STS_LOG_WARN, "evil\nFAKE LINE\r\x1b[31m");
	memset(long_msg, 'x', sizeof(long_msg) - 1);
	long_msg[sizeof(long_msg) - 1] = '\0';
	sts_log(STS_LOG_ERROR, "%s", long_msg);
	sts_log_close();

	text = read_all(path);
	assert_null(strstr(text, "not written"));
	assert_non_null(strstr(text, " INFO     test-log["));
	assert_non_null(strstr(text, "]: domain=example.com result=secure\n"));
	line2 = strstr(text, " WARNING  test-log[");
	assert_non_null(line2);
	assert_non_null(strstr(line2, "]: evil?FAKE LINE??[31m\n"));
	/* Three lines exactly: the long one was cut, not split. */
	{
		int lines = 0;
		char *last = NULL;

		for (char *p = text; *p != '\0'; p++)
			if (*p == '\n') {
				lines++;
				if (last != NULL && lines == 3)
					assert_true(
					    p - last <= STS_LOG_LINE_MAX);
				last = p;
			}
		assert_int_equal(lines, 3);
		assert_non_null(strstr(text, "xxx...\n"));
	}
	free(text);

	/* Reopen after rotation. */
	assert_int_equal(
	    sts_log_open("test-log", STS_LOG_TARGET_FILE, path, STS_LOG_DEBUG),
	    STS_OK);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(sts_log_reopen(), STS_OK);
	sts_log(STS_LOG_DEBUG, "after rotation");
	sts_log_close();
	text = read_all(path);
	assert_non_null(strstr(text, "]: after rotation\n"));
	free(text);
	unlink(path);

	/* Bad arguments; the old target stays. */
	assert_int_equal(
	    sts_log_open("x", STS_LOG_TARGET_FILE, NULL, STS_LOG_INFO),
	    STS_EINVAL);
	assert_int_equal(sts_log_open("x", STS_LOG_TARGET_FILE,
			     "/nonexistent/dir/log", STS_LOG_INFO),
	    STS_EIO);
	assert_int_equal(
	    sts_log_open("x", STS_LOG_TARGET_STDERR, NULL, 9), STS_EINVAL);
	assert_int_equal(
	    sts_log_open("x", (enum sts_log_target)9, NULL, STS_LOG_INFO),
	    STS_EINVAL);
	assert_int_equal(sts_log_reopen(), STS_OK); /* not a file: no-op */
}

static void
test_ratelimit(void **state)
{
	char path[] = "/tmp/test-log-XXXXXX";
	struct sts_log_ratelimit rl = {.interval_ms = 3600 * 1000};
	int fd = mkstemp(path);
	char *text;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(
	    sts_log_open("rl", STS_LOG_TARGET_FILE, path, STS_LOG_INFO),
	    STS_OK);
	for (int i = 0; i < 5; i++)
		sts_log_ratelimited(&rl, STS_LOG_WARN, "cache down (%d)", i);
	assert_int_equal(rl.suppressed, 4);
	/* The next one after the interval reports the count. */
	rl.last_ms -= rl.interval_ms;
	sts_log_ratelimited(&rl, STS_LOG_WARN, "cache down (%d)", 5);
	assert_int_equal(rl.suppressed, 0);
	sts_log_close();
	text = read_all(path);
	assert_non_null(strstr(text, "]: cache down (0)\n"));
	assert_null(strstr(text, "cache down (1)"));
	assert_non_null(strstr(
	    text, "]: cache down (5) (4 similar messages suppressed)\n"));
	free(text);
	unlink(path);
}

static void
test_stderr_default(void **state)
{
	(void)state;
	/* Before and after open/close the logger writes to stderr. */
	sts_log_close();
	sts_log_set_level(STS_LOG_ERROR);
	assert_int_equal(sts_log_get_level(), STS_LOG_ERROR);
	sts_log(STS_LOG_INFO, "suppressed");
	sts_log_set_level(99);
	assert_int_equal(sts_log_get_level(), STS_LOG_ERROR);
	sts_log_set_level(-5);
	assert_int_equal(sts_log_get_level(), STS_LOG_DEBUG);
	sts_log_set_level(STS_LOG_INFO);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escape),
	    cmocka_unit_test(test_escape_truncation),
	    cmocka_unit_test(test_levels),
	    cmocka_unit_test(test_file_target),
	    cmocka_unit_test(test_ratelimit),
	    cmocka_unit_test(test_stderr_default),
	};

	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}

/*
 * log.h - the logger of the daemon and the CLI (never used by lib/).
 *
 * One process-wide logger, written to stderr, syslog (facility mail) or a
 * file.  Each message becomes one line that is handed to the target in a
 * single write, so lines from several threads never interleave.
 *
 * The rule: untrusted text (a socketmap key, a TXT record, a policy line,
 * a server's error text) goes through sts_log_escape() and is printed in
 * single quotes, e.g.
 *
 *	char esc[STS_LOG_ESCAPE_MAX];
 *	sts_log_escape(key, key_len, esc, sizeof(esc));
 *	sts_log(STS_LOG_INFO, "lookup key='%s' result=notfound", esc);
 *
 * As a last line of defence the logger itself replaces any control byte
 * left in a formatted message with '?', so a message can never forge a
 * second log line.
 */
#ifndef MTASTS_COMMON_LOG_H
#define MTASTS_COMMON_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mtasts/limits.h"

/* Severity, lowest first.  A message is written when level >= threshold. */
enum sts_log_level {
	STS_LOG_DEBUG = 0,
	STS_LOG_INFO = 1,
	STS_LOG_WARN = 2,
	STS_LOG_ERROR = 3,
};

enum sts_log_target {
	STS_LOG_TARGET_STDERR, /* "TIME LEVEL ident[pid]: msg"; "<N>msg" under
				  journald */
	STS_LOG_TARGET_SYSLOG, /* syslog(3), facility LOG_MAIL, LOG_PID */
	STS_LOG_TARGET_FILE,   /* like stderr, appended to a file (O_APPEND) */
};

/*
 * Set up the logger.  ident names the program in every line (copied, at
 * most STS_LOG_IDENT_MAX bytes kept); file is the path for
 * STS_LOG_TARGET_FILE and ignored otherwise; level is the threshold
 * (an enum sts_log_level).  May be called again to switch targets.
 * Returns STS_OK, STS_EINVAL (bad target or level, or no file), or
 * STS_EIO (the file cannot be opened; errno is kept and the previous
 * target stays in use).  Before any call the logger writes to stderr at
 * level info with ident "mta-sts".
 */
int sts_log_open(
    const char *ident, enum sts_log_target target, const char *file, int level);

/* Close a log file or syslog connection; logging goes back to stderr. */
void sts_log_close(void);

/*
 * Reopen the log file (after logrotate moved it).  STS_OK when the target
 * is not a file.  On failure the old descriptor stays in use.
 */
int sts_log_reopen(void);

/* Change the threshold; values outside the enum are clamped. */
void sts_log_set_level(int level);

/* The threshold in force. */
int sts_log_get_level(void);

/* True when a message at level would be written (skip costly work). */
bool sts_log_enabled(int level);

/*
 * Write one message.  A line longer than STS_LOG_LINE_MAX is cut and ends
 * in "...".  errno is preserved.
 */
void sts_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void sts_vlog(int level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/*
 * Parse a level name: debug, info, warn (or warning), error, and the
 * peer's fatal and crit (both mean error).  ASCII case is ignored.
 * STS_OK stores the level in *ret_level; STS_EINVAL otherwise.
 */
int sts_log_level_parse(const char *name, int *ret_level);

/* "debug", "info", "warn", "error"; "?" for anything else. */
const char *sts_log_level_name(int level);

/*
 * Make len bytes of untrusted text printable: printable ASCII except '\\'
 * and '\'' is copied; '\\' becomes "\\\\"; every other byte (controls,
 * quote, DEL, non-ASCII) becomes "\xNN".  The result is NUL-terminated
 * in out.  When it does not fit in outsz bytes, as much as fits (never
 * half an escape) is kept and "..." marks the cut.  in may be NULL when
 * len is 0.  Returns the length written (excluding the NUL); outsz 0
 * writes nothing.
 */
size_t sts_log_escape(const char *in, size_t len, char *out, size_t outsz);

/*
 * A rate limit for a repeated message (like Postfix's msg_rate_delay):
 * at most one message per interval; suppressed ones are counted and the
 * count is appended to the next message that passes.  Zero-initialize,
 * e.g. `static struct sts_log_ratelimit rl = {.interval_ms = 60000};`.
 */
struct sts_log_ratelimit {
	uint64_t interval_ms;
	uint64_t last_ms; /* CLOCK_MONOTONIC of the last message written */
	unsigned long suppressed;
	bool started;
};

void sts_log_ratelimited(struct sts_log_ratelimit *rl, int level,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif

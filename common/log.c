/*
 * log.c - one process-wide logger: stderr, syslog or a file.
 *
 * The state below is set by sts_log_open()/sts_log_close() from the main
 * thread before other threads start; sts_log() only reads it, formats
 * into a stack buffer and hands the whole line to one write(2) or
 * syslog(3) call.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "mtasts/err.h"
#include "mtasts/limits.h"

#define DEFAULT_IDENT "mta-sts"
#define TRUNC_MARK    "..."
#define LOG_FILE_MODE 0640

static struct {
	char ident[STS_LOG_IDENT_MAX + 1];
	enum sts_log_target target;
	int level;
	int fd;      /* the log file, or -1 */
	char *path;  /* the log file's path, for reopen */
	int journal; /* stderr goes to journald: 1, 0, or -1 not known yet */
} logger = {
    .ident = DEFAULT_IDENT,
    .target = STS_LOG_TARGET_STDERR,
    .level = STS_LOG_INFO,
    .fd = -1,
    .path = NULL,
    .journal = -1,
};

static const char *const level_names[] = {
    [STS_LOG_DEBUG] = "debug",
    [STS_LOG_INFO] = "info",
    [STS_LOG_WARN] = "warn",
    [STS_LOG_ERROR] = "error",
};

/* The column text of the stderr and file format (pmsr's level names). */
static const char *const level_labels[] = {
    [STS_LOG_DEBUG] = "DEBUG",
    [STS_LOG_INFO] = "INFO",
    [STS_LOG_WARN] = "WARNING",
    [STS_LOG_ERROR] = "ERROR",
};

static const int level_syslog[] = {
    [STS_LOG_DEBUG] = LOG_DEBUG,
    [STS_LOG_INFO] = LOG_INFO,
    [STS_LOG_WARN] = LOG_WARNING,
    [STS_LOG_ERROR] = LOG_ERR,
};

static int
clamp_level(int level)
{
	if (level < STS_LOG_DEBUG)
		return STS_LOG_DEBUG;
	if (level > STS_LOG_ERROR)
		return STS_LOG_ERROR;
	return level;
}

/*
 * systemd sets JOURNAL_STREAM=<dev>:<ino> when stderr goes to the
 * journal; then a "<N>" prefix carries the priority and the journal adds
 * time and ident itself (sd-daemon(3)).
 */
static bool
stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char tail;

	if (env == NULL || sscanf(env, "%llu:%llu%c", &dev, &ino, &tail) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

static int
open_file(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
	    LOG_FILE_MODE);
}

void
sts_log_close(void)
{
	if (logger.target == STS_LOG_TARGET_SYSLOG)
		closelog();
	if (logger.fd >= 0)
		close(logger.fd);
	logger.fd = -1;
	free(logger.path);
	logger.path = NULL;
	logger.target = STS_LOG_TARGET_STDERR;
	logger.journal = -1;
}

int
sts_log_open(
    const char *ident, enum sts_log_target target, const char *file, int level)
{
	char *path = NULL;
	int fd = -1;

	if (level < STS_LOG_DEBUG || level > STS_LOG_ERROR)
		return STS_EINVAL;
	switch (target) {
	case STS_LOG_TARGET_STDERR:
	case STS_LOG_TARGET_SYSLOG:
		break;
	case STS_LOG_TARGET_FILE:
		if (file == NULL || file[0] == '\0')
			return STS_EINVAL;
		path = strdup(file);
		if (path == NULL)
			return STS_ENOMEM;
		fd = open_file(file);
		if (fd < 0) {
			int saved = errno;

			free(path);
			errno = saved;
			return STS_EIO;
		}
		break;
	default:
		return STS_EINVAL;
	}

	sts_log_close();
	if (ident == NULL || ident[0] == '\0')
		ident = DEFAULT_IDENT;
	snprintf(logger.ident, sizeof(logger.ident), "%s", ident);
	logger.target = target;
	logger.level = level;
	logger.fd = fd;
	logger.path = path;
	if (target == STS_LOG_TARGET_SYSLOG)
		openlog(logger.ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
	return STS_OK;
}

int
sts_log_reopen(void)
{
	int fd;

	if (logger.target != STS_LOG_TARGET_FILE || logger.path == NULL)
		return STS_OK;
	fd = open_file(logger.path);
	if (fd < 0)
		return STS_EIO;
	close(logger.fd);
	logger.fd = fd;
	return STS_OK;
}

void
sts_log_set_level(int level)
{
	logger.level = clamp_level(level);
}

int
sts_log_get_level(void)
{
	return logger.level;
}

bool
sts_log_enabled(int level)
{
	return clamp_level(level) >= logger.level;
}

static int
ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static bool
ascii_eq_nocase(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++)
		if (ascii_lower((unsigned char)*a) !=
		    ascii_lower((unsigned char)*b))
			return false;
	return *a == *b;
}

int
sts_log_level_parse(const char *name, int *ret_level)
{
	static const struct {
		const char *name;
		int level;
	} names[] = {
	    {"debug", STS_LOG_DEBUG}, {"info", STS_LOG_INFO},
	    {"warn", STS_LOG_WARN}, {"warning", STS_LOG_WARN},
	    {"error", STS_LOG_ERROR},
	    {"fatal", STS_LOG_ERROR}, /* pmsr's name for its top level */
	    {"crit", STS_LOG_ERROR},  /* pmsr accepts it too */
	};

	if (name == NULL)
		return STS_EINVAL;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (ascii_eq_nocase(name, names[i].name)) {
			*ret_level = names[i].level;
			return STS_OK;
		}
	}
	return STS_EINVAL;
}

const char *
sts_log_level_name(int level)
{
	if (level < STS_LOG_DEBUG || level > STS_LOG_ERROR)
		return "?";
	return level_names[level];
}

/* Bytes that sts_log_escape() writes for c. */
static size_t
escaped_width(unsigned char c)
{
	if (c == '\\')
		return 2;
	if (c < 0x20 || c >= 0x7f || c == '\'')
		return 4;
	return 1;
}

static size_t
put_escaped(unsigned char c, char *out)
{
	static const char hex[] = "0123456789abcdef";

	if (c == '\\') {
		out[0] = '\\';
		out[1] = '\\';
		return 2;
	}
	if (c < 0x20 || c >= 0x7f || c == '\'') {
		out[0] = '\\';
		out[1] = 'x';
		out[2] = hex[c >> 4];
		out[3] = hex[c & 0xf];
		return 4;
	}
	out[0] = (char)c;
	return 1;
}

size_t
sts_log_escape(const char *in, size_t len, char *out, size_t outsz)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t total = 0, i, pos = 0, limit;
	bool fits = true;

	if (outsz == 0)
		return 0;
	if (in == NULL)
		len = 0;

	/* Does the whole text fit?  Stop counting as soon as it cannot. */
	for (i = 0; i < len; i++) {
		total += escaped_width(p[i]);
		if (total >= outsz) {
			fits = false;
			break;
		}
	}

	/* Room for text; when cutting, keep room for the mark. */
	limit = outsz - 1;
	if (!fits)
		limit = outsz - 1 >= sizeof(TRUNC_MARK) - 1
			    ? outsz - 1 - (sizeof(TRUNC_MARK) - 1)
			    : 0;
	for (i = 0; i < len; i++) {
		if (pos + escaped_width(p[i]) > limit)
			break;
		pos += put_escaped(p[i], out + pos);
	}
	if (!fits) {
		size_t mark = sizeof(TRUNC_MARK) - 1;

		if (mark > outsz - 1 - pos)
			mark = outsz - 1 - pos;
		memcpy(out + pos, TRUNC_MARK, mark);
		pos += mark;
	}
	out[pos] = '\0';
	return pos;
}

static void
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return; /* nowhere left to report it */
		}
		buf += n;
		len -= (size_t)n;
	}
}

/* Replace control bytes so that one message stays one line. */
static void
sanitize(char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			s[i] = '?';
	}
}

void
sts_vlog(int level, const char *fmt, va_list ap)
{
	char line[STS_LOG_LINE_MAX];
	size_t pre = 0, room, len;
	int saved_errno = errno;
	int n;

	level = clamp_level(level);
	if (level < logger.level)
		return;

	if (logger.target == STS_LOG_TARGET_SYSLOG) {
		/* syslog adds time, ident and pid itself. */
	} else if (logger.target == STS_LOG_TARGET_STDERR &&
		   (logger.journal < 0 ? (logger.journal = stderr_is_journal())
				       : logger.journal)) {
		n = snprintf(line, sizeof(line), "<%d>", level_syslog[level]);
		pre = n > 0 ? (size_t)n : 0;
	} else {
		struct tm tm;
		time_t now = time(NULL);
		char stamp[32];

		if (localtime_r(&now, &tm) == NULL ||
		    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm) ==
			0)
			snprintf(stamp, sizeof(stamp), "%lld", (long long)now);
		n = snprintf(line, sizeof(line), "%s %-8s %s[%ld]: ", stamp,
		    level_labels[level], logger.ident, (long)getpid());
		pre = n > 0 ? (size_t)n : 0;
	}
	if (pre >= sizeof(line))
		pre = sizeof(line) - 1;

	/* Keep one byte for '\n' and one for the NUL. */
	room = sizeof(line) - pre - 1;
	n = vsnprintf(line + pre, room, fmt, ap);
	if (n < 0) {
		n = snprintf(line + pre, room, "(log format error)");
		if (n < 0)
			n = 0;
	}
	len = (size_t)n;
	if (len >= room) {
		/* Cut: end the visible text with the mark. */
		len = room - 1;
		if (len >= sizeof(TRUNC_MARK) - 1)
			memcpy(line + pre + len - (sizeof(TRUNC_MARK) - 1),
			    TRUNC_MARK, sizeof(TRUNC_MARK) - 1);
	}
	sanitize(line + pre, len);

	if (logger.target == STS_LOG_TARGET_SYSLOG) {
		line[pre + len] = '\0';
		syslog(level_syslog[level], "%s", line + pre);
	} else {
		line[pre + len] = '\n';
		write_all(logger.target == STS_LOG_TARGET_FILE ? logger.fd
							       : STDERR_FILENO,
		    line, pre + len + 1);
	}
	errno = saved_errno;
}

void
sts_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sts_vlog(level, fmt, ap);
	va_end(ap);
}

static uint64_t
monotonic_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void
sts_log_ratelimited(
    struct sts_log_ratelimit *rl, int level, const char *fmt, ...)
{
	char msg[STS_LOG_LINE_MAX];
	uint64_t now;
	va_list ap;

	if (!sts_log_enabled(level))
		return;
	now = monotonic_ms();
	if (rl->started && now - rl->last_ms < rl->interval_ms) {
		rl->suppressed++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (rl->suppressed > 0)
		sts_log(level, "%s (%lu similar messages suppressed)", msg,
		    rl->suppressed);
	else
		sts_log(level, "%s", msg);
	rl->started = true;
	rl->last_ms = now;
	rl->suppressed = 0;
}

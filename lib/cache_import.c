/*
 * cache_import.c - warm start from postfix-mta-sts-resolver's cache.
 *
 * pmsr (sqlite_cache.py) keeps
 *   sts_policy_cache(domain TEXT UNIQUE, ts INTEGER, pol_id TEXT,
 *                    pol_body TEXT)
 * where ts is the unix time of the last fetch or TXT check (pmsr
 * rewrites ts when the id is re-confirmed), pol_id the TXT id and
 * pol_body the JSON of its parsed policy, e.g.
 *   {"mx": ["mail.example.com"], "version": "STSv1",
 *    "mode": "enforce", "max_age": 86400}
 * (pmsr keeps unknown policy keys as strings; we drop them).
 *
 * We store raw bodies, so each row gets a canonical body rendered from
 * the JSON, which sts_policy_parse() reads back to the same policy:
 *   "version: STSv1\r\nmode: <mode>\r\nmx: <mx>\r\n...max_age: <n>\r\n"
 * Rows whose domain, ts, id or JSON do not describe a valid policy are
 * skipped as malformed; rows with ts + max_age <= now as expired.
 */
#include <errno.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cache_int.h"
#include "diag.h"
#include "mtasts/domain.h"

struct body {
	char *p;
	size_t len;
};

static bool
append(struct body *b, const char *s)
{
	size_t n = strlen(s);

	if (n > STS_POLICY_MAX_BYTES - b->len)
		return false;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return true;
}

static bool
append_line(struct body *b, const char *key, const char *value)
{
	return append(b, key) && append(b, ": ") && append(b, value) &&
	       append(b, "\r\n");
}

/* max_age as pmsr stored it: an integer (or, leniently, digits). */
static bool
json_max_age(const json_t *v, uint32_t *ret)
{
	json_int_t n;

	if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t len = strlen(s);

		if (len == 0 || len > STS_MAX_AGE_DIGITS)
			return false;
		n = 0;
		for (size_t i = 0; i < len; i++) {
			if (!sts_is_digit((unsigned char)s[i]))
				return false;
			n = n * 10 + (s[i] - '0');
		}
	} else {
		return false;
	}
	if (n < 0 || n > (json_int_t)STS_MAX_AGE_MAX)
		return false;
	*ret = (uint32_t)n;
	return true;
}

/* Render the canonical body of the policy JSON text into b. */
static bool
render(const char *json, size_t len, struct body *b, uint32_t *ret_max_age)
{
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	const json_t *mx;
	const char *version, *mode;
	char age[16];
	uint32_t max_age;
	bool ok = false;
	size_t i;
	json_t *v;

	b->len = 0;
	if (!json_is_object(root))
		goto out;
	version = json_string_value(json_object_get(root, "version"));
	mode = json_string_value(json_object_get(root, "mode"));
	mx = json_object_get(root, "mx");
	if (version == NULL || strcmp(version, "STSv1") != 0 || mode == NULL ||
	    (strcmp(mode, "enforce") != 0 && strcmp(mode, "testing") != 0 &&
		strcmp(mode, "none") != 0))
		goto out;
	if (!json_max_age(json_object_get(root, "max_age"), &max_age))
		goto out;
	if (mx != NULL && !json_is_array(mx))
		goto out;
	if (json_array_size(mx) == 0 && strcmp(mode, "none") != 0)
		goto out; /* RFC 8461 §3.2: enforce and testing need mx */
	if (!append_line(b, "version", "STSv1") ||
	    !append_line(b, "mode", mode))
		goto out;
	json_array_foreach(mx, i, v)
	{
		char host[STS_DOMAIN_MAX + 1];
		const char *s = json_string_value(v);

		if (s == NULL ||
		    sts_domain_normalize(s, json_string_length(v),
			STS_DOMAIN_WILDCARD, host, NULL) != STS_OK ||
		    !append_line(b, "mx", host))
			goto out;
	}
	snprintf(age, sizeof(age), "%u", (unsigned)max_age);
	if (!append_line(b, "max_age", age))
		goto out;
	*ret_max_age = max_age;
	ok = true;
out:
	json_decref(root);
	return ok;
}

/* One pmsr row into e (body in b); false if malformed. */
static bool
row_entry(sqlite3_stmt *st, struct body *b, struct sts_cache_entry *e,
    uint32_t *ret_max_age)
{
	const char *text;
	int n;

	memset(e, 0, sizeof(*e));
	/* domain: pmsr folds case and strips the trailing dot. */
	if (sqlite3_column_type(st, 0) != SQLITE_TEXT)
		return false;
	text = (const char *)sqlite3_column_text(st, 0);
	n = sqlite3_column_bytes(st, 0);
	if (text == NULL || n <= 0 ||
	    sts_domain_normalize(text, (size_t)n, STS_DOMAIN_TRAILING_DOT,
		e->domain, NULL) != STS_OK)
		return false;
	/* ts: int(time.time()); a REAL from older writers is truncated. */
	if (sqlite3_column_type(st, 1) == SQLITE_INTEGER) {
		e->fetched_at = sqlite3_column_int64(st, 1);
	} else if (sqlite3_column_type(st, 1) == SQLITE_FLOAT) {
		double d = sqlite3_column_double(st, 1);

		if (!(d >= 0 && d < 9e15))
			return false;
		e->fetched_at = (int64_t)d;
	} else {
		return false;
	}
	if (e->fetched_at < 0 || e->fetched_at > INT64_MAX - STS_MAX_AGE_MAX)
		return false;
	if (sqlite3_column_type(st, 2) != SQLITE_TEXT)
		return false;
	text = (const char *)sqlite3_column_text(st, 2);
	n = sqlite3_column_bytes(st, 2);
	if (text == NULL || !sts_cache_id_ok(text, (size_t)n))
		return false;
	memcpy(e->id, text, (size_t)n);
	e->id[n] = '\0';
	if (sqlite3_column_type(st, 3) != SQLITE_TEXT)
		return false;
	text = (const char *)sqlite3_column_text(st, 3);
	n = sqlite3_column_bytes(st, 3);
	if (text == NULL || n < 0 || !render(text, (size_t)n, b, ret_max_age))
		return false;
	e->body = b->p;
	e->body_len = b->len;
	e->checked_at = e->used_at = e->fetched_at;
	e->expires_at = e->fetched_at + *ret_max_age;
	return true;
}

static bool
has_pmsr_table(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	bool yes = false;

	if (sqlite3_prepare_v2(db,
		"SELECT count(*) FROM sqlite_master WHERE type = 'table'"
		" AND name = 'sts_policy_cache'",
		-1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		yes = sqlite3_column_int(st, 0) > 0;
	sqlite3_finalize(st);
	return yes;
}

int
sts_cache_import_pmsr(struct sts_cache *c, const char *path, int64_t now,
    struct sts_cache_import_stats *ret_stats, struct sts_diag *reterr_diag)
{
	struct sts_cache_import_stats is;
	struct body b = {0};
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	bool in_tx = false;
	struct stat sb;
	int r, s;

	memset(&is, 0, sizeof(is));
	if (path == NULL || c->read_only || c->iterating)
		return STS_EINVAL;
	if (stat(path, &sb) != 0) {
		sts_diag_set(
		    reterr_diag, 0, "%.200s: %s", path, strerror(errno));
		return errno == ENOENT ? STS_ENOTFOUND : STS_EIO;
	}
	if ((b.p = malloc(STS_POLICY_MAX_BYTES)) == NULL)
		return STS_ENOMEM;
	if (sqlite3_open_v2(path, &db,
		SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
		NULL) != SQLITE_OK) {
		r = db != NULL ? STS_EIO : STS_ENOMEM;
		goto fail;
	}
	sqlite3_busy_timeout(db, (int)c->timeout_ms);
	if (!has_pmsr_table(db)) {
		/* Either not a database at all, or no pmsr table. */
		r = sqlite3_errcode(db) == SQLITE_OK ? STS_ENOTFOUND : STS_EIO;
		if (r == STS_ENOTFOUND) {
			sts_diag_set(reterr_diag, 0,
			    "%.200s: no sts_policy_cache table", path);
			goto out;
		}
		goto fail;
	}
	if (sqlite3_prepare_v2(db,
		"SELECT domain, ts, pol_id, pol_body FROM sts_policy_cache", -1,
		&st, NULL) != SQLITE_OK) {
		r = STS_EIO;
		goto fail;
	}
	/* One transaction for the lot: one WAL commit, not thousands. */
	if (c->sql != NULL && sts_cache_sqlite_begin(c->sql) == STS_OK)
		in_tx = true;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		struct sts_cache_entry e, have;
		uint32_t max_age = 0;

		is.rows++;
		if (!row_entry(st, &b, &e, &max_age)) {
			is.malformed++;
			continue;
		}
		if (e.expires_at <= now) {
			is.expired++;
			continue;
		}
		if (sts_cache_peek_stale(c, e.domain, &have) == STS_OK &&
		    have.checked_at >= e.checked_at) {
			is.kept++;
			continue;
		}
		if (sts_cache_put(c, &e) == STS_OK)
			is.imported++;
		else
			is.failed++;
	}
	if (s != SQLITE_DONE) {
		r = STS_EIO;
		goto fail;
	}
	r = STS_OK;
	goto out;
fail:
	sts_diag_set(reterr_diag, 0, "%.200s: %.200s", path,
	    db != NULL ? sqlite3_errmsg(db) : "out of memory");
out:
	if (in_tx && sts_cache_sqlite_commit(c->sql) != STS_OK) {
		sts_cache_sqlite_rollback(c->sql);
		if (r == STS_OK) {
			sts_diag_set(
			    reterr_diag, 0, "writing the imported rows failed");
			r = STS_EIO;
		}
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(b.p);
	if (r == STS_OK && ret_stats != NULL)
		*ret_stats = is;
	return r;
}

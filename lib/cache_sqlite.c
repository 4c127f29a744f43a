/*
 * cache_sqlite.c - the SQLite store of the policy cache.
 *
 * Schema (version 1; table names chosen not to collide with pmsr's
 * sts_policy_cache, so both can live in /var/lib/mta-sts/cache.db):
 *
 *   CREATE TABLE mtasts_schema_version (version INTEGER NOT NULL);
 *   CREATE TABLE mtasts_policy (
 *       domain     TEXT PRIMARY KEY NOT NULL,  -- lower-case A-label
 *       policy_id  TEXT NOT NULL,              -- TXT id, 1*32 alnum
 *       body       BLOB NOT NULL,              -- raw policy body
 *       fetched_at INTEGER NOT NULL,           -- unix seconds
 *       expires_at INTEGER NOT NULL,
 *       checked_at INTEGER NOT NULL,
 *       used_at    INTEGER NOT NULL DEFAULT 0);
 *
 * The file is created with mode 0600 (SQLite gives the -wal and -shm
 * files the same mode).  journal_mode=WAL and synchronous=NORMAL: each
 * write is one autocommit statement appended to the WAL, atomic across
 * a crash of the process (kill -9); only a power loss may drop the last
 * commits.  busy_timeout bounds the wait for a lock held by another
 * process (the CLI).  At open, expired rows are deleted and every other
 * row is loaded into memory, most recently used first, up to
 * max_entries; a row whose columns have the wrong type or fail
 * sts_cache_check() is skipped and counted (corrupt_skipped), never
 * fatal, and left in the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache_int.h"
#include "diag.h"

#define SCHEMA_VERSION 1

/* SQLite's page cache for our connection (its default is 2000 KiB). */
#define STS_CACHE_SQLITE_PAGE_CACHE_KIB "256"

static const char schema_sql[] =
    "CREATE TABLE mtasts_policy ("
    " domain TEXT PRIMARY KEY NOT NULL,"
    " policy_id TEXT NOT NULL,"
    " body BLOB NOT NULL,"
    " fetched_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " checked_at INTEGER NOT NULL,"
    " used_at INTEGER NOT NULL DEFAULT 0);"
    "INSERT INTO mtasts_schema_version (version) VALUES (1);";

enum stmt {
	ST_PUT,
	ST_TOUCH,
	ST_DEL,
	ST_CLEAR,
	ST_PRUNE,
	ST_USED,
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_PUT] = ("INSERT INTO mtasts_policy (domain, policy_id, body,"
	       " fetched_at, expires_at, checked_at, used_at)"
	       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
	       " ON CONFLICT (domain) DO UPDATE SET"
	       " policy_id = excluded.policy_id, body = excluded.body,"
	       " fetched_at = excluded.fetched_at,"
	       " expires_at = excluded.expires_at,"
	       " checked_at = excluded.checked_at,"
	       " used_at = excluded.used_at"),
    [ST_TOUCH] = ("UPDATE mtasts_policy SET checked_at = ?2,"
		 " expires_at = ?3 WHERE domain = ?1"),
    [ST_DEL] = "DELETE FROM mtasts_policy WHERE domain = ?1",
    [ST_CLEAR] = "DELETE FROM mtasts_policy",
    [ST_PRUNE] = "DELETE FROM mtasts_policy WHERE expires_at <= ?1",
    [ST_USED] = "UPDATE mtasts_policy SET used_at = ?2 WHERE domain = ?1",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
};

struct sts_cache_sqlite {
	struct sts_cache *c;
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
};

void
sts_cache_sqlite_close(struct sts_cache_sqlite *sql)
{
	if (sql == NULL)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(sql->st[i]);
	sqlite3_close(sql->db);
	free(sql);
}

/* Run one statement that returns no rows we need. */
static int
exec_sql(sqlite3 *db, const char *text, struct sts_diag *diag)
{
	char *err = NULL;

	if (sqlite3_exec(db, text, NULL, NULL, &err) != SQLITE_OK) {
		sts_diag_set(diag, 0, "sqlite: %.200s",
		    err != NULL ? err : sqlite3_errmsg(db));
		sqlite3_free(err);
		return STS_EIO;
	}
	return STS_OK;
}

/*
 * The version recorded in the file: 0 when there is no version table
 * (a new file, or one that holds only pmsr's tables).
 */
static int
schema_version(sqlite3 *db, int *ret_version, struct sts_diag *diag)
{
	sqlite3_stmt *st = NULL;
	int r = STS_EIO, s, version = 0;

	s = sqlite3_prepare_v2(db,
	    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND"
	    " name = 'mtasts_schema_version'",
	    -1, &st, NULL);
	if (s != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
		goto fail;
	if (sqlite3_column_int(st, 0) == 0)
		goto done;
	sqlite3_finalize(st);
	st = NULL;
	s = sqlite3_prepare_v2(db,
	    "SELECT max(version) FROM mtasts_schema_version", -1, &st, NULL);
	if (s != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
		goto fail;
	version = sqlite3_column_int(st, 0);
done:
	*ret_version = version;
	r = STS_OK;
	goto out;
fail:
	sts_diag_set(diag, 0, "sqlite: %.200s", sqlite3_errmsg(db));
out:
	sqlite3_finalize(st);
	return r;
}

/* Create the tables of a new file, or check an existing one's version. */
static int
setup_schema(
    sqlite3 *db, bool read_only, bool *ret_has_table, struct sts_diag *diag)
{
	int r, version = 0;

	if (!read_only) {
		r = exec_sql(db,
		    "BEGIN IMMEDIATE;"
		    "CREATE TABLE IF NOT EXISTS mtasts_schema_version"
		    " (version INTEGER NOT NULL);",
		    diag);
		if (r != STS_OK)
			return r;
	}
	if ((r = schema_version(db, &version, diag)) != STS_OK)
		goto fail;
	if (version > SCHEMA_VERSION) {
		sts_diag_set(diag, 0,
		    "cache schema version %d is newer than this program's (%d)",
		    version, SCHEMA_VERSION);
		r = STS_EIO;
		goto fail;
	}
	if (!read_only && version == 0 &&
	    (r = exec_sql(db, schema_sql, diag)) != STS_OK)
		goto fail;
	if (!read_only && (r = exec_sql(db, "COMMIT", diag)) != STS_OK)
		goto fail;
	*ret_has_table = read_only ? version > 0 : true;
	return STS_OK;
fail:
	if (!read_only)
		(void)exec_sql(db, "ROLLBACK", NULL);
	return r;
}

/* Column i as a time: only INTEGER is accepted. */
static bool
col_time(sqlite3_stmt *st, int i, int64_t *ret)
{
	if (sqlite3_column_type(st, i) != SQLITE_INTEGER)
		return false;
	*ret = sqlite3_column_int64(st, i);
	return true;
}

/* Column i as TEXT copied into out[outsz]. */
static bool
col_text(sqlite3_stmt *st, int i, char *out, size_t outsz)
{
	const unsigned char *t;
	int n;

	if (sqlite3_column_type(st, i) != SQLITE_TEXT)
		return false;
	t = sqlite3_column_text(st, i);
	n = sqlite3_column_bytes(st, i);
	if (t == NULL || n < 0 || (size_t)n >= outsz)
		return false;
	memcpy(out, t, (size_t)n);
	out[n] = '\0';
	return strlen(out) == (size_t)n; /* no NUL inside */
}

static int
load_rows(struct sts_cache_sqlite *sql, bool read_only, int64_t now,
    struct sts_diag *diag)
{
	struct sts_cache *c = sql->c;
	sqlite3_stmt *st = NULL;
	int r = STS_OK, s;

	s = sqlite3_prepare_v2(sql->db,
	    "SELECT domain, policy_id, body, fetched_at, expires_at,"
	    " checked_at, used_at FROM mtasts_policy"
	    " WHERE ?1 OR expires_at > ?2"
	    " ORDER BY used_at DESC, checked_at DESC",
	    -1, &st, NULL);
	if (s != SQLITE_OK)
		goto fail;
	sqlite3_bind_int(st, 1, read_only);
	sqlite3_bind_int64(st, 2, now);
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		struct sts_cache_entry e;
		int type = sqlite3_column_type(st, 2);
		int n;

		memset(&e, 0, sizeof(e));
		if (!col_text(st, 0, e.domain, sizeof(e.domain)) ||
		    !col_text(st, 1, e.id, sizeof(e.id)) ||
		    (type != SQLITE_BLOB && type != SQLITE_TEXT) ||
		    !col_time(st, 3, &e.fetched_at) ||
		    !col_time(st, 4, &e.expires_at) ||
		    !col_time(st, 5, &e.checked_at) ||
		    !col_time(st, 6, &e.used_at)) {
			c->st.corrupt_skipped++;
			continue;
		}
		e.body = sqlite3_column_blob(st, 2);
		n = sqlite3_column_bytes(st, 2);
		e.body_len = n > 0 ? (size_t)n : 0;
		if (e.body == NULL)
			e.body = "";
		r = sts_cache_load(c, &e, true);
		if (r == STS_EINVAL) {
			c->st.corrupt_skipped++;
			r = STS_OK;
		} else if (r == STS_ETOOBIG) {
			r = STS_OK; /* memory is full: the rest stays on disk */
			break;
		} else if (r != STS_OK) {
			goto out;
		}
	}
	if (s != SQLITE_ROW && s != SQLITE_DONE)
		goto fail;
	goto out;
fail:
	sts_diag_set(
	    diag, 0, "sqlite: loading rows: %.200s", sqlite3_errmsg(sql->db));
	r = STS_EIO;
out:
	sqlite3_finalize(st);
	return r;
}

int
sts_cache_sqlite_open(struct sts_cache *c, const struct sts_cache_config *cfg,
    struct sts_cache_sqlite **ret_sql, struct sts_diag *reterr_diag)
{
	struct sts_cache_sqlite *sql = NULL;
	int64_t now = cfg->now ? cfg->now : (int64_t)time(NULL);
	bool has_table = false;
	int r, flags;

	if (cfg->filename == NULL || cfg->filename[0] == '\0') {
		sts_diag_set(reterr_diag, 0, "a sqlite cache needs a filename");
		return STS_EINVAL;
	}
	if (cfg->read_only) {
		struct stat sb;

		if (stat(cfg->filename, &sb) != 0) {
			sts_diag_set(reterr_diag, 0, "%.200s: %s",
			    cfg->filename, strerror(errno));
			return errno == ENOENT ? STS_ENOTFOUND : STS_EIO;
		}
	} else {
		/* Create it ourselves, to choose the mode. */
		int fd = open(cfg->filename,
		    O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);

		if (fd < 0) {
			sts_diag_set(reterr_diag, 0, "%.200s: %s",
			    cfg->filename, strerror(errno));
			return STS_EIO;
		}
		close(fd);
	}
	sql = calloc(1, sizeof(*sql));
	if (sql == NULL)
		return STS_ENOMEM;
	sql->c = c;
	flags =
	    (cfg->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
	    SQLITE_OPEN_NOMUTEX;
	if (sqlite3_open_v2(cfg->filename, &sql->db, flags, NULL) !=
	    SQLITE_OK) {
		sts_diag_set(reterr_diag, 0, "%.200s: %.200s", cfg->filename,
		    sql->db ? sqlite3_errmsg(sql->db) : "out of memory");
		r = sql->db ? STS_EIO : STS_ENOMEM;
		goto out;
	}
	sqlite3_extended_result_codes(sql->db, 1);
	sqlite3_busy_timeout(sql->db, (int)c->timeout_ms);
	if (!cfg->read_only) {
		sqlite3_stmt *st = NULL;
		bool wal = false;

		/* The first read of the file: a non-database fails here. */
		if (sqlite3_prepare_v2(sql->db, "PRAGMA journal_mode=WAL", -1,
			&st, NULL) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_ROW) {
			const unsigned char *mode = sqlite3_column_text(st, 0);

			wal = mode != NULL &&
			      strcmp((const char *)mode, "wal") == 0;
		}
		sqlite3_finalize(st);
		if (!wal) {
			sts_diag_set(reterr_diag, 0,
			    "%.200s: cannot use WAL mode: %.200s",
			    cfg->filename, sqlite3_errmsg(sql->db));
			r = STS_EIO;
			goto out;
		}
		r = exec_sql(sql->db, "PRAGMA synchronous=NORMAL", reterr_diag);
		if (r != STS_OK)
			goto out;
	}
	/*
	 * Rows are read once, at open, and then only written: a small page
	 * cache keeps SQLite's share of the daemon's memory small.
	 */
	r = exec_sql(sql->db,
	    "PRAGMA cache_size=-" STS_CACHE_SQLITE_PAGE_CACHE_KIB, reterr_diag);
	if (r != STS_OK)
		goto out;
	r = setup_schema(sql->db, cfg->read_only, &has_table, reterr_diag);
	if (r != STS_OK)
		goto out;
	if (!cfg->read_only) {
		for (int i = 0; i < ST_COUNT; i++) {
			if (sqlite3_prepare_v3(sql->db, stmt_sql[i], -1,
				SQLITE_PREPARE_PERSISTENT, &sql->st[i],
				NULL) != SQLITE_OK) {
				sts_diag_set(reterr_diag, 0, "sqlite: %.200s",
				    sqlite3_errmsg(sql->db));
				r = STS_EIO;
				goto out;
			}
		}
		if (sts_cache_sqlite_prune(sql, now) != STS_OK) {
			sts_diag_set(reterr_diag, 0,
			    "sqlite: deleting expired rows: %.200s",
			    sqlite3_errmsg(sql->db));
			r = STS_EIO;
			goto out;
		}
	}
	if (has_table)
		r = load_rows(sql, cfg->read_only, now, reterr_diag);
out:
	if (r != STS_OK) {
		sts_cache_sqlite_close(sql);
		return r;
	}
	*ret_sql = sql;
	return STS_OK;
}

/* Step a write statement to completion and reset it. */
static int
run(struct sts_cache_sqlite *sql, sqlite3_stmt *st)
{
	int s = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (s != SQLITE_DONE && s != SQLITE_ROW) {
		sql->c->st.store_errors++;
		return STS_EIO;
	}
	return STS_OK;
}

int
sts_cache_sqlite_put(
    struct sts_cache_sqlite *sql, const struct sts_cache_entry *e)
{
	sqlite3_stmt *st = sql->st[ST_PUT];

	sqlite3_bind_text(st, 1, e->domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, e->id, -1, SQLITE_STATIC);
	sqlite3_bind_blob(
	    st, 3, e->body_len ? e->body : "", (int)e->body_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, e->fetched_at);
	sqlite3_bind_int64(st, 5, e->expires_at);
	sqlite3_bind_int64(st, 6, e->checked_at);
	sqlite3_bind_int64(st, 7, e->used_at);
	return run(sql, st);
}

int
sts_cache_sqlite_touch(struct sts_cache_sqlite *sql, const char *domain,
    int64_t checked_at, int64_t expires_at)
{
	sqlite3_stmt *st = sql->st[ST_TOUCH];

	sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, checked_at);
	sqlite3_bind_int64(st, 3, expires_at);
	return run(sql, st);
}

int
sts_cache_sqlite_del(struct sts_cache_sqlite *sql, const char *domain)
{
	sqlite3_stmt *st = sql->st[ST_DEL];
	int r;

	sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
	if ((r = run(sql, st)) != STS_OK)
		return r;
	return sqlite3_changes(sql->db) > 0 ? STS_OK : STS_ENOTFOUND;
}

int
sts_cache_sqlite_clear(struct sts_cache_sqlite *sql)
{
	return run(sql, sql->st[ST_CLEAR]);
}

int
sts_cache_sqlite_prune(struct sts_cache_sqlite *sql, int64_t now)
{
	sqlite3_bind_int64(sql->st[ST_PRUNE], 1, now);
	return run(sql, sql->st[ST_PRUNE]);
}

int
sts_cache_sqlite_set_used(
    struct sts_cache_sqlite *sql, const char *domain, int64_t used_at)
{
	sqlite3_stmt *st = sql->st[ST_USED];

	sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, used_at);
	return run(sql, st);
}

int
sts_cache_sqlite_begin(struct sts_cache_sqlite *sql)
{
	return run(sql, sql->st[ST_BEGIN]);
}

int
sts_cache_sqlite_commit(struct sts_cache_sqlite *sql)
{
	return run(sql, sql->st[ST_COMMIT]);
}

void
sts_cache_sqlite_rollback(struct sts_cache_sqlite *sql)
{
	(void)run(sql, sql->st[ST_ROLLBACK]);
}

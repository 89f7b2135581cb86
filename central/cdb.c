/* cdb.c: see cdb.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdb.h"
#include "err.h"
#include "log.h"

struct cdb {
	PGconn *pg;
	int broken;
};

static void
set_err(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, fmt, a, b);
}

/* The message without libpq's trailing newline. */
static void
trim(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = 0;
}

int
cdb_error(struct cdb *db, const PGresult *res, char *err, size_t errlen)
{
	const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	char msg[512];

	snprintf(msg, sizeof(msg), "%s",
		 res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(db->pg));
	trim(msg);
	if (msg[0] == 0)
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(db->pg));
	trim(msg);
	set_err(err, errlen, "%s: %s", state != NULL ? state : "connection", msg);
	if (PQstatus(db->pg) != CONNECTION_OK) {
		db->broken = 1;
		return TOLL_EAGAIN;
	}
	if (state == NULL) {
		/* no SQLSTATE: the server never answered */
		db->broken = 1;
		return TOLL_EAGAIN;
	}
	/* class 08 connection exception, 57P01-57P03 shutdown / cannot connect
	 * now, 53300 too many connections, 40001 serialization, 40P01
	 * deadlock, 55P03 lock not available */
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P0", 4) == 0) {
		db->broken = 1;
		return TOLL_EAGAIN;
	}
	if (strcmp(state, "53300") == 0 || strcmp(state, "40001") == 0 ||
	    strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0 ||
	    strcmp(state, "53100") == 0 || strcmp(state, "53200") == 0)
		return TOLL_EAGAIN;
	if (strcmp(state, "23505") == 0)
		return TOLL_EEXIST; /* unique violation */
	return TOLL_EDB;
}

int
cdb_connect(const char *conninfo, const char *role, struct cdb **out, char *err, size_t errlen)
{
	struct cdb *db = calloc(1, sizeof(*db));
	int rc;

	*out = NULL;
	if (db == NULL)
		return TOLL_ENOMEM;
	db->pg = PQconnectdb(conninfo);
	if (db->pg == NULL) {
		free(db);
		return TOLL_ENOMEM;
	}
	if (PQstatus(db->pg) != CONNECTION_OK) {
		char msg[512];
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(db->pg));
		trim(msg);
		set_err(err, errlen, "could not connect: %s%s", msg, "");
		cdb_close(db);
		return TOLL_EAGAIN;
	}
	rc = cdb_exec(db, "SET synchronous_commit = on", err, errlen);
	if (rc == 0)
		rc = cdb_exec(db, "SET client_min_messages = warning", err, errlen);
	if (rc == 0 && role != NULL && role[0] != 0) {
		char *q = PQescapeIdentifier(db->pg, role, strlen(role));
		char sql[200];
		if (q == NULL) {
			cdb_close(db);
			return TOLL_ENOMEM;
		}
		snprintf(sql, sizeof(sql), "SET ROLE %s", q);
		PQfreemem(q);
		rc = cdb_exec(db, sql, err, errlen);
	}
	if (rc != 0) {
		cdb_close(db);
		return rc;
	}
	*out = db;
	return 0;
}

void
cdb_close(struct cdb *db)
{
	if (db == NULL)
		return;
	PQfinish(db->pg);
	free(db);
}

PGconn *
cdb_pg(struct cdb *db)
{
	return db->pg;
}

int
cdb_broken(const struct cdb *db)
{
	return db->broken || PQstatus(db->pg) != CONNECTION_OK;
}

int
cdb_query(struct cdb *db, const char *sql, int nparams, const char *const *params, PGresult **out,
	  char *err, size_t errlen)
{
	PGresult *res;
	int rc = 0;

	if (out != NULL)
		*out = NULL;
	res = nparams > 0 ? PQexecParams(db->pg, sql, nparams, NULL, params, NULL, NULL, 0)
			  : PQexec(db->pg, sql);
	if (res == NULL)
		return cdb_error(db, NULL, err, errlen);
	switch (PQresultStatus(res)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
		break;
	default:
		rc = cdb_error(db, res, err, errlen);
		break;
	}
	if (rc == 0 && out != NULL)
		*out = res;
	else
		PQclear(res);
	return rc;
}

int
cdb_exec(struct cdb *db, const char *sql, char *err, size_t errlen)
{
	return cdb_query(db, sql, 0, NULL, NULL, err, errlen);
}

int
cdb_copy_in(struct cdb *db, const char *copy_sql, const char *data, size_t len, char *err,
	    size_t errlen)
{
	PGresult *res = PQexec(db->pg, copy_sql);
	int rc;

	if (res == NULL)
		return cdb_error(db, NULL, err, errlen);
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		rc = cdb_error(db, res, err, errlen);
		PQclear(res);
		return rc != 0 ? rc : TOLL_EDB;
	}
	PQclear(res);
	/* in pieces: PQputCopyData takes an int length */
	size_t off = 0;
	while (off < len) {
		size_t n = len - off > (1u << 20) ? (1u << 20) : len - off;
		if (PQputCopyData(db->pg, data + off, (int)n) != 1) {
			PQputCopyEnd(db->pg, "client failed");
			return cdb_error(db, NULL, err, errlen);
		}
		off += n;
	}
	if (PQputCopyEnd(db->pg, NULL) != 1)
		return cdb_error(db, NULL, err, errlen);
	rc = 0;
	while ((res = PQgetResult(db->pg)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == 0)
			rc = cdb_error(db, res, err, errlen);
		PQclear(res);
	}
	return rc;
}

int
cdb_copy_out(struct cdb *db, const char *copy_sql, FILE *out, char *err, size_t errlen)
{
	PGresult *res = PQexec(db->pg, copy_sql);
	int rc, n, write_failed = 0;
	char *buf;

	if (res == NULL)
		return cdb_error(db, NULL, err, errlen);
	if (PQresultStatus(res) != PGRES_COPY_OUT) {
		rc = cdb_error(db, res, err, errlen);
		PQclear(res);
		return rc != 0 ? rc : TOLL_EDB;
	}
	PQclear(res);
	while ((n = PQgetCopyData(db->pg, &buf, 0)) > 0) {
		if (!write_failed && fwrite(buf, 1, (size_t)n, out) != (size_t)n)
			write_failed = 1;
		PQfreemem(buf);
	}
	if (n == -2)
		return cdb_error(db, NULL, err, errlen);
	rc = 0;
	while ((res = PQgetResult(db->pg)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == 0)
			rc = cdb_error(db, res, err, errlen);
		PQclear(res);
	}
	if (rc == 0 && write_failed) {
		set_err(err, errlen, "%s%s", "could not write the data", "");
		return TOLL_ESYS;
	}
	return rc;
}

void
cdb_bytea_hex(const unsigned char *b, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	*out++ = '\\';
	*out++ = 'x';
	for (size_t i = 0; i < n; i++) {
		*out++ = hex[b[i] >> 4];
		*out++ = hex[b[i] & 15];
	}
	*out = 0;
}

static int
nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
cdb_bytea_parse(const char *text, unsigned char *out, size_t n)
{
	if (text == NULL || text[0] != '\\' || text[1] != 'x' || strlen(text + 2) != 2 * n)
		return TOLL_EFORMAT;
	for (size_t i = 0; i < n; i++) {
		int hi = nibble(text[2 + 2 * i]), lo = nibble(text[3 + 2 * i]);
		if (hi < 0 || lo < 0)
			return TOLL_EFORMAT;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int
cdb_try_lock(struct cdb *db, long long key, const char *what, char *err, size_t errlen)
{
	PGresult *res;
	char k[24];
	const char *p[1] = {k};
	snprintf(k, sizeof(k), "%lld", key);
	int rc = cdb_query(db, "SELECT pg_try_advisory_lock($1::bigint)", 1, p, &res, err, errlen);
	if (rc != 0)
		return rc;
	int got = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!got) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "another toll-central is the %s of this database (it holds the lock):"
					      " standing by", what);
		return TOLL_EBUSY;
	}
	return 0;
}

int64_t
cdb_int(const PGresult *res, int row, int col)
{
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

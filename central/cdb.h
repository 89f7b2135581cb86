/* cdb.h: central's PostgreSQL connection (libpq), and the one place where
 * libpq's results and SQLSTATEs become TOLL_E* codes.
 *
 * A connection is opened with a conninfo string ("host=... dbname=...",
 * or a postgresql:// URI), then SET ROLE to the application role when one
 * is given (so the grants of central/sql apply whoever logs in), with
 * synchronous_commit on: a COMMIT that returns is durable.
 *
 * Errors: TOLL_EAGAIN for what a retry can cure (the connection broke,
 * the server is shutting down or starting, too many connections,
 * serialization failure, deadlock, lock timeout), TOLL_EEXIST for a unique
 * violation, TOLL_EDB for the rest (another constraint, a syntax error, a
 * permission: a retry will not help).
 * The message goes to err as "SQLSTATE: text". */
#ifndef CENTRAL_CDB_H
#define CENTRAL_CDB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

struct cdb;

int cdb_connect(const char *conninfo, const char *role, struct cdb **out, char *err, size_t errlen);
void cdb_close(struct cdb *db);
PGconn *cdb_pg(struct cdb *db);
/* The connection is unusable (broken, or a failure left it in doubt). */
int cdb_broken(const struct cdb *db);

/* A statement without parameters (BEGIN, COMMIT, SET ...). */
int cdb_exec(struct cdb *db, const char *sql, char *err, size_t errlen);
/* A statement with text parameters (NULL: SQL NULL); *out (may be NULL)
 * gets the result for the caller to PQclear. */
int cdb_query(struct cdb *db, const char *sql, int nparams, const char *const *params,
	      PGresult **out, char *err, size_t errlen);
/* COPY ... FROM STDIN: data (len bytes) in the format the statement
 * names (text rows ending in '\n', or binary with its header and
 * trailer). */
int cdb_copy_in(struct cdb *db, const char *copy_sql, const char *data, size_t len, char *err,
		size_t errlen);
/* COPY ... TO STDOUT: each piece of data, as the server sends it, written
 * to out (an export of any size, never held whole).  TOLL_ESYS when out
 * fails (the copy is then read to its end and dropped). */
int cdb_copy_out(struct cdb *db, const char *copy_sql, FILE *out, char *err, size_t errlen);
/* A result's integer field (0 for NULL or text that is no number). */
int64_t cdb_int(const PGresult *res, int row, int col);
/* The TOLL_E* code for a result (NULL: a connection failure). */
int cdb_error(struct cdb *db, const PGresult *res, char *err, size_t errlen);

/* One settler (one list publisher) per database: a session advisory lock,
 * held while the connection lives (a crashed central's lock goes with its
 * session).  TOLL_EBUSY if another session holds it; `what` names the
 * role in the message. */
#define CDB_LOCK_SETTLER 8390043842688279918LL /* "toll-cen" */
#define CDB_LOCK_LIST 8390043842688281460LL    /* the next-but-one */
#define CDB_LOCK_TRIPS 8390043842688281461LL   /* the closed-road trip matcher */
#define CDB_LOCK_NOTIFY 8390043842688281462LL  /* the drivers' notification sender */
int cdb_try_lock(struct cdb *db, long long key, const char *what, char *err, size_t errlen);

/* Text helpers for statements: bytes as a bytea literal "\x..." (out needs
 * 2 * n + 3 bytes), and the reverse (TOLL_EFORMAT unless exactly n bytes). */
void cdb_bytea_hex(const unsigned char *b, size_t n, char *out);
int cdb_bytea_parse(const char *text, unsigned char *out, size_t n);

#endif

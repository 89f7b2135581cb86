/* itest_pg.h: what the integration tests that use a throwaway PostgreSQL
 * (scripts/pg-embedded) share: its connection variables into the
 * environment, and statements whose failure is printed. */
#ifndef ITEST_PG_H
#define ITEST_PG_H

#include <stdint.h>

#include <libpq-fe.h>

/* The variables pg-embedded wrote to PGDIR/env into the environment (and
 * DATABASE_URL out of it): PQconnectdb("") then reaches that server.  0 or
 * -1 when the file cannot be read. */
int itest_pg_env(const char *pgdir);
/* A statement (printf-style); 1 if it succeeded, else 0 with the error on
 * stderr. */
int itest_sql_ok(PGconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The first column of a one-row result as a number; INT64_MIN (and the
 * error on stderr) otherwise. */
int64_t itest_sql_int(PGconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

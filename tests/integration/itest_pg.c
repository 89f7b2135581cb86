/* itest_pg.c: see itest_pg.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itest_pg.h"

int
itest_pg_env(const char *pgdir)
{
	char path[512], line[512];
	snprintf(path, sizeof(path), "%s/env", pgdir);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = 0;
		char *eq = strchr(line, '=');
		if (eq != NULL) {
			*eq = 0;
			setenv(line, eq + 1, 1);
		}
	}
	fclose(f);
	unsetenv("DATABASE_URL");
	return 0;
}

static PGresult *
run(PGconn *c, const char *fmt, va_list ap, char *q, size_t qlen)
{
	vsnprintf(q, qlen, fmt, ap);
	return PQexec(c, q);
}

int
itest_sql_ok(PGconn *c, const char *fmt, ...)
{
	char q[4096];
	va_list ap;
	va_start(ap, fmt);
	PGresult *r = run(c, fmt, ap, q, sizeof(q));
	va_end(ap);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		fprintf(stderr, "SQL failed: %s: %s", q, PQresultErrorMessage(r));
	PQclear(r);
	return ok;
}

int64_t
itest_sql_int(PGconn *c, const char *fmt, ...)
{
	char q[4096];
	va_list ap;
	va_start(ap, fmt);
	PGresult *r = run(c, fmt, ap, q, sizeof(q));
	va_end(ap);
	int64_t v = INT64_MIN;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	else
		fprintf(stderr, "SQL failed: %s: %s", q, PQresultErrorMessage(r));
	PQclear(r);
	return v;
}

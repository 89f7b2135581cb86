/* admin_db.c: toll-admin's session helpers (admin.h): statements,
 * messages, output cells. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "err.h"

void
admin_fail(const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "toll-admin: %s\n", msg);
}

/* libpq's "SQLSTATE: ERROR:  text\nDETAIL: ..." on one line, without the
 * "ERROR:  " */
void
admin_tidy_err(char *s)
{
	char *p;

	if ((p = strstr(s, "ERROR:  ")) != NULL)
		memmove(p, p + 8, strlen(p + 8) + 1);
	for (p = s; *p; p++)
		if (*p == '\n')
			*p = ';';
}

int
admin_sql(struct admin *a, PGresult **res, const char *query, int n, const char *const *params)
{
	int rc = cdb_query(a->db, query, n, params, res, a->err, sizeof(a->err));

	if (rc != 0)
		admin_tidy_err(a->err);
	return rc;
}

int
admin_db_fail(struct admin *a, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	admin_fail("%s: %s", msg, a->err);
	return 1;
}

const char *
admin_val(const PGresult *res, int row, int col)
{
	return PQgetvalue(res, row, col); /* "" for NULL */
}

struct admin_num
admin_num(uint64_t v)
{
	struct admin_num n;
	snprintf(n.s, sizeof(n.s), "%" PRIu64, v);
	return n;
}

const char *
admin_money_text(const struct admin *a, const char *text, char buf[ADMIN_MONEY_CELL], int sign)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != 0) {
		snprintf(buf, ADMIN_MONEY_CELL, "%s", text);
		return buf;
	}
	char m[ADMIN_MONEY_LEN];
	admin_money(v, a->csv, m);
	snprintf(buf, ADMIN_MONEY_CELL, "%s%s", sign && v > 0 && !a->csv ? "+" : "", m);
	return buf;
}

int
admin_out_new(unsigned ncols, const char *const *names, const char *align, struct admin_table **t)
{
	if (admin_table_new(ncols, names, align, t) != 0) {
		admin_fail("out of memory");
		return 1;
	}
	return 0;
}

int
admin_out_add(struct admin_table *t, const char *const *cells)
{
	int rc = admin_table_add(t, cells);

	if (rc != 0) {
		admin_fail("could not add a row to the output: %s", toll_strerror(rc));
		return 1;
	}
	return 0;
}

int
admin_check_zone(struct admin *a, const char *zone)
{
	const char *p[1] = {zone};
	PGresult *res;

	if (admin_sql(a, &res, "SELECT 1 FROM pg_timezone_names WHERE name = $1", 1, p) != 0)
		return admin_db_fail(a, "could not look the time zone up");
	int found = PQntuples(res) > 0;
	PQclear(res);
	if (!found) {
		admin_fail("unknown time zone '%s' (want a name such as Asia/Ho_Chi_Minh or UTC)", zone);
		return 1;
	}
	return 0;
}

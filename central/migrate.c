/* migrate.c: see migrate.h. */
#include <stdio.h>
#include <string.h>

#include "cdb.h"
#include "crypto.h"
#include "err.h"
#include "log.h"
#include "migrate.h"

static void
sha_hex(const char *sql, char out[65])
{
	uint8_t h[32];
	toll_sha256(sql, strlen(sql), h);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

int
migrate_run(struct cdb *db, int apply, unsigned *applied, char *err, size_t errlen)
{
	PGresult *res = NULL;
	int rc;

	*applied = 0;
	if (apply) {
		rc = cdb_exec(db,
			      "CREATE TABLE IF NOT EXISTS schema_migrations ("
			      " name text PRIMARY KEY, sha256 text NOT NULL,"
			      " applied_at timestamptz NOT NULL DEFAULT now())",
			      err, errlen);
		if (rc != 0)
			return rc;
	}
	rc = cdb_query(db, "SELECT to_regclass('schema_migrations') IS NOT NULL", 0, NULL, &res, err,
		       errlen);
	if (rc != 0)
		return rc;
	int have = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!have) {
		snprintf(err, errlen, "the database has no schema: run toll-central --migrate");
		return TOLL_ECONFIG;
	}
	for (unsigned i = 0; i < toll_migrations_count; i++) {
		const struct migration *m = &toll_migrations[i];
		char sha[65];
		const char *p[2] = {m->name, sha};

		sha_hex(m->sql, sha);
		rc = cdb_query(db, "SELECT sha256 FROM schema_migrations WHERE name = $1", 1, p, &res,
			       err, errlen);
		if (rc != 0)
			return rc;
		if (PQntuples(res) == 1) {
			int same = strcmp(PQgetvalue(res, 0, 0), sha) == 0;
			PQclear(res);
			if (!same) {
				snprintf(err, errlen,
					 "migration %s was changed after it was applied: add a new migration instead",
					 m->name);
				return TOLL_ECONFIG;
			}
			continue;
		}
		PQclear(res);
		if (!apply) {
			snprintf(err, errlen, "migration %s is not applied: run toll-central --migrate",
				 m->name);
			return TOLL_ECONFIG;
		}
		rc = cdb_exec(db, "BEGIN", err, errlen);
		if (rc == 0)
			rc = cdb_exec(db, m->sql, err, errlen);
		if (rc == 0)
			rc = cdb_query(db, "INSERT INTO schema_migrations (name, sha256) VALUES ($1, $2)",
				       2, p, NULL, err, errlen);
		if (rc == 0)
			rc = cdb_exec(db, "COMMIT", err, errlen);
		if (rc != 0) {
			char e2[64];
			(void)cdb_exec(db, "ROLLBACK", e2, sizeof(e2));
			char tmp[512];
			snprintf(tmp, sizeof(tmp), "%s", err);
			snprintf(err, errlen, "migration %s: %s", m->name, tmp);
			return rc;
		}
		toll_notice("applied migration %s", m->name);
		(*applied)++;
	}
	return 0;
}

/* migrate.h: the schema migrations of central/sql, built into the program
 * (scripts/embed-sql), applied in name order, each once, each in its own
 * database transaction, recorded in schema_migrations with its SHA-256.
 * A file changed after it was applied is refused: migrations are
 * append-only, like the ledger. */
#ifndef CENTRAL_MIGRATE_H
#define CENTRAL_MIGRATE_H

#include <stddef.h>

struct cdb;

struct migration {
	const char *name;
	const char *sql;
};
extern const struct migration toll_migrations[];
extern const unsigned toll_migrations_count;

/* apply 1: apply what is pending (owner rights needed); 0: only check
 * that everything is applied and unchanged (TOLL_ECONFIG if not, with the
 * reason in err).  *applied counts the files applied now. */
int migrate_run(struct cdb *db, int apply, unsigned *applied, char *err, size_t errlen);

#endif

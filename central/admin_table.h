/* admin_table.h: toll-admin's output.  A table is printed either for
 * people (a header, columns aligned, numbers to the right, control
 * characters shown as '?') or as CSV (RFC 4180: a header line, fields
 * quoted when they hold a comma, a quote or a line break, CRLF line ends).
 * Money is whole VND: plain digits in CSV, thousands separated by commas
 * for people ("1,234,500"). */
#ifndef CENTRAL_ADMIN_TABLE_H
#define CENTRAL_ADMIN_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ADMIN_TABLE_COLS_MAX 16
#define ADMIN_TABLE_ROWS_MAX 1000000
#define ADMIN_MONEY_LEN 32 /* "-9,223,372,036,854,775,808" and its NUL */

struct admin_table;

/* names: ncols column names; align: one 'l' or 'r' per column. */
int admin_table_new(unsigned ncols, const char *const *names, const char *align, struct admin_table **out);
void admin_table_free(struct admin_table *t);
/* A row of ncols cells (copied; NULL prints as empty).  TOLL_EFULL past
 * ADMIN_TABLE_ROWS_MAX rows. */
int admin_table_add(struct admin_table *t, const char *const *cells);
size_t admin_table_rows(const struct admin_table *t);
void admin_table_print(const struct admin_table *t, int csv, FILE *out);

/* One CSV field, quoted when it must be. */
void admin_csv_field(const char *s, FILE *out);
/* Money for people (csv 0) or for CSV (csv 1). */
void admin_money(int64_t vnd, int csv, char out[ADMIN_MONEY_LEN]);

#endif

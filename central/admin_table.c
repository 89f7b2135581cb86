/* admin_table.c: see admin_table.h. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "admin_table.h"
#include "err.h"

struct admin_table {
	unsigned ncols;
	const char *names[ADMIN_TABLE_COLS_MAX];
	char align[ADMIN_TABLE_COLS_MAX];
	char **cells; /* nrows * ncols, each allocated */
	size_t nrows, cap;
};

int
admin_table_new(unsigned ncols, const char *const *names, const char *align, struct admin_table **out)
{
	struct admin_table *t;

	*out = NULL;
	if (ncols == 0 || ncols > ADMIN_TABLE_COLS_MAX || strlen(align) != ncols)
		return TOLL_EINVAL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return TOLL_ENOMEM;
	t->ncols = ncols;
	for (unsigned i = 0; i < ncols; i++) {
		t->names[i] = names[i];
		t->align[i] = align[i];
	}
	*out = t;
	return 0;
}

void
admin_table_free(struct admin_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

int
admin_table_add(struct admin_table *t, const char *const *cells)
{
	if (t->nrows >= ADMIN_TABLE_ROWS_MAX)
		return TOLL_EFULL;
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **c = realloc(t->cells, cap * t->ncols * sizeof(*c));
		if (c == NULL)
			return TOLL_ENOMEM;
		t->cells = c;
		t->cap = cap;
	}
	char **row = t->cells + t->nrows * t->ncols;
	for (unsigned i = 0; i < t->ncols; i++) {
		row[i] = strdup(cells[i] != NULL ? cells[i] : "");
		if (row[i] == NULL) {
			while (i-- > 0)
				free(row[i]);
			return TOLL_ENOMEM;
		}
	}
	t->nrows++;
	return 0;
}

size_t
admin_table_rows(const struct admin_table *t)
{
	return t->nrows;
}

void
admin_csv_field(const char *s, FILE *out)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

/* Characters on screen: UTF-8 continuation bytes take no column. */
static size_t
width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

/* A cell for people: control characters (a terminal would obey them)
 * shown as '?'. */
static void
put_text(const char *s, FILE *out)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		fputc(c < 0x20 || c == 0x7f ? '?' : c, out);
	}
}

/* Blanks are written only once something follows them on the line: no
 * trailing blanks after empty cells. */
static void
flush_blanks(size_t *pending, FILE *out)
{
	for (; *pending > 0; (*pending)--)
		fputc(' ', out);
}

void
admin_table_print(const struct admin_table *t, int csv, FILE *out)
{
	size_t w[ADMIN_TABLE_COLS_MAX];

	if (csv) {
		for (unsigned c = 0; c < t->ncols; c++) {
			if (c > 0)
				fputc(',', out);
			admin_csv_field(t->names[c], out);
		}
		fputs("\r\n", out);
		for (size_t r = 0; r < t->nrows; r++) {
			for (unsigned c = 0; c < t->ncols; c++) {
				if (c > 0)
					fputc(',', out);
				admin_csv_field(t->cells[r * t->ncols + c], out);
			}
			fputs("\r\n", out);
		}
		return;
	}
	for (unsigned c = 0; c < t->ncols; c++) {
		w[c] = width(t->names[c]);
		for (size_t r = 0; r < t->nrows; r++) {
			size_t x = width(t->cells[r * t->ncols + c]);
			if (x > w[c])
				w[c] = x;
		}
	}
	for (size_t r = 0; r <= t->nrows; r++) {
		/* row 0 is the header */
		const char *const *cells = r == 0 ? t->names : (const char *const *)t->cells + (r - 1) * t->ncols;
		size_t blanks = 0;
		for (unsigned c = 0; c < t->ncols; c++) {
			size_t x = width(cells[c]);
			if (c > 0)
				blanks += 2;
			if (t->align[c] == 'r')
				blanks += w[c] - x;
			if (x > 0) {
				flush_blanks(&blanks, out);
				put_text(cells[c], out);
			}
			if (t->align[c] != 'r')
				blanks += w[c] - x;
		}
		fputc('\n', out);
	}
}

void
admin_money(int64_t vnd, int csv, char out[ADMIN_MONEY_LEN])
{
	char digits[24];
	uint64_t mag = vnd < 0 ? (uint64_t)0 - (uint64_t)vnd : (uint64_t)vnd;
	size_t n, o = 0;

	if (csv) {
		snprintf(out, ADMIN_MONEY_LEN, "%" PRId64, vnd);
		return;
	}
	n = (size_t)snprintf(digits, sizeof(digits), "%" PRIu64, mag);
	if (vnd < 0)
		out[o++] = '-';
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	out[o] = 0;
}

/* partner_file.c: see partner_file.h.  libc only (err.h for the codes):
 * the unit test and the fuzz target link this file alone. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "partner_file.h"

#define REC_FIELDS_MAX 16 /* fields looked at in one record; more is a problem */

static int
errf(char *err, size_t errlen, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
errf(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

int
pf_ref_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > PF_REF_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == ':' || c == '-'))
			return 0;
	}
	return 1;
}

int
pf_csv_line(const char *const *fields, unsigned n, char *out, size_t outlen)
{
	size_t o = 0;

#define PUT(ch)                                   \
	do {                                      \
		if (o + 1 >= outlen)              \
			return TOLL_ENOSPACE;     \
		out[o++] = (ch);                  \
	} while (0)
	if (outlen == 0)
		return TOLL_ENOSPACE;
	for (unsigned i = 0; i < n; i++) {
		const char *s = fields[i] != NULL ? fields[i] : "";
		int quote = strpbrk(s, ",\"\r\n") != NULL;
		if (i > 0)
			PUT(',');
		if (quote)
			PUT('"');
		for (; *s; s++) {
			if (*s == '"')
				PUT('"');
			PUT(*s);
		}
		if (quote)
			PUT('"');
	}
#undef PUT
	out[o] = 0;
	return 0;
}

int
pf_row_line(const struct pf_row *r, char *out, size_t outlen)
{
	const char *f[PF_FIELDS];

	for (unsigned i = 0; i < PF_FIELDS; i++)
		f[i] = r->field[i];
	return pf_csv_line(f, PF_FIELDS, out, outlen);
}

/* ---- records ---------------------------------------------------------- */

/* One record's fields, each at most PF_FIELD_MAX bytes. */
struct rec {
	unsigned line; /* where it starts */
	unsigned n;    /* fields seen (may exceed REC_FIELDS_MAX: counted) */
	char f[REC_FIELDS_MAX][PF_FIELD_MAX + 1];
	size_t len[REC_FIELDS_MAX];
};

struct reader {
	const char *p, *end;
	unsigned line;
};

/* The next record: 1, 0 at the end, or a TOLL_E* code with err. */
static int
next_record(struct reader *rd, struct rec *r, char *err, size_t errlen)
{
	/* blank lines between records are skipped */
	while (rd->p < rd->end && (*rd->p == '\n' || (*rd->p == '\r' && rd->p + 1 < rd->end && rd->p[1] == '\n'))) {
		rd->p += *rd->p == '\r' ? 2 : 1;
		rd->line++;
	}
	if (rd->p >= rd->end)
		return 0;
	r->line = rd->line;
	r->n = 0;
	for (;;) {
		/* one field */
		char *dst = r->n < REC_FIELDS_MAX ? r->f[r->n] : NULL;
		size_t len = 0;
		int quoted = rd->p < rd->end && *rd->p == '"';
		if (quoted)
			rd->p++;
		for (;;) {
			if (rd->p >= rd->end) {
				if (quoted)
					return errf(err, errlen, TOLL_EFORMAT, "line %u: a quoted field is not closed",
						    r->line);
				break;
			}
			char c = *rd->p;
			if (c == 0)
				return errf(err, errlen, TOLL_EFORMAT, "line %u: a NUL byte", rd->line);
			if (quoted) {
				if (c == '"') {
					if (rd->p + 1 < rd->end && rd->p[1] == '"') {
						rd->p += 2;
						c = '"';
					} else {
						rd->p++;
						quoted = 0;
						/* after the closing quote: a comma or the line's end */
						if (rd->p < rd->end && *rd->p != ',' && *rd->p != '\n' &&
						    !(*rd->p == '\r' && rd->p + 1 < rd->end && rd->p[1] == '\n'))
							return errf(err, errlen, TOLL_EFORMAT,
								    "line %u: text after a closing quote", rd->line);
						break;
					}
				} else {
					if (c == '\n')
						rd->line++;
					rd->p++;
				}
			} else {
				if (c == ',' || c == '\n' || (c == '\r' && rd->p + 1 < rd->end && rd->p[1] == '\n'))
					break;
				if (c == '"')
					return errf(err, errlen, TOLL_EFORMAT,
						    "line %u: a quote inside a field that does not start with one",
						    rd->line);
				if (c == '\r')
					return errf(err, errlen, TOLL_EFORMAT, "line %u: a CR without its LF", rd->line);
				rd->p++;
			}
			if (len >= PF_FIELD_MAX)
				return errf(err, errlen, TOLL_ERANGE, "line %u: a field longer than %d bytes", rd->line,
					    PF_FIELD_MAX);
			if (dst != NULL)
				dst[len] = c;
			len++;
		}
		if (dst != NULL) {
			dst[len] = 0;
			r->len[r->n] = len;
		}
		r->n++;
		if (r->n > 10000)
			return errf(err, errlen, TOLL_ERANGE, "line %u: more than 10000 fields", r->line);
		if (rd->p >= rd->end)
			return 1;
		if (*rd->p == ',') {
			rd->p++;
			continue;
		}
		/* the line's end */
		rd->p += *rd->p == '\r' ? 2 : 1;
		rd->line++;
		return 1;
	}
}

static int
problem(struct pf_file *f, unsigned line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
problem(struct pf_file *f, unsigned line, const char *fmt, ...)
{
	va_list ap;

	if (f->nproblems >= PF_PROBLEMS_MAX) {
		f->problems_dropped++;
		return 0;
	}
	if (f->problems == NULL && (f->problems = calloc(PF_PROBLEMS_MAX, sizeof(*f->problems))) == NULL)
		return TOLL_ENOMEM;
	struct pf_problem *p = &f->problems[f->nproblems++];
	p->line = line;
	va_start(ap, fmt);
	vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
	va_end(ap);
	return 0;
}

/* Plain decimal digits, 1..max; -1 when not. */
static int
digits(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (i == 0 || s[i] != 0)
		return -1;
	*out = v;
	return 0;
}

/* Fields past `need` must be empty (a writer may leave trailing empty
 * fields out, never add text). */
static int
extra_text(const struct rec *r, unsigned need)
{
	if (r->n > REC_FIELDS_MAX)
		return 1;
	for (unsigned i = need; i < r->n; i++)
		if (r->len[i] != 0)
			return 1;
	return 0;
}

static int
is_hex64(const char *s)
{
	if (strlen(s) != 64)
		return 0;
	for (int i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return 1;
}

static int
detail(struct pf_file *f, const struct rec *r, size_t *cap)
{
	struct pf_row row;
	uint64_t v;

	if (r->n < 6 || extra_text(r, PF_FIELDS))
		return problem(f, r->line, "a detail line has %u fields, want %d", r->n, PF_FIELDS);
	memset(&row, 0, sizeof(row));
	row.line = r->line;
	for (unsigned i = 0; i < PF_FIELDS && i < r->n; i++)
		memcpy(row.field[i], r->f[i], r->len[i] + 1);
	if (row.field[1][0] == 0)
		return problem(f, r->line, "created_at is empty");
	if (strcmp(row.field[2], "topup") == 0)
		row.reversal = 0;
	else if (strcmp(row.field[2], "reversal") == 0)
		row.reversal = 1;
	else
		return problem(f, r->line, "kind '%.40s': want topup or reversal", row.field[2]);
	if (!pf_ref_ok(row.field[3]))
		return problem(f, r->line, "partner_ref '%.70s': want 1-64 of A-Z a-z 0-9 . _ : -", row.field[3]);
	if (digits(row.field[4], 9223372036854775807ULL, &v) != 0 || v == 0)
		return problem(f, r->line, "account_id '%.40s': want a number 1..9223372036854775807", row.field[4]);
	row.account_id = v;
	if (digits(row.field[5], (uint64_t)PF_AMOUNT_MAX, &v) != 0 || v == 0)
		return problem(f, r->line, "amount_vnd '%.40s': want whole VND, 1..10^15", row.field[5]);
	row.amount_vnd = (int64_t)v;
	if (row.field[6][0] != 0) {
		if (digits(row.field[6], 9223372036854775807ULL, &v) != 0 || v == 0)
			return problem(f, r->line, "topup_id '%.40s': want a number or nothing", row.field[6]);
		row.topup_id = v;
	}
	if (f->nrows >= PF_ROWS_MAX)
		return TOLL_ERANGE;
	if (f->nrows == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct pf_row *n = realloc(f->rows, nc * sizeof(*n));
		if (n == NULL)
			return TOLL_ENOMEM;
		f->rows = n;
		*cap = nc;
	}
	f->rows[f->nrows++] = row;
	return 0;
}

int
pf_read(const char *buf, size_t len, struct pf_file **out, char *err, size_t errlen)
{
	struct reader rd = {buf, buf + len, 1};
	struct pf_file *f;
	struct rec *r;
	size_t cap = 0;
	int rc, first = 1;

	*out = NULL;
	if (len > PF_FILE_MAX)
		return errf(err, errlen, TOLL_ERANGE, "larger than %u bytes", PF_FILE_MAX);
	if ((f = calloc(1, sizeof(*f))) == NULL || (r = malloc(sizeof(*r))) == NULL) {
		free(f);
		return errf(err, errlen, TOLL_ENOMEM, "out of memory");
	}
	/* a UTF-8 byte order mark, as spreadsheets write it */
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		rd.p += 3;
	while ((rc = next_record(&rd, r, err, errlen)) == 1) {
		const char *t = r->n > 0 ? r->f[0] : "";
		int was_first = first;
		first = 0;
		if (f->has_trailer) {
			rc = problem(f, r->line, "a line after the trailer (line %u)", f->trailer_line);
		} else if (strcmp(t, "record") == 0 && was_first) {
			/* the column names */
			rc = 0;
		} else if (strcmp(t, "H") == 0) {
			if (f->has_header || f->nrows > 0) {
				rc = problem(f, r->line, "a header that is not the file's first record");
			} else if (r->n < 6 || extra_text(r, PF_FIELDS)) {
				rc = problem(f, r->line, "a header line has %u fields, want %d", r->n, PF_FIELDS);
			} else if (strcmp(r->f[1], PF_FORMAT) != 0 || strcmp(r->f[2], "1") != 0) {
				rc = errf(err, errlen, TOLL_EVERSION, "line %u: format '%.40s' version '%.10s': want %s version %d",
					  r->line, r->f[1], r->f[2], PF_FORMAT, PF_VERSION);
				break;
			} else {
				f->has_header = 1;
				f->header_line = r->line;
				memcpy(f->partner, r->f[3], r->len[3] + 1);
				memcpy(f->day, r->f[4], r->len[4] + 1);
				memcpy(f->zone, r->f[5], r->len[5] + 1);
				rc = 0;
			}
		} else if (strcmp(t, "D") == 0) {
			rc = detail(f, r, &cap);
		} else if (strcmp(t, "T") == 0) {
			uint64_t c = 0, mag = 0;
			const char *tot = r->n > 2 && r->n <= REC_FIELDS_MAX ? r->f[2] : "";
			int neg = tot[0] == '-';
			if (r->n < 4 || extra_text(r, PF_FIELDS)) {
				rc = problem(f, r->line, "a trailer line has %u fields, want %d", r->n, PF_FIELDS);
			} else if (digits(r->f[1], 10000000000ULL, &c) != 0) {
				rc = problem(f, r->line, "trailer count '%.40s': want a number", r->f[1]);
			} else if (digits(tot + neg, 9223372036854775807ULL, &mag) != 0) {
				rc = problem(f, r->line, "trailer total_vnd '%.40s': want whole VND", tot);
			} else if (!is_hex64(r->f[3])) {
				rc = problem(f, r->line, "trailer sha256 '%.70s': want 64 hex digits", r->f[3]);
			} else {
				f->has_trailer = 1;
				f->trailer_line = r->line;
				f->count = c;
				f->total_vnd = neg ? -(int64_t)mag : (int64_t)mag;
				for (int i = 0; i < 65; i++) {
					char ch = r->f[3][i];
					f->sha256[i] = ch >= 'A' && ch <= 'F' ? (char)(ch - 'A' + 'a') : ch;
				}
				rc = 0;
			}
		} else {
			rc = problem(f, r->line, "record type '%.20s': want H, D or T", t);
		}
		if (rc == TOLL_ERANGE) {
			rc = errf(err, errlen, TOLL_ERANGE, "more than %d detail lines", PF_ROWS_MAX);
			break;
		}
		if (rc != 0) {
			rc = errf(err, errlen, rc, "out of memory");
			break;
		}
	}
	free(r);
	if (rc != 0) {
		pf_free(f);
		return rc;
	}
	*out = f;
	return 0;
}

void
pf_free(struct pf_file *f)
{
	if (f == NULL)
		return;
	free(f->rows);
	free(f->problems);
	free(f);
}

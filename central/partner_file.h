/* partner_file.h: a partner's daily file of top-ups and reversals, format
 * version 1 (docs/partner-file.md).  CSV (RFC 4180), every line seven
 * fields, the first naming the record:
 *
 *   record,created_at,kind,partner_ref,account_id,amount_vnd,topup_id
 *   H,toll-partner-file,1,PARTNER,DAY,ZONE,
 *   D,CREATED_AT,topup|reversal,PARTNER_REF,ACCOUNT_ID,AMOUNT_VND,TOPUP_ID
 *   ...
 *   T,COUNT,TOTAL_VND,SHA256,,,
 *
 * The trailer's SHA-256 is over the detail lines in canonical form
 * (pf_csv_line: fields as they are, quoted only when they must be), each
 * ended by CR LF; its total is the top-ups less the reversals.
 *
 * This module reads and writes the text only (libc, nothing else): the
 * caller hashes and compares.  A file is read with every bound checked; a
 * broken structure (an unclosed quote, a NUL byte, a field or a file too
 * long) refuses the whole file, a line that breaks the record rules is
 * kept as a problem with its line number and the rest is read on. */
#ifndef CENTRAL_PARTNER_FILE_H
#define CENTRAL_PARTNER_FILE_H

#include <stddef.h>
#include <stdint.h>

#define PF_FORMAT "toll-partner-file"
#define PF_VERSION 1
#define PF_FIELDS 7
#define PF_FIELD_MAX 128	   /* bytes in a field */
#define PF_LINE_MAX (PF_FIELDS * (2 * PF_FIELD_MAX + 3) + 3) /* a canonical line, quoted, CR LF, NUL */
#define PF_FILE_MAX (64u << 20)	   /* bytes */
#define PF_ROWS_MAX 1000000	   /* detail lines */
#define PF_PROBLEMS_MAX 1000	   /* problems kept (the rest counted) */
#define PF_REF_MAX 64		   /* partner_ref: 1-64 of A-Z a-z 0-9 . _ : - */
#define PF_AMOUNT_MAX 1000000000000000LL /* 10^15 VND: beyond any top-up */
#define PF_COLUMNS "record,created_at,kind,partner_ref,account_id,amount_vnd,topup_id"

/* A detail line: its fields as written (for the hash) and as read. */
struct pf_row {
	unsigned line;
	char field[PF_FIELDS][PF_FIELD_MAX + 1]; /* field[0] is "D" */
	int reversal;				 /* kind: 0 topup, 1 reversal */
	uint64_t account_id;
	int64_t amount_vnd;
	uint64_t topup_id; /* 0: not given */
};

struct pf_problem {
	unsigned line;
	char msg[160];
};

struct pf_file {
	/* header: partner, day, zone as written */
	int has_header;
	unsigned header_line;
	char partner[PF_FIELD_MAX + 1], day[PF_FIELD_MAX + 1], zone[PF_FIELD_MAX + 1];
	/* trailer, as written and read */
	int has_trailer;
	unsigned trailer_line;
	uint64_t count;
	int64_t total_vnd;
	char sha256[65];
	/* detail lines */
	struct pf_row *rows;
	size_t nrows;
	/* lines that break the record rules (not in rows) */
	struct pf_problem *problems;
	size_t nproblems, problems_dropped;
};

/* Read a file (len bytes, NUL bytes refused).  TOLL_EFORMAT (err says the
 * line and why), TOLL_EVERSION (a header of another format or version),
 * TOLL_ERANGE (too long, too many lines), TOLL_ENOMEM. */
int pf_read(const char *buf, size_t len, struct pf_file **out, char *err, size_t errlen);
void pf_free(struct pf_file *f);

/* One CSV line of n fields in canonical form, without its line end:
 * fields joined by commas, a field quoted (quotes doubled) only when it
 * holds a comma, a quote, CR or LF.  TOLL_ENOSPACE if out is too small. */
int pf_csv_line(const char *const *fields, unsigned n, char *out, size_t outlen);
/* The canonical line of a detail row (what the trailer's hash covers,
 * without its CR LF). */
int pf_row_line(const struct pf_row *r, char *out, size_t outlen);

/* partner_ref's rule */
int pf_ref_ok(const char *s);

#endif

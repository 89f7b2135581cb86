/* test_partner_file.c: the partners' daily file (central/partner_file.c,
 * docs/partner-file.md): canonical lines, a good file read whole, the same
 * rows written otherwise (LF, quotes, a byte order mark, no trailing empty
 * fields) read the same, lines that break the record rules kept as
 * problems with their line numbers, broken files refused with theirs.
 * Fixtures: tests/data/partner/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../central/partner_file.h"
#include "err.h"
#include "unit.h"

static char *
fixture(const char *name, size_t *len)
{
	char path[512];
	const char *top = getenv("TOLL_TOP");
	FILE *f;
	char *buf;

	snprintf(path, sizeof(path), "%s/tests/data/partner/%s", top && *top ? top : ".", name);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	buf = malloc(1 << 20);
	ck_assert_ptr_nonnull(buf);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

static struct pf_file *
read_ok(const char *name)
{
	size_t len;
	char *buf = fixture(name, &len), err[256] = "";
	struct pf_file *f = NULL;
	int rc = pf_read(buf, len, &f, err, sizeof(err));

	ck_assert_msg(rc == 0, "%s: %s", name, err);
	free(buf);
	return f;
}

static int
read_err(const char *name, char *err, size_t errlen)
{
	size_t len;
	char *buf = fixture(name, &len);
	struct pf_file *f = (struct pf_file *)1;
	int rc = pf_read(buf, len, &f, err, errlen);

	ck_assert_ptr_null(f);
	free(buf);
	return rc;
}

START_TEST(canonical_line)
{
	const char *plain[3] = {"D", "B1-0001", "500000"};
	const char *odd[4] = {"a,b", "say \"hi\"", "two\r\nlines", ""};
	char out[128];

	ck_assert_int_eq(pf_csv_line(plain, 3, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "D,B1-0001,500000");
	ck_assert_int_eq(pf_csv_line(odd, 4, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "\"a,b\",\"say \"\"hi\"\"\",\"two\r\nlines\",");
	ck_assert_int_eq(pf_csv_line(plain, 3, out, 10), TOLL_ENOSPACE);
	ck_assert_int_eq(pf_csv_line(plain, 3, out, 17), 0); /* exactly: 16 and the NUL */
	ck_assert_int_eq(pf_csv_line(plain, 3, out, 16), TOLL_ENOSPACE);
}
END_TEST

START_TEST(good_file)
{
	struct pf_file *f = read_ok("good.csv");
	char line[PF_LINE_MAX];

	ck_assert(f->has_header);
	ck_assert_str_eq(f->partner, "bank1");
	ck_assert_str_eq(f->day, "2026-03-01");
	ck_assert_str_eq(f->zone, "Asia/Ho_Chi_Minh");
	ck_assert_uint_eq(f->header_line, 2);
	ck_assert_uint_eq(f->nrows, 3);
	ck_assert_uint_eq(f->nproblems, 0);
	ck_assert_uint_eq(f->rows[0].line, 3);
	ck_assert_str_eq(f->rows[0].field[3], "B1-EDGE-1");
	ck_assert_uint_eq(f->rows[0].account_id, 1003);
	ck_assert_int_eq(f->rows[0].amount_vnd, 60000);
	ck_assert_uint_eq(f->rows[0].topup_id, 6);
	ck_assert_int_eq(f->rows[0].reversal, 0);
	ck_assert_int_eq(f->rows[2].reversal, 1);
	ck_assert(f->has_trailer);
	ck_assert_uint_eq(f->trailer_line, 6);
	ck_assert_uint_eq(f->count, 3);
	ck_assert_int_eq(f->total_vnd, 60000);
	ck_assert_str_eq(f->sha256, "574e05be8986bbf1e87d9586a5002008431450ded2233b86796fb05279931b1a");
	ck_assert_int_eq(pf_row_line(&f->rows[1], line, sizeof(line)), 0);
	ck_assert_str_eq(line, "D,2026-03-01T08:15:02.123+07:00,topup,B1-0001,1001,500000,1");
	pf_free(f);
}
END_TEST

/* LF line ends, a byte order mark, quoted fields, trailing empty fields
 * left out: the same rows, the same canonical lines */
START_TEST(same_rows_written_otherwise)
{
	struct pf_file *a = read_ok("good.csv"), *b = read_ok("quoted-lf.csv");
	char la[PF_LINE_MAX], lb[PF_LINE_MAX];

	ck_assert(b->has_header);
	ck_assert_str_eq(b->zone, "Asia/Ho_Chi_Minh");
	ck_assert_uint_eq(a->nrows, b->nrows);
	for (size_t i = 0; i < a->nrows; i++) {
		ck_assert_int_eq(pf_row_line(&a->rows[i], la, sizeof(la)), 0);
		ck_assert_int_eq(pf_row_line(&b->rows[i], lb, sizeof(lb)), 0);
		ck_assert_str_eq(la, lb);
	}
	ck_assert_str_eq(a->sha256, b->sha256);
	ck_assert_uint_eq(b->rows[0].line, 2);
	pf_free(a);
	pf_free(b);
}
END_TEST

START_TEST(bad_lines_kept_as_problems)
{
	static const struct {
		unsigned line;
		const char *says;
	} want[] = {
		{2, "kind 'gift'"},
		{3, "partner_ref 'B1 0002'"},
		{4, "amount_vnd '0'"},
		{5, "account_id 'x1001'"},
		{6, "has 4 fields"},
		{7, "has 8 fields"},
		{8, "record type 'X'"},
		{9, "a header that is not the file's first record"},
		{11, "trailer sha256 'nothex'"},
		{13, "a line after the trailer (line 12)"},
	};
	struct pf_file *f = read_ok("bad-lines.csv");

	ck_assert_uint_eq(f->nrows, 1);
	ck_assert_str_eq(f->rows[0].field[3], "B1-0007");
	ck_assert_uint_eq(f->rows[0].topup_id, 0);
	ck_assert(f->has_trailer);
	ck_assert_uint_eq(f->trailer_line, 12);
	ck_assert_uint_eq(f->nproblems, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < f->nproblems; i++) {
		ck_assert_uint_eq(f->problems[i].line, want[i].line);
		ck_assert_msg(strstr(f->problems[i].msg, want[i].says) != NULL, "line %u: '%s', want '%s'",
			      f->problems[i].line, f->problems[i].msg, want[i].says);
	}
	pf_free(f);
}
END_TEST

START_TEST(broken_files_refused)
{
	static const struct {
		const char *file;
		int rc;
		const char *says;
	} want[] = {
		{"unclosed-quote.csv", TOLL_EFORMAT, "line 1: a quoted field is not closed"},
		{"nul.csv", TOLL_EFORMAT, "line 1: a NUL byte"},
		{"stray-quote.csv", TOLL_EFORMAT, "line 1: a quote inside a field"},
		{"after-quote.csv", TOLL_EFORMAT, "line 1: text after a closing quote"},
		{"lone-cr.csv", TOLL_EFORMAT, "line 1: a CR without its LF"},
		{"long-field.csv", TOLL_ERANGE, "line 1: a field longer than 128 bytes"},
		{"version-2.csv", TOLL_EVERSION, "format 'toll-partner-file' version '2'"},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char err[256] = "";
		int rc = read_err(want[i].file, err, sizeof(err));
		ck_assert_msg(rc == want[i].rc, "%s: %d, want %d", want[i].file, rc, want[i].rc);
		ck_assert_msg(strstr(err, want[i].says) != NULL, "%s: '%s', want '%s'", want[i].file, err, want[i].says);
	}
}
END_TEST

START_TEST(edges)
{
	struct pf_file *f;
	char err[256];

	/* nothing at all, and blank lines only: an empty file */
	ck_assert_int_eq(pf_read("", 0, &f, err, sizeof(err)), 0);
	ck_assert(!f->has_header && !f->has_trailer && f->nrows == 0 && f->nproblems == 0);
	pf_free(f);
	ck_assert_int_eq(pf_read("\r\n\n\r\n", 5, &f, err, sizeof(err)), 0);
	ck_assert_uint_eq(f->nrows, 0);
	pf_free(f);
	/* a negative total (more reversed than topped up), the last line
	 * without its line end, uppercase hex kept in lowercase */
	const char *t = "T,2,-5000,ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789";
	ck_assert_int_eq(pf_read(t, strlen(t), &f, err, sizeof(err)), 0);
	ck_assert(f->has_trailer);
	ck_assert_int_eq(f->total_vnd, -5000);
	ck_assert_str_eq(f->sha256, "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
	pf_free(f);
	/* a quoted field holding a line break counts its lines */
	const char *m = "D,\"two\nlines\",topup,B1-1,1,5,\nD,x,topup,B1-2,1,5,\n";
	ck_assert_int_eq(pf_read(m, strlen(m), &f, err, sizeof(err)), 0);
	ck_assert_uint_eq(f->nrows, 2);
	ck_assert_uint_eq(f->rows[1].line, 3);
	pf_free(f);
	/* an amount beyond 10^15 is a problem, not an overflow */
	const char *big = "D,x,topup,B1-1,1,99999999999999999999999,\n";
	ck_assert_int_eq(pf_read(big, strlen(big), &f, err, sizeof(err)), 0);
	ck_assert_uint_eq(f->nrows, 0);
	ck_assert_uint_eq(f->nproblems, 1);
	pf_free(f);
	ck_assert(pf_ref_ok("B1-0001.a_b:c"));
	ck_assert(!pf_ref_ok(""));
	ck_assert(!pf_ref_ok("a b"));
	char ref[PF_REF_MAX + 2];
	memset(ref, 'a', sizeof(ref) - 1);
	ref[PF_REF_MAX + 1] = 0;
	ck_assert(!pf_ref_ok(ref));
	ref[PF_REF_MAX] = 0;
	ck_assert(pf_ref_ok(ref));
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("partner_file");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, canonical_line);
	tcase_add_test(tc, good_file);
	tcase_add_test(tc, same_rows_written_otherwise);
	tcase_add_test(tc, bad_lines_kept_as_problems);
	tcase_add_test(tc, broken_files_refused);
	tcase_add_test(tc, edges);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(suite());
}

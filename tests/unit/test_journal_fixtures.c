/* test_journal_fixtures.c: journal recovery against the committed fixtures
 * in tests/data/journal/<case>/ (made by make-fixtures.c there, described
 * in its README.md): journals written by an earlier build, clean, torn,
 * zero-filled, damaged, with a cursor, with a segment missing.
 *
 * For every case the fixture folder is copied into a fresh temporary
 * directory (recovery cuts and removes files: the committed ones are never
 * opened for writing), read with the read-only reader as committed, then
 * opened with the journal API; the recovery report must be exactly the one
 * in the table below.  The recoverable cases are then read back through
 * the open journal and compared with the fixed payloads, one more record is
 * appended and read back, and the journal reopens clean. */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "journal.h"
#include "unit.h"
#include "unit_tmp.h"

/* make-fixtures.c writes with segments rolled at 256 bytes */
#define SEGMENT_BYTES 256

#define SEG1 "00000000000000000001.seg"
#define SEG5 "00000000000000000005.seg"
#define SEG9 "00000000000000000009.seg"
#define SEG12 "00000000000000000012.seg"

/* What recovery must report for one case. */
struct fixture {
	const char *name;
	const char *files; /* the fixture folder, sorted */
	/* the read-only reader on the folder as committed, from seq 1 */
	uint64_t iter_first, iter_last; /* 0, 0: no record */
	int iter_rc;			/* after the last record */
	/* toll_journal_open */
	int rc;
	uint64_t records, last_seq, acked_seq, torn_bytes_cut, corrupt_after_seq;
	const char *detail;	 /* rc != 0: a part of rep.detail; rc 0: "" */
	const char *files_after; /* rc 0: the folder after recovery; NULL: unchanged */
	uint64_t first_seq;	 /* rc 0: the oldest record left */
};

static const struct fixture cases[] = {
	{"clean", SEG1 " " SEG5, 1, 8, TOLL_EEMPTY,
	 0, 8, 8, 0, 0, 0, "", NULL, 1},
	/* record 8 (offset 186 of segment 5, a 52-byte frame) cut 9 bytes
	 * into its frame header */
	{"torn-tail-header", SEG1 " " SEG5, 1, 7, TOLL_ECORRUPT,
	 0, 7, 7, 0, 9, 0, "", NULL, 1},
	/* record 8 cut 20 bytes into its payload: 17 + 20 bytes cut */
	{"torn-tail-payload", SEG1 " " SEG5, 1, 7, TOLL_ECORRUPT,
	 0, 7, 7, 0, 37, 0, "", NULL, 1},
	/* record 8 zeroed and segment 5 padded with zeros to 512 bytes */
	{"zero-filled-tail", SEG1 " " SEG5, 1, 7, TOLL_ECORRUPT,
	 0, 7, 7, 0, 512 - 186, 0, "", NULL, 1},
	/* record 6 damaged, 7 and 8 good after it */
	{"corrupt-middle", SEG1 " " SEG5, 1, 5, TOLL_ECORRUPT,
	 TOLL_ECORRUPT, 5, 0, 0, 0, 5,
	 "segment " SEG5 " offset 103 (after seq 5): damaged record, with valid records after it", NULL, 0},
	/* the last byte of record 8, the last record: a torn tail */
	{"corrupt-last", SEG1 " " SEG5, 1, 7, TOLL_ECORRUPT,
	 0, 7, 7, 0, 52, 0, "", NULL, 1},
	/* record 4 damaged, the last of segment 1, which is not the last */
	{"corrupt-first-segment", SEG1 " " SEG5, 1, 3, TOLL_ECORRUPT,
	 TOLL_ECORRUPT, 3, 0, 0, 0, 3,
	 "segment " SEG1 " offset 182 (after seq 3): damaged record, with valid records after it", NULL, 0},
	{"bad-segment-header", SEG1 " " SEG5, 0, 0, TOLL_ECORRUPT,
	 TOLL_ECORRUPT, 0, 0, 0, 0, 0, "segment " SEG1 ": damaged header", NULL, 0},
	{"bad-version", SEG1 " " SEG5, 0, 0, TOLL_EVERSION,
	 TOLL_EVERSION, 0, 0, 0, 0, 0, "segment " SEG1 ": unknown version of header", NULL, 0},
	/* acknowledged up to 6; segment 1 was deleted by the acknowledgement */
	{"cursor", SEG5 " " SEG9 " " SEG12 " cursor", 5, 12, TOLL_EEMPTY,
	 0, 8, 12, 6, 0, 0, "", NULL, 5},
	/* the reader does not read the cursor */
	{"cursor-damaged", SEG5 " " SEG9 " " SEG12 " cursor", 5, 12, TOLL_EEMPTY,
	 TOLL_ECORRUPT, 0, 0, 0, 0, 0, "cursor file damaged", NULL, 0},
	/* acknowledged up to 8, then record 8 torn: cut (37 bytes), then
	 * refused since the cursor is past the end */
	{"cursor-past-end", SEG5 " cursor", 5, 7, TOLL_ECORRUPT,
	 TOLL_ECORRUPT, 3, 0, 0, 37, 0, "cursor at seq 8 past the last record 7", NULL, 0},
	{"missing-segment", SEG1 " " SEG9 " " SEG12, 1, 4, TOLL_ECORRUPT,
	 TOLL_ECORRUPT, 4, 0, 0, 0, 0, "segment " SEG9 " starts at seq 9, expected 5", NULL, 0},
	/* seqs 1-4 were never acknowledged (no cursor) and their segment
	 * is gone: refused */
	{"missing-first-segment", SEG5 " " SEG9 " " SEG12, 5, 12, TOLL_EEMPTY,
	 TOLL_ECORRUPT, 0, 0, 0, 0, 0, "the first segment starts at seq 5 but the cursor is at 0", NULL, 0},
	/* segment 9 cut to 20 bytes of its header: removed, not counted in
	 * torn_bytes_cut */
	{"torn-segment-header", SEG1 " " SEG5 " " SEG9, 1, 8, TOLL_ECORRUPT,
	 0, 8, 8, 0, 0, 0, "", SEG1 " " SEG5, 1},
	/* segment 9 all zeros, 91 bytes: its size reached the disk, its data
	 * never did, so its first sync never completed: removed like a torn
	 * header (a power cut right after a roll must not stop the lane) */
	{"zero-filled-new-segment", SEG1 " " SEG5 " " SEG9, 1, 8, TOLL_ECORRUPT,
	 0, 8, 8, 0, 0, 0, "", SEG1 " " SEG5, 1},
	/* records 6 and 7 swapped, each frame intact */
	{"seq-out-of-order", SEG1 " " SEG5, 1, 5, TOLL_ECORRUPT,
	 TOLL_ECORRUPT, 5, 0, 0, 0, 5,
	 "segment " SEG5 " offset 103 (after seq 5): seq out of order, with valid records after it", NULL, 0},
	/* record 8's frame written twice: the second copy is intact, so no
	 * torn write made it: refused, as the reader does */
	{"duplicate-last", SEG1 " " SEG5, 1, 8, TOLL_ECORRUPT,
	 TOLL_ECORRUPT, 8, 0, 0, 0, 8,
	 "segment " SEG5 " offset 238 (after seq 8): seq out of order", NULL, 0},
};

#define NCASES ((int)(sizeof(cases) / sizeof(cases[0])))

/* The payload of record seq in every fixture, as make-fixtures.c writes it
 * (the same function): type 1 for even seqs, 2 for odd ones. */
static size_t
fixture_payload(uint64_t seq, uint8_t *type, uint8_t *out)
{
	char head[32];
	int n = snprintf(head, sizeof(head), "fixture record %" PRIu64 " ", seq);
	size_t len = (size_t)n + 2 + (size_t)(seq * 7 % 40);

	memcpy(out, head, (size_t)n);
	for (size_t k = (size_t)n; k < len; k++)
		out[k] = (uint8_t)('a' + (seq + k) % 26);
	*type = (uint8_t)(1 + seq % 2);
	return len;
}

#define EQ(c, a, b)                                                                              \
	ck_assert_msg((uint64_t)(a) == (uint64_t)(b), "%s: %s is %" PRIu64 ", expected %" PRIu64, \
		      (c)->name, #a, (uint64_t)(a), (uint64_t)(b))
#define RC(c, a, b)                                                                            \
	do {                                                                                   \
		int rc_ = (a), want_ = (b);                                                    \
		ck_assert_msg(rc_ == want_, "%s: %s is %d (%s), expected %d (%s)", (c)->name, #a, \
			      rc_, toll_strerror(rc_), want_, toll_strerror(want_));           \
	} while (0)

static void
data_path(char *buf, size_t len, const char *name)
{
	const char *top = getenv("TOLL_TOP");
	snprintf(buf, len, "%s/tests/data/journal/%s", top && *top ? top : ".", name);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir (regular files, or folders with dirs set), sorted,
 * joined by spaces into out. */
static void
list_dir(const char *dir, int dirs, char *out, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char *names[64];
	size_t n = 0, used = 0;

	ck_assert_msg(d != NULL, "could not open %s", dir);
	while ((de = readdir(d)) != NULL) {
		char p[600];
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		ck_assert_int_eq(stat(p, &st), 0);
		if (dirs ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
			continue;
		ck_assert_uint_lt(n, sizeof(names) / sizeof(names[0]));
		names[n] = strdup(de->d_name);
		ck_assert_ptr_nonnull(names[n]);
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp);
	out[0] = 0;
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(out + used, len - used, "%s%s", i ? " " : "", names[i]);
		ck_assert(w >= 0 && (size_t)w < len - used);
		used += (size_t)w;
		free(names[i]);
	}
}

static void
copy_file(const char *from, const char *to)
{
	uint8_t buf[4096];
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ssize_t n;

	ck_assert_msg(in >= 0, "could not open %s", from);
	ck_assert_msg(out >= 0, "could not create %s", to);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		ck_assert_int_eq(write(out, buf, (size_t)n), n);
	ck_assert_int_eq(n, 0);
	close(in);
	ck_assert_int_eq(close(out), 0);
}

/* Copy the fixture folder of c into a fresh tmpdir; check its files. */
static void
copy_fixture(const struct fixture *c)
{
	char src[512], names[1024], from[800], to[800];

	data_path(src, sizeof(src), c->name);
	list_dir(src, 0, names, sizeof(names));
	ck_assert_msg(strcmp(names, c->files) == 0, "%s: fixture holds \"%s\", expected \"%s\"", c->name,
		      names, c->files);
	make_tmpdir();
	for (char *s = names, *save = NULL, *f; (f = strtok_r(s, " ", &save)) != NULL; s = NULL) {
		snprintf(from, sizeof(from), "%s/%s", src, f);
		snprintf(to, sizeof(to), "%s/%s", tmpdir, f);
		copy_file(from, to);
	}
}

/* Read records first..last from it, each with its fixed payload, then
 * expect end_rc. */
static void
read_expect(const struct fixture *c, const char *what, struct toll_journal_iter *it, uint64_t first,
	    uint64_t last, int end_rc)
{
	uint64_t seq, want = first;
	uint8_t type, wtype, wp[64];
	const uint8_t *p;
	size_t len;
	int rc;

	while ((rc = toll_journal_iter_next(it, &seq, &type, &p, &len)) == 0) {
		size_t wlen = fixture_payload(want, &wtype, wp);
		ck_assert_msg(first != 0 && want <= last, "%s: %s: unexpected record %" PRIu64, c->name, what,
			      seq);
		ck_assert_msg(seq == want, "%s: %s: seq %" PRIu64 ", expected %" PRIu64, c->name, what, seq,
			      want);
		ck_assert_msg(type == wtype && len == wlen && memcmp(p, wp, len) == 0,
			      "%s: %s: record %" PRIu64 " is not its fixed payload", c->name, what, seq);
		want++;
	}
	ck_assert_msg(first == 0 ? want == 0 : want == last + 1,
		      "%s: %s: records stopped before %" PRIu64 " (%s), expected %" PRIu64 "-%" PRIu64, c->name,
		      what, want, toll_strerror(rc), first, last);
	ck_assert_msg(rc == end_rc, "%s: %s: ended with %d (%s), expected %d (%s)", c->name, what, rc,
		      toll_strerror(rc), end_rc, toll_strerror(end_rc));
}

static int
jopen(struct toll_journal **j, struct toll_journal_recovery *rep)
{
	struct toll_journal_opts o = {.dir = tmpdir, .segment_bytes = SEGMENT_BYTES, .no_sync = 1};
	*j = NULL;
	return toll_journal_open(&o, j, rep);
}

static void
check_report(const struct fixture *c, const struct toll_journal_recovery *rep, uint64_t records,
	     uint64_t last_seq, uint64_t torn)
{
	EQ(c, rep->records, records);
	EQ(c, rep->last_seq, last_seq);
	EQ(c, rep->acked_seq, c->acked_seq);
	EQ(c, rep->torn_bytes_cut, torn);
	EQ(c, rep->corrupt_after_seq, c->corrupt_after_seq);
}

static void
recovered(const struct fixture *c, struct toll_journal *j, const struct toll_journal_recovery *rep)
{
	struct toll_journal_iter *it;
	struct toll_journal_recovery rep2;
	char names[1024];
	uint8_t p[64], type;
	size_t len;
	uint64_t seq, next = c->last_seq + 1;

	check_report(c, rep, c->records, c->last_seq, c->torn_bytes_cut);
	ck_assert_msg(strcmp(rep->detail, "") == 0, "%s: detail \"%s\"", c->name, rep->detail);
	EQ(c, toll_journal_last_seq(j), c->last_seq);
	EQ(c, toll_journal_durable_seq(j), c->last_seq);
	EQ(c, toll_journal_acked(j), c->acked_seq);
	list_dir(tmpdir, 0, names, sizeof(names));
	ck_assert_msg(strcmp(names, c->files_after ? c->files_after : c->files) == 0,
		      "%s: after recovery the folder holds \"%s\"", c->name, names);

	/* every record kept, through the open journal */
	RC(c, toll_journal_iter_open(j, 1, &it), 0);
	read_expect(c, "all records", it, c->first_seq, c->last_seq, TOLL_EEMPTY);
	toll_journal_iter_close(it);
	/* the records not yet acknowledged */
	RC(c, toll_journal_iter_open(j, c->acked_seq + 1, &it), 0);
	read_expect(c, "unacknowledged", it, c->acked_seq + 1 > c->first_seq ? c->acked_seq + 1 : c->first_seq,
		    c->last_seq, TOLL_EEMPTY);
	toll_journal_iter_close(it);

	/* one more record goes on from there */
	len = fixture_payload(next, &type, p);
	RC(c, toll_journal_append(j, type, p, len, &seq), 0);
	EQ(c, seq, next);
	RC(c, toll_journal_sync(j), 0);
	RC(c, toll_journal_iter_open(j, next, &it), 0);
	read_expect(c, "appended", it, next, next, TOLL_EEMPTY);
	toll_journal_iter_close(it);
	toll_journal_close(j);

	/* and the journal reopens clean with it */
	RC(c, jopen(&j, &rep2), 0);
	check_report(c, &rep2, c->records + 1, next, 0);
	toll_journal_close(j);
	RC(c, toll_journal_iter_open_dir(tmpdir, 1, &it), 0);
	read_expect(c, "reopened", it, c->first_seq, next, TOLL_EEMPTY);
	toll_journal_iter_close(it);
}

static void
refused(const struct fixture *c, const struct toll_journal_recovery *rep)
{
	struct toll_journal *j;
	struct toll_journal_recovery rep2;

	check_report(c, rep, c->records, 0, c->torn_bytes_cut);
	ck_assert_msg(strstr(rep->detail, c->detail) != NULL, "%s: detail \"%s\", expected \"%s\"", c->name,
		      rep->detail, c->detail);
	/* and refused again: a second start does not get past it */
	RC(c, jopen(&j, &rep2), c->rc);
	ck_assert_ptr_null(j);
	ck_assert_msg(strstr(rep2.detail, c->detail) != NULL, "%s: second detail \"%s\"", c->name, rep2.detail);
}

START_TEST(test_fixture)
{
	const struct fixture *c = &cases[_i];
	struct toll_journal_iter *it;
	struct toll_journal *j;
	struct toll_journal_recovery rep;

	copy_fixture(c);
	/* the read-only reader, on the journal as committed */
	RC(c, toll_journal_iter_open_dir(tmpdir, 1, &it), 0);
	read_expect(c, "read-only reader", it, c->iter_first, c->iter_last, c->iter_rc);
	toll_journal_iter_close(it);

	RC(c, jopen(&j, &rep), c->rc);
	if (c->rc == 0) {
		ck_assert_ptr_nonnull(j);
		recovered(c, j, &rep);
	} else {
		ck_assert_ptr_null(j);
		refused(c, &rep);
	}
	rm_tmpdir();
}
END_TEST

/* Every folder in tests/data/journal has its row in the table. */
START_TEST(test_every_fixture_listed)
{
	char top[512], names[2048];

	data_path(top, sizeof(top), "");
	list_dir(top, 1, names, sizeof(names));
	for (char *s = names, *save = NULL, *f; (f = strtok_r(s, " ", &save)) != NULL; s = NULL) {
		int found = 0;
		for (int i = 0; i < NCASES; i++)
			found |= strcmp(cases[i].name, f) == 0;
		ck_assert_msg(found, "tests/data/journal/%s has no row in test_journal_fixtures.c", f);
	}
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("journal_fixtures");
	TCase *tc = tcase_create("fixtures");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_fixture, 0, NCASES);
	tcase_add_test(tc, test_every_fixture_listed);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(suite());
}

/* test_journal.c: the journal keeps every synced record across reopen and
 * crashes, cuts a torn tail, and refuses damage followed by good records. */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crc.h"
#include "err.h"
#include "journal.h"
#include "rng.h"
#include "unit.h"

static char dir[256];

static void
mkdir_tmp(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/toll-jtest-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
rm_tmp(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static struct toll_journal *
jopen(uint64_t segment_bytes, int expect_rc, struct toll_journal_recovery *rep)
{
	struct toll_journal_opts o = {.dir = dir, .segment_bytes = segment_bytes, .no_sync = 1};
	struct toll_journal *j = NULL;
	struct toll_journal_recovery r;
	ck_assert_int_eq(toll_journal_open(&o, &j, rep ? rep : &r), expect_rc);
	return j;
}

static void
append_n(struct toll_journal *j, int from, int n)
{
	for (int i = from; i < from + n; i++) {
		char p[64];
		uint64_t seq;
		int len = snprintf(p, sizeof(p), "record %d", i);
		ck_assert_int_eq(toll_journal_append(j, (uint8_t)(1 + i % 2), p, (size_t)len, &seq), 0);
		ck_assert_uint_eq(seq, (uint64_t)i);
	}
	ck_assert_int_eq(toll_journal_sync(j), 0);
}

/* Every record from 1 to n, in order, with its payload. */
static int
check_all(int n)
{
	struct toll_journal_iter *it;
	uint64_t seq;
	uint8_t type;
	const uint8_t *p;
	size_t len;
	int k = 0, rc;

	ck_assert_int_eq(toll_journal_iter_open_dir(dir, 1, &it), 0);
	while ((rc = toll_journal_iter_next(it, &seq, &type, &p, &len)) == 0) {
		char want[64];
		k++;
		int wl = snprintf(want, sizeof(want), "record %d", k);
		ck_assert_uint_eq(seq, (uint64_t)k);
		ck_assert_uint_eq(type, (uint8_t)(1 + k % 2));
		ck_assert_uint_eq(len, (size_t)wl);
		ck_assert_mem_eq(p, want, len);
	}
	toll_journal_iter_close(it);
	ck_assert_int_eq(rc, TOLL_EEMPTY);
	ck_assert_int_eq(k, n);
	return k;
}

/* The path of the newest segment. */
static void
last_segment(char *out, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char best[300] = "";
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, ".seg") && strcmp(e->d_name, best) > 0)
			snprintf(best, sizeof(best), "%s", e->d_name);
	closedir(d);
	snprintf(out, len, "%s/%s", dir, best);
}

static off_t
file_size(const char *p)
{
	struct stat st;
	ck_assert_int_eq(stat(p, &st), 0);
	return st.st_size;
}

START_TEST(test_reopen_and_segments)
{
	mkdir_tmp();
	struct toll_journal *j = jopen(4096, 0, NULL);
	append_n(j, 1, 300); /* several segments */
	toll_journal_close(j);
	j = jopen(4096, 0, NULL);
	ck_assert_uint_eq(toll_journal_last_seq(j), 300);
	append_n(j, 301, 5);
	toll_journal_close(j);
	check_all(305);
	/* iterate from the middle */
	struct toll_journal_iter *it;
	uint64_t seq;
	uint8_t type;
	const uint8_t *p;
	size_t len;
	ck_assert_int_eq(toll_journal_iter_open_dir(dir, 200, &it), 0);
	ck_assert_int_eq(toll_journal_iter_next(it, &seq, &type, &p, &len), 0);
	ck_assert_uint_eq(seq, 200);
	toll_journal_iter_close(it);
	rm_tmp();
}
END_TEST

START_TEST(test_torn_tail_every_length)
{
	char seg[700];
	mkdir_tmp();
	struct toll_journal *j = jopen(0, 0, NULL);
	append_n(j, 1, 10);
	toll_journal_close(j);
	last_segment(seg, sizeof(seg));
	off_t full = file_size(seg);
	/* the last frame "record 10": 17 + 9 bytes; cut it anywhere */
	for (off_t cut = full - 1; cut > full - 26; cut--) {
		struct toll_journal_recovery rep;
		ck_assert_int_eq(truncate(seg, cut), 0);
		j = jopen(0, 0, &rep);
		ck_assert_uint_eq(toll_journal_last_seq(j), 9);
		ck_assert_uint_eq(rep.torn_bytes_cut, (uint64_t)(cut - (full - 26)));
		/* and it goes on from there */
		append_n(j, 10, 1);
		toll_journal_close(j);
		check_all(10);
		ck_assert_int_eq(file_size(seg), full);
	}
	rm_tmp();
}
END_TEST

static void
flip(const char *path, off_t at)
{
	int fd = open(path, O_RDWR);
	uint8_t b;
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &b, 1, at), 1);
	b ^= 0x40;
	ck_assert_int_eq(pwrite(fd, &b, 1, at), 1);
	close(fd);
}

START_TEST(test_corrupt_middle_refused)
{
	char seg[700];
	struct toll_journal_recovery rep;
	mkdir_tmp();
	struct toll_journal *j = jopen(0, 0, NULL);
	append_n(j, 1, 10);
	toll_journal_close(j);
	last_segment(seg, sizeof(seg));
	/* a byte of record 5's payload: 32 header + 4 x 25 + 17 */
	flip(seg, 32 + 4 * 25 + 17 + 2);
	j = jopen(0, TOLL_ECORRUPT, &rep);
	ck_assert_ptr_null(j);
	ck_assert_uint_eq(rep.corrupt_after_seq, 4);
	ck_assert_ptr_nonnull(strstr(rep.detail, "valid records after"));
	/* reading the directory alone stops at the damage, no garbage */
	struct toll_journal_iter *it;
	uint64_t seq;
	uint8_t type;
	const uint8_t *p;
	size_t len;
	int n = 0, rc;
	ck_assert_int_eq(toll_journal_iter_open_dir(dir, 1, &it), 0);
	while ((rc = toll_journal_iter_next(it, &seq, &type, &p, &len)) == 0)
		n++;
	toll_journal_iter_close(it);
	ck_assert_int_eq(n, 4);
	ck_assert_int_eq(rc, TOLL_ECORRUPT);
	rm_tmp();
}
END_TEST

START_TEST(test_last_record_damaged_is_torn)
{
	char seg[700];
	struct toll_journal_recovery rep;
	mkdir_tmp();
	struct toll_journal *j = jopen(0, 0, NULL);
	append_n(j, 1, 10);
	toll_journal_close(j);
	last_segment(seg, sizeof(seg));
	flip(seg, file_size(seg) - 1);
	j = jopen(0, 0, &rep);
	ck_assert_uint_eq(toll_journal_last_seq(j), 9);
	ck_assert_uint_gt(rep.torn_bytes_cut, 0);
	toll_journal_close(j);
	rm_tmp();
}
END_TEST

START_TEST(test_bad_header_cursor_version)
{
	char seg[700], path[400];
	mkdir_tmp();
	struct toll_journal *j = jopen(4096, 0, NULL);
	append_n(j, 1, 300);
	ck_assert_int_eq(toll_journal_set_acked(j, 100), 0);
	ck_assert_int_eq(toll_journal_set_acked(j, 50), TOLL_ESEQ);
	ck_assert_int_eq(toll_journal_set_acked(j, 301), TOLL_EINVAL);
	toll_journal_close(j);
	/* the cursor survives, old segments were deleted, seqs go on */
	j = jopen(4096, 0, NULL);
	ck_assert_uint_eq(toll_journal_acked(j), 100);
	ck_assert_uint_eq(toll_journal_last_seq(j), 300);
	toll_journal_close(j);
	/* a damaged cursor is refused */
	snprintf(path, sizeof(path), "%s/cursor", dir);
	flip(path, 20);
	jopen(4096, TOLL_ECORRUPT, NULL);
	flip(path, 20);
	/* a damaged header of a segment that is not the last: refused */
	DIR *d = opendir(dir);
	struct dirent *e;
	char first[300] = "~";
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, ".seg") && strcmp(e->d_name, first) < 0)
			snprintf(first, sizeof(first), "%s", e->d_name);
	closedir(d);
	snprintf(seg, sizeof(seg), "%s/%s", dir, first);
	flip(seg, 3);
	jopen(4096, TOLL_ECORRUPT, NULL);
	flip(seg, 3);
	/* another format version, with a sound checksum */
	uint8_t h[32];
	int fd = open(seg, O_RDWR);
	ck_assert_int_eq(pread(fd, h, 32, 0), 32);
	h[11] = 2;
	uint32_t crc = toll_crc32c(0, h, 24);
	h[24] = (uint8_t)(crc >> 24), h[25] = (uint8_t)(crc >> 16), h[26] = (uint8_t)(crc >> 8), h[27] = (uint8_t)crc;
	ck_assert_int_eq(pwrite(fd, h, 32, 0), 32);
	close(fd);
	jopen(4096, TOLL_EVERSION, NULL);
	rm_tmp();
}
END_TEST

START_TEST(test_bounds_and_full)
{
	mkdir_tmp();
	struct toll_journal_opts o = {.dir = dir, .max_bytes = 2000, .no_sync = 1};
	struct toll_journal *j;
	struct toll_journal_recovery rep;
	uint8_t big[TOLL_JOURNAL_PAYLOAD_MAX + 1];
	uint64_t seq;
	int full = 0;

	memset(big, 7, sizeof(big));
	ck_assert_int_eq(toll_journal_open(&o, &j, &rep), 0);
	ck_assert_int_eq(toll_journal_append(j, 1, big, 0, &seq), TOLL_EINVAL);
	ck_assert_int_eq(toll_journal_append(j, 0, big, 1, &seq), TOLL_EINVAL);
	ck_assert_int_eq(toll_journal_append(j, 1, big, sizeof(big), &seq), TOLL_EINVAL);
	for (int i = 0; i < 100 && !full; i++) {
		int rc = toll_journal_append(j, 1, big, 100, &seq);
		if (rc == TOLL_EFULL)
			full = 1;
		else
			ck_assert_int_eq(rc, 0);
	}
	ck_assert(full);
	uint64_t last = toll_journal_last_seq(j), bytes;
	int warn;
	toll_journal_usage(j, &bytes, &warn);
	ck_assert(warn);
	ck_assert_uint_le(bytes, 2000);
	ck_assert_int_eq(toll_journal_sync(j), 0);
	toll_journal_close(j);
	/* no partial record was left */
	ck_assert_int_eq(toll_journal_open(&o, &j, &rep), 0);
	ck_assert_uint_eq(toll_journal_last_seq(j), last);
	ck_assert_uint_eq(rep.torn_bytes_cut, 0);
	toll_journal_close(j);
	rm_tmp();
}
END_TEST

/* A child appends and syncs, reporting each synced seq through a pipe, and
 * is killed at a random moment: everything it reported is there. */
START_TEST(test_kill9_keeps_synced)
{
	struct toll_rng rng;
	uint64_t seed = (uint64_t)time(NULL);
	int fds[2];

	toll_rng_seed(&rng, seed);
	printf("test_kill9_keeps_synced seed %llu\n", (unsigned long long)seed);
	for (int round = 0; round < 3; round++) {
		mkdir_tmp();
		ck_assert_int_eq(pipe(fds), 0);
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			struct toll_journal_opts o = {.dir = dir, .segment_bytes = 8192};
			struct toll_journal *j;
			struct toll_journal_recovery rep;
			close(fds[0]);
			if (toll_journal_open(&o, &j, &rep) != 0)
				_exit(1);
			for (int i = 1;; i++) {
				char p[64];
				uint64_t seq;
				int len = snprintf(p, sizeof(p), "record %d", i);
				if (toll_journal_append(j, (uint8_t)(1 + i % 2), p, (size_t)len, &seq) != 0 ||
				    toll_journal_sync(j) != 0)
					_exit(1);
				if (write(fds[1], &seq, sizeof(seq)) != sizeof(seq))
					_exit(1);
			}
		}
		close(fds[1]);
		struct timespec ts = {0, (long)toll_rng_range(&rng, 5, 150) * 1000000L};
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		uint64_t seq, synced = 0;
		while (read(fds[0], &seq, sizeof(seq)) == sizeof(seq))
			synced = seq;
		close(fds[0]);
		struct toll_journal *j = jopen(8192, 0, NULL);
		ck_assert_msg(toll_journal_last_seq(j) >= synced, "seed %llu: synced %llu, found %llu",
			      (unsigned long long)seed, (unsigned long long)synced,
			      (unsigned long long)toll_journal_last_seq(j));
		int n = (int)toll_journal_last_seq(j);
		toll_journal_close(j);
		check_all(n);
		rm_tmp();
	}
}
END_TEST

/* The tail reader follows appends, across segment rolls, never past the
 * bound it is given, and starts from any seq. */
static void
tail_expect(struct toll_journal_tail *t, uint64_t until, int from, int to)
{
	for (int i = from; i <= to; i++) {
		uint64_t seq;
		uint8_t type;
		const uint8_t *pl;
		size_t len;
		char want[64];
		int n = snprintf(want, sizeof(want), "record %d", i);
		ck_assert_int_eq(toll_journal_tail_next(t, until, &seq, &type, &pl, &len), 0);
		ck_assert_uint_eq(seq, (uint64_t)i);
		ck_assert_uint_eq(len, (size_t)n);
		ck_assert(memcmp(pl, want, len) == 0);
	}
	uint64_t seq;
	uint8_t type;
	const uint8_t *pl;
	size_t len;
	ck_assert_int_eq(toll_journal_tail_next(t, until, &seq, &type, &pl, &len), TOLL_EEMPTY);
}

START_TEST(test_tail_follows)
{
	struct toll_journal_tail *t, *t2;

	mkdir_tmp();
	struct toll_journal *j = jopen(200, 0, NULL);
	ck_assert_int_eq(toll_journal_tail_open(dir, 1, &t), 0);
	tail_expect(t, toll_journal_durable_seq(j), 1, 0); /* empty journal */
	append_n(j, 1, 3);
	tail_expect(t, 2, 1, 2); /* bounded */
	tail_expect(t, toll_journal_durable_seq(j), 3, 3);
	append_n(j, 4, 40); /* many segment rolls */
	tail_expect(t, toll_journal_durable_seq(j), 4, 43);
	ck_assert_uint_eq(toll_journal_tail_position(t), 44);
	/* from the middle of a later segment */
	ck_assert_int_eq(toll_journal_tail_open(dir, 30, &t2), 0);
	tail_expect(t2, toll_journal_durable_seq(j), 30, 43);
	/* acknowledged segments deleted under a reader past them */
	ck_assert_int_eq(toll_journal_set_acked(j, 35), 0);
	append_n(j, 44, 5);
	tail_expect(t, toll_journal_durable_seq(j), 44, 48);
	tail_expect(t2, toll_journal_durable_seq(j), 44, 48);
	toll_journal_tail_close(t);
	toll_journal_tail_close(t2);
	toll_journal_close(j);
	rm_tmp();
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("journal");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_reopen_and_segments);
	tcase_add_test(tc, test_torn_tail_every_length);
	tcase_add_test(tc, test_corrupt_middle_refused);
	tcase_add_test(tc, test_last_record_damaged_is_torn);
	tcase_add_test(tc, test_bad_header_cursor_version);
	tcase_add_test(tc, test_bounds_and_full);
	tcase_add_test(tc, test_kill9_keeps_synced);
	tcase_add_test(tc, test_tail_follows);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(suite());
}

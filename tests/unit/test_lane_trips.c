/* test_lane_trips.c: an exit lane's closed-road entries: which record wins
 * (newer trip, forward state), the look-up window, an entry used once,
 * pruning, growth past the first table, and the saved file: round trip,
 * every truncation, every flipped bit, another version, a repeated EPC,
 * a field out of range (each refused with the table left as it was). */
#include <check.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "crc.h"
#include "err.h"
#include "lane_trips.h"
#include "tslmsg.h"
#include "unit.h"
#include "unit_tmp.h"

#define HOUR 3600000LL
#define T0 1764633600000LL /* 2025-12-02 00:00 UTC */

static struct lane_trips *tr;

static void
setup(void)
{
	make_tmpdir();
	ck_assert_int_eq(lane_trips_new(&tr), 0);
}

static void
teardown(void)
{
	lane_trips_free(tr);
	rm_tmpdir();
}

static void
epc_n(uint8_t epc[12], uint32_t n)
{
	memset(epc, 0, 12);
	epc[0] = 0x30;
	epc[8] = (uint8_t)(n >> 24);
	epc[9] = (uint8_t)(n >> 16);
	epc[10] = (uint8_t)(n >> 8);
	epc[11] = (uint8_t)n;
}

static int
found(uint32_t n, int64_t now, uint32_t *st, int64_t *tm)
{
	uint8_t e[12];
	epc_n(e, n);
	return lane_trips_find(tr, e, 96, now, 24 * HOUR, st, tm);
}

START_TEST(test_put_rules)
{
	uint8_t e[12];
	uint32_t st = 0;
	int64_t tm = 0;
	epc_n(e, 1);
	ck_assert_int_eq(found(1, T0, &st, &tm), TOLL_ENOTFOUND);
	ck_assert_int_eq(lane_trips_put(tr, e, 96, 201, T0, TOLL_TSL_ENTRY_OPEN), 0);
	ck_assert_int_eq(found(1, T0 + 1000, &st, &tm), 0);
	ck_assert_uint_eq(st, 201);
	ck_assert_int_eq(tm, T0);
	/* an older trip does not replace a newer one */
	ck_assert_int_eq(lane_trips_put(tr, e, 96, 202, T0 - 1000, TOLL_TSL_ENTRY_OPEN), 0);
	ck_assert_int_eq(found(1, T0 + 1000, &st, &tm), 0);
	ck_assert_uint_eq(st, 201);
	/* the same trip closed: gone; it does not open again */
	ck_assert_int_eq(lane_trips_put(tr, e, 96, 201, T0, TOLL_TSL_ENTRY_CLOSED), 0);
	ck_assert_int_eq(found(1, T0 + 1000, &st, &tm), TOLL_ENOTFOUND);
	ck_assert_int_eq(lane_trips_put(tr, e, 96, 201, T0, TOLL_TSL_ENTRY_OPEN), 0);
	ck_assert_int_eq(found(1, T0 + 1000, &st, &tm), TOLL_ENOTFOUND);
	/* a newer trip opens */
	ck_assert_int_eq(lane_trips_put(tr, e, 96, 203, T0 + HOUR, TOLL_TSL_ENTRY_OPEN), 0);
	ck_assert_int_eq(found(1, T0 + HOUR + 1, &st, &tm), 0);
	ck_assert_uint_eq(st, 203);
	/* bad arguments */
	ck_assert_int_eq(lane_trips_put(tr, e, 0, 203, T0, 1), TOLL_EINVAL);
	ck_assert_int_eq(lane_trips_put(tr, e, 257, 203, T0, 1), TOLL_EINVAL);
	ck_assert_int_eq(lane_trips_put(tr, e, 96, 203, T0, 0), TOLL_EINVAL);
	ck_assert_int_eq(lane_trips_put(tr, e, 96, 203, T0, 4), TOLL_EINVAL);
	/* an EPC is matched on its exact bits */
	ck_assert_int_eq(lane_trips_find(tr, e, 95, T0 + HOUR, HOUR, &st, &tm), TOLL_ENOTFOUND);
}
END_TEST

START_TEST(test_window_and_used)
{
	uint8_t e[12];
	uint32_t st;
	int64_t tm;
	epc_n(e, 7);
	ck_assert_int_eq(lane_trips_put(tr, e, 96, 201, T0, TOLL_TSL_ENTRY_OPEN), 0);
	ck_assert_int_eq(found(7, T0 + 24 * HOUR, &st, &tm), 0);
	ck_assert_int_eq(found(7, T0 + 24 * HOUR + 1, &st, &tm), TOLL_ENOTFOUND); /* too old */
	ck_assert_int_eq(found(7, T0 - 60000, &st, &tm), 0);			   /* a minute of skew */
	ck_assert_int_eq(found(7, T0 - 60001, &st, &tm), TOLL_ENOTFOUND);
	/* used for another trip's time: nothing; for its own: closed */
	lane_trips_used(tr, e, 96, T0 + 1);
	ck_assert_int_eq(found(7, T0, &st, &tm), 0);
	lane_trips_used(tr, e, 96, T0);
	ck_assert_int_eq(found(7, T0, &st, &tm), TOLL_ENOTFOUND);
	size_t kept, open;
	lane_trips_count(tr, &kept, &open);
	ck_assert_uint_eq(kept, 1);
	ck_assert_uint_eq(open, 0);
}
END_TEST

START_TEST(test_many_and_prune)
{
	uint8_t e[12];
	uint32_t st;
	int64_t tm;
	for (uint32_t i = 1; i <= 5000; i++) {
		epc_n(e, i);
		ck_assert_int_eq(lane_trips_put(tr, e, 96, 200 + i % 4, T0 + i, i % 10 == 0 ? 2 : 1), 0);
	}
	size_t kept, open;
	lane_trips_count(tr, &kept, &open);
	ck_assert_uint_eq(kept, 5000);
	ck_assert_uint_eq(open, 4500);
	for (uint32_t i = 1; i <= 5000; i++) {
		ck_assert_int_eq(found(i, T0 + 10000, &st, &tm), i % 10 == 0 ? TOLL_ENOTFOUND : 0);
		if (i % 10)
			ck_assert_int_eq(tm, T0 + i);
	}
	/* closed ones and those older than T0 + 2500 go */
	size_t dropped = lane_trips_prune(tr, T0 + 2500 + 24 * HOUR, 24 * HOUR);
	lane_trips_count(tr, &kept, &open);
	ck_assert_uint_eq(kept, open);
	ck_assert_uint_eq(kept + dropped, 5000);
	ck_assert_int_eq(found(2501, T0 + 2500 + HOUR, &st, &tm), 0);
	ck_assert_int_eq(found(2499, T0 + 2500 + HOUR, &st, &tm), TOLL_ENOTFOUND);
}
END_TEST

static size_t
file_bytes(const char *path, uint8_t *b, size_t cap)
{
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(b, 1, cap, f);
	fclose(f);
	return n;
}

static void
file_write(const char *path, const uint8_t *b, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(b, 1, n, f), n);
	fclose(f);
}

/* The table holds exactly the three entries saved below. */
static void
assert_three(void)
{
	uint32_t st;
	int64_t tm;
	size_t kept, open;
	lane_trips_count(tr, &kept, &open);
	ck_assert_uint_eq(kept, 3);
	ck_assert_uint_eq(open, 2);
	ck_assert_int_eq(found(1, T0, &st, &tm), 0);
	ck_assert_uint_eq(st, 201);
	ck_assert_int_eq(found(2, T0, &st, &tm), TOLL_ENOTFOUND); /* closed */
	ck_assert_int_eq(found(3, T0, &st, &tm), 0);
	ck_assert_uint_eq(st, 204);
}

START_TEST(test_file)
{
	char path[300], err[256];
	static uint8_t b[1024], c[1024];
	uint8_t e[32] = {0xAB, 0xC0};
	snprintf(path, sizeof(path), "%s", tmpfile_named("trips.dat"));
	ck_assert_int_eq(lane_trips_load(tr, path, err, sizeof(err)), TOLL_ENOTFOUND);
	epc_n(e, 1);
	ck_assert_int_eq(lane_trips_put(tr, e, 96, 201, T0, 1), 0);
	epc_n(e, 2);
	ck_assert_int_eq(lane_trips_put(tr, e, 96, 202, T0, 2), 0);
	epc_n(e, 3);
	ck_assert_int_eq(lane_trips_put(tr, e, 96, 204, T0 - 5, 1), 0);
	ck_assert_int_eq(lane_trips_save(tr, path, err, sizeof(err)), 0);
	size_t n = file_bytes(path, b, sizeof(b));
	ck_assert_uint_eq(n, 16 + 3 * 47 + 4);
	ck_assert_mem_eq(b, "TOLLTRIP\0\0\0\1\0\0\0\3", 16);

	/* into a fresh table */
	lane_trips_free(tr);
	ck_assert_int_eq(lane_trips_new(&tr), 0);
	ck_assert_int_eq(lane_trips_load(tr, path, err, sizeof(err)), 0);
	assert_three();

	/* every truncation and every flipped bit: refused, table unchanged */
	for (size_t len = 0; len < n; len++) {
		file_write(path, b, len);
		ck_assert_int_ne(lane_trips_load(tr, path, err, sizeof(err)), 0);
	}
	for (size_t bit = 0; bit < n * 8; bit++) {
		memcpy(c, b, n);
		c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		file_write(path, c, n);
		int rc = lane_trips_load(tr, path, err, sizeof(err));
		ck_assert_msg(rc != 0, "bit %zu flipped was taken", bit);
	}
	assert_three();

	/* right CRC, wrong contents: another version, a repeated EPC, a
	 * station 0, a state 4, bits past the EPC's length
	 * (records start at 16, 47 bytes each: bits 2, EPC 32, station 4,
	 * time 8, state 1) */
	const int want[5] = {TOLL_EVERSION, TOLL_ECORRUPT, TOLL_ECORRUPT, TOLL_ECORRUPT, TOLL_ECORRUPT};
	for (size_t i = 0; i < 5; i++) {
		memcpy(c, b, n);
		if (i == 0)
			c[11] = 2; /* format version 2 */
		else if (i == 1)
			memcpy(c + 16 + 47, c + 16, 34); /* the second record's EPC made the first's */
		else if (i == 2)
			memset(c + 16 + 34, 0, 4); /* station 0 */
		else if (i == 3)
			c[16 + 46] = 4; /* state 4 */
		else
			c[16 + 2 + 12] = 1; /* a bit past a 96-bit EPC */
		struct toll_wr w;
		toll_wr_init(&w, c + n - 4, 4);
		toll_wr_u32(&w, toll_crc32c(0, c, n - 4));
		file_write(path, c, n);
		ck_assert_int_eq(lane_trips_load(tr, path, err, sizeof(err)), want[i]);
	}
	assert_three();
	/* a count that does not match the size */
	memcpy(c, b, n);
	c[15] = 4;
	file_write(path, c, n);
	ck_assert_int_eq(lane_trips_load(tr, path, err, sizeof(err)), TOLL_ECORRUPT);
	assert_three();
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("lane_trips");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_put_rules);
	tcase_add_test(tc, test_window_and_used);
	tcase_add_test(tc, test_many_and_prune);
	tcase_add_test(tc, test_file);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(suite());
}

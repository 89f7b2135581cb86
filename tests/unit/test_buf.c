/* test_buf.c: the bounds-checked reader and writer read and write
 * big-endian values, and a read or write past the end fails with the cursor
 * left where it was. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "unit.h"

static const uint8_t sample[] = {
	0x01,                                           /* u8 */
	0x12, 0x34,                                     /* u16 */
	0xFD, 0x9C,                                     /* i16 -612 */
	0xDE, 0xAD, 0xBE, 0xEF,                         /* u32 */
	0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, /* u64 */
	0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, /* i64 -2 */
	0xA0, 0xA1, 0xA2,                               /* bytes */
};

START_TEST(test_rd_values)
{
	struct toll_rd rd;
	uint8_t u8, raw[3];
	uint16_t u16;
	int16_t i16;
	uint32_t u32;
	uint64_t u64;
	int64_t i64;

	toll_rd_init(&rd, sample, sizeof(sample));
	ck_assert_uint_eq(toll_rd_left(&rd), sizeof(sample));
	ck_assert_int_eq(toll_rd_u8(&rd, &u8), 0);
	ck_assert_uint_eq(u8, 0x01);
	ck_assert_int_eq(toll_rd_u16(&rd, &u16), 0);
	ck_assert_uint_eq(u16, 0x1234);
	ck_assert_int_eq(toll_rd_i16(&rd, &i16), 0);
	ck_assert_int_eq(i16, -612);
	ck_assert_int_eq(toll_rd_u32(&rd, &u32), 0);
	ck_assert_uint_eq(u32, 0xDEADBEEFu);
	ck_assert_int_eq(toll_rd_u64(&rd, &u64), 0);
	ck_assert(u64 == 0x0123456789ABCDEFull);
	ck_assert_int_eq(toll_rd_i64(&rd, &i64), 0);
	ck_assert(i64 == -2);
	ck_assert_int_eq(toll_rd_bytes(&rd, raw, sizeof(raw)), 0);
	ck_assert_mem_eq(raw, sample + sizeof(sample) - 3, 3);
	ck_assert_uint_eq(toll_rd_left(&rd), 0);
	ck_assert_uint_eq(rd.off, sizeof(sample));
}
END_TEST

START_TEST(test_rd_skip)
{
	struct toll_rd rd;
	uint16_t v;

	toll_rd_init(&rd, sample, sizeof(sample));
	ck_assert_int_eq(toll_rd_skip(&rd, 3), 0);
	ck_assert_int_eq(toll_rd_u16(&rd, &v), 0);
	ck_assert_uint_eq(v, 0xFD9C);
	ck_assert_int_eq(toll_rd_skip(&rd, sizeof(sample) - 5), 0);
	ck_assert_uint_eq(toll_rd_left(&rd), 0);
	ck_assert_int_eq(toll_rd_skip(&rd, 0), 0);
	ck_assert_int_eq(toll_rd_skip(&rd, 1), TOLL_ESHORT);
	ck_assert_uint_eq(rd.off, sizeof(sample));
}
END_TEST

/* With n bytes left, every read of more than n bytes fails with
 * TOLL_ESHORT and leaves the cursor where it was. */
START_TEST(test_rd_past_end_keeps_cursor)
{
	struct toll_rd rd;
	uint8_t u8, raw[16];
	uint16_t u16;
	int16_t i16;
	uint32_t u32;
	uint64_t u64;
	int64_t i64;

	for (size_t left = 0; left < 8; left++) {
		size_t start = sizeof(sample) - left;
		toll_rd_init(&rd, sample, sizeof(sample));
		ck_assert_int_eq(toll_rd_skip(&rd, start), 0);
		if (left < 1) {
			ck_assert_int_eq(toll_rd_u8(&rd, &u8), TOLL_ESHORT);
			ck_assert_uint_eq(rd.off, start);
		}
		if (left < 2) {
			ck_assert_int_eq(toll_rd_u16(&rd, &u16), TOLL_ESHORT);
			ck_assert_uint_eq(rd.off, start);
			ck_assert_int_eq(toll_rd_i16(&rd, &i16), TOLL_ESHORT);
			ck_assert_uint_eq(rd.off, start);
		}
		if (left < 4) {
			ck_assert_int_eq(toll_rd_u32(&rd, &u32), TOLL_ESHORT);
			ck_assert_uint_eq(rd.off, start);
		}
		ck_assert_int_eq(toll_rd_u64(&rd, &u64), TOLL_ESHORT);
		ck_assert_uint_eq(rd.off, start);
		ck_assert_int_eq(toll_rd_i64(&rd, &i64), TOLL_ESHORT);
		ck_assert_uint_eq(rd.off, start);
		ck_assert_int_eq(toll_rd_bytes(&rd, raw, left + 1), TOLL_ESHORT);
		ck_assert_uint_eq(rd.off, start);
		ck_assert_int_eq(toll_rd_skip(&rd, left + 1), TOLL_ESHORT);
		ck_assert_uint_eq(rd.off, start);
		ck_assert_uint_eq(toll_rd_left(&rd), left);
		/* exactly what is left still reads */
		ck_assert_int_eq(toll_rd_bytes(&rd, raw, left), 0);
		ck_assert_uint_eq(toll_rd_left(&rd), 0);
	}
}
END_TEST

/* A length near SIZE_MAX must not wrap the bounds check. */
START_TEST(test_rd_huge_length)
{
	struct toll_rd rd;
	uint8_t raw[1];

	toll_rd_init(&rd, sample, sizeof(sample));
	ck_assert_int_eq(toll_rd_skip(&rd, 2), 0);
	ck_assert_int_eq(toll_rd_skip(&rd, SIZE_MAX), TOLL_ESHORT);
	ck_assert_int_eq(toll_rd_skip(&rd, SIZE_MAX - 1), TOLL_ESHORT);
	ck_assert_int_eq(toll_rd_bytes(&rd, raw, SIZE_MAX), TOLL_ESHORT);
	ck_assert_uint_eq(rd.off, 2);
}
END_TEST

START_TEST(test_rd_null_is_empty)
{
	struct toll_rd rd;
	uint8_t u8;

	toll_rd_init(&rd, NULL, 100);
	ck_assert_uint_eq(toll_rd_left(&rd), 0);
	ck_assert_int_eq(toll_rd_u8(&rd, &u8), TOLL_ESHORT);
	ck_assert_int_eq(toll_rd_skip(&rd, 0), 0);
}
END_TEST

START_TEST(test_wr_values)
{
	uint8_t out[sizeof(sample)];
	static const uint8_t tail[] = {0xA0, 0xA1, 0xA2};
	struct toll_wr wr;

	memset(out, 0x55, sizeof(out));
	toll_wr_init(&wr, out, sizeof(out));
	ck_assert_int_eq(toll_wr_u8(&wr, 0x01), 0);
	ck_assert_int_eq(toll_wr_u16(&wr, 0x1234), 0);
	ck_assert_int_eq(toll_wr_u16(&wr, (uint16_t)-612), 0);
	ck_assert_int_eq(toll_wr_u32(&wr, 0xDEADBEEFu), 0);
	ck_assert_int_eq(toll_wr_u64(&wr, 0x0123456789ABCDEFull), 0);
	ck_assert_int_eq(toll_wr_u64(&wr, (uint64_t)-2), 0);
	ck_assert_int_eq(toll_wr_bytes(&wr, tail, sizeof(tail)), 0);
	ck_assert_uint_eq(wr.off, sizeof(sample));
	ck_assert_mem_eq(out, sample, sizeof(sample));
}
END_TEST

START_TEST(test_wr_zero)
{
	uint8_t out[6];
	struct toll_wr wr;

	memset(out, 0xEE, sizeof(out));
	toll_wr_init(&wr, out, 5);
	ck_assert_int_eq(toll_wr_u8(&wr, 7), 0);
	ck_assert_int_eq(toll_wr_zero(&wr, 4), 0);
	ck_assert_int_eq(toll_wr_zero(&wr, 1), TOLL_ENOSPACE);
	ck_assert_int_eq(toll_wr_zero(&wr, 0), 0);
	ck_assert_uint_eq(out[0], 7);
	for (int i = 1; i < 5; i++)
		ck_assert_uint_eq(out[i], 0);
	ck_assert_uint_eq(out[5], 0xEE);
}
END_TEST

/* With n bytes of room, every larger write fails with TOLL_ENOSPACE, leaves
 * the cursor where it was and writes nothing, not even a guard byte. */
START_TEST(test_wr_past_end_keeps_cursor)
{
	uint8_t out[16 + 1];
	uint8_t src[16];
	struct toll_wr wr;

	memset(src, 0x77, sizeof(src));
	for (size_t room = 0; room < 8; room++) {
		memset(out, 0xEE, sizeof(out));
		toll_wr_init(&wr, out, room);
		if (room < 1) {
			ck_assert_int_eq(toll_wr_u8(&wr, 1), TOLL_ENOSPACE);
			ck_assert_uint_eq(wr.off, 0);
		}
		if (room < 2) {
			ck_assert_int_eq(toll_wr_u16(&wr, 1), TOLL_ENOSPACE);
			ck_assert_uint_eq(wr.off, 0);
		}
		if (room < 4) {
			ck_assert_int_eq(toll_wr_u32(&wr, 1), TOLL_ENOSPACE);
			ck_assert_uint_eq(wr.off, 0);
		}
		ck_assert_int_eq(toll_wr_u64(&wr, 1), TOLL_ENOSPACE);
		ck_assert_uint_eq(wr.off, 0);
		ck_assert_int_eq(toll_wr_bytes(&wr, src, room + 1), TOLL_ENOSPACE);
		ck_assert_uint_eq(wr.off, 0);
		ck_assert_int_eq(toll_wr_zero(&wr, room + 1), TOLL_ENOSPACE);
		ck_assert_uint_eq(wr.off, 0);
		for (size_t i = 0; i < sizeof(out); i++)
			ck_assert_uint_eq(out[i], 0xEE);
		/* exactly the room still writes, and nothing past it */
		ck_assert_int_eq(toll_wr_bytes(&wr, src, room), 0);
		ck_assert_uint_eq(wr.off, room);
		ck_assert_uint_eq(out[room], 0xEE);
		ck_assert_int_eq(toll_wr_u8(&wr, 1), TOLL_ENOSPACE);
		ck_assert_int_eq(toll_wr_bytes(&wr, src, SIZE_MAX), TOLL_ENOSPACE);
		ck_assert_uint_eq(wr.off, room);
	}
}
END_TEST

START_TEST(test_wr_null_has_no_room)
{
	struct toll_wr wr;

	toll_wr_init(&wr, NULL, 100);
	ck_assert_int_eq(toll_wr_u8(&wr, 1), TOLL_ENOSPACE);
	ck_assert_uint_eq(wr.off, 0);
}
END_TEST

START_TEST(test_words_bytes)
{
	static const uint16_t words[3] = {0x1234, 0xABCD, 0x00FF};
	static const uint8_t bytes[6] = {0x12, 0x34, 0xAB, 0xCD, 0x00, 0xFF};
	uint8_t b[6];
	uint16_t w[3];

	toll_words_to_bytes(words, 3, b);
	ck_assert_mem_eq(b, bytes, sizeof(b));
	toll_bytes_to_words(bytes, 3, w);
	ck_assert_mem_eq(w, words, sizeof(w));
}
END_TEST

START_TEST(test_writer_reader_agree)
{
	uint8_t buf[64];
	struct toll_wr wr;
	struct toll_rd rd;

	toll_wr_init(&wr, buf, sizeof(buf));
	for (uint32_t i = 0; i < 16; i++)
		ck_assert_int_eq(toll_wr_u32(&wr, i * 0x01010101u + 0x80000000u), 0);
	ck_assert_int_eq(toll_wr_u8(&wr, 0), TOLL_ENOSPACE);
	toll_rd_init(&rd, buf, wr.off);
	for (uint32_t i = 0; i < 16; i++) {
		uint32_t v;
		ck_assert_int_eq(toll_rd_u32(&rd, &v), 0);
		ck_assert_uint_eq(v, i * 0x01010101u + 0x80000000u);
	}
	ck_assert_uint_eq(toll_rd_left(&rd), 0);
}
END_TEST

static Suite *
buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_rd_values);
	tcase_add_test(tc, test_rd_skip);
	tcase_add_test(tc, test_rd_past_end_keeps_cursor);
	tcase_add_test(tc, test_rd_huge_length);
	tcase_add_test(tc, test_rd_null_is_empty);
	tcase_add_test(tc, test_wr_values);
	tcase_add_test(tc, test_wr_zero);
	tcase_add_test(tc, test_wr_past_end_keeps_cursor);
	tcase_add_test(tc, test_wr_null_has_no_room);
	tcase_add_test(tc, test_words_bytes);
	tcase_add_test(tc, test_writer_reader_agree);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(buf_suite());
}

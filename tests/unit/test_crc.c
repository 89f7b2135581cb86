/* test_crc.c: CRC-16/MODBUS and CRC-32C give the catalogue check values
 * and the published test vectors. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc.h"
#include "unit.h"

static const char check_input[] = "123456789";

START_TEST(test_crc16_check_value)
{
	ck_assert_uint_eq(toll_crc16_modbus(check_input, 9), 0x4B37);
}
END_TEST

START_TEST(test_crc16_empty_is_init)
{
	ck_assert_uint_eq(toll_crc16_modbus(NULL, 0), 0xFFFF);
	ck_assert_uint_eq(toll_crc16_modbus(check_input, 0), 0xFFFF);
}
END_TEST

/* A Modbus RTU request as sent on the wire: 01 03 00 00 00 0A C5 CD (the
 * CRC goes low byte first on RTU). */
START_TEST(test_crc16_modbus_frame)
{
	static const uint8_t frame[] = {0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD};

	ck_assert_uint_eq(toll_crc16_modbus(frame, 6), 0xCDC5);
	/* with its CRC appended low byte first, the residue is 0 */
	ck_assert_uint_eq(toll_crc16_modbus(frame, 8), 0x0000);
}
END_TEST

START_TEST(test_crc16_detects_every_bit_flip)
{
	uint8_t b[78];
	uint16_t good;

	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)(i * 37 + 11);
	good = toll_crc16_modbus(b, sizeof(b));
	for (size_t i = 0; i < 8 * sizeof(b); i++) {
		b[i / 8] ^= (uint8_t)(1u << (i % 8));
		ck_assert_uint_ne(toll_crc16_modbus(b, sizeof(b)), good);
		b[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	ck_assert_uint_eq(toll_crc16_modbus(b, sizeof(b)), good);
}
END_TEST

START_TEST(test_crc32c_check_value)
{
	ck_assert_uint_eq(toll_crc32c(0, check_input, 9), 0xE3069283u);
}
END_TEST

START_TEST(test_crc32c_empty)
{
	ck_assert_uint_eq(toll_crc32c(0, NULL, 0), 0);
	ck_assert_uint_eq(toll_crc32c(0x12345678u, check_input, 0), 0x12345678u);
}
END_TEST

/* RFC 3720 (iSCSI), appendix B.4. */
START_TEST(test_crc32c_rfc3720_vectors)
{
	uint8_t b[32];

	memset(b, 0, sizeof(b));
	ck_assert_uint_eq(toll_crc32c(0, b, sizeof(b)), 0x8A9136AAu);
	memset(b, 0xFF, sizeof(b));
	ck_assert_uint_eq(toll_crc32c(0, b, sizeof(b)), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)i;
	ck_assert_uint_eq(toll_crc32c(0, b, sizeof(b)), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)(31 - i);
	ck_assert_uint_eq(toll_crc32c(0, b, sizeof(b)), 0x113FDB5Cu);
}
END_TEST

START_TEST(test_crc32c_chains)
{
	for (size_t cut = 0; cut <= 9; cut++) {
		uint32_t c = toll_crc32c(0, check_input, cut);
		c = toll_crc32c(c, check_input + cut, 9 - cut);
		ck_assert_uint_eq(c, 0xE3069283u);
	}
}
END_TEST

static Suite *
crc_suite(void)
{
	Suite *s = suite_create("crc");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_crc16_check_value);
	tcase_add_test(tc, test_crc16_empty_is_init);
	tcase_add_test(tc, test_crc16_modbus_frame);
	tcase_add_test(tc, test_crc16_detects_every_bit_flip);
	tcase_add_test(tc, test_crc32c_check_value);
	tcase_add_test(tc, test_crc32c_empty);
	tcase_add_test(tc, test_crc32c_rfc3720_vectors);
	tcase_add_test(tc, test_crc32c_chains);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(crc_suite());
}

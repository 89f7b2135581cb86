/* test_umsg.c: the uplink codec: round trips of BATCH (0, 1, many, the
 * maximum of records and of record length) and ACK, the refusal of every bad
 * header field, of every truncation and of trailing bytes, encoder argument
 * checks, and the fixed vectors of tests/data/umsg decoded and re-encoded
 * byte for byte. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "err.h"
#include "umsg.h"
#include "unit.h"

/* about 7 KB each: never on the stack */
static struct toll_umsg msg;
static uint8_t big[TOLL_UMSG_MAX_BYTES + 8];

static const uint8_t rec_a[] = {'A', 'B', 'C'};
static const uint8_t rec_b[] = {0x00, 0xFF, 0x01, 0xFE, 0x02, 0xFD, 0x03, 0xFC, 0x80};
static const uint8_t rec_c[] = {0x54, 0x4F, 0x4C, 0x54, 0x01, 0x02};

/* A valid 3-record batch of station 101, lane 3 into out; its size. */
static size_t
three(uint8_t *out, size_t cap)
{
	const uint8_t *recs[3] = {rec_a, rec_b, rec_c};
	size_t lens[3] = {sizeof(rec_a), sizeof(rec_b), sizeof(rec_c)}, n;

	ck_assert_int_eq(toll_umsg_encode_batch(out, cap, 101, 3, recs, lens, 3, &n), 0);
	ck_assert_uint_eq(n, toll_umsg_batch_bytes(3, sizeof(rec_a) + sizeof(rec_b) + sizeof(rec_c)));
	return n;
}

static void
valid_ack(struct toll_umsg_ack *a)
{
	memset(a, 0, sizeof(*a));
	a->station_id = 101;
	a->lane_id = 3;
	a->acked_seq = 42;
	a->status = TOLL_UMSG_OK;
	a->accepted = 2;
	a->duplicates = 1;
	a->quarantined = 0;
}

/* Encode n records of the given length (byte j of record i is i + j),
 * decode, check every field and record. */
static void
roundtrip_batch(unsigned n, size_t rec_len)
{
	static uint8_t data[TOLL_UMSG_BATCH_MAX][TOLL_UMSG_RECORD_MAX];
	static const uint8_t *recs[TOLL_UMSG_BATCH_MAX];
	static size_t lens[TOLL_UMSG_BATCH_MAX];
	size_t len;

	for (unsigned i = 0; i < n; i++) {
		for (size_t j = 0; j < rec_len; j++)
			data[i][j] = (uint8_t)(i + j);
		recs[i] = data[i];
		lens[i] = rec_len;
	}
	ck_assert_int_eq(toll_umsg_encode_batch(big, sizeof(big), 0x7FFFFFFF, 65535, recs, lens, n, &len),
			 0);
	ck_assert_uint_eq(len, toll_umsg_batch_bytes(n, (size_t)n * rec_len));
	ck_assert_int_eq(toll_umsg_decode(big, len, &msg), 0);
	ck_assert_uint_eq(msg.type, TOLL_UMSG_BATCH);
	ck_assert_uint_eq(msg.station_id, 0x7FFFFFFF);
	ck_assert_uint_eq(msg.lane_id, 65535);
	ck_assert_uint_eq(msg.count, n);
	for (unsigned i = 0; i < n; i++) {
		size_t l;
		const uint8_t *p = toll_umsg_record(&msg, i, &l);
		ck_assert_ptr_nonnull(p);
		ck_assert_uint_eq(l, rec_len);
		ck_assert_mem_eq(p, data[i], rec_len);
	}
	size_t l = 99;
	ck_assert_ptr_null(toll_umsg_record(&msg, n, &l));
	ck_assert_uint_eq(l, 0);
}

START_TEST(test_roundtrip_batch)
{
	roundtrip_batch(0, 1);
	ck_assert_uint_eq(toll_umsg_batch_bytes(0, 0), TOLL_UMSG_HEADER_BYTES);
	roundtrip_batch(1, 1);
	roundtrip_batch(1, TOLL_UMSG_RECORD_MAX);
	roundtrip_batch(3, 236);
	roundtrip_batch(200, 236);
	roundtrip_batch(TOLL_UMSG_BATCH_MAX, 1);
	roundtrip_batch(TOLL_UMSG_BATCH_MAX, TOLL_UMSG_RECORD_MAX);
	ck_assert_uint_eq(toll_umsg_batch_bytes(TOLL_UMSG_BATCH_MAX,
						(size_t)TOLL_UMSG_BATCH_MAX * TOLL_UMSG_RECORD_MAX),
			  TOLL_UMSG_MAX_BYTES);
}
END_TEST

START_TEST(test_roundtrip_ack)
{
	uint8_t out[TOLL_UMSG_ACK_BYTES];
	struct toll_umsg_ack a;

	for (unsigned st = 0; st <= TOLL_UMSG_STATUS_MAX; st++) {
		valid_ack(&a);
		a.status = st;
		a.acked_seq = UINT64_MAX - st;
		a.accepted = 0xFFFFFFFF;
		a.duplicates = 0x01020304;
		a.quarantined = 7;
		ck_assert_int_eq(toll_umsg_encode_ack(out, &a), 0);
		ck_assert_int_eq(toll_umsg_decode(out, sizeof(out), &msg), 0);
		ck_assert_uint_eq(msg.type, TOLL_UMSG_ACK);
		ck_assert_uint_eq(msg.station_id, 101);
		ck_assert_uint_eq(msg.lane_id, 3);
		ck_assert_uint_eq(msg.count, 0);
		ck_assert_uint_eq(msg.ack.station_id, 101);
		ck_assert_uint_eq(msg.ack.lane_id, 3);
		ck_assert_uint_eq(msg.ack.acked_seq, UINT64_MAX - st);
		ck_assert_uint_eq(msg.ack.status, st);
		ck_assert_uint_eq(msg.ack.accepted, 0xFFFFFFFF);
		ck_assert_uint_eq(msg.ack.duplicates, 0x01020304);
		ck_assert_uint_eq(msg.ack.quarantined, 7);
		size_t l;
		ck_assert_ptr_null(toll_umsg_record(&msg, 0, &l));
	}
}
END_TEST

START_TEST(test_status_names)
{
	ck_assert_str_eq(toll_umsg_status_name(TOLL_UMSG_OK), "ok");
	ck_assert_str_eq(toll_umsg_status_name(TOLL_UMSG_UNKNOWN_LANE), "unknown-lane");
	ck_assert_str_eq(toll_umsg_status_name(TOLL_UMSG_RETRY), "retry");
	ck_assert_str_eq(toll_umsg_status_name(TOLL_UMSG_MALFORMED), "malformed");
	ck_assert_str_eq(toll_umsg_status_name(TOLL_UMSG_WRONG_LANE), "wrong-lane");
	ck_assert_str_eq(toll_umsg_status_name(5), "?");
	ck_assert_str_eq(toll_umsg_status_name(0xFFFFFFFFu), "?");
}
END_TEST

/* Decode a copy of good (len bytes) with byte off set to v. */
static int
decode_patched(const uint8_t *good, size_t len, size_t off, uint8_t v)
{
	static uint8_t bad[512];
	ck_assert_uint_le(len, sizeof(bad));
	memcpy(bad, good, len);
	bad[off] = v;
	return toll_umsg_decode(bad, len, &msg);
}

START_TEST(test_header_refused)
{
	uint8_t b[128], a[TOLL_UMSG_ACK_BYTES];
	struct toll_umsg_ack ack;
	size_t n = three(b, sizeof(b));

	valid_ack(&ack);
	ck_assert_int_eq(toll_umsg_encode_ack(a, &ack), 0);
	for (int k = 0; k < 2; k++) {
		const uint8_t *m = k ? a : b;
		size_t len = k ? sizeof(a) : n;

		ck_assert_int_eq(toll_umsg_decode(m, len, &msg), 0);
		/* magic */
		for (size_t i = 0; i < 4; i++)
			ck_assert_int_eq(decode_patched(m, len, i, (uint8_t)(m[i] ^ 0x20)), TOLL_EFORMAT);
		/* version: refused, yet the header's ids are reported */
		ck_assert_int_eq(decode_patched(m, len, 4, 0), TOLL_EVERSION);
		ck_assert_int_eq(decode_patched(m, len, 4, 2), TOLL_EVERSION);
		ck_assert_uint_eq(msg.station_id, 101);
		ck_assert_uint_eq(msg.lane_id, 3);
		ck_assert_uint_eq(msg.type, k ? TOLL_UMSG_ACK : TOLL_UMSG_BATCH);
		ck_assert_int_eq(decode_patched(m, len, 4, 0xFF), TOLL_EVERSION);
		/* type */
		ck_assert_int_eq(decode_patched(m, len, 5, 0), TOLL_EFORMAT);
		ck_assert_int_eq(decode_patched(m, len, 5, 3), TOLL_EFORMAT);
		ck_assert_int_eq(decode_patched(m, len, 5, 0xFF), TOLL_EFORMAT);
		ck_assert_int_eq(decode_patched(m, len, 5, k ? TOLL_UMSG_BATCH : TOLL_UMSG_ACK), TOLL_EFORMAT);
		/* reserved */
		ck_assert_int_eq(decode_patched(m, len, 6, 1), TOLL_EFORMAT);
		ck_assert_int_eq(decode_patched(m, len, 7, 0x80), TOLL_EFORMAT);
		/* station 0 and above 2^31-1; lane 0 */
		ck_assert_int_eq(decode_patched(m, len, 11, 0), TOLL_EFORMAT);
		ck_assert_int_eq(decode_patched(m, len, 8, 0x80), TOLL_EFORMAT);
		ck_assert_int_eq(decode_patched(m, len, 8, 0x7F), 0);
		ck_assert_uint_eq(msg.station_id, 0x7F000065);
		ck_assert_int_eq(decode_patched(m, len, 13, 0), TOLL_EFORMAT);
		ck_assert_uint_eq(msg.lane_id, 0);
		ck_assert_int_eq(decode_patched(m, len, 12, 0xFF), 0);
		ck_assert_uint_eq(msg.lane_id, 0xFF03);
	}
	/* batch count above the maximum (records present or not) */
	uint8_t h[TOLL_UMSG_HEADER_BYTES];
	memcpy(h, b, sizeof(h));
	h[14] = 0x04;
	h[15] = 0x01;
	ck_assert_int_eq(toll_umsg_decode(h, sizeof(h), &msg), TOLL_EFORMAT);
	h[14] = 0xFF;
	h[15] = 0xFF;
	ck_assert_int_eq(toll_umsg_decode(h, sizeof(h), &msg), TOLL_EFORMAT);
	/* the count must match the records: fewer is trailing bytes, more is short */
	ck_assert_int_eq(decode_patched(b, n, 15, 2), TOLL_EFORMAT);
	ck_assert_int_eq(decode_patched(b, n, 15, 4), TOLL_ESHORT);
	ck_assert_int_eq(decode_patched(b, n, 15, 0), TOLL_EFORMAT);
	/* ACK with a count */
	ck_assert_int_eq(decode_patched(a, sizeof(a), 15, 1), TOLL_EFORMAT);
	ck_assert_int_eq(decode_patched(a, sizeof(a), 14, 1), TOLL_EFORMAT);
	/* ACK of the wrong length */
	for (size_t len = 0; len < sizeof(a); len++)
		ck_assert_int_eq(toll_umsg_decode(a, len, &msg), TOLL_ESHORT);
	uint8_t a2[TOLL_UMSG_ACK_BYTES + 1];
	memcpy(a2, a, sizeof(a));
	a2[sizeof(a)] = 0;
	ck_assert_int_eq(toll_umsg_decode(a2, sizeof(a2), &msg), TOLL_EFORMAT);
	/* ACK reserved bytes */
	for (size_t i = 40; i < 48; i++)
		ck_assert_int_eq(decode_patched(a, sizeof(a), i, 1), TOLL_EFORMAT);
	/* ACK status: 0..4 only */
	for (unsigned st = 0; st <= TOLL_UMSG_STATUS_MAX; st++) {
		ck_assert_int_eq(decode_patched(a, sizeof(a), 27, (uint8_t)st), 0);
		ck_assert_uint_eq(msg.ack.status, st);
	}
	ck_assert_int_eq(decode_patched(a, sizeof(a), 27, 5), TOLL_EFORMAT);
	ck_assert_int_eq(decode_patched(a, sizeof(a), 24, 0x80), TOLL_EFORMAT);
	ck_assert_int_eq(decode_patched(a, sizeof(a), 26, 0x01), TOLL_EFORMAT);
	/* no buffer */
	ck_assert_int_eq(toll_umsg_decode(NULL, 0, &msg), TOLL_ESHORT);
	ck_assert_int_eq(toll_umsg_decode(NULL, 16, &msg), TOLL_EINVAL);
}
END_TEST

START_TEST(test_truncated_and_trailing)
{
	uint8_t b[128];
	size_t n = three(b, sizeof(b));

	ck_assert_int_eq(toll_umsg_decode(b, n, &msg), 0);
	ck_assert_uint_eq(msg.count, 3);
	for (size_t len = 0; len < n; len++) {
		/* a fresh heap copy of exactly len bytes, so ASan sees any overread */
		uint8_t *p = malloc(len ? len : 1);
		ck_assert_ptr_nonnull(p);
		memcpy(p, b, len);
		ck_assert_msg(toll_umsg_decode(p, len, &msg) == TOLL_ESHORT, "prefix of %zu bytes", len);
		free(p);
	}
	b[n] = 0;
	ck_assert_int_eq(toll_umsg_decode(b, n + 1, &msg), TOLL_EFORMAT);
	/* an empty batch with anything after the header */
	b[15] = 0;
	ck_assert_int_eq(toll_umsg_decode(b, TOLL_UMSG_HEADER_BYTES, &msg), 0);
	ck_assert_uint_eq(msg.count, 0);
	ck_assert_int_eq(toll_umsg_decode(b, TOLL_UMSG_HEADER_BYTES + 1, &msg), TOLL_EFORMAT);
	/* longer than any message can be */
	n = three(big, sizeof(big));
	ck_assert_int_eq(toll_umsg_decode(big, TOLL_UMSG_MAX_BYTES + 1, &msg), TOLL_EFORMAT);
}
END_TEST

START_TEST(test_record_length)
{
	uint8_t b[128];
	size_t n = three(b, sizeof(b));

	/* first record's length at 16..17: 0 */
	ck_assert_int_eq(decode_patched(b, n, 17, 0), TOLL_EFORMAT);
	/* 1025, enough bytes after it */
	static const uint8_t one[1] = {7};
	const uint8_t *recs[2] = {big + 4096, one};
	size_t lens[2] = {TOLL_UMSG_RECORD_MAX, 1}, len;
	memset(big + 4096, 0xAB, TOLL_UMSG_RECORD_MAX);
	ck_assert_int_eq(toll_umsg_encode_batch(big, 4096, 9, 9, recs, lens, 2, &len), 0);
	ck_assert_int_eq(toll_umsg_decode(big, len, &msg), 0);
	big[16] = 0x04;
	big[17] = 0x01; /* 1025: takes the next record's length byte */
	ck_assert_int_eq(toll_umsg_decode(big, len, &msg), TOLL_EFORMAT);
	big[16] = 0xFF;
	big[17] = 0xFF;
	ck_assert_int_eq(toll_umsg_decode(big, len, &msg), TOLL_EFORMAT);
	/* second record's length 0 */
	big[16] = 0x04;
	big[17] = 0x00;
	ck_assert_int_eq(toll_umsg_decode(big, len, &msg), 0);
	big[18 + TOLL_UMSG_RECORD_MAX + 1] = 0;
	ck_assert_int_eq(toll_umsg_decode(big, len, &msg), TOLL_EFORMAT);
}
END_TEST

START_TEST(test_encode_args)
{
	uint8_t b[128];
	const uint8_t *recs[3] = {rec_a, rec_b, rec_c};
	size_t lens[3] = {sizeof(rec_a), sizeof(rec_b), sizeof(rec_c)}, len = 99;
	size_t need = toll_umsg_batch_bytes(3, sizeof(rec_a) + sizeof(rec_b) + sizeof(rec_c));

	ck_assert_uint_eq(need, 16 + 3 * 2 + 3 + 9 + 6);
	ck_assert_int_eq(toll_umsg_encode_batch(b, sizeof(b), 0, 3, recs, lens, 3, &len), TOLL_EINVAL);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(toll_umsg_encode_batch(b, sizeof(b), 0x80000000u, 3, recs, lens, 3, &len),
			 TOLL_EINVAL);
	ck_assert_int_eq(toll_umsg_encode_batch(b, sizeof(b), 101, 0, recs, lens, 3, &len), TOLL_EINVAL);
	ck_assert_int_eq(toll_umsg_encode_batch(b, sizeof(b), 101, 3, recs, lens, TOLL_UMSG_BATCH_MAX + 1,
						&len),
			 TOLL_EINVAL);
	ck_assert_int_eq(toll_umsg_encode_batch(NULL, sizeof(b), 101, 3, recs, lens, 3, &len), TOLL_EINVAL);
	ck_assert_int_eq(toll_umsg_encode_batch(b, sizeof(b), 101, 3, recs, lens, 3, NULL), TOLL_EINVAL);
	ck_assert_int_eq(toll_umsg_encode_batch(b, sizeof(b), 101, 3, NULL, lens, 3, &len), TOLL_EINVAL);
	ck_assert_int_eq(toll_umsg_encode_batch(b, sizeof(b), 101, 3, recs, NULL, 3, &len), TOLL_EINVAL);
	ck_assert_int_eq(toll_umsg_encode_batch(b, sizeof(b), 101, 3, NULL, NULL, 0, &len), 0);
	ck_assert_uint_eq(len, TOLL_UMSG_HEADER_BYTES);
	lens[1] = 0;
	ck_assert_int_eq(toll_umsg_encode_batch(b, sizeof(b), 101, 3, recs, lens, 3, &len), TOLL_EINVAL);
	lens[1] = TOLL_UMSG_RECORD_MAX + 1;
	ck_assert_int_eq(toll_umsg_encode_batch(big, sizeof(big), 101, 3, recs, lens, 3, &len),
			 TOLL_EINVAL);
	lens[1] = sizeof(rec_b);
	recs[2] = NULL;
	ck_assert_int_eq(toll_umsg_encode_batch(b, sizeof(b), 101, 3, recs, lens, 3, &len), TOLL_EINVAL);
	recs[2] = rec_c;
	for (size_t cap = 0; cap < need; cap++) {
		len = 99;
		ck_assert_int_eq(toll_umsg_encode_batch(b, cap, 101, 3, recs, lens, 3, &len), TOLL_ENOSPACE);
		ck_assert_uint_eq(len, 0);
	}
	ck_assert_int_eq(toll_umsg_encode_batch(b, need, 101, 3, recs, lens, 3, &len), 0);
	ck_assert_uint_eq(len, need);
	ck_assert_uint_eq(toll_umsg_batch_bytes(2, 10), 16 + 4 + 10);
	ck_assert_uint_eq(toll_umsg_batch_bytes(1, SIZE_MAX - 19), SIZE_MAX - 1);
	ck_assert_uint_eq(toll_umsg_batch_bytes(1, SIZE_MAX - 17), SIZE_MAX);
	ck_assert_uint_eq(toll_umsg_batch_bytes(1, SIZE_MAX - 10), SIZE_MAX);
	ck_assert_uint_eq(toll_umsg_batch_bytes(UINT32_MAX, 0), 16 + 2 * (size_t)UINT32_MAX);
	ck_assert_uint_eq(toll_umsg_batch_bytes(1, SIZE_MAX), SIZE_MAX);

	uint8_t a[TOLL_UMSG_ACK_BYTES];
	struct toll_umsg_ack ack;
	valid_ack(&ack);
	ack.status = TOLL_UMSG_STATUS_MAX + 1;
	ck_assert_int_eq(toll_umsg_encode_ack(a, &ack), TOLL_EINVAL);
	valid_ack(&ack);
	ack.station_id = 0;
	ck_assert_int_eq(toll_umsg_encode_ack(a, &ack), TOLL_EINVAL);
	ack.station_id = 0x80000000u;
	ck_assert_int_eq(toll_umsg_encode_ack(a, &ack), TOLL_EINVAL);
	valid_ack(&ack);
	ack.lane_id = 0;
	ck_assert_int_eq(toll_umsg_encode_ack(a, &ack), TOLL_EINVAL);
	ck_assert_int_eq(toll_umsg_encode_ack(a, NULL), TOLL_EINVAL);
}
END_TEST

static size_t
read_hex_file(const char *name, uint8_t *out, size_t max)
{
	char path[512], text[4096];
	const char *top = getenv("TOLL_TOP");
	snprintf(path, sizeof(path), "%s/tests/data/umsg/%s", top && *top ? top : ".", name);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = 0;
	text[strcspn(text, "\r\n")] = 0;
	ck_assert_uint_eq(strlen(text) % 2, 0);
	ck_assert_uint_le(strlen(text) / 2, max);
	ck_assert_int_eq(toll_hex_decode(text, out, strlen(text) / 2), 0);
	return strlen(text) / 2;
}

START_TEST(test_fixed_vectors)
{
	uint8_t want[256], out[256];
	const uint8_t *recs[2];
	size_t lens[2], n, len;

	/* tests/data/umsg/batch-1.hex: station 101, lane 3, two records */
	n = read_hex_file("batch-1.hex", want, sizeof(want));
	ck_assert_uint_eq(n, 32);
	ck_assert_int_eq(toll_umsg_decode(want, n, &msg), 0);
	ck_assert_uint_eq(msg.type, TOLL_UMSG_BATCH);
	ck_assert_uint_eq(msg.station_id, 101);
	ck_assert_uint_eq(msg.lane_id, 3);
	ck_assert_uint_eq(msg.count, 2);
	recs[0] = toll_umsg_record(&msg, 0, &lens[0]);
	recs[1] = toll_umsg_record(&msg, 1, &lens[1]);
	ck_assert_uint_eq(lens[0], sizeof(rec_a));
	ck_assert_mem_eq(recs[0], rec_a, sizeof(rec_a));
	ck_assert_uint_eq(lens[1], sizeof(rec_b));
	ck_assert_mem_eq(recs[1], rec_b, sizeof(rec_b));
	ck_assert_ptr_eq(recs[0], want + 18);
	ck_assert_int_eq(toll_umsg_encode_batch(out, sizeof(out), msg.station_id, msg.lane_id, recs, lens,
						msg.count, &len),
			 0);
	ck_assert_uint_eq(len, n);
	ck_assert_mem_eq(out, want, n);
	/* and from the known records, not the decoded pointers */
	recs[0] = rec_a;
	recs[1] = rec_b;
	ck_assert_int_eq(toll_umsg_encode_batch(out, sizeof(out), 101, 3, recs, lens, 2, &len), 0);
	ck_assert_mem_eq(out, want, n);

	/* tests/data/umsg/ack-1.hex */
	n = read_hex_file("ack-1.hex", want, sizeof(want));
	ck_assert_uint_eq(n, TOLL_UMSG_ACK_BYTES);
	ck_assert_int_eq(toll_umsg_decode(want, n, &msg), 0);
	ck_assert_uint_eq(msg.type, TOLL_UMSG_ACK);
	ck_assert_uint_eq(msg.ack.station_id, 101);
	ck_assert_uint_eq(msg.ack.lane_id, 3);
	ck_assert_uint_eq(msg.ack.acked_seq, 4294967338u);
	ck_assert_uint_eq(msg.ack.status, TOLL_UMSG_OK);
	ck_assert_uint_eq(msg.ack.accepted, 3);
	ck_assert_uint_eq(msg.ack.duplicates, 2);
	ck_assert_uint_eq(msg.ack.quarantined, 1);
	ck_assert_int_eq(toll_umsg_encode_ack(out, &msg.ack), 0);
	ck_assert_mem_eq(out, want, TOLL_UMSG_ACK_BYTES);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("umsg");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_roundtrip_batch);
	tcase_add_test(tc, test_roundtrip_ack);
	tcase_add_test(tc, test_status_names);
	tcase_add_test(tc, test_header_refused);
	tcase_add_test(tc, test_truncated_and_trailing);
	tcase_add_test(tc, test_record_length);
	tcase_add_test(tc, test_encode_args);
	tcase_add_test(tc, test_fixed_vectors);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(suite());
}

/* test_tslmsg.c: the tag status list distribution codec: round trips of
 * every type (0, 1, many records or deltas; the maximum sizes), version 2
 * DELTAs with closed-road entry records (alone and next to version 1 ones
 * in a DELTAS), the refusal of every bad header field, of bad record
 * fields, of every truncation and of trailing bytes, the signatures (every
 * flipped bit of a signed DELTA, another key), builder and encoder
 * argument checks (a failed add changes nothing), and fixed vectors
 * (written with Python from docs/taglist-sync-format.md) decoded and
 * re-encoded byte for byte. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "err.h"
#include "lane_taglist.h"
#include "tslmsg.h"
#include "unit.h"

_Static_assert(TOLL_TSL_TAG_F_EXEMPT == LANE_TAG_F_EXEMPT, "exempt flag passes on to lane_taglist");
_Static_assert(TOLL_TSL_TAG_F_PASS == LANE_TAG_F_PASS, "pass flag passes on to lane_taglist");
_Static_assert(TOLL_TSL_DELTA_MAX_BYTES + 32 + 4 <= TOLL_TSL_MAX_BYTES, "a full delta fits a DELTAS");
_Static_assert(TOLL_TSL_PLATE_MAX == LANE_PLATE_MAX && TOLL_TSL_EPC_MAX_BITS == LANE_EPC_MAX_BITS,
	       "the lane's bounds");

static struct toll_signer *key_a, *key_b;
static struct toll_verifier *ver_a, *ver_b;
static struct toll_tsl_msg msg;
static struct toll_tsl_builder bld;

/* large buffers: static, never on the stack */
static uint8_t big1[TOLL_TSL_DELTA_MAX_BYTES];
static uint8_t big2[TOLL_TSL_DELTA_MAX_BYTES];
static uint8_t huge[TOLL_TSL_MAX_BYTES + 8];

static void
setup(void)
{
	uint8_t seed[32], pub[32];

	for (int i = 0; i < 32; i++)
		seed[i] = (uint8_t)i;
	ck_assert_int_eq(toll_signer_from_seed(seed, &key_a), 0);
	seed[0] = 0xEE;
	ck_assert_int_eq(toll_signer_from_seed(seed, &key_b), 0);
	toll_signer_public(key_a, pub);
	ck_assert_int_eq(toll_verifier_new(pub, &ver_a), 0);
	toll_signer_public(key_b, pub);
	ck_assert_int_eq(toll_verifier_new(pub, &ver_b), 0);
}

static void
teardown(void)
{
	toll_signer_free(key_a);
	toll_signer_free(key_b);
	toll_verifier_free(ver_a);
	toll_verifier_free(ver_b);
}

static uint32_t
kid_a(void)
{
	return toll_signer_key_id(key_a);
}

/* ---- sample records --------------------------------------------------------- */

/* Tag i of a varied set: EPC sizes 1..256 bits, TID or not, exempt, pass,
 * plates of 0..12 characters, every status. */
static void
make_tag(unsigned i, struct toll_tsl_tag *t)
{
	static const unsigned first_bits[10] = {1, 7, 8, 12, 95, 97, 128, 256, 64, 96};
	static const unsigned bits[8] = {96, 95, 97, 128, 256, 64, 40, 33};
	static const char *plates[] = {"51A12345", "", "29C-678.90", "ABCDEFGHIJKL", " ~", "1"};

	memset(t, 0, sizeof(*t));
	/* every short EPC once; then i in the first two bytes keeps them apart */
	t->epc_bits = (uint16_t)(i < 10 ? first_bits[i] : bits[i % 8]);
	for (unsigned j = 0; j < (t->epc_bits + 7u) / 8; j++)
		t->epc[j] = (uint8_t)(0x30 + i * 7 + j * 13);
	if (i >= 10) {
		t->epc[0] = (uint8_t)(i >> 8);
		t->epc[1] = (uint8_t)i;
	}
	if (t->epc_bits % 8)
		t->epc[(t->epc_bits - 1) / 8] &= (uint8_t)(0xFF << (8 - t->epc_bits % 8));
	if (i % 2 == 0) {
		t->tid_valid = 1;
		for (unsigned j = 0; j < 12; j++)
			t->tid[j] = (uint8_t)(0xE2 + i + j);
	}
	t->account_id = i % 3 == 0 ? 0xFFFFFFFFu : 1000 + i;
	t->vclass = 1 + i % 5;
	t->status = i % 3;
	t->reason = t->status == 2 ? (i * 37) % 256 : 0;
	t->flags = (i % 4 == 1 ? TOLL_TSL_TAG_F_EXEMPT : 0) | (i % 3 == 2 ? TOLL_TSL_TAG_F_PASS : 0);
	if (t->flags & TOLL_TSL_TAG_F_PASS) {
		t->pass_station = i % 7 == 0 ? 0xFFFFFFFFu : 100 + i;
		t->pass_until_day = i % 5 == 0 ? 0xFFFFFFFFu : 20000 + i;
	}
	snprintf(t->plate, sizeof(t->plate), "%s", plates[i % 6]);
}

static int
tag_cmp(const void *pa, const void *pb)
{
	const struct toll_tsl_tag *a = pa, *b = pb;
	if (a->epc_bits != b->epc_bits)
		return a->epc_bits < b->epc_bits ? -1 : 1;
	return memcmp(a->epc, b->epc, (a->epc_bits + 7u) / 8);
}

static void
tag_eq(const struct toll_tsl_tag *a, const struct toll_tsl_tag *b)
{
	ck_assert_uint_eq(a->epc_bits, b->epc_bits);
	ck_assert_mem_eq(a->epc, b->epc, sizeof(a->epc));
	ck_assert_int_eq(a->tid_valid, b->tid_valid);
	ck_assert_mem_eq(a->tid, b->tid, sizeof(a->tid));
	ck_assert_uint_eq(a->account_id, b->account_id);
	ck_assert_uint_eq(a->vclass, b->vclass);
	ck_assert_uint_eq(a->status, b->status);
	ck_assert_uint_eq(a->reason, b->reason);
	ck_assert_uint_eq(a->flags, b->flags);
	ck_assert_str_eq(a->plate, b->plate);
	ck_assert_uint_eq(a->pass_station, b->pass_station);
	ck_assert_uint_eq(a->pass_until_day, b->pass_until_day);
}

/* Entry i of a varied set: EPC sizes 1..256 bits, every state, stations
 * and times at their bounds. */
static void
make_entry(unsigned i, struct toll_tsl_entry *e)
{
	static const unsigned first_bits[8] = {1, 7, 8, 12, 95, 96, 97, 256};
	static const unsigned bits[6] = {96, 64, 128, 33, 256, 40};

	memset(e, 0, sizeof(*e));
	/* every short EPC once; then i in the first two bytes keeps them apart */
	e->epc_bits = (uint16_t)(i < 8 ? first_bits[i] : bits[i % 6]);
	for (unsigned j = 0; j < (e->epc_bits + 7u) / 8; j++)
		e->epc[j] = (uint8_t)(0x41 + i * 11 + j * 7);
	if (i >= 8) {
		e->epc[0] = (uint8_t)(i >> 8);
		e->epc[1] = (uint8_t)i;
	}
	if (e->epc_bits % 8)
		e->epc[(e->epc_bits - 1) / 8] &= (uint8_t)(0xFF << (8 - e->epc_bits % 8));
	e->station = i % 5 == 0 ? TOLL_TSL_STATION_MAX : 1 + i * 3;
	e->time_ms = i % 7 == 0   ? INT64_MAX - i
		     : i % 7 == 1 ? 1 + (int64_t)i
				  : 1764547200000 + (int64_t)i * 1000;
	e->state = 1 + i % 3;
}

static int
entry_cmp(const void *pa, const void *pb)
{
	const struct toll_tsl_entry *a = pa, *b = pb;
	if (a->epc_bits != b->epc_bits)
		return a->epc_bits < b->epc_bits ? -1 : 1;
	return memcmp(a->epc, b->epc, (a->epc_bits + 7u) / 8);
}

static void
entry_eq(const struct toll_tsl_entry *a, const struct toll_tsl_entry *b)
{
	ck_assert_uint_eq(a->epc_bits, b->epc_bits);
	ck_assert_mem_eq(a->epc, b->epc, sizeof(a->epc));
	ck_assert_uint_eq(a->station, b->station);
	ck_assert_int_eq(a->time_ms, b->time_ms);
	ck_assert_uint_eq(a->state, b->state);
}

/* A signed DELTA of version with na accounts, nt tags and ne entries
 * (sorted) into out; its size.  The records are left in accs/tags/ents. */
static struct toll_tsl_account accs[4096];
static struct toll_tsl_tag tags[4096];
static struct toll_tsl_entry ents[4096];

static size_t
build_delta3(uint8_t *out, size_t cap, uint64_t version, unsigned na, unsigned nt, unsigned ne,
	     struct toll_signer *s)
{
	size_t len, signed_len;

	ck_assert_uint_le(na, 4096);
	ck_assert_uint_le(nt, 4096);
	ck_assert_uint_le(ne, 4096);
	for (unsigned i = 0; i < na; i++) {
		accs[i].id = i + 1 == na ? 0xFFFFFFFFu : 1 + (uint64_t)i * 977;
		accs[i].balance_vnd = i % 2 ? INT64_MIN + i : INT64_MAX - i;
	}
	for (unsigned i = 0; i < nt; i++)
		make_tag(i, &tags[i]);
	qsort(tags, nt, sizeof(tags[0]), tag_cmp);
	for (unsigned i = 0; i < ne; i++)
		make_entry(i, &ents[i]);
	qsort(ents, ne, sizeof(ents[0]), entry_cmp);
	ck_assert_int_eq(toll_tsl_delta_begin(&bld, out, cap, version, 1764547200000 + (int64_t)version,
					      toll_signer_key_id(s)),
			 0);
	for (unsigned i = 0; i < na; i++)
		ck_assert_int_eq(toll_tsl_delta_add_account(&bld, &accs[i]), 0);
	for (unsigned i = 0; i < nt; i++)
		ck_assert_int_eq(toll_tsl_delta_add_tag(&bld, &tags[i]), 0);
	for (unsigned i = 0; i < ne; i++)
		ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &ents[i]), 0);
	ck_assert_ptr_eq(toll_tsl_signed_bytes(&bld, &signed_len), out);
	ck_assert_int_eq(toll_tsl_finish(&bld, s, &len), 0);
	ck_assert_uint_eq(len, signed_len + 64);
	return len;
}

static size_t
build_delta(uint8_t *out, size_t cap, uint64_t version, unsigned na, unsigned nt, struct toll_signer *s)
{
	return build_delta3(out, cap, version, na, nt, 0, s);
}

static void
check_delta(const uint8_t *b, size_t len, uint64_t version, unsigned na, unsigned nt, unsigned ne)
{
	struct toll_tsl_iter it;
	struct toll_tsl_account a;
	struct toll_tsl_tag t;
	struct toll_tsl_entry e;

	ck_assert_int_eq(toll_tsl_decode(b, len, &msg), 0);
	ck_assert_uint_eq(msg.type, TOLL_TSL_DELTA);
	/* version 2 exactly when there are entries */
	ck_assert_uint_eq(msg.format_version, ne > 0 ? 2 : 1);
	ck_assert_uint_eq(b[4], ne > 0 ? 2 : 1);
	ck_assert_uint_eq(msg.list_version, version);
	ck_assert_uint_eq(msg.aux, version - 1);
	ck_assert_uint_eq(msg.key_id, kid_a());
	ck_assert_uint_eq(msg.count, na + nt + ne);
	ck_assert_uint_eq(msg.accounts, na);
	ck_assert_uint_eq(msg.tags, nt);
	ck_assert_uint_eq(msg.entries, ne);
	ck_assert_uint_eq(msg.tags_off, (ne > 0 ? 52 : 48) + 16 * (size_t)na);
	ck_assert_int_eq(msg.created_ms, 1764547200000 + (int64_t)version);
	ck_assert_ptr_eq(msg.buf, b);
	ck_assert_uint_eq(msg.len, len);
	ck_assert_int_eq(toll_tsl_accounts(&msg, &it), 0);
	for (unsigned i = 0; i < na; i++) {
		ck_assert_int_eq(toll_tsl_next_account(&it, &a), 0);
		ck_assert_uint_eq(a.id, accs[i].id);
		ck_assert_int_eq(a.balance_vnd, accs[i].balance_vnd);
		ck_assert_uint_le(it.off, msg.tags_off);
	}
	ck_assert_int_eq(toll_tsl_next_account(&it, &a), TOLL_EEMPTY);
	ck_assert_int_eq(toll_tsl_tags(&msg, &it), 0);
	for (unsigned i = 0; i < nt; i++) {
		ck_assert_int_eq(toll_tsl_next_tag(&it, &t), 0);
		tag_eq(&t, &tags[i]);
		ck_assert_uint_le(it.off, msg.entries_off);
	}
	ck_assert_int_eq(toll_tsl_next_tag(&it, &t), TOLL_EEMPTY);
	ck_assert_uint_eq(it.off, msg.entries_off);
	ck_assert_int_eq(toll_tsl_entries(&msg, &it), 0);
	for (unsigned i = 0; i < ne; i++) {
		ck_assert_int_eq(toll_tsl_next_entry(&it, &e), 0);
		entry_eq(&e, &ents[i]);
		ck_assert_uint_le(it.off, len - 64);
	}
	ck_assert_int_eq(toll_tsl_next_entry(&it, &e), TOLL_EEMPTY);
	ck_assert_uint_eq(it.off, len - 64);
	ck_assert_int_eq(toll_tsl_deltas(&msg, &it), TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_verify(b, len, ver_a), 0);
	ck_assert_int_eq(toll_tsl_verify(b, len, ver_b), TOLL_EBADSIG);
}

/* ---- round trips ------------------------------------------------------------ */

START_TEST(test_names)
{
	ck_assert_str_eq(toll_tsl_type_name(TOLL_TSL_DELTA), "delta");
	ck_assert_str_eq(toll_tsl_type_name(TOLL_TSL_HEARTBEAT), "heartbeat");
	ck_assert_str_eq(toll_tsl_type_name(TOLL_TSL_GET_DELTAS), "get-deltas");
	ck_assert_str_eq(toll_tsl_type_name(TOLL_TSL_DELTAS), "deltas");
	ck_assert_str_eq(toll_tsl_type_name(TOLL_TSL_GET_SNAPSHOT), "get-snapshot");
	ck_assert_str_eq(toll_tsl_type_name(TOLL_TSL_SNAPSHOT), "snapshot");
	ck_assert_str_eq(toll_tsl_type_name(TOLL_TSL_ERROR), "error");
	ck_assert_str_eq(toll_tsl_type_name(0), "?");
	ck_assert_str_eq(toll_tsl_type_name(8), "?");
	ck_assert_str_eq(toll_tsl_error_name(TOLL_TSL_ERR_TOO_OLD), "too-old");
	ck_assert_str_eq(toll_tsl_error_name(TOLL_TSL_ERR_UNKNOWN_VERSION), "unknown-version");
	ck_assert_str_eq(toll_tsl_error_name(TOLL_TSL_ERR_MALFORMED), "malformed");
	ck_assert_str_eq(toll_tsl_error_name(TOLL_TSL_ERR_BUSY), "busy");
	ck_assert_str_eq(toll_tsl_error_name(0), "?");
	ck_assert_str_eq(toll_tsl_error_name(5), "?");
}
END_TEST

START_TEST(test_roundtrip_delta)
{
	static const unsigned shapes[][2] = {{0, 0},  {1, 0},	   {0, 1},	{1, 1},
					     {3, 10}, {500, 2000}, {4096, 4096}};
	size_t len;

	for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
		uint64_t version = k == 0 ? 1 : k == 1 ? UINT64_MAX : 1000 + k;
		len = build_delta(big1, sizeof(big1), version, shapes[k][0], shapes[k][1], key_a);
		check_delta(big1, len, version, shapes[k][0], shapes[k][1], 0);
	}
	/* no records: the minimum */
	len = build_delta(big1, sizeof(big1), 5, 0, 0, key_a);
	ck_assert_uint_eq(len, TOLL_TSL_DELTA_MIN_BYTES);
	/* a decoded tag goes into lane_taglist as it is */
	struct lane_taglist_writer *w;
	struct toll_tsl_iter it;
	struct toll_tsl_tag t;
	len = build_delta(big1, sizeof(big1), 9, 0, 40, key_a);
	ck_assert_int_eq(toll_tsl_decode(big1, len, &msg), 0);
	ck_assert_int_eq(lane_taglist_writer_new(9, &w), 0);
	ck_assert_int_eq(toll_tsl_tags(&msg, &it), 0);
	while (toll_tsl_next_tag(&it, &t) == 0)
		ck_assert_int_eq(lane_taglist_writer_tag(w, t.epc, t.epc_bits,
							 t.tid_valid ? t.tid : NULL, t.account_id,
							 t.vclass, t.plate, t.status, t.reason, t.flags,
							 t.pass_station, t.pass_until_day),
				 0);
	lane_taglist_writer_free(w);
}
END_TEST

/* Tag i of the largest kind, 79 bytes: 256-bit EPC, TID, 12-character
 * plate, pass; in order of i. */
static void
big_tag(unsigned i, struct toll_tsl_tag *t)
{
	memset(t, 0, sizeof(*t));
	t->epc_bits = 256;
	t->epc[28] = (uint8_t)(i >> 24);
	t->epc[29] = (uint8_t)(i >> 16);
	t->epc[30] = (uint8_t)(i >> 8);
	t->epc[31] = (uint8_t)i;
	t->tid_valid = 1;
	memset(t->tid, 0xE2, 12);
	t->account_id = 0xFFFFFFFFu;
	t->vclass = 5;
	t->status = 2;
	t->reason = 255;
	t->flags = TOLL_TSL_TAG_F_EXEMPT | TOLL_TSL_TAG_F_PASS;
	memcpy(t->plate, "ABCDEFGHIJKL", 13);
	t->pass_station = 0xFFFFFFFFu;
	t->pass_until_day = 0xFFFFFFFFu;
}

/* A DELTA of exactly target bytes: accounts, then one small tag of 16..31
 * bytes when needed, then `big` tags of 79 bytes (256-bit EPC, TID,
 * 12-character plate, pass).  Records are not kept. */
static size_t
fill_delta(uint8_t *out, size_t cap, uint64_t version, size_t target, unsigned big)
{
	struct toll_tsl_account a;
	struct toll_tsl_tag t;
	size_t rec, small = 0, na, len;

	ck_assert_uint_ge(target, TOLL_TSL_DELTA_MIN_BYTES + (size_t)big * TOLL_TSL_TAG_MAX_BYTES);
	rec = target - TOLL_TSL_DELTA_MIN_BYTES - (size_t)big * TOLL_TSL_TAG_MAX_BYTES;
	if (rec % 16 != 0)
		small = 16 + rec % 16;
	ck_assert_uint_ge(rec, small);
	na = (rec - small) / 16;
	ck_assert_int_eq(toll_tsl_delta_begin(&bld, out, cap, version, 0, kid_a()), 0);
	for (size_t i = 0; i < na; i++) {
		a.id = i + 1;
		a.balance_vnd = (int64_t)i;
		ck_assert_int_eq(toll_tsl_delta_add_account(&bld, &a), 0);
	}
	if (small) {
		memset(&t, 0, sizeof(t));
		t.epc_bits = (uint16_t)(8 * (small - 15));
		t.account_id = 1;
		t.vclass = 1;
		ck_assert_int_eq(toll_tsl_delta_add_tag(&bld, &t), 0);
	}
	for (unsigned i = 0; i < big; i++) {
		big_tag(i, &t);
		ck_assert_int_eq(toll_tsl_delta_add_tag(&bld, &t), 0);
	}
	ck_assert_int_eq(toll_tsl_finish(&bld, key_a, &len), 0);
	ck_assert_uint_eq(len, target);
	return len;
}

START_TEST(test_delta_max)
{
	struct toll_tsl_account a = {.id = 1, .balance_vnd = 0};
	struct toll_tsl_tag t;
	size_t len;

	/* the largest DELTA: the most records, each the largest */
	len = fill_delta(big1, sizeof(big1), 3, TOLL_TSL_DELTA_MAX_BYTES, TOLL_TSL_DELTA_MAX_RECORDS);
	ck_assert_int_eq(toll_tsl_decode(big1, len, &msg), 0);
	ck_assert_uint_eq(msg.tags, TOLL_TSL_DELTA_MAX_RECORDS);
	ck_assert_int_eq(toll_tsl_verify(big1, len, ver_a), 0);
	/* one record more is refused, and the builder stays usable */
	ck_assert_int_eq(toll_tsl_delta_begin(&bld, big2, sizeof(big2), 4, 0, kid_a()), 0);
	for (unsigned i = 0; i < TOLL_TSL_DELTA_MAX_RECORDS; i++) {
		a.id = i + 1;
		ck_assert_int_eq(toll_tsl_delta_add_account(&bld, &a), 0);
	}
	a.id++;
	ck_assert_int_eq(toll_tsl_delta_add_account(&bld, &a), TOLL_ENOSPACE);
	make_tag(0, &t);
	ck_assert_int_eq(toll_tsl_delta_add_tag(&bld, &t), TOLL_ENOSPACE);
	struct toll_tsl_entry e;
	make_entry(0, &e);
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &e), TOLL_ENOSPACE);
	ck_assert_uint_eq(big2[4], 1); /* still version 1 */
	ck_assert_int_eq(toll_tsl_finish(&bld, key_a, &len), 0);
	ck_assert_uint_eq(len, TOLL_TSL_DELTA_MIN_BYTES + 16 * (size_t)TOLL_TSL_DELTA_MAX_RECORDS);
	ck_assert_int_eq(toll_tsl_decode(big2, len, &msg), 0);
	ck_assert_uint_eq(msg.accounts, TOLL_TSL_DELTA_MAX_RECORDS);
	/* a header that says one record more is refused before any record */
	big2[31] = 1; /* count 65537 */
	big2[43] = 1; /* accounts 65537 */
	ck_assert_int_eq(toll_tsl_decode(big2, len, &msg), TOLL_EFORMAT);
	/* a small buffer: records stop when the signature would not fit */
	uint8_t small[TOLL_TSL_DELTA_MIN_BYTES + 40];
	ck_assert_int_eq(toll_tsl_delta_begin(&bld, small, sizeof(small), 4, 0, kid_a()), 0);
	a.id = 1;
	ck_assert_int_eq(toll_tsl_delta_add_account(&bld, &a), 0);
	a.id = 2;
	ck_assert_int_eq(toll_tsl_delta_add_account(&bld, &a), 0);
	a.id = 3;
	ck_assert_int_eq(toll_tsl_delta_add_account(&bld, &a), TOLL_ENOSPACE);
	memset(&t, 0, sizeof(t));
	t.epc_bits = 1;
	t.account_id = 1;
	t.vclass = 1;
	ck_assert_int_eq(toll_tsl_delta_add_tag(&bld, &t), TOLL_ENOSPACE); /* 16 > 8 left */
	ck_assert_int_eq(toll_tsl_finish(&bld, key_a, &len), 0);
	ck_assert_uint_eq(len, TOLL_TSL_DELTA_MIN_BYTES + 32);
	ck_assert_int_eq(toll_tsl_verify(small, len, ver_a), 0);
}
END_TEST

/* ---- entries (version 2) ---------------------------------------------------- */

START_TEST(test_roundtrip_entries)
{
	static const unsigned shapes[][3] = {{0, 0, 1},	  {1, 0, 1},	     {0, 1, 1},
					     {1, 1, 1},	  {3, 10, 7},	     {500, 2000, 300},
					     {0, 0, 4096}, {4096, 4096, 4096}, {2, 5, 0}};
	struct toll_tsl_iter it;
	struct toll_tsl_entry e;
	size_t len, l1;

	for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
		uint64_t version = k == 0 ? 1 : k == 1 ? UINT64_MAX : 2000 + k;
		len = build_delta3(big1, sizeof(big1), version, shapes[k][0], shapes[k][1], shapes[k][2],
				   key_a);
		check_delta(big1, len, version, shapes[k][0], shapes[k][1], shapes[k][2]);
	}
	/* one 1-bit entry and nothing else: the smallest version 2 delta */
	memset(&e, 0, sizeof(e));
	e.epc_bits = 1;
	e.epc[0] = 0xFF; /* 7 bits past the length, cleared */
	e.station = 1;
	e.time_ms = 1;
	e.state = TOLL_TSL_ENTRY_CLOSED;
	ck_assert_int_eq(toll_tsl_delta_begin(&bld, big1, sizeof(big1), 3, 0, kid_a()), 0);
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &e), 0);
	ck_assert_int_eq(toll_tsl_finish(&bld, key_a, &len), 0);
	ck_assert_uint_eq(len, TOLL_TSL_DELTA_V2_FIXED_BYTES + TOLL_TSL_ENTRY_MIN_BYTES);
	ck_assert_uint_eq(big1[4], 2);
	ck_assert_uint_eq(big1[51], 1); /* entries */
	ck_assert_uint_eq(big1[54], 0x80);
	ck_assert_int_eq(toll_tsl_decode(big1, len, &msg), 0);
	ck_assert_int_eq(toll_tsl_verify(big1, len, ver_a), 0);
	ck_assert_int_eq(toll_tsl_entries(&msg, &it), 0);
	ck_assert_int_eq(toll_tsl_next_entry(&it, &e), 0);
	ck_assert_uint_eq(e.epc[0], 0x80);
	ck_assert_uint_eq(e.state, TOLL_TSL_ENTRY_CLOSED);
	/* the largest entry: 256-bit EPC */
	memset(e.epc, 0xA5, sizeof(e.epc));
	e.epc_bits = 256;
	e.station = TOLL_TSL_STATION_MAX;
	e.time_ms = INT64_MAX;
	e.state = TOLL_TSL_ENTRY_EXPIRED;
	ck_assert_int_eq(toll_tsl_delta_begin(&bld, big1, sizeof(big1), 3, 0, kid_a()), 0);
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &e), 0);
	ck_assert_int_eq(toll_tsl_finish(&bld, key_a, &len), 0);
	ck_assert_uint_eq(len, TOLL_TSL_DELTA_V2_FIXED_BYTES + TOLL_TSL_ENTRY_MAX_BYTES);
	ck_assert_int_eq(toll_tsl_decode(big1, len, &msg), 0);
	/* with entries, the other records are those of version 1, 4 bytes later */
	l1 = build_delta3(big2, sizeof(big2), 40, 3, 10, 0, key_a);
	len = build_delta3(big1, sizeof(big1), 40, 3, 10, 2, key_a);
	ck_assert_uint_eq(big2[4], 1);
	ck_assert_uint_eq(big1[4], 2);
	ck_assert_mem_eq(big1 + 5, big2 + 5, 23);		      /* type .. key id */
	ck_assert_mem_eq(big1 + 32, big2 + 32, 16);		      /* created, A, T */
	ck_assert_mem_eq(big1 + 52, big2 + 48, l1 - 64 - 48);	      /* accounts, tags */
	ck_assert_uint_eq(len, l1 + 4 + (2 + 1 + 13) + (2 + 1 + 13)); /* 1 and 7 bits */
	/* an entry may share its EPC with a tag: they are different records */
	struct toll_tsl_tag t;
	make_tag(3, &t);
	memset(&e, 0, sizeof(e));
	e.epc_bits = t.epc_bits;
	memcpy(e.epc, t.epc, sizeof(e.epc));
	e.station = 7;
	e.time_ms = 1764547200000;
	e.state = TOLL_TSL_ENTRY_OPEN;
	ck_assert_int_eq(toll_tsl_delta_begin(&bld, big1, sizeof(big1), 3, 0, kid_a()), 0);
	ck_assert_int_eq(toll_tsl_delta_add_tag(&bld, &t), 0);
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &e), 0);
	ck_assert_int_eq(toll_tsl_finish(&bld, key_a, &len), 0);
	ck_assert_int_eq(toll_tsl_decode(big1, len, &msg), 0);
	ck_assert_uint_eq(msg.tags, 1);
	ck_assert_uint_eq(msg.entries, 1);
	/* iterators of other types have no entries */
	uint8_t hb[TOLL_TSL_HEARTBEAT_BYTES];
	ck_assert_int_eq(toll_tsl_encode_heartbeat(hb, sizeof(hb), 1, 0, key_a, &len), 0);
	ck_assert_int_eq(toll_tsl_decode(hb, len, &msg), 0);
	ck_assert_uint_eq(msg.format_version, 1);
	ck_assert_int_eq(toll_tsl_entries(&msg, &it), TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_next_entry(&it, &e), TOLL_EEMPTY);
}
END_TEST

START_TEST(test_entries_max)
{
	struct toll_tsl_account a = {.id = 1, .balance_vnd = 0};
	struct toll_tsl_tag t;
	struct toll_tsl_entry e;
	size_t len;

	/* the largest version 2 delta: 65535 of the largest tags and the
	 * largest entry, 28 bytes below TOLL_TSL_DELTA_MAX_BYTES */
	ck_assert_int_eq(toll_tsl_delta_begin(&bld, big1, sizeof(big1), 30, 0, kid_a()), 0);
	for (unsigned i = 0; i < TOLL_TSL_DELTA_MAX_RECORDS - 1; i++) {
		big_tag(i, &t);
		ck_assert_int_eq(toll_tsl_delta_add_tag(&bld, &t), 0);
	}
	memset(&e, 0, sizeof(e));
	e.epc_bits = 256;
	memset(e.epc, 0xFF, 32);
	e.epc[0] = 0x7F;
	e.station = TOLL_TSL_STATION_MAX;
	e.time_ms = INT64_MAX;
	e.state = TOLL_TSL_ENTRY_EXPIRED;
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &e), 0);
	e.epc[0] = 0xFF; /* in order, yet the record count is full */
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &e), TOLL_ENOSPACE);
	ck_assert_int_eq(toll_tsl_finish(&bld, key_a, &len), 0);
	ck_assert_uint_eq(len, TOLL_TSL_DELTA_V2_FIXED_BYTES +
				       (TOLL_TSL_DELTA_MAX_RECORDS - 1) * (size_t)TOLL_TSL_TAG_MAX_BYTES +
				       TOLL_TSL_ENTRY_MAX_BYTES);
	ck_assert_uint_eq(len, TOLL_TSL_DELTA_MAX_BYTES - 28);
	ck_assert_int_eq(toll_tsl_decode(big1, len, &msg), 0);
	ck_assert_uint_eq(msg.count, TOLL_TSL_DELTA_MAX_RECORDS);
	ck_assert_uint_eq(msg.entries, 1);
	ck_assert_int_eq(toll_tsl_verify(big1, len, ver_a), 0);
	/* and it goes into a DELTAS */
	ck_assert_int_eq(toll_tsl_deltas_begin(&bld, huge, sizeof(huge), 29, 30, kid_a()), 0);
	ck_assert_int_eq(toll_tsl_deltas_add(&bld, big1, len), 0);
	ck_assert_int_eq(toll_tsl_deltas_finish(&bld, &len), 0);
	ck_assert_int_eq(toll_tsl_decode(huge, len, &msg), 0);
	ck_assert_int_eq(toll_tsl_verify(huge, len, ver_a), 0);

	/* the first entry at 65535 records: the records so far move */
	ck_assert_int_eq(toll_tsl_delta_begin(&bld, big2, sizeof(big2), 31, 0, kid_a()), 0);
	for (unsigned i = 0; i < TOLL_TSL_DELTA_MAX_RECORDS - 1; i++) {
		a.id = i + 1;
		a.balance_vnd = -(int64_t)i;
		ck_assert_int_eq(toll_tsl_delta_add_account(&bld, &a), 0);
	}
	make_entry(4, &e);
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &e), 0);
	make_entry(5, &e);
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &e), TOLL_ENOSPACE);
	ck_assert_int_eq(toll_tsl_finish(&bld, key_a, &len), 0);
	ck_assert_int_eq(toll_tsl_decode(big2, len, &msg), 0);
	ck_assert_uint_eq(msg.accounts, TOLL_TSL_DELTA_MAX_RECORDS - 1);
	ck_assert_uint_eq(msg.entries, 1);
	struct toll_tsl_iter it;
	toll_tsl_accounts(&msg, &it);
	for (unsigned i = 0; i < TOLL_TSL_DELTA_MAX_RECORDS - 1; i++) {
		ck_assert_int_eq(toll_tsl_next_account(&it, &a), 0);
		ck_assert_uint_eq(a.id, i + 1);
		ck_assert_int_eq(a.balance_vnd, -(int64_t)i);
	}
	ck_assert_int_eq(toll_tsl_verify(big2, len, ver_a), 0);
}
END_TEST

/* The builder's state a failed add must leave alone. */
struct bld_state {
	uint8_t bytes[512];
	struct toll_tsl_builder b;
};

static void
bld_save(struct bld_state *st)
{
	ck_assert_uint_le(bld.cap, sizeof(st->bytes));
	memcpy(st->bytes, bld.buf, bld.cap);
	st->b = bld;
}

static void
bld_same(const struct bld_state *st)
{
	ck_assert_mem_eq(bld.buf, st->bytes, bld.cap);
	ck_assert_ptr_eq(bld.buf, st->b.buf);
	ck_assert_uint_eq(bld.cap, st->b.cap);
	ck_assert_uint_eq(bld.off, st->b.off);
	ck_assert_uint_eq(bld.type, st->b.type);
	ck_assert_uint_eq(bld.accounts, st->b.accounts);
	ck_assert_uint_eq(bld.tags, st->b.tags);
	ck_assert_uint_eq(bld.entries, st->b.entries);
	ck_assert_uint_eq(bld.prev_account, st->b.prev_account);
	ck_assert_uint_eq(bld.prev_bits, st->b.prev_bits);
	ck_assert_mem_eq(bld.prev_epc, st->b.prev_epc, sizeof(bld.prev_epc));
}

START_TEST(test_entries_space)
{
	static uint8_t b[512];
	static struct bld_state st;
	struct toll_tsl_account a = {.id = 1, .balance_vnd = 5};
	struct toll_tsl_entry e = {.epc_bits = 8, .epc = {0x10}, .station = 1, .time_ms = 1, .state = 1};
	size_t len;

	/* an account, then the first 16-byte entry with one byte too few: its
	 * 4-byte entries count is what does not fit */
	memset(b, 0xEE, sizeof(b));
	ck_assert_int_eq(toll_tsl_delta_begin(&bld, b, TOLL_TSL_DELTA_MIN_BYTES + 16 + 4 + 16 - 1, 4, 0,
					      kid_a()),
			 0);
	ck_assert_int_eq(toll_tsl_delta_add_account(&bld, &a), 0);
	bld_save(&st);
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &e), TOLL_ENOSPACE);
	bld_same(&st);
	ck_assert_uint_eq(b[4], 1);
	/* 19 bytes left: another account still fits, and finishes a version 1 delta */
	a.id = 2;
	ck_assert_int_eq(toll_tsl_delta_add_account(&bld, &a), 0);
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &e), TOLL_ENOSPACE);
	ck_assert_int_eq(toll_tsl_finish(&bld, key_a, &len), 0);
	ck_assert_uint_eq(len, TOLL_TSL_DELTA_MIN_BYTES + 32);
	ck_assert_int_eq(toll_tsl_decode(b, len, &msg), 0);
	ck_assert_uint_eq(msg.format_version, 1);
	ck_assert_uint_eq(msg.accounts, 2);
	ck_assert_int_eq(toll_tsl_verify(b, len, ver_a), 0);

	/* exactly enough room: the entry takes the last byte before the signature */
	a.id = 1;
	ck_assert_int_eq(
		toll_tsl_delta_begin(&bld, b, TOLL_TSL_DELTA_MIN_BYTES + 16 + 4 + 16, 4, 0, kid_a()), 0);
	ck_assert_int_eq(toll_tsl_delta_add_account(&bld, &a), 0);
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &e), 0);
	ck_assert_uint_eq(bld.off, bld.cap - 64);
	bld_save(&st);
	e.epc[0] = 0x11;
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &e), TOLL_ENOSPACE);
	bld_same(&st);
	ck_assert_int_eq(toll_tsl_finish(&bld, key_a, &len), 0);
	ck_assert_uint_eq(len, TOLL_TSL_DELTA_MIN_BYTES + 16 + 4 + 16);
	ck_assert_int_eq(toll_tsl_decode(b, len, &msg), 0);
	ck_assert_uint_eq(msg.format_version, 2);
	ck_assert_uint_eq(msg.accounts, 1);
	ck_assert_uint_eq(msg.entries, 1);
	ck_assert_int_eq(toll_tsl_verify(b, len, ver_a), 0);

	/* later entries pay no second count: two fit in 4 + 16 + 16 */
	e.epc[0] = 0x10;
	ck_assert_int_eq(
		toll_tsl_delta_begin(&bld, b, TOLL_TSL_DELTA_MIN_BYTES + 4 + 16 + 16, 4, 0, kid_a()), 0);
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &e), 0);
	e.epc[0] = 0x11;
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &e), 0);
	e.epc[0] = 0x12;
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &e), TOLL_ENOSPACE);
	ck_assert_int_eq(toll_tsl_finish(&bld, key_a, &len), 0);
	ck_assert_uint_eq(len, TOLL_TSL_DELTA_MIN_BYTES + 4 + 32);
	ck_assert_int_eq(toll_tsl_decode(b, len, &msg), 0);
	ck_assert_uint_eq(msg.entries, 2);
	/* the smallest buffer a delta may start in takes no entry */
	ck_assert_int_eq(toll_tsl_delta_begin(&bld, b, TOLL_TSL_DELTA_MIN_BYTES, 4, 0, kid_a()), 0);
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &e), TOLL_ENOSPACE);
	ck_assert_int_eq(toll_tsl_finish(&bld, key_a, &len), 0);
	ck_assert_uint_eq(len, TOLL_TSL_DELTA_MIN_BYTES);
}
END_TEST

START_TEST(test_entries_builder)
{
	static uint8_t b[512];
	static struct bld_state st;
	struct toll_tsl_account a = {.id = 5, .balance_vnd = -1};
	struct toll_tsl_tag t;
	struct toll_tsl_entry e, ok, got[3];
	struct toll_tsl_iter it;
	size_t len;

	memset(&ok, 0, sizeof(ok));
	ok.epc_bits = 96;
	memset(ok.epc, 0x30, 12);
	ok.station = 101;
	ok.time_ms = 1764547200000;
	ok.state = TOLL_TSL_ENTRY_OPEN;
	/* not begun, not a delta, no entry */
	memset(&bld, 0, sizeof(bld));
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &ok), TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_delta_add_entry(NULL, &ok), TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_heartbeat_begin(&bld, b, sizeof(b), 1, 0, kid_a()), 0);
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &ok), TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_deltas_begin(&bld, b, sizeof(b), 1, 1, 0), 0);
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &ok), TOLL_EINVAL);

	memset(b, 0xEE, sizeof(b));
	ck_assert_int_eq(toll_tsl_delta_begin(&bld, b, sizeof(b), 9, 1764547200000, kid_a()), 0);
	ck_assert_int_eq(toll_tsl_delta_add_account(&bld, &a), 0);
	make_tag(3, &t);
	ck_assert_int_eq(toll_tsl_delta_add_tag(&bld, &t), 0);
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, NULL), TOLL_EINVAL);
	/* every field the decoder would refuse, before the first entry (the
	 * version 1 to 2 change) and after it: nothing changes */
	for (int round = 0; round < 2; round++) {
		bld_save(&st);
#define BAD_ENTRY(field, value)                                                                         \
	do {                                                                                            \
		e = ok;                                                                                 \
		e.field = value;                                                                        \
		ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &e), TOLL_EINVAL);                      \
		bld_same(&st);                                                                          \
	} while (0)
		BAD_ENTRY(epc_bits, 0);
		BAD_ENTRY(epc_bits, 257);
		BAD_ENTRY(epc_bits, UINT16_MAX);
		BAD_ENTRY(station, 0);
		BAD_ENTRY(station, TOLL_TSL_STATION_MAX + 1);
		BAD_ENTRY(station, UINT32_MAX);
		BAD_ENTRY(time_ms, 0);
		BAD_ENTRY(time_ms, -1);
		BAD_ENTRY(time_ms, INT64_MIN);
		BAD_ENTRY(state, 0);
		BAD_ENTRY(state, 4);
		BAD_ENTRY(state, 256 + TOLL_TSL_ENTRY_OPEN); /* not cut to a byte */
#undef BAD_ENTRY
		if (round == 0) {
			ck_assert_uint_eq(b[4], 1);
			ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &ok), 0);
			ck_assert_uint_eq(b[4], 2);
			ck_assert_uint_eq(bld.entries, 1);
		}
	}
	/* order: the same EPC again, a shorter one, a smaller one; no account
	 * or tag after an entry */
	bld_save(&st);
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &ok), TOLL_ESEQ);
	bld_same(&st);
	e = ok;
	e.epc_bits = 95;
	e.epc[11] = 0xFF;
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &e), TOLL_ESEQ);
	bld_same(&st);
	e = ok;
	e.epc[11] = 0x2F;
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &e), TOLL_ESEQ);
	bld_same(&st);
	a.id = 6;
	ck_assert_int_eq(toll_tsl_delta_add_account(&bld, &a), TOLL_ESEQ);
	bld_same(&st);
	make_tag(4, &t);
	t.epc_bits = 256; /* after every tag so far, yet after an entry */
	ck_assert_int_eq(toll_tsl_delta_add_tag(&bld, &t), TOLL_ESEQ);
	bld_same(&st);
	/* and the builder goes on */
	e = ok;
	e.epc_bits = 97;
	e.epc[12] = 0xFF; /* cleared to 0x80 */
	e.state = TOLL_TSL_ENTRY_CLOSED;
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &e), 0);
	e.epc[12] = 0x81; /* the same EPC once cleared */
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &e), TOLL_ESEQ);
	e.epc_bits = 256;
	memset(e.epc, 0, sizeof(e.epc));
	e.state = TOLL_TSL_ENTRY_EXPIRED;
	e.time_ms = INT64_MAX;
	e.station = TOLL_TSL_STATION_MAX;
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &e), 0);
	ck_assert_int_eq(toll_tsl_finish(&bld, key_a, &len), 0);
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &ok), TOLL_EINVAL); /* done */
	ck_assert_int_eq(toll_tsl_decode(b, len, &msg), 0);
	ck_assert_int_eq(toll_tsl_verify(b, len, ver_a), 0);
	ck_assert_uint_eq(msg.format_version, 2);
	ck_assert_uint_eq(msg.accounts, 1);
	ck_assert_uint_eq(msg.tags, 1);
	ck_assert_uint_eq(msg.entries, 3);
	ck_assert_int_eq(toll_tsl_entries(&msg, &it), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(toll_tsl_next_entry(&it, &got[i]), 0);
	ck_assert_int_eq(toll_tsl_next_entry(&it, &e), TOLL_EEMPTY);
	entry_eq(&got[0], &ok);
	ck_assert_uint_eq(got[1].epc_bits, 97);
	ck_assert_uint_eq(got[1].epc[12], 0x80);
	ck_assert_uint_eq(got[1].state, TOLL_TSL_ENTRY_CLOSED);
	ck_assert_uint_eq(got[2].epc_bits, 256);
	ck_assert_uint_eq(got[2].station, TOLL_TSL_STATION_MAX);
	ck_assert_int_eq(got[2].time_ms, INT64_MAX);
	ck_assert_uint_eq(got[2].state, TOLL_TSL_ENTRY_EXPIRED);
	/* the bytes signed are the final ones: signed elsewhere, the same message */
	static uint8_t c[512];
	uint8_t sig[64];
	size_t sl, len2;
	ck_assert_int_eq(toll_tsl_delta_begin(&bld, c, sizeof(c), 9, 1764547200000, kid_a()), 0);
	a.id = 5;
	ck_assert_int_eq(toll_tsl_delta_add_account(&bld, &a), 0);
	make_tag(3, &t);
	ck_assert_int_eq(toll_tsl_delta_add_tag(&bld, &t), 0);
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &got[0]), 0);
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &got[1]), 0);
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &got[2]), 0);
	const uint8_t *p = toll_tsl_signed_bytes(&bld, &sl);
	ck_assert_uint_eq(sl, len - 64);
	ck_assert_int_eq(toll_sign(key_a, p, sl, sig), 0);
	ck_assert_int_eq(toll_tsl_finish_sig(&bld, sig, &len2), 0);
	ck_assert_uint_eq(len2, len);
	ck_assert_mem_eq(c, b, len);
}
END_TEST

START_TEST(test_roundtrip_heartbeat)
{
	static const uint64_t versions[] = {0, 1, 42, UINT64_MAX};
	static const int64_t times[] = {0, 1764547201000, INT64_MIN, INT64_MAX};
	uint8_t b[TOLL_TSL_HEARTBEAT_BYTES];
	size_t len, sl;

	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(
			toll_tsl_encode_heartbeat(b, sizeof(b), versions[i], times[i], key_a, &len), 0);
		ck_assert_uint_eq(len, TOLL_TSL_HEARTBEAT_BYTES);
		ck_assert_int_eq(toll_tsl_decode(b, len, &msg), 0);
		ck_assert_uint_eq(msg.type, TOLL_TSL_HEARTBEAT);
		ck_assert_uint_eq(msg.list_version, versions[i]);
		ck_assert_uint_eq(msg.aux, 0);
		ck_assert_uint_eq(msg.count, 0);
		ck_assert_uint_eq(msg.key_id, kid_a());
		ck_assert_int_eq(msg.sent_ms, times[i]);
		ck_assert_int_eq(toll_tsl_verify(b, len, ver_a), 0);
		ck_assert_int_eq(toll_tsl_verify(b, len, ver_b), TOLL_EBADSIG);
	}
	/* the same bytes through the builder, with a signature made elsewhere */
	uint8_t c[TOLL_TSL_HEARTBEAT_BYTES], sig[64];
	ck_assert_int_eq(toll_tsl_heartbeat_begin(&bld, c, sizeof(c), UINT64_MAX, INT64_MAX, kid_a()),
			 0);
	const uint8_t *p = toll_tsl_signed_bytes(&bld, &sl);
	ck_assert_uint_eq(sl, TOLL_TSL_HEARTBEAT_BYTES - 64);
	ck_assert_int_eq(toll_sign(key_a, p, sl, sig), 0);
	ck_assert_int_eq(toll_tsl_finish_sig(&bld, sig, &len), 0);
	ck_assert_uint_eq(len, sizeof(c));
	ck_assert_mem_eq(b, c, sizeof(c));
	ck_assert_int_eq(toll_tsl_encode_heartbeat(b, sizeof(b) - 1, 1, 1, key_a, &len), TOLL_ENOSPACE);
	ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(test_roundtrip_requests)
{
	uint8_t b[64];
	size_t len;

	ck_assert_int_eq(toll_tsl_encode_get_deltas(b, sizeof(b), 0, 0, 1, 1, &len), 0);
	ck_assert_uint_eq(len, TOLL_TSL_GET_DELTAS_BYTES);
	ck_assert_int_eq(toll_tsl_decode(b, len, &msg), 0);
	ck_assert_uint_eq(msg.type, TOLL_TSL_GET_DELTAS);
	ck_assert_uint_eq(msg.list_version, 0);
	ck_assert_uint_eq(msg.aux, 0);
	ck_assert_uint_eq(msg.station_id, 1);
	ck_assert_uint_eq(msg.lane_id, 1);
	ck_assert_int_eq(toll_tsl_encode_get_deltas(b, sizeof(b), UINT64_MAX, UINT64_MAX - 1,
						    TOLL_TSL_STATION_MAX, 65535, &len),
			 0);
	ck_assert_int_eq(toll_tsl_decode(b, len, &msg), 0);
	ck_assert_uint_eq(msg.list_version, UINT64_MAX);
	ck_assert_uint_eq(msg.aux, UINT64_MAX - 1);
	ck_assert_uint_eq(msg.key_id, 0);
	ck_assert_uint_eq(msg.station_id, TOLL_TSL_STATION_MAX);
	ck_assert_uint_eq(msg.lane_id, 65535);
	ck_assert_int_eq(toll_tsl_verify(b, len, ver_a), TOLL_EINVAL);

	ck_assert_int_eq(toll_tsl_encode_get_snapshot(b, sizeof(b), 0, 0, 1, &len), 0);
	ck_assert_uint_eq(len, TOLL_TSL_GET_SNAPSHOT_BYTES);
	ck_assert_int_eq(toll_tsl_decode(b, len, &msg), 0);
	ck_assert_uint_eq(msg.type, TOLL_TSL_GET_SNAPSHOT);
	ck_assert_uint_eq(msg.max_bytes, 1);
	ck_assert_int_eq(toll_tsl_encode_get_snapshot(b, sizeof(b), 77, UINT64_MAX, UINT32_MAX, &len),
			 0);
	ck_assert_int_eq(toll_tsl_decode(b, len, &msg), 0);
	ck_assert_uint_eq(msg.list_version, 77);
	ck_assert_uint_eq(msg.aux, UINT64_MAX);
	ck_assert_uint_eq(msg.max_bytes, UINT32_MAX);
	ck_assert_int_eq(toll_tsl_verify(b, len, ver_a), TOLL_EINVAL);
}
END_TEST

START_TEST(test_roundtrip_deltas)
{
	static uint8_t d[8][4096];
	size_t dl[8], len;
	struct toll_tsl_iter it;
	const uint8_t *p;
	size_t n;

	for (unsigned i = 0; i < 8; i++)
		dl[i] = build_delta(d[i], sizeof(d[i]), 11 + i, i % 3, i * 5, key_a);
	for (unsigned k = 0; k <= 8; k++) {
		ck_assert_int_eq(toll_tsl_deltas_begin(&bld, big1, sizeof(big1), 10, 100, 0xABCD), 0);
		for (unsigned i = 0; i < k; i++)
			ck_assert_int_eq(toll_tsl_deltas_add(&bld, d[i], dl[i]), 0);
		ck_assert_int_eq(toll_tsl_deltas_finish(&bld, &len), 0);
		ck_assert_int_eq(toll_tsl_decode(big1, len, &msg), 0);
		ck_assert_uint_eq(msg.type, TOLL_TSL_DELTAS);
		ck_assert_uint_eq(msg.list_version, 10 + k);
		ck_assert_uint_eq(msg.aux, 100);
		ck_assert_uint_eq(msg.key_id, 0xABCD);
		ck_assert_uint_eq(msg.count, k);
		ck_assert_int_eq(toll_tsl_deltas(&msg, &it), 0);
		for (unsigned i = 0; i < k; i++) {
			ck_assert_int_eq(toll_tsl_next_delta(&it, &p, &n), 0);
			ck_assert_uint_eq(n, dl[i]);
			ck_assert_mem_eq(p, d[i], n);
			ck_assert(p >= big1 + 36 && p + n <= big1 + len);
		}
		ck_assert_int_eq(toll_tsl_next_delta(&it, &p, &n), TOLL_EEMPTY);
		ck_assert_ptr_null(p);
		ck_assert_uint_eq(n, 0);
		ck_assert_int_eq(toll_tsl_accounts(&msg, &it), TOLL_EINVAL);
		ck_assert_int_eq(toll_tsl_verify(big1, len, ver_a), 0);
		ck_assert_int_eq(toll_tsl_verify(big1, len, ver_b), k == 0 ? 0 : TOLL_EBADSIG);
	}
	/* an inner delta signed by another key fails the whole DELTAS */
	size_t other = build_delta(big2, sizeof(big2), 13, 1, 1, key_b);
	ck_assert_int_eq(toll_tsl_deltas_begin(&bld, big1, sizeof(big1), 10, 13, kid_a()), 0);
	ck_assert_int_eq(toll_tsl_deltas_add(&bld, d[0], dl[0]), 0);
	ck_assert_int_eq(toll_tsl_deltas_add(&bld, d[1], dl[1]), 0);
	ck_assert_int_eq(toll_tsl_deltas_add(&bld, big2, other), 0);
	ck_assert_int_eq(toll_tsl_deltas_finish(&bld, &len), 0);
	ck_assert_int_eq(toll_tsl_verify(big1, len, ver_a), TOLL_EBADSIG);
	/* latest == the last version is fine; the builder refuses deltas past it */
	ck_assert_int_eq(toll_tsl_deltas_begin(&bld, big1, sizeof(big1), 10, 11, 0), 0);
	ck_assert_int_eq(toll_tsl_deltas_add(&bld, d[0], dl[0]), 0);
	ck_assert_int_eq(toll_tsl_deltas_add(&bld, d[1], dl[1]), TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_deltas_finish(&bld, &len), 0);
	ck_assert_int_eq(toll_tsl_decode(big1, len, &msg), 0);
	ck_assert_uint_eq(msg.list_version, 11);
	ck_assert_uint_eq(msg.aux, 11);
	/* out of order, repeated, not a delta, a gap */
	ck_assert_int_eq(toll_tsl_deltas_begin(&bld, big1, sizeof(big1), 10, 100, 0), 0);
	ck_assert_int_eq(toll_tsl_deltas_add(&bld, d[1], dl[1]), TOLL_ESEQ);
	ck_assert_int_eq(toll_tsl_deltas_add(&bld, d[0], dl[0]), 0);
	ck_assert_int_eq(toll_tsl_deltas_add(&bld, d[0], dl[0]), TOLL_ESEQ);
	ck_assert_int_eq(toll_tsl_deltas_add(&bld, d[2], dl[2]), TOLL_ESEQ);
	ck_assert_int_eq(toll_tsl_deltas_add(&bld, d[1], dl[1] - 1), TOLL_EINVAL);
	uint8_t hb[TOLL_TSL_HEARTBEAT_BYTES];
	ck_assert_int_eq(toll_tsl_encode_heartbeat(hb, sizeof(hb), 12, 0, key_a, &n), 0);
	ck_assert_int_eq(toll_tsl_deltas_add(&bld, hb, n), TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_deltas_add(&bld, d[1], dl[1]), 0);
	ck_assert_int_eq(toll_tsl_deltas_finish(&bld, &len), 0);
	ck_assert_int_eq(toll_tsl_decode(big1, len, &msg), 0);
	ck_assert_uint_eq(msg.count, 2);
	/* a small buffer takes as many as fit */
	ck_assert_int_eq(toll_tsl_deltas_begin(&bld, big1, 32 + 4 + dl[0] + 4 + dl[1] - 1, 10, 100, 0),
			 0);
	ck_assert_int_eq(toll_tsl_deltas_add(&bld, d[0], dl[0]), 0);
	ck_assert_int_eq(toll_tsl_deltas_add(&bld, d[1], dl[1]), TOLL_ENOSPACE);
	ck_assert_int_eq(toll_tsl_deltas_finish(&bld, &len), 0);
	ck_assert_uint_eq(len, 32 + 4 + dl[0]);
	ck_assert_int_eq(toll_tsl_decode(big1, len, &msg), 0);
	ck_assert_uint_eq(msg.count, 1);
}
END_TEST

/* Version 1 and version 2 deltas in one DELTAS, each decoded on its own. */
START_TEST(test_deltas_mixed)
{
	static uint8_t d[4][4096];
	static const unsigned shapes[4][3] = {{1, 2, 0}, {0, 1, 3}, {2, 0, 0}, {0, 0, 1}};
	static struct toll_tsl_msg dm;
	size_t dl[4], len, n;
	struct toll_tsl_iter it, eit;
	struct toll_tsl_entry e;
	const uint8_t *p;

	for (unsigned i = 0; i < 4; i++)
		dl[i] = build_delta3(d[i], sizeof(d[i]), 11 + i, shapes[i][0], shapes[i][1], shapes[i][2],
				     key_a);
	ck_assert_int_eq(toll_tsl_deltas_begin(&bld, big1, sizeof(big1), 10, 14, kid_a()), 0);
	for (unsigned i = 0; i < 4; i++)
		ck_assert_int_eq(toll_tsl_deltas_add(&bld, d[i], dl[i]), 0);
	ck_assert_int_eq(toll_tsl_deltas_finish(&bld, &len), 0);
	ck_assert_int_eq(toll_tsl_decode(big1, len, &msg), 0);
	ck_assert_uint_eq(msg.format_version, 1); /* the DELTAS itself */
	ck_assert_uint_eq(msg.count, 4);
	ck_assert_uint_eq(msg.list_version, 14);
	ck_assert_int_eq(toll_tsl_verify(big1, len, ver_a), 0);
	ck_assert_int_eq(toll_tsl_verify(big1, len, ver_b), TOLL_EBADSIG);
	ck_assert_int_eq(toll_tsl_deltas(&msg, &it), 0);
	for (unsigned i = 0; i < 4; i++) {
		ck_assert_int_eq(toll_tsl_next_delta(&it, &p, &n), 0);
		ck_assert_uint_eq(n, dl[i]);
		ck_assert_mem_eq(p, d[i], n);
		ck_assert_int_eq(toll_tsl_decode(p, n, &dm), 0);
		ck_assert_uint_eq(dm.format_version, shapes[i][2] > 0 ? 2 : 1);
		ck_assert_uint_eq(dm.list_version, 11 + i);
		ck_assert_uint_eq(dm.accounts, shapes[i][0]);
		ck_assert_uint_eq(dm.tags, shapes[i][1]);
		ck_assert_uint_eq(dm.entries, shapes[i][2]);
		ck_assert_int_eq(toll_tsl_entries(&dm, &eit), 0);
		unsigned ne = 0;
		while (toll_tsl_next_entry(&eit, &e) == 0)
			ne++;
		ck_assert_uint_eq(ne, shapes[i][2]);
		ck_assert_int_eq(toll_tsl_verify(p, n, ver_a), 0);
	}
	ck_assert_int_eq(toll_tsl_next_delta(&it, &p, &n), TOLL_EEMPTY);
	/* the second delta (version 2) damaged inside the DELTAS */
	size_t at = 32 + 4 + dl[0] + 4;
	ck_assert_uint_eq(big1[at + 4], 2);
	big1[at + 4] = 3;
	ck_assert_int_eq(toll_tsl_decode(big1, len, &msg), TOLL_EVERSION);
	big1[at + 4] = 1; /* read as version 1: A + T is not the count */
	ck_assert_int_eq(toll_tsl_decode(big1, len, &msg), TOLL_EFORMAT);
	big1[at + 4] = 2;
	big1[at + 51] = 2; /* entries 2 of 3 records */
	ck_assert_int_eq(toll_tsl_decode(big1, len, &msg), TOLL_EFORMAT);
	big1[at + 51] = 3;
	ck_assert_int_eq(toll_tsl_decode(big1, len, &msg), 0);
	big1[len - 10] ^= 1; /* in the last (version 2) delta's signature */
	ck_assert_int_eq(toll_tsl_decode(big1, len, &msg), 0);
	ck_assert_int_eq(toll_tsl_verify(big1, len, ver_a), TOLL_EBADSIG);
}
END_TEST

START_TEST(test_deltas_max)
{
	size_t l1, l2, l3, len;
	uint8_t tiny[TOLL_TSL_DELTA_MIN_BYTES];

	/* two deltas that fill TOLL_TSL_MAX_BYTES to the byte */
	l1 = fill_delta(big1, sizeof(big1), 21, TOLL_TSL_DELTA_MAX_BYTES, TOLL_TSL_DELTA_MAX_RECORDS);
	l2 = fill_delta(big2, sizeof(big2), 22, TOLL_TSL_MAX_BYTES - 32 - 8 - l1, 38000);
	l3 = build_delta(tiny, sizeof(tiny), 23, 0, 0, key_a);
	ck_assert_int_eq(toll_tsl_deltas_begin(&bld, huge, sizeof(huge), 20, 23, kid_a()), 0);
	ck_assert_uint_eq(bld.cap, TOLL_TSL_MAX_BYTES);
	ck_assert_int_eq(toll_tsl_deltas_add(&bld, big1, l1), 0);
	ck_assert_int_eq(toll_tsl_deltas_add(&bld, big2, l2), 0);
	ck_assert_int_eq(toll_tsl_deltas_add(&bld, tiny, l3), TOLL_ENOSPACE);
	ck_assert_int_eq(toll_tsl_deltas_finish(&bld, &len), 0);
	ck_assert_uint_eq(len, TOLL_TSL_MAX_BYTES);
	ck_assert_int_eq(toll_tsl_decode(huge, len, &msg), 0);
	ck_assert_uint_eq(msg.count, 2);
	ck_assert_uint_eq(msg.list_version, 22);
	ck_assert_int_eq(toll_tsl_verify(huge, len, ver_a), 0);
	/* one byte more than any message may have */
	huge[len] = 0;
	ck_assert_int_eq(toll_tsl_decode(huge, len + 1, &msg), TOLL_EFORMAT);
}
END_TEST

START_TEST(test_snapshot_chunk_max)
{
	static uint8_t chunk[TOLL_TSL_SNAPSHOT_CHUNK_MAX + 1];
	uint8_t sha[32], sig[64];
	size_t len;

	memset(chunk, 0x5A, sizeof(chunk));
	memset(sha, 0x11, sizeof(sha));
	memset(sig, 0x22, sizeof(sig));
	ck_assert_int_eq(toll_tsl_encode_snapshot(huge, sizeof(huge), 1, 100, UINT64_MAX, sha, sig, 0,
						  chunk, TOLL_TSL_SNAPSHOT_CHUNK_MAX, &len),
			 0);
	ck_assert_uint_eq(len, TOLL_TSL_MAX_BYTES);
	ck_assert_int_eq(toll_tsl_decode(huge, len, &msg), 0);
	ck_assert_uint_eq(msg.chunk_len, TOLL_TSL_SNAPSHOT_CHUNK_MAX);
	ck_assert_ptr_eq(msg.chunk, huge + TOLL_TSL_SNAPSHOT_FIXED_BYTES);
	ck_assert_int_eq(toll_tsl_encode_snapshot(huge, sizeof(huge), 1, 100, UINT64_MAX, sha, sig, 0,
						  chunk, TOLL_TSL_SNAPSHOT_CHUNK_MAX + 1, &len),
			 TOLL_EINVAL);
	ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(test_roundtrip_snapshot)
{
	static uint8_t file[1000];
	uint8_t sha[32], sig[64], b[1200];
	size_t len;
	uint64_t off = 0;
	int chunks = 0;

	for (size_t i = 0; i < sizeof(file); i++)
		file[i] = (uint8_t)(i % 251);
	toll_sha256(file, sizeof(file), sha);
	ck_assert_int_eq(toll_tsl_snapshot_sign(key_a, 7, sizeof(file), sha, sig), 0);
	ck_assert_int_eq(toll_tsl_snapshot_verify(ver_a, 7, sizeof(file), sha, sig), 0);
	ck_assert_int_eq(toll_tsl_snapshot_verify(ver_b, 7, sizeof(file), sha, sig), TOLL_EBADSIG);
	ck_assert_int_eq(toll_tsl_snapshot_verify(ver_a, 8, sizeof(file), sha, sig), TOLL_EBADSIG);
	ck_assert_int_eq(toll_tsl_snapshot_verify(ver_a, 7, sizeof(file) - 1, sha, sig), TOLL_EBADSIG);
	sha[31] ^= 1;
	ck_assert_int_eq(toll_tsl_snapshot_verify(ver_a, 7, sizeof(file), sha, sig), TOLL_EBADSIG);
	sha[31] ^= 1;
	/* the file in chunks of 300, then the empty chunk at the end */
	static uint8_t got[1000];
	for (;;) {
		uint32_t n = (uint32_t)(sizeof(file) - off < 300 ? sizeof(file) - off : 300);
		ck_assert_int_eq(toll_tsl_encode_snapshot(b, sizeof(b), 7, off, sizeof(file), sha, sig,
							  kid_a(), file + off, n, &len),
				 0);
		ck_assert_uint_eq(len, TOLL_TSL_SNAPSHOT_FIXED_BYTES + n);
		ck_assert_int_eq(toll_tsl_decode(b, len, &msg), 0);
		ck_assert_uint_eq(msg.type, TOLL_TSL_SNAPSHOT);
		ck_assert_uint_eq(msg.list_version, 7);
		ck_assert_uint_eq(msg.aux, off);
		ck_assert_uint_eq(msg.key_id, kid_a());
		ck_assert_uint_eq(msg.total_bytes, sizeof(file));
		ck_assert_mem_eq(msg.sha256, sha, 32);
		ck_assert_mem_eq(msg.snapshot_sig, sig, 64);
		ck_assert_uint_eq(msg.chunk_len, n);
		ck_assert_int_eq(toll_tsl_verify(b, len, ver_a), 0);
		ck_assert_int_eq(toll_tsl_verify(b, len, ver_b), TOLL_EBADSIG);
		if (n == 0)
			break;
		memcpy(got + off, msg.chunk, n);
		off += n;
		chunks++;
	}
	ck_assert_int_eq(chunks, 4);
	ck_assert_mem_eq(got, file, sizeof(file));
	/* the snapshot signature vector, made with Python */
	uint8_t want[64];
	ck_assert_int_eq(
		toll_hex_decode("7127b19fc8ea98ba2249fa4145d2e1796ad25e40584d3f5421cd98e0849420d8"
				"3ac4d54bdb80478a0f0cf6ec9bc67ac68bcddec4325f390a0e0bfc335de7c906",
				want, 64),
		0);
	ck_assert_mem_eq(sig, want, 64);
	/* the whole file in one chunk; a 1-byte file */
	ck_assert_int_eq(toll_tsl_encode_snapshot(big1, sizeof(big1), 7, 0, sizeof(file), sha, sig, 0,
						  file, sizeof(file), &len),
			 0);
	ck_assert_int_eq(toll_tsl_decode(big1, len, &msg), 0);
	ck_assert_int_eq(toll_tsl_encode_snapshot(b, sizeof(b), 1, 0, 1, sha, sig, 0, file, 1, &len), 0);
	ck_assert_int_eq(toll_tsl_decode(b, len, &msg), 0);
	ck_assert_int_eq(toll_tsl_encode_snapshot(b, sizeof(b), 1, 1, 1, sha, sig, 0, NULL, 0, &len), 0);
	ck_assert_int_eq(toll_tsl_decode(b, len, &msg), 0);
	ck_assert_ptr_eq(msg.chunk, b + len);
	/* encoder refusals: what the decoder would refuse */
	ck_assert_int_eq(toll_tsl_encode_snapshot(b, sizeof(b), 0, 0, 1, sha, sig, 0, file, 1, &len),
			 TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_encode_snapshot(b, sizeof(b), 1, 0, 0, sha, sig, 0, NULL, 0, &len),
			 TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_encode_snapshot(b, sizeof(b), 1, 2, 1, sha, sig, 0, NULL, 0, &len),
			 TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_encode_snapshot(b, sizeof(b), 1, 0, 1, sha, sig, 0, NULL, 0, &len),
			 TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_encode_snapshot(b, sizeof(b), 1, 0, 1, sha, sig, 0, file, 2, &len),
			 TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_encode_snapshot(b, sizeof(b), 1, 0, 1, NULL, sig, 0, file, 1, &len),
			 TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_encode_snapshot(b, sizeof(b), 1, 0, 1, sha, NULL, 0, file, 1, &len),
			 TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_encode_snapshot(b, sizeof(b), 1, 0, 5, sha, sig, 0, NULL, 1, &len),
			 TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_encode_snapshot(b, TOLL_TSL_SNAPSHOT_FIXED_BYTES, 1, 0, 5, sha, sig, 0,
						  file, 1, &len),
			 TOLL_ENOSPACE);
	ck_assert_int_eq(toll_tsl_snapshot_sign(NULL, 1, 1, sha, sig), TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_snapshot_verify(NULL, 1, 1, sha, sig), TOLL_EINVAL);
}
END_TEST

START_TEST(test_roundtrip_error)
{
	uint8_t b[400];
	char text[300];
	size_t len;

	for (unsigned code = 1; code <= TOLL_TSL_ERR_MAX; code++) {
		ck_assert_int_eq(
			toll_tsl_encode_error(b, sizeof(b), 99, 0x12345678, code, "deltas pruned", &len),
			0);
		ck_assert_uint_eq(len, 32 + 5 + 13);
		ck_assert_int_eq(toll_tsl_decode(b, len, &msg), 0);
		ck_assert_uint_eq(msg.type, TOLL_TSL_ERROR);
		ck_assert_uint_eq(msg.list_version, 99);
		ck_assert_uint_eq(msg.aux, 0);
		ck_assert_uint_eq(msg.key_id, 0x12345678);
		ck_assert_uint_eq(msg.error_code, code);
		ck_assert_str_eq(msg.text, "deltas pruned");
		ck_assert_int_eq(toll_tsl_verify(b, len, ver_a), TOLL_EINVAL);
	}
	ck_assert_int_eq(toll_tsl_encode_error(b, sizeof(b), 0, 0, 4, NULL, &len), 0);
	ck_assert_uint_eq(len, 37);
	ck_assert_int_eq(toll_tsl_decode(b, len, &msg), 0);
	ck_assert_str_eq(msg.text, "");
	/* cut at 255, unprintable bytes replaced */
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = 0;
	text[3] = '\n';
	text[4] = (char)0xC3;
	ck_assert_int_eq(toll_tsl_encode_error(b, sizeof(b), 0, 0, 3, text, &len), 0);
	ck_assert_uint_eq(len, 37 + 255);
	ck_assert_int_eq(toll_tsl_decode(b, len, &msg), 0);
	ck_assert_uint_eq(strlen(msg.text), 255);
	ck_assert_int_eq(memcmp(msg.text, "xxx??xxx", 8), 0);
	ck_assert_int_eq(toll_tsl_encode_error(b, sizeof(b), 0, 0, 0, "x", &len), TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_encode_error(b, sizeof(b), 0, 0, 5, "x", &len), TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_encode_error(b, 37, 0, 0, 1, "x", &len), TOLL_ENOSPACE);
	ck_assert_uint_eq(len, 0);
}
END_TEST

/* ---- refusals --------------------------------------------------------------- */

/* One valid message of each type. */
struct sample {
	uint8_t b[4096];
	size_t n;
};
static struct sample samples[TOLL_TSL_TYPE_MAX + 1];
/* and version 2: a DELTA with entries, a DELTAS with a version 1 and a
 * version 2 delta */
static struct sample v2_delta, v2_deltas;

static void
make_samples(void)
{
	static uint8_t d1[2048], d2[2048];
	uint8_t sha[32] = {9}, sig[64] = {8};
	size_t l1, l2;

	samples[TOLL_TSL_DELTA].n = build_delta(samples[TOLL_TSL_DELTA].b, 4096, 12, 3, 7, key_a);
	ck_assert_int_eq(toll_tsl_encode_heartbeat(samples[TOLL_TSL_HEARTBEAT].b, 4096, 12, 1000, key_a,
						   &samples[TOLL_TSL_HEARTBEAT].n),
			 0);
	ck_assert_int_eq(toll_tsl_encode_get_deltas(samples[TOLL_TSL_GET_DELTAS].b, 4096, 12, 5, 101, 3,
						    &samples[TOLL_TSL_GET_DELTAS].n),
			 0);
	l1 = build_delta(d1, sizeof(d1), 11, 1, 2, key_a);
	l2 = build_delta(d2, sizeof(d2), 12, 2, 1, key_a);
	ck_assert_int_eq(toll_tsl_deltas_begin(&bld, samples[TOLL_TSL_DELTAS].b, 4096, 10, 12, kid_a()),
			 0);
	ck_assert_int_eq(toll_tsl_deltas_add(&bld, d1, l1), 0);
	ck_assert_int_eq(toll_tsl_deltas_add(&bld, d2, l2), 0);
	ck_assert_int_eq(toll_tsl_deltas_finish(&bld, &samples[TOLL_TSL_DELTAS].n), 0);
	ck_assert_int_eq(toll_tsl_encode_get_snapshot(samples[TOLL_TSL_GET_SNAPSHOT].b, 4096, 12, 300,
						      65536, &samples[TOLL_TSL_GET_SNAPSHOT].n),
			 0);
	ck_assert_int_eq(toll_tsl_encode_snapshot(samples[TOLL_TSL_SNAPSHOT].b, 4096, 12, 300, 1000, sha,
						  sig, kid_a(), d1, 20, &samples[TOLL_TSL_SNAPSHOT].n),
			 0);
	ck_assert_int_eq(toll_tsl_encode_error(samples[TOLL_TSL_ERROR].b, 4096, 12, kid_a(), 1,
					       "too old", &samples[TOLL_TSL_ERROR].n),
			 0);
	for (unsigned t = 1; t <= TOLL_TSL_TYPE_MAX; t++) {
		ck_assert_int_eq(toll_tsl_decode(samples[t].b, samples[t].n, &msg), 0);
		ck_assert_uint_eq(msg.type, t);
	}
	v2_delta.n = build_delta3(v2_delta.b, 4096, 12, 2, 3, 4, key_a);
	ck_assert_int_eq(toll_tsl_decode(v2_delta.b, v2_delta.n, &msg), 0);
	ck_assert_uint_eq(msg.format_version, 2);
	l2 = build_delta3(d2, sizeof(d2), 12, 1, 1, 2, key_a);
	ck_assert_int_eq(toll_tsl_deltas_begin(&bld, v2_deltas.b, 4096, 10, 12, kid_a()), 0);
	ck_assert_int_eq(toll_tsl_deltas_add(&bld, d1, l1), 0);
	ck_assert_int_eq(toll_tsl_deltas_add(&bld, d2, l2), 0);
	ck_assert_int_eq(toll_tsl_deltas_finish(&bld, &v2_deltas.n), 0);
	ck_assert_int_eq(toll_tsl_decode(v2_deltas.b, v2_deltas.n, &msg), 0);
}

/* Decode sample t with byte off set to v. */
static int
patched(unsigned t, size_t off, uint8_t v)
{
	static uint8_t bad[4096];
	memcpy(bad, samples[t].b, samples[t].n);
	ck_assert_uint_lt(off, samples[t].n);
	bad[off] = v;
	return toll_tsl_decode(bad, samples[t].n, &msg);
}

/* Decode sample t with the big-endian u64 at off set to v. */
static int
patched64(unsigned t, size_t off, uint64_t v)
{
	static uint8_t bad[4096];
	memcpy(bad, samples[t].b, samples[t].n);
	for (int i = 0; i < 8; i++)
		bad[off + (size_t)i] = (uint8_t)(v >> (56 - 8 * i));
	return toll_tsl_decode(bad, samples[t].n, &msg);
}

START_TEST(test_header_refused)
{
	make_samples();
	for (unsigned t = 1; t <= TOLL_TSL_TYPE_MAX; t++) {
		const uint8_t *m = samples[t].b;
		/* magic */
		for (size_t i = 0; i < 4; i++)
			ck_assert_int_eq(patched(t, i, (uint8_t)(m[i] ^ 0x20)), TOLL_EFORMAT);
		/* version: refused, yet the header is reported; version 2 is
		 * only a DELTA's, and lays it out otherwise (an entries count) */
		ck_assert_int_eq(patched(t, 4, 0), TOLL_EVERSION);
		ck_assert_int_eq(patched(t, 4, 2),
				 t == TOLL_TSL_DELTA ? TOLL_EFORMAT : TOLL_EVERSION);
		ck_assert_uint_eq(msg.type, t);
		ck_assert_uint_eq(msg.format_version, 2);
		ck_assert_uint_eq(msg.list_version, 12);
		ck_assert_int_eq(patched(t, 4, 3), TOLL_EVERSION);
		ck_assert_int_eq(patched(t, 4, 0xFF), TOLL_EVERSION);
		ck_assert_uint_eq(msg.format_version, 0xFF);
		ck_assert_uint_eq(msg.type, t);
		/* type: unknown, or any other type over these bytes */
		ck_assert_int_eq(patched(t, 5, 0), TOLL_EFORMAT);
		ck_assert_int_eq(patched(t, 5, TOLL_TSL_TYPE_MAX + 1), TOLL_EFORMAT);
		ck_assert_int_eq(patched(t, 5, 0xFF), TOLL_EFORMAT);
		for (unsigned o = 1; o <= TOLL_TSL_TYPE_MAX; o++)
			if (o != t)
				ck_assert_msg(patched(t, 5, (uint8_t)o) != 0, "type %u as %u", t, o);
		/* reserved */
		ck_assert_int_eq(patched(t, 6, 1), TOLL_EFORMAT);
		ck_assert_int_eq(patched(t, 7, 0x80), TOLL_EFORMAT);
		/* count */
		if (t != TOLL_TSL_DELTA && t != TOLL_TSL_DELTAS) {
			ck_assert_int_eq(patched(t, 31, 1), TOLL_EFORMAT);
			ck_assert_int_eq(patched(t, 28, 0x80), TOLL_EFORMAT);
		}
		/* a key id in a request */
		if (t == TOLL_TSL_GET_DELTAS || t == TOLL_TSL_GET_SNAPSHOT) {
			ck_assert_int_eq(patched(t, 27, 1), TOLL_EFORMAT);
			ck_assert_int_eq(patched(t, 24, 0x80), TOLL_EFORMAT);
		} else {
			ck_assert_int_eq(patched(t, 24, 0x80 ^ m[24]),
					 0); /* decodes; the signature fails */
		}
		/* an aux that must be 0 */
		if (t == TOLL_TSL_HEARTBEAT || t == TOLL_TSL_ERROR) {
			ck_assert_int_eq(patched(t, 23, 1), TOLL_EFORMAT);
			ck_assert_int_eq(patched(t, 16, 0x80), TOLL_EFORMAT);
		}
	}
	/* version 2 of an unknown type: the version is refused first */
	{
		static uint8_t bad[4096];
		memcpy(bad, samples[TOLL_TSL_HEARTBEAT].b, samples[TOLL_TSL_HEARTBEAT].n);
		bad[4] = 2;
		bad[5] = 0;
		ck_assert_int_eq(toll_tsl_decode(bad, samples[TOLL_TSL_HEARTBEAT].n, &msg), TOLL_EVERSION);
		bad[5] = TOLL_TSL_TYPE_MAX + 1;
		ck_assert_int_eq(toll_tsl_decode(bad, samples[TOLL_TSL_HEARTBEAT].n, &msg), TOLL_EVERSION);
		/* a version 2 message shorter than a header may be a DELTA's start */
		ck_assert_int_eq(toll_tsl_decode(bad, 31, &msg), TOLL_ESHORT);
		bad[4] = 3;
		ck_assert_int_eq(toll_tsl_decode(bad, 31, &msg), TOLL_EVERSION);
	}
	/* DELTA: aux is list_version - 1, list_version >= 1, count = accounts + tags */
	ck_assert_int_eq(patched64(TOLL_TSL_DELTA, 16, 12), TOLL_EFORMAT);
	ck_assert_int_eq(patched64(TOLL_TSL_DELTA, 16, 10), TOLL_EFORMAT);
	ck_assert_int_eq(patched64(TOLL_TSL_DELTA, 8, 13), TOLL_EFORMAT);
	ck_assert_int_eq(patched64(TOLL_TSL_DELTA, 8, 0), TOLL_EFORMAT);
	{
		static uint8_t bad[4096];
		memcpy(bad, samples[TOLL_TSL_DELTA].b, samples[TOLL_TSL_DELTA].n);
		memset(bad + 8, 0, 8);
		memset(bad + 16, 0xFF, 8); /* version 0, aux 2^64-1 */
		ck_assert_int_eq(toll_tsl_decode(bad, samples[TOLL_TSL_DELTA].n, &msg), TOLL_EFORMAT);
	}
	ck_assert_int_eq(patched(TOLL_TSL_DELTA, 31, 9), TOLL_EFORMAT);
	ck_assert_int_eq(patched(TOLL_TSL_DELTA, 31, 11), TOLL_EFORMAT);
	ck_assert_int_eq(patched(TOLL_TSL_DELTA, 43, 4), TOLL_EFORMAT); /* accounts 4, tags 7 */
	ck_assert_int_eq(patched(TOLL_TSL_DELTA, 47, 6), TOLL_EFORMAT); /* tags 6 */
	/* HEARTBEAT: any list version */
	ck_assert_int_eq(patched64(TOLL_TSL_HEARTBEAT, 8, 0), 0);
	/* GET_DELTAS: any versions */
	ck_assert_int_eq(patched64(TOLL_TSL_GET_DELTAS, 8, UINT64_MAX), 0);
	ck_assert_int_eq(patched64(TOLL_TSL_GET_DELTAS, 16, 0), 0);
	/* DELTAS: list_version is the last delta's, aux >= it, count the deltas */
	ck_assert_int_eq(patched64(TOLL_TSL_DELTAS, 8, 13), TOLL_EFORMAT);
	ck_assert_int_eq(patched64(TOLL_TSL_DELTAS, 8, 11), TOLL_EFORMAT);
	ck_assert_int_eq(patched64(TOLL_TSL_DELTAS, 16, 11), TOLL_EFORMAT);
	ck_assert_int_eq(patched64(TOLL_TSL_DELTAS, 16, UINT64_MAX), 0);
	ck_assert_int_eq(patched(TOLL_TSL_DELTAS, 31, 1), TOLL_EFORMAT); /* first would be 12 */
	ck_assert_int_eq(patched(TOLL_TSL_DELTAS, 31, 3), TOLL_EFORMAT); /* first would be 10 */
	ck_assert_int_eq(patched(TOLL_TSL_DELTAS, 31, 0), TOLL_EFORMAT);
	/* GET_SNAPSHOT: any version and offset */
	ck_assert_int_eq(patched64(TOLL_TSL_GET_SNAPSHOT, 8, 0), 0);
	ck_assert_int_eq(patched64(TOLL_TSL_GET_SNAPSHOT, 16, UINT64_MAX), 0);
	/* SNAPSHOT: version >= 1, offset within the file */
	ck_assert_int_eq(patched64(TOLL_TSL_SNAPSHOT, 8, 0), TOLL_EFORMAT);
	ck_assert_int_eq(patched64(TOLL_TSL_SNAPSHOT, 16, 980), 0);
	ck_assert_int_eq(patched64(TOLL_TSL_SNAPSHOT, 16, 981), TOLL_EFORMAT);
	ck_assert_int_eq(patched64(TOLL_TSL_SNAPSHOT, 16, UINT64_MAX), TOLL_EFORMAT);
	/* ERROR: any list version */
	ck_assert_int_eq(patched64(TOLL_TSL_ERROR, 8, 0), 0);
	/* no buffer; a longer message than any */
	ck_assert_int_eq(toll_tsl_decode(NULL, 0, &msg), TOLL_ESHORT);
	ck_assert_int_eq(toll_tsl_decode(NULL, 40, &msg), TOLL_EINVAL);
	memset(huge, 0, sizeof(huge));
	memcpy(huge, samples[TOLL_TSL_ERROR].b, samples[TOLL_TSL_ERROR].n);
	ck_assert_int_eq(toll_tsl_decode(huge, TOLL_TSL_MAX_BYTES + 1, &msg), TOLL_EFORMAT);
	ck_assert_uint_eq(msg.type, TOLL_TSL_ERROR);
}
END_TEST

/* A DELTA of the given records, built by hand past the builder's checks;
 * the signature is zeros (decoding does not check it). */
static size_t
raw_delta(uint8_t *out, const uint8_t *recs, size_t len, uint32_t na, uint32_t nt)
{
	uint8_t h[48] = {'T', 'O', 'L', 'S', 1, TOLL_TSL_DELTA};

	h[15] = 12;
	h[23] = 11;
	h[31] = (uint8_t)(na + nt);
	h[43] = (uint8_t)na;
	h[47] = (uint8_t)nt;
	memcpy(out, h, 48);
	memcpy(out + 48, recs, len);
	memset(out + 48 + len, 0, 64);
	return 48 + len + 64;
}

START_TEST(test_record_refused)
{
	static uint8_t bad[1024];
	struct toll_tsl_tag t, t2;
	struct toll_tsl_account a;
	uint8_t b[1024], r[256];
	size_t len, at, n1, n2;

	/* one account, one tag with every optional part: fields at known offsets */
	make_tag(2, &t); /* TID, pass */
	t.epc_bits = 96;
	memset(t.epc, 0x31, 12);
	t.flags |= TOLL_TSL_TAG_F_EXEMPT;
	a.id = 5;
	a.balance_vnd = -1;
	ck_assert_int_eq(toll_tsl_delta_begin(&bld, b, sizeof(b), 12, 0, kid_a()), 0);
	ck_assert_int_eq(toll_tsl_delta_add_account(&bld, &a), 0);
	ck_assert_int_eq(toll_tsl_delta_add_tag(&bld, &t), 0);
	ck_assert_int_eq(toll_tsl_finish(&bld, key_a, &len), 0);
	memcpy(samples[0].b, b, len);
	samples[0].n = len;
	ck_assert_int_eq(patched(0, 0, 'T'), 0);
	/* account: 48 id, 56 balance */
	ck_assert_int_eq(patched(0, 55, 0), TOLL_ERANGE); /* id 0 */
	ck_assert_int_eq(patched(0, 51, 1), TOLL_ERANGE); /* 2^32 + 5 */
	ck_assert_int_eq(patched(0, 52, 0xFF), 0);	  /* 0xFF000005 */
	ck_assert_int_eq(patched(0, 56, 0x00), 0);	  /* any balance */
	/* tag at 64: bits, EPC [12], flags, TID [12], account, class, status,
	 * reason, plate length, plate, pass station, pass day */
	at = 64;
	ck_assert_int_eq(patched(0, at + 1, 0), TOLL_EFORMAT);	/* 0 bits */
	ck_assert_int_eq(patched(0, at + 0, 1), TOLL_EFORMAT);	/* 352 bits */
	ck_assert_int_eq(patched(0, at + 1, 95), TOLL_EFORMAT); /* a bit past 95 set */
	ck_assert_int_eq(patched(0, at + 1, 97), TOLL_EFORMAT); /* the flags byte as bits past 97 */
	size_t fl = at + 2 + 12;
	ck_assert_uint_eq(b[fl], 0x07);
	ck_assert_int_eq(patched(0, fl, 0x0F), TOLL_EFORMAT);
	ck_assert_int_eq(patched(0, fl, 0x87), TOLL_EFORMAT);
	ck_assert_int_eq(patched(0, fl, 0x47), TOLL_EFORMAT);
	ck_assert_int_eq(patched(0, fl, 0x05), 0); /* not exempt */
	ck_assert_int_eq(msg.tags, 1);
	ck_assert_int_ne(patched(0, fl, 0x06), 0); /* no TID: the rest shifts */
	ck_assert_int_ne(patched(0, fl, 0x03), 0); /* no pass: 8 bytes left over */
	size_t acct = fl + 1 + 12;
	memcpy(bad, b, len);
	memset(bad + acct, 0, 8);
	ck_assert_int_eq(toll_tsl_decode(bad, len, &msg), TOLL_ERANGE); /* 0 */
	bad[acct + 3] = 1;
	ck_assert_int_eq(toll_tsl_decode(bad, len, &msg), TOLL_ERANGE); /* 2^32 */
	size_t cls = acct + 8;
	ck_assert_int_eq(patched(0, cls, 0), TOLL_EFORMAT);
	ck_assert_int_eq(patched(0, cls, 6), TOLL_EFORMAT);
	ck_assert_int_eq(patched(0, cls, 5), 0);
	ck_assert_int_eq(patched(0, cls + 1, 3), TOLL_EFORMAT);
	ck_assert_int_eq(patched(0, cls + 1, 2), 0);
	ck_assert_int_eq(patched(0, cls + 2, 0xFF), 0); /* reason: any */
	size_t pl = cls + 3;
	ck_assert_uint_eq(b[pl], strlen(t.plate));
	ck_assert_int_eq(patched(0, pl, 13), TOLL_EFORMAT);
	{
		/* 8-bit EPC 'A', no flags, account 1, class 1, plate of 12 or 13 'P' */
		uint8_t rec[2 + 1 + 1 + 8 + 3 + 1 + 13] = {0, 8, 'A', 0, 0, 0, 0, 0,
							   0, 0, 0,   1, 1, 0, 0, 12};
		memset(rec + 16, 'P', 13);
		size_t rl = raw_delta(bad, rec, sizeof(rec) - 1, 0, 1);
		ck_assert_int_eq(toll_tsl_decode(bad, rl, &msg), 0);
		rec[15] = 13;
		rl = raw_delta(bad, rec, sizeof(rec), 0, 1);
		ck_assert_int_eq(toll_tsl_decode(bad, rl, &msg), TOLL_EFORMAT);
	}
	ck_assert_int_eq(patched(0, pl + 1, 0x1F), TOLL_EFORMAT);
	ck_assert_int_eq(patched(0, pl + 1, 0x7F), TOLL_EFORMAT);
	ck_assert_int_eq(patched(0, pl + 1, 0x00), TOLL_EFORMAT);
	ck_assert_int_eq(patched(0, pl + 1, 0x7E), 0);
	ck_assert_int_eq(patched(0, pl + 1, 0x20), 0);
	size_t st = pl + 1 + b[pl];
	ck_assert_uint_eq(st + 8, len - 64);
	memcpy(bad, b, len);
	memset(bad + st, 0, 4);
	ck_assert_int_eq(toll_tsl_decode(bad, len, &msg), TOLL_EFORMAT); /* pass station 0 */
	memset(bad + st + 4, 0, 4);
	ck_assert_int_eq(patched(0, st + 4, 0), 0); /* any day */

	/* bits past the EPC's length must be zero; the builder clears them */
	memset(&t, 0, sizeof(t));
	t.epc_bits = 12;
	t.epc[0] = 0xAB;
	t.epc[1] = 0xCF;
	t.account_id = 1;
	t.vclass = 1;
	ck_assert_int_eq(toll_tsl_delta_begin(&bld, b, sizeof(b), 12, 0, kid_a()), 0);
	ck_assert_int_eq(toll_tsl_delta_add_tag(&bld, &t), 0);
	ck_assert_int_eq(toll_tsl_finish(&bld, key_a, &len), 0);
	ck_assert_uint_eq(b[51], 0xC0);
	memcpy(samples[0].b, b, len);
	samples[0].n = len;
	ck_assert_int_eq(patched(0, 51, 0xC1), TOLL_EFORMAT);
	ck_assert_int_eq(patched(0, 51, 0xC8), TOLL_EFORMAT);
	ck_assert_int_eq(patched(0, 51, 0xD0), 0);

	/* order: accounts by strictly increasing id */
	make_samples();
	memcpy(bad, samples[TOLL_TSL_DELTA].b, samples[TOLL_TSL_DELTA].n);
	ck_assert_uint_eq(bad[70], 0x03); /* ids 1, 978 (0x3D2), 2^32-1 */
	ck_assert_uint_eq(bad[71], 0xD2);
	memcpy(bad + 80, bad + 64, 8); /* third the same as the second */
	ck_assert_int_eq(toll_tsl_decode(bad, samples[TOLL_TSL_DELTA].n, &msg), TOLL_EFORMAT);
	bad[87] = 0xD1; /* 977, below the second */
	ck_assert_int_eq(toll_tsl_decode(bad, samples[TOLL_TSL_DELTA].n, &msg), TOLL_EFORMAT);
	bad[87] = 0xD3; /* 979 */
	ck_assert_int_eq(toll_tsl_decode(bad, samples[TOLL_TSL_DELTA].n, &msg), 0);
	/* tags by strictly increasing (bits, bytes): two records A < B */
	make_tag(21, &t); /* both 64 bits */
	make_tag(29, &t2);
	ck_assert_int_lt(tag_cmp(&t, &t2), 0);
	ck_assert_int_eq(toll_tsl_delta_begin(&bld, b, sizeof(b), 12, 0, kid_a()), 0);
	ck_assert_int_eq(toll_tsl_delta_add_tag(&bld, &t), 0);
	n1 = bld.off - 48;
	ck_assert_int_eq(toll_tsl_delta_add_tag(&bld, &t2), 0);
	n2 = bld.off - 48 - n1;
	ck_assert_int_eq(toll_tsl_delta_add_tag(&bld, &t2), TOLL_ESEQ);
	ck_assert_int_eq(toll_tsl_delta_add_tag(&bld, &t), TOLL_ESEQ);
	memcpy(r, b + 48, n1 + n2);
	len = raw_delta(bad, r, n1 + n2, 0, 2);
	ck_assert_int_eq(toll_tsl_decode(bad, len, &msg), 0);
	memcpy(r, b + 48 + n1, n2); /* B, A */
	memcpy(r + n2, b + 48, n1);
	len = raw_delta(bad, r, n1 + n2, 0, 2);
	ck_assert_int_eq(toll_tsl_decode(bad, len, &msg), TOLL_EFORMAT);
	memcpy(r, b + 48, n1); /* A, A */
	memcpy(r + n1, b + 48, n1);
	len = raw_delta(bad, r, 2 * n1, 0, 2);
	ck_assert_int_eq(toll_tsl_decode(bad, len, &msg), TOLL_EFORMAT);
	/* a shorter EPC sorts first whatever its bytes */
	make_tag(20, &t);
	t.epc_bits = 32;
	memset(t.epc, 0xFF, 4);
	make_tag(21, &t2);
	ck_assert_int_eq(toll_tsl_delta_begin(&bld, b, sizeof(b), 12, 0, kid_a()), 0);
	ck_assert_int_eq(toll_tsl_delta_add_tag(&bld, &t), 0);
	ck_assert_int_eq(toll_tsl_delta_add_tag(&bld, &t2), 0);
}
END_TEST

/* A version 2 DELTA of the given records, built by hand past the builder's
 * checks; the signature is zeros. */
static size_t
raw_delta2(uint8_t *out, const uint8_t *recs, size_t len, uint32_t na, uint32_t nt, uint32_t ne)
{
	uint8_t h[52] = {'T', 'O', 'L', 'S', 2, TOLL_TSL_DELTA};

	h[15] = 12;
	h[23] = 11;
	h[31] = (uint8_t)(na + nt + ne);
	h[43] = (uint8_t)na;
	h[47] = (uint8_t)nt;
	h[51] = (uint8_t)ne;
	memcpy(out, h, 52);
	if (len > 0)
		memcpy(out + 52, recs, len);
	memset(out + 52 + len, 0, 64);
	return 52 + len + 64;
}

/* An entry record as the format page lays it out. */
static size_t
raw_entry(uint8_t *p, unsigned bits, uint8_t fill, uint32_t station, int64_t time_ms, uint8_t state)
{
	size_t n = (bits + 7) / 8, o = 0;

	p[o++] = (uint8_t)(bits >> 8);
	p[o++] = (uint8_t)bits;
	memset(p + o, fill, n);
	if (bits % 8)
		p[o + n - 1] &= (uint8_t)(0xFF << (8 - bits % 8));
	o += n;
	for (int i = 3; i >= 0; i--)
		p[o++] = (uint8_t)(station >> (8 * i));
	for (int i = 7; i >= 0; i--)
		p[o++] = (uint8_t)((uint64_t)time_ms >> (8 * i));
	p[o++] = state;
	return o;
}

START_TEST(test_entry_refused)
{
	static uint8_t bad[1024];
	uint8_t r[512], e1[64], e2[64];
	size_t n, n1, n2, len;
	struct toll_tsl_iter it;
	struct toll_tsl_entry e;

	/* one entry: 0 bits, 2 EPC [12], 14 station, 18 time, 26 state */
	n = raw_entry(r, 96, 0x31, 101, 1, 1);
	ck_assert_uint_eq(n, 27);
	len = raw_delta2(bad, r, n, 0, 0, 1);
	ck_assert_int_eq(toll_tsl_decode(bad, len, &msg), 0);
	ck_assert_uint_eq(msg.format_version, 2);
	ck_assert_uint_eq(msg.entries, 1);
	ck_assert_uint_eq(msg.entries_off, 52);
	ck_assert_int_eq(toll_tsl_entries(&msg, &it), 0);
	ck_assert_int_eq(toll_tsl_next_entry(&it, &e), 0);
	ck_assert_uint_eq(e.epc_bits, 96);
	ck_assert_uint_eq(e.epc[11], 0x31);
	ck_assert_uint_eq(e.epc[12], 0);
	ck_assert_uint_eq(e.station, 101);
	ck_assert_int_eq(e.time_ms, 1);
	ck_assert_uint_eq(e.state, TOLL_TSL_ENTRY_OPEN);
	memcpy(samples[0].b, bad, len);
	samples[0].n = len;
	const size_t at = 52;
	/* EPC bits: 1..256, the bits past the length zero */
	ck_assert_int_eq(patched(0, at + 1, 0), TOLL_EFORMAT);	 /* 0 bits */
	ck_assert_int_eq(patched(0, at + 0, 1), TOLL_EFORMAT);	 /* 352 bits */
	ck_assert_int_eq(patched(0, at + 1, 95), TOLL_EFORMAT); /* 0x31: a bit past 95 set */
	ck_assert_int_ne(patched(0, at + 1, 97), 0);		 /* one byte longer: runs out */
	{
		uint8_t rec[64];
		size_t rl = raw_entry(rec, 256, 0xFF, 1, 1, 1);
		ck_assert_int_eq(toll_tsl_decode(bad, raw_delta2(bad, rec, rl, 0, 0, 1), &msg), 0);
		rec[1] = 1; /* 257 */
		rec[0] = 1;
		ck_assert_int_eq(toll_tsl_decode(bad, raw_delta2(bad, rec, rl, 0, 0, 1), &msg),
				 TOLL_EFORMAT);
		rl = raw_entry(rec, 12, 0xAB, 1, 1, 1); /* AB A0 */
		ck_assert_int_eq(toll_tsl_decode(bad, raw_delta2(bad, rec, rl, 0, 0, 1), &msg), 0);
		rec[3] = 0xA8;
		ck_assert_int_eq(toll_tsl_decode(bad, raw_delta2(bad, rec, rl, 0, 0, 1), &msg),
				 TOLL_EFORMAT);
		rec[3] = 0xB0;
		ck_assert_int_eq(toll_tsl_decode(bad, raw_delta2(bad, rec, rl, 0, 0, 1), &msg), 0);
	}
	/* station 1 .. 2^31-1 */
	ck_assert_int_eq(patched(0, at + 17, 0), TOLL_EFORMAT); /* 0 */
	ck_assert_int_eq(patched(0, at + 14, 0x80), TOLL_EFORMAT);
	ck_assert_int_eq(patched(0, at + 14, 0x7F), 0);
	ck_assert_int_eq(patched(0, at + 17, 1), 0);
	{
		static const struct {
			uint32_t station;
			int64_t time_ms;
			unsigned state;
			int want;
		} cases[] = {
			{0, 1, 1, TOLL_EFORMAT},
			{1, 1, 1, 0},
			{TOLL_TSL_STATION_MAX, 1, 1, 0},
			{TOLL_TSL_STATION_MAX + 1, 1, 1, TOLL_EFORMAT},
			{UINT32_MAX, 1, 1, TOLL_EFORMAT},
			/* time > 0 */
			{1, 0, 1, TOLL_EFORMAT},
			{1, -1, 1, TOLL_EFORMAT},
			{1, INT64_MIN, 1, TOLL_EFORMAT},
			{1, INT64_MAX, 1, 0},
			{1, 1764547200000, 1, 0},
			/* state 1 open, 2 closed, 3 expired */
			{1, 1, 0, TOLL_EFORMAT},
			{1, 1, 2, 0},
			{1, 1, 3, 0},
			{1, 1, 4, TOLL_EFORMAT},
			{1, 1, 0x80, TOLL_EFORMAT},
			{1, 1, 0xFF, TOLL_EFORMAT},
		};
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			n = raw_entry(r, 40, 0x77, cases[i].station, cases[i].time_ms,
				      (uint8_t)cases[i].state);
			len = raw_delta2(bad, r, n, 0, 0, 1);
			ck_assert_msg(toll_tsl_decode(bad, len, &msg) == cases[i].want,
				      "entry case %zu", i);
			if (cases[i].want == 0) {
				toll_tsl_entries(&msg, &it);
				ck_assert_int_eq(toll_tsl_next_entry(&it, &e), 0);
				ck_assert_uint_eq(e.station, cases[i].station);
				ck_assert_int_eq(e.time_ms, cases[i].time_ms);
				ck_assert_uint_eq(e.state, cases[i].state);
			}
		}
	}

	/* version 2 with no entries: the change set's encoding is version 1 */
	len = raw_delta2(bad, NULL, 0, 0, 0, 0);
	ck_assert_int_eq(toll_tsl_decode(bad, len, &msg), TOLL_EFORMAT);
	uint8_t acct[16] = {0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1};
	len = raw_delta2(bad, acct, 16, 1, 0, 0);
	ck_assert_int_eq(toll_tsl_decode(bad, len, &msg), TOLL_EFORMAT);
	len = raw_delta(bad, acct, 16, 1, 0);
	ck_assert_int_eq(toll_tsl_decode(bad, len, &msg), 0);

	/* counts: A + T + E is the header's count, each part what is there */
	n1 = raw_entry(e1, 64, 0x10, 5, 5, 1);
	n2 = raw_entry(e2, 64, 0x20, 6, 6, 2);
	memcpy(r, e1, n1);
	memcpy(r + n1, e2, n2);
	len = raw_delta2(bad, r, n1 + n2, 0, 0, 2);
	ck_assert_int_eq(toll_tsl_decode(bad, len, &msg), 0);
	memcpy(samples[0].b, bad, len);
	samples[0].n = len;
	ck_assert_int_eq(patched(0, 31, 3), TOLL_EFORMAT); /* count 3, A + T + E 2 */
	ck_assert_int_eq(patched(0, 31, 1), TOLL_EFORMAT);
	ck_assert_int_eq(patched(0, 51, 1), TOLL_EFORMAT); /* E 1 */
	ck_assert_int_eq(patched(0, 51, 3), TOLL_EFORMAT);
	ck_assert_int_eq(patched(0, 47, 1), TOLL_EFORMAT); /* T 1 */
	len = raw_delta2(bad, r, n1 + n2, 0, 0, 1);	   /* count and E 1: one too many */
	ck_assert_int_eq(toll_tsl_decode(bad, len, &msg), TOLL_EFORMAT);
	len = raw_delta2(bad, r, n1 + n2, 0, 0, 3); /* count and E 3: the third is missing */
	ck_assert_int_eq(toll_tsl_decode(bad, len, &msg), TOLL_ESHORT);
	len = raw_delta2(bad, r, n1 + n2, 0, 2, 0); /* entries where tags should be */
	ck_assert_int_ne(toll_tsl_decode(bad, len, &msg), 0);
	/* more than TOLL_TSL_DELTA_MAX_RECORDS, refused before any record */
	len = raw_delta2(bad, r, n1 + n2, 0, 0, 2);
	bad[29] = 1; /* count 65538 */
	bad[50] = 1; /* E 65538 */
	ck_assert_int_eq(toll_tsl_decode(bad, len, &msg), TOLL_EFORMAT);
	/* entry records in a version 1 delta are bytes after the end */
	len = raw_delta(bad, r, n1 + n2, 0, 0);
	ck_assert_int_eq(toll_tsl_decode(bad, len, &msg), TOLL_EFORMAT);

	/* order: strictly increasing (EPC bits, EPC bytes); one record per EPC */
	memcpy(r, e2, n2); /* B, A */
	memcpy(r + n2, e1, n1);
	len = raw_delta2(bad, r, n1 + n2, 0, 0, 2);
	ck_assert_int_eq(toll_tsl_decode(bad, len, &msg), TOLL_EFORMAT);
	memcpy(r, e1, n1); /* A, A */
	memcpy(r + n1, e1, n1);
	len = raw_delta2(bad, r, 2 * n1, 0, 0, 2);
	ck_assert_int_eq(toll_tsl_decode(bad, len, &msg), TOLL_EFORMAT);
	n2 = raw_entry(e2, 64, 0x10, 6, 6, 2); /* A's EPC with other fields */
	memcpy(r + n1, e2, n2);
	len = raw_delta2(bad, r, n1 + n2, 0, 0, 2);
	ck_assert_int_eq(toll_tsl_decode(bad, len, &msg), TOLL_EFORMAT);
	n2 = raw_entry(e2, 63, 0xFF, 6, 6, 2); /* a shorter EPC sorts first whatever its bytes */
	memcpy(r, e2, n2);
	memcpy(r + n2, e1, n1);
	len = raw_delta2(bad, r, n1 + n2, 0, 0, 2);
	ck_assert_int_eq(toll_tsl_decode(bad, len, &msg), 0);
	memcpy(r, e1, n1);
	memcpy(r + n1, e2, n2);
	len = raw_delta2(bad, r, n1 + n2, 0, 0, 2);
	ck_assert_int_eq(toll_tsl_decode(bad, len, &msg), TOLL_EFORMAT);
	/* entries are ordered apart from the tags: an entry may come after a
	 * tag with a larger EPC */
	{
		uint8_t tag[16] = {0, 8, 'Z', 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0};
		n1 = raw_entry(e1, 8, 'A', 5, 5, 1);
		memcpy(r, tag, 16);
		memcpy(r + 16, e1, n1);
		len = raw_delta2(bad, r, 16 + n1, 0, 1, 1);
		ck_assert_int_eq(toll_tsl_decode(bad, len, &msg), 0);
		ck_assert_uint_eq(msg.tags_off, 52);
		ck_assert_uint_eq(msg.entries_off, 68);
	}
	/* a failed decode leaves no entries to iterate */
	len = raw_delta2(bad, r, 16 + n1, 0, 1, 1);
	bad[len - 65] = 4; /* the entry's state */
	ck_assert_int_eq(toll_tsl_decode(bad, len, &msg), TOLL_EFORMAT);
	ck_assert_uint_eq(msg.type, TOLL_TSL_DELTA);
	ck_assert_uint_eq(msg.format_version, 2);
	ck_assert_uint_eq(msg.entries, 0);
	ck_assert_int_eq(toll_tsl_entries(&msg, &it), TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_next_entry(&it, &e), TOLL_EEMPTY);
}
END_TEST

START_TEST(test_body_refused)
{
	make_samples();
	/* GET_DELTAS: station 1..2^31-1, lane >= 1 */
	ck_assert_int_eq(patched(TOLL_TSL_GET_DELTAS, 35, 0), TOLL_EFORMAT);
	ck_assert_int_eq(patched(TOLL_TSL_GET_DELTAS, 32, 0x80), TOLL_EFORMAT);
	ck_assert_int_eq(patched(TOLL_TSL_GET_DELTAS, 32, 0x7F), 0);
	ck_assert_int_eq(patched(TOLL_TSL_GET_DELTAS, 37, 0), TOLL_EFORMAT);
	/* GET_SNAPSHOT: max bytes >= 1 */
	{
		static uint8_t bad[64];
		memcpy(bad, samples[TOLL_TSL_GET_SNAPSHOT].b, 36);
		memset(bad + 32, 0, 4);
		ck_assert_int_eq(toll_tsl_decode(bad, 36, &msg), TOLL_EFORMAT);
	}
	/* SNAPSHOT: total >= 1, chunk inside the file, not empty before its end */
	ck_assert_int_eq(patched64(TOLL_TSL_SNAPSHOT, 32, 0), TOLL_EFORMAT);
	ck_assert_int_eq(patched64(TOLL_TSL_SNAPSHOT, 32, 319), TOLL_EFORMAT);
	ck_assert_int_eq(patched64(TOLL_TSL_SNAPSHOT, 32, 320), 0);
	ck_assert_int_eq(patched(TOLL_TSL_SNAPSHOT, 139, 21), TOLL_ESHORT);
	ck_assert_int_eq(patched(TOLL_TSL_SNAPSHOT, 139, 19), TOLL_EFORMAT);
	{
		uint8_t b[256], sha[32] = {0}, sig[64] = {0};
		size_t len;
		ck_assert_int_eq(
			toll_tsl_encode_snapshot(b, sizeof(b), 3, 10, 10, sha, sig, 0, NULL, 0, &len),
			0);
		b[23] = 9; /* offset 9 of 10 with an empty chunk */
		ck_assert_int_eq(toll_tsl_decode(b, len, &msg), TOLL_EFORMAT);
	}
	/* ERROR: code 1..4, printable text */
	ck_assert_int_eq(patched(TOLL_TSL_ERROR, 35, 0), TOLL_EFORMAT);
	ck_assert_int_eq(patched(TOLL_TSL_ERROR, 35, 5), TOLL_EFORMAT);
	ck_assert_int_eq(patched(TOLL_TSL_ERROR, 32, 1), TOLL_EFORMAT);
	ck_assert_int_eq(patched(TOLL_TSL_ERROR, 37, 0x0A), TOLL_EFORMAT);
	ck_assert_int_eq(patched(TOLL_TSL_ERROR, 37, 0x80), TOLL_EFORMAT);
	ck_assert_int_eq(patched(TOLL_TSL_ERROR, 36, 8), TOLL_ESHORT);
	ck_assert_int_eq(patched(TOLL_TSL_ERROR, 36, 6), TOLL_EFORMAT);
	/* DELTAS: each delta must decode on its own, and follow the previous */
	size_t l1 = 0;
	for (int i = 0; i < 4; i++)
		l1 = (l1 << 8) | samples[TOLL_TSL_DELTAS].b[32 + i];
	ck_assert_int_eq(patched(TOLL_TSL_DELTAS, 35, (uint8_t)(l1 - 1)), TOLL_EFORMAT);
	ck_assert_int_eq(patched(TOLL_TSL_DELTAS, 35, (uint8_t)(l1 + 1)), TOLL_EFORMAT);
	ck_assert_int_eq(patched(TOLL_TSL_DELTAS, 36 + 5, TOLL_TSL_HEARTBEAT), TOLL_EFORMAT);
	ck_assert_int_eq(patched(TOLL_TSL_DELTAS, 36 + 5, TOLL_TSL_DELTAS), TOLL_EFORMAT);
	ck_assert_int_eq(patched(TOLL_TSL_DELTAS, 36 + 4, 3), TOLL_EVERSION);
	ck_assert_int_eq(patched(TOLL_TSL_DELTAS, 36 + 4, 2), TOLL_EFORMAT); /* 0 entries */
	ck_assert_int_eq(patched(TOLL_TSL_DELTAS, 36 + 15, 12), TOLL_EFORMAT); /* inner version 12 */
	ck_assert_int_eq(patched(TOLL_TSL_DELTAS, 33, 0x80), TOLL_ESHORT);     /* length past the end */
}
END_TEST

/* Every prefix of a valid message is short; a byte after it is refused. */
static void
check_cuts(const struct sample *sm, const char *what)
{
	size_t n = sm->n;

	for (size_t len = 0; len < n; len++) {
		/* a heap copy of exactly len bytes, so ASan sees any overread */
		uint8_t *p = malloc(len ? len : 1);
		ck_assert_ptr_nonnull(p);
		memcpy(p, sm->b, len);
		ck_assert_msg(toll_tsl_decode(p, len, &msg) == TOLL_ESHORT, "%s: prefix of %zu bytes",
			      what, len);
		free(p);
	}
	uint8_t *p = malloc(n + 1);
	ck_assert_ptr_nonnull(p);
	memcpy(p, sm->b, n);
	for (unsigned v = 0; v < 256; v += 85) {
		p[n] = (uint8_t)v;
		ck_assert_msg(toll_tsl_decode(p, n + 1, &msg) == TOLL_EFORMAT, "%s: a byte after", what);
	}
	free(p);
}

START_TEST(test_truncated_and_trailing)
{
	make_samples();
	for (unsigned t = 1; t <= TOLL_TSL_TYPE_MAX; t++)
		check_cuts(&samples[t], toll_tsl_type_name(t));
	check_cuts(&v2_delta, "delta version 2");
	check_cuts(&v2_deltas, "deltas with a version 2 delta");
}
END_TEST

/* ---- signatures ------------------------------------------------------------- */

START_TEST(test_signature_bits)
{
	static uint8_t b[4096];
	size_t n;
	int refused_by_decode = 0, refused_by_sig = 0;

	make_samples();
	for (unsigned t = TOLL_TSL_DELTA; t <= TOLL_TSL_HEARTBEAT; t++) {
		n = samples[t].n;
		ck_assert_int_eq(toll_tsl_verify(samples[t].b, n, ver_a), 0);
		for (size_t bit = 0; bit < n * 8; bit++) {
			memcpy(b, samples[t].b, n);
			b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			int rc = toll_tsl_verify(b, n, ver_a);
			ck_assert_msg(rc != 0, "%s: bit %zu flipped still verifies",
				      toll_tsl_type_name(t), bit);
			if (rc == TOLL_EBADSIG)
				refused_by_sig++;
			else
				refused_by_decode++;
		}
		/* another key's signature over the same bytes */
		ck_assert_int_eq(toll_tsl_verify(samples[t].b, n, ver_b), TOLL_EBADSIG);
	}
	/* a version 2 DELTA: the version byte, the entries count and the
	 * entries are signed like the rest */
	n = v2_delta.n;
	ck_assert_int_eq(toll_tsl_verify(v2_delta.b, n, ver_a), 0);
	for (size_t bit = 0; bit < n * 8; bit++) {
		memcpy(b, v2_delta.b, n);
		b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		int rc = toll_tsl_verify(b, n, ver_a);
		ck_assert_msg(rc != 0, "delta version 2: bit %zu flipped still verifies", bit);
		if (rc == TOLL_EBADSIG)
			refused_by_sig++;
		else
			refused_by_decode++;
	}
	ck_assert_int_eq(toll_tsl_verify(v2_delta.b, n, ver_b), TOLL_EBADSIG);
	ck_assert_int_gt(refused_by_sig, 1000);
	ck_assert_int_gt(refused_by_decode, 10);
	/* a DELTA signed by key b, claiming key a's id */
	ck_assert_int_eq(toll_tsl_delta_begin(&bld, b, sizeof(b), 5, 0, kid_a()), 0);
	ck_assert_int_eq(toll_tsl_finish(&bld, key_b, &n), TOLL_EINVAL);
	ck_assert_uint_eq(n, 0);
	size_t sl;
	uint8_t sig[64];
	const uint8_t *p = toll_tsl_signed_bytes(&bld, &sl);
	ck_assert_int_eq(toll_sign(key_b, p, sl, sig), 0);
	ck_assert_int_eq(toll_tsl_finish_sig(&bld, sig, &n), 0);
	ck_assert_int_eq(toll_tsl_decode(b, n, &msg), 0);
	ck_assert_uint_eq(msg.key_id, kid_a());
	ck_assert_int_eq(toll_tsl_verify(b, n, ver_a), TOLL_EBADSIG);
	ck_assert_int_eq(toll_tsl_verify(b, n, ver_b), 0);
	/* unsigned types and no verifier */
	ck_assert_int_eq(toll_tsl_verify(samples[TOLL_TSL_ERROR].b, samples[TOLL_TSL_ERROR].n, ver_a),
			 TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_verify(samples[TOLL_TSL_DELTA].b, samples[TOLL_TSL_DELTA].n, NULL),
			 TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_verify(samples[TOLL_TSL_DELTA].b, 3, ver_a), TOLL_ESHORT);
	/* a flipped bit in a delta inside a DELTAS */
	n = samples[TOLL_TSL_DELTAS].n;
	memcpy(b, samples[TOLL_TSL_DELTAS].b, n);
	ck_assert_int_eq(toll_tsl_verify(b, n, ver_a), 0);
	b[n - 100] ^= 0x10;
	ck_assert_int_ne(toll_tsl_verify(b, n, ver_a), 0);
	/* the snapshot signature in a SNAPSHOT message: made over other fields */
	n = samples[TOLL_TSL_SNAPSHOT].n;
	ck_assert_int_eq(toll_tsl_verify(samples[TOLL_TSL_SNAPSHOT].b, n, ver_a), TOLL_EBADSIG);
}
END_TEST

/* ---- builder and encoder arguments ------------------------------------------ */

START_TEST(test_builder_args)
{
	uint8_t b[512];
	struct toll_tsl_account a = {.id = 7, .balance_vnd = 1};
	struct toll_tsl_tag t, ok;
	size_t len = 99;

	ck_assert_int_eq(toll_tsl_delta_begin(&bld, b, sizeof(b), 0, 0, 1), TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_delta_add_account(&bld, &a), TOLL_EINVAL); /* not begun */
	ck_assert_int_eq(toll_tsl_delta_begin(&bld, NULL, sizeof(b), 1, 0, 1), TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_delta_begin(NULL, b, sizeof(b), 1, 0, 1), TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_delta_begin(&bld, b, TOLL_TSL_DELTA_MIN_BYTES - 1, 1, 0, 1),
			 TOLL_ENOSPACE);
	ck_assert_int_eq(toll_tsl_heartbeat_begin(&bld, b, TOLL_TSL_HEARTBEAT_BYTES - 1, 1, 0, 1),
			 TOLL_ENOSPACE);
	ck_assert_int_eq(toll_tsl_heartbeat_begin(&bld, b, sizeof(b), 1, 0, kid_a()), 0);
	ck_assert_int_eq(toll_tsl_delta_add_account(&bld, &a), TOLL_EINVAL); /* a heartbeat has none */
	ck_assert_int_eq(toll_tsl_finish(&bld, NULL, &len), TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_finish_sig(&bld, NULL, &len), TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_finish(&bld, key_a, NULL), TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_finish(&bld, key_a, &len), 0);
	ck_assert_int_eq(toll_tsl_finish(&bld, key_a, &len), TOLL_EINVAL); /* done */
	ck_assert_uint_eq(len, 0);
	ck_assert_ptr_null(toll_tsl_signed_bytes(&bld, &len));

	ck_assert_int_eq(toll_tsl_delta_begin(&bld, b, sizeof(b), 1, 0, kid_a()), 0);
	a.id = 0;
	ck_assert_int_eq(toll_tsl_delta_add_account(&bld, &a), TOLL_ERANGE);
	a.id = 0x100000000ull;
	ck_assert_int_eq(toll_tsl_delta_add_account(&bld, &a), TOLL_ERANGE);
	a.id = 7;
	ck_assert_int_eq(toll_tsl_delta_add_account(&bld, &a), 0);
	ck_assert_int_eq(toll_tsl_delta_add_account(&bld, &a), TOLL_ESEQ);
	a.id = 6;
	ck_assert_int_eq(toll_tsl_delta_add_account(&bld, &a), TOLL_ESEQ);
	ck_assert_int_eq(toll_tsl_delta_add_account(&bld, NULL), TOLL_EINVAL);

	make_tag(3, &ok);
	ok.epc_bits = 96;
#define BAD_TAG(field, value, want)                                                                     \
	do {                                                                                            \
		t = ok;                                                                                 \
		t.field = value;                                                                        \
		ck_assert_int_eq(toll_tsl_delta_add_tag(&bld, &t), want);                               \
	} while (0)
	BAD_TAG(epc_bits, 0, TOLL_EINVAL);
	BAD_TAG(epc_bits, 257, TOLL_EINVAL);
	BAD_TAG(vclass, 0, TOLL_EINVAL);
	BAD_TAG(vclass, 6, TOLL_EINVAL);
	BAD_TAG(status, 3, TOLL_EINVAL);
	BAD_TAG(reason, 256, TOLL_EINVAL);
	BAD_TAG(flags, 4, TOLL_EINVAL);
	BAD_TAG(account_id, 0, TOLL_ERANGE);
	BAD_TAG(account_id, 0x100000000ull, TOLL_ERANGE);
	BAD_TAG(plate[0], '\t', TOLL_EINVAL);
	BAD_TAG(plate[0], (char)0x80, TOLL_EINVAL);
	t = ok;
	memset(t.plate, 'A', sizeof(t.plate)); /* no NUL within 13 */
	ck_assert_int_eq(toll_tsl_delta_add_tag(&bld, &t), TOLL_EINVAL);
	/* pass fields only and always with the pass flag */
	t = ok;
	t.flags = 0;
	t.pass_station = 1;
	t.pass_until_day = 0;
	ck_assert_int_eq(toll_tsl_delta_add_tag(&bld, &t), TOLL_EINVAL);
	t.pass_station = 0;
	t.pass_until_day = 1;
	ck_assert_int_eq(toll_tsl_delta_add_tag(&bld, &t), TOLL_EINVAL);
	t.flags = TOLL_TSL_TAG_F_PASS;
	t.pass_station = 0;
	ck_assert_int_eq(toll_tsl_delta_add_tag(&bld, &t), TOLL_EINVAL);
	t.pass_station = 1;
	t.pass_until_day = 0;
	ck_assert_int_eq(toll_tsl_delta_add_tag(&bld, &t), 0);
	ck_assert_int_eq(toll_tsl_delta_add_tag(&bld, &t), TOLL_ESEQ);
	a.id = 8;
	ck_assert_int_eq(toll_tsl_delta_add_account(&bld, &a), TOLL_ESEQ); /* after a tag */
	/* a tid is ignored without tid_valid; longer EPCs and later bytes sort after */
	t.tid_valid = 0;
	memset(t.tid, 0xFF, 12);
	t.epc_bits = 97;
	ck_assert_int_eq(toll_tsl_delta_add_tag(&bld, &t), 0);
	t.epc_bits = 96;
	ck_assert_int_eq(toll_tsl_delta_add_tag(&bld, &t), TOLL_ESEQ);
	ck_assert_int_eq(toll_tsl_finish(&bld, key_b, &len), TOLL_EINVAL); /* key id of key a */
	ck_assert_int_eq(toll_tsl_finish(&bld, key_a, &len), 0);
	ck_assert_int_eq(toll_tsl_decode(b, len, &msg), 0);
	struct toll_tsl_iter it;
	toll_tsl_tags(&msg, &it);
	ck_assert_int_eq(toll_tsl_next_tag(&it, &t), 0);
	ck_assert_int_eq(toll_tsl_next_tag(&it, &t), 0);
	ck_assert_int_eq(t.tid_valid, 0);
	ck_assert_mem_eq(t.tid, "\0\0\0\0\0\0\0\0\0\0\0\0", 12);
	ck_assert_int_eq(toll_tsl_delta_add_tag(&bld, &ok), TOLL_EINVAL); /* done */

	/* DELTAS builder */
	ck_assert_int_eq(toll_tsl_deltas_begin(&bld, b, sizeof(b), 5, 4, 0), TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_deltas_begin(&bld, b, 31, 5, 5, 0), TOLL_ENOSPACE);
	ck_assert_int_eq(toll_tsl_deltas_begin(&bld, NULL, 32, 5, 5, 0), TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_deltas_add(&bld, b, len), TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_deltas_finish(&bld, &len), TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_deltas_begin(&bld, b, 32, 5, 5, 0), 0);
	ck_assert_int_eq(toll_tsl_deltas_finish(&bld, NULL), TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_deltas_finish(&bld, &len), 0);
	ck_assert_uint_eq(len, 32);
	ck_assert_int_eq(toll_tsl_decode(b, len, &msg), 0);
	ck_assert_uint_eq(msg.count, 0);
	ck_assert_uint_eq(msg.list_version, 5);

	/* simple encoders */
	ck_assert_int_eq(toll_tsl_encode_get_deltas(b, sizeof(b), 1, 0, 0, 1, &len), TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_encode_get_deltas(b, sizeof(b), 1, 0, 0x80000000u, 1, &len),
			 TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_encode_get_deltas(b, sizeof(b), 1, 0, 1, 0, &len), TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_encode_get_deltas(NULL, sizeof(b), 1, 0, 1, 1, &len), TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_encode_get_deltas(b, sizeof(b), 1, 0, 1, 1, NULL), TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_encode_get_deltas(b, TOLL_TSL_GET_DELTAS_BYTES - 1, 1, 0, 1, 1, &len),
			 TOLL_ENOSPACE);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(toll_tsl_encode_get_snapshot(b, sizeof(b), 1, 0, 0, &len), TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_encode_get_snapshot(b, TOLL_TSL_GET_SNAPSHOT_BYTES - 1, 1, 0, 1, &len),
			 TOLL_ENOSPACE);
	ck_assert_int_eq(toll_tsl_encode_heartbeat(b, sizeof(b), 1, 0, NULL, &len), TOLL_EINVAL);

	/* iterators over what is not there */
	memset(&msg, 0, sizeof(msg));
	ck_assert_int_eq(toll_tsl_accounts(&msg, &it), TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_next_account(&it, &a), TOLL_EEMPTY);
	ck_assert_int_eq(toll_tsl_tags(&msg, &it), TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_next_tag(&it, &t), TOLL_EEMPTY);
	const uint8_t *p;
	ck_assert_int_eq(toll_tsl_deltas(&msg, &it), TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_next_delta(&it, &p, &len), TOLL_EEMPTY);
	/* a failed decode leaves nothing to iterate */
	make_samples();
	ck_assert_int_eq(patched(TOLL_TSL_DELTA, 47, 0), TOLL_EFORMAT);
	ck_assert_uint_eq(msg.type, TOLL_TSL_DELTA);
	ck_assert_uint_eq(msg.accounts, 0);
	ck_assert_int_eq(toll_tsl_accounts(&msg, &it), TOLL_EINVAL);
	ck_assert_int_eq(toll_tsl_next_account(&it, &a), TOLL_EEMPTY);
}
END_TEST

/* ---- fixed vectors ---------------------------------------------------------- */

/* Written with Python's struct and cryptography (Ed25519 from the seed
 * 00 01 02 .. 1f) from docs/taglist-sync-format.md, not with this code. */
static const char vector_delta[] = "544f4c53010100000000000000000007000000000000000656475aa700000004"
				   "0000019ad7358400000000020000000200000000000003e9000000000007a120"
				   "00000000ffffffffffffffffffff9e58000cabc00600000000000003e9050201"
				   "0a3239432d3637382e3930000000650000503f00603034257bf7194e4000001a"
				   "8501e2801160200074cf085609bc00000000ffffffff01000008353141313233"
				   "34355b9e4cfc8be0ce34495874774d263aa85525480be0148b467b7594cce17a"
				   "d64ebc2576d1135cc0838838f55175e1d62078d615134dc1a842cce66bf75dc9"
				   "1a01";
static const char vector_heartbeat[] = "544f4c53010200000000000000000007000000000000000056475aa700000000"
				       "0000019ad73587e83e8cb5322b292f0169c391041e3ff3349ce61b516ceba708"
				       "7e1f957c1a2b20ca1b00ec91bdc324c9b5a2d3cdf55e4da8e3339524b7cc8e4b"
				       "dfffd4ba1af9eb04";

START_TEST(test_fixed_vectors)
{
	uint8_t want[512], out[512];
	struct toll_tsl_account a[2];
	struct toll_tsl_tag t[2];
	struct toll_tsl_iter it;
	size_t n = strlen(vector_delta) / 2, len;

	ck_assert_uint_eq(kid_a(), 0x56475aa7);
	ck_assert_uint_eq(n, 226);
	ck_assert_int_eq(toll_hex_decode(vector_delta, want, n), 0);
	ck_assert_int_eq(toll_tsl_decode(want, n, &msg), 0);
	ck_assert_uint_eq(msg.type, TOLL_TSL_DELTA);
	ck_assert_uint_eq(msg.list_version, 7);
	ck_assert_uint_eq(msg.aux, 6);
	ck_assert_uint_eq(msg.key_id, 0x56475aa7);
	ck_assert_int_eq(msg.created_ms, 1764547200000);
	ck_assert_uint_eq(msg.accounts, 2);
	ck_assert_uint_eq(msg.tags, 2);
	ck_assert_uint_eq(msg.format_version, 1); /* no entries: version 1, as before */
	ck_assert_uint_eq(msg.entries, 0);
	ck_assert_uint_eq(msg.entries_off, n - 64);
	ck_assert_int_eq(toll_tsl_entries(&msg, &it), 0);
	struct toll_tsl_entry e;
	ck_assert_int_eq(toll_tsl_next_entry(&it, &e), TOLL_EEMPTY);
	ck_assert_int_eq(toll_tsl_verify(want, n, ver_a), 0);
	toll_tsl_accounts(&msg, &it);
	ck_assert_int_eq(toll_tsl_next_account(&it, &a[0]), 0);
	ck_assert_int_eq(toll_tsl_next_account(&it, &a[1]), 0);
	ck_assert_uint_eq(a[0].id, 1001);
	ck_assert_int_eq(a[0].balance_vnd, 500000);
	ck_assert_uint_eq(a[1].id, 4294967295u);
	ck_assert_int_eq(a[1].balance_vnd, -25000);
	toll_tsl_tags(&msg, &it);
	ck_assert_int_eq(toll_tsl_next_tag(&it, &t[0]), 0);
	ck_assert_int_eq(toll_tsl_next_tag(&it, &t[1]), 0);
	ck_assert_uint_eq(t[0].epc_bits, 12);
	ck_assert_uint_eq(t[0].epc[0], 0xAB);
	ck_assert_uint_eq(t[0].epc[1], 0xC0);
	ck_assert_int_eq(t[0].tid_valid, 0);
	ck_assert_uint_eq(t[0].account_id, 1001);
	ck_assert_uint_eq(t[0].vclass, 5);
	ck_assert_uint_eq(t[0].status, 2);
	ck_assert_uint_eq(t[0].reason, 1);
	ck_assert_uint_eq(t[0].flags, TOLL_TSL_TAG_F_EXEMPT | TOLL_TSL_TAG_F_PASS);
	ck_assert_str_eq(t[0].plate, "29C-678.90");
	ck_assert_uint_eq(t[0].pass_station, 101);
	ck_assert_uint_eq(t[0].pass_until_day, 20543);
	ck_assert_uint_eq(t[1].epc_bits, 96);
	ck_assert_int_eq(t[1].tid_valid, 1);
	ck_assert_uint_eq(t[1].tid[0], 0xE2);
	ck_assert_uint_eq(t[1].account_id, 4294967295u);
	ck_assert_uint_eq(t[1].vclass, 1);
	ck_assert_uint_eq(t[1].status, 0);
	ck_assert_uint_eq(t[1].flags, 0);
	ck_assert_str_eq(t[1].plate, "51A12345");
	/* re-encoded from the decoded records, signed again: the same bytes */
	ck_assert_int_eq(toll_tsl_delta_begin(&bld, out, sizeof(out), msg.list_version, msg.created_ms,
					      msg.key_id),
			 0);
	ck_assert_int_eq(toll_tsl_delta_add_account(&bld, &a[0]), 0);
	ck_assert_int_eq(toll_tsl_delta_add_account(&bld, &a[1]), 0);
	ck_assert_int_eq(toll_tsl_delta_add_tag(&bld, &t[0]), 0);
	ck_assert_int_eq(toll_tsl_delta_add_tag(&bld, &t[1]), 0);
	ck_assert_int_eq(toll_tsl_finish(&bld, key_a, &len), 0);
	ck_assert_uint_eq(len, n);
	ck_assert_mem_eq(out, want, n);

	n = strlen(vector_heartbeat) / 2;
	ck_assert_uint_eq(n, TOLL_TSL_HEARTBEAT_BYTES);
	ck_assert_int_eq(toll_hex_decode(vector_heartbeat, want, n), 0);
	ck_assert_int_eq(toll_tsl_decode(want, n, &msg), 0);
	ck_assert_uint_eq(msg.type, TOLL_TSL_HEARTBEAT);
	ck_assert_uint_eq(msg.list_version, 7);
	ck_assert_int_eq(msg.sent_ms, 1764547201000);
	ck_assert_int_eq(toll_tsl_verify(want, n, ver_a), 0);
	ck_assert_int_eq(toll_tsl_encode_heartbeat(out, sizeof(out), 7, 1764547201000, key_a, &len), 0);
	ck_assert_uint_eq(len, n);
	ck_assert_mem_eq(out, want, n);
}
END_TEST

/* Version 2: a DELTA making version 8, one account, one tag, two entries;
 * written the same way. */
static const char vector_delta_v2[] = "544f4c53020100000000000000000008000000000000000756475aa700000004"
				      "0000019ad7366e6000000001000000010000000200000000000003e900000000"
				      "0007186800603034257bf7194e4000001a850000000000000003e90100000835"
				      "31413132333435000cabc0000000650000019ad735f9300100603034257bf719"
				      "4e4000001a857fffffff0000019ad6c7a70003e15e55aad52cb688715909e1c1"
				      "72d5cbf83b671ecdbc3180c41275c7a7ff6da188283c676c4f07e246d9ec7525"
				      "f14448c777db1b7b4f5df00bfe76780d75cc04";

START_TEST(test_fixed_vector_v2)
{
	uint8_t want[512], out[512];
	struct toll_tsl_account a;
	struct toll_tsl_tag t;
	struct toll_tsl_entry e[2];
	struct toll_tsl_iter it;
	size_t n = strlen(vector_delta_v2) / 2, len;

	ck_assert_uint_eq(n, 211);
	ck_assert_int_eq(toll_hex_decode(vector_delta_v2, want, n), 0);
	ck_assert_int_eq(toll_tsl_decode(want, n, &msg), 0);
	ck_assert_uint_eq(msg.type, TOLL_TSL_DELTA);
	ck_assert_uint_eq(msg.format_version, 2);
	ck_assert_uint_eq(msg.list_version, 8);
	ck_assert_uint_eq(msg.aux, 7);
	ck_assert_uint_eq(msg.key_id, 0x56475aa7);
	ck_assert_uint_eq(msg.count, 4);
	ck_assert_int_eq(msg.created_ms, 1764547260000);
	ck_assert_uint_eq(msg.accounts, 1);
	ck_assert_uint_eq(msg.tags, 1);
	ck_assert_uint_eq(msg.entries, 2);
	ck_assert_uint_eq(msg.tags_off, 68);
	ck_assert_uint_eq(msg.entries_off, 103);
	ck_assert_int_eq(toll_tsl_verify(want, n, ver_a), 0);
	ck_assert_int_eq(toll_tsl_verify(want, n, ver_b), TOLL_EBADSIG);
	toll_tsl_accounts(&msg, &it);
	ck_assert_int_eq(toll_tsl_next_account(&it, &a), 0);
	ck_assert_uint_eq(a.id, 1001);
	ck_assert_int_eq(a.balance_vnd, 465000);
	toll_tsl_tags(&msg, &it);
	ck_assert_int_eq(toll_tsl_next_tag(&it, &t), 0);
	ck_assert_int_eq(toll_tsl_next_tag(&it, &t), TOLL_EEMPTY);
	ck_assert_uint_eq(t.epc_bits, 96);
	ck_assert_uint_eq(t.epc[0], 0x30);
	ck_assert_uint_eq(t.epc[11], 0x85);
	ck_assert_int_eq(t.tid_valid, 0);
	ck_assert_uint_eq(t.account_id, 1001);
	ck_assert_uint_eq(t.vclass, 1);
	ck_assert_uint_eq(t.status, 0);
	ck_assert_str_eq(t.plate, "51A12345");
	ck_assert_int_eq(toll_tsl_entries(&msg, &it), 0);
	ck_assert_int_eq(toll_tsl_next_entry(&it, &e[0]), 0);
	ck_assert_int_eq(toll_tsl_next_entry(&it, &e[1]), 0);
	ck_assert_int_eq(toll_tsl_next_entry(&it, &e[1]), TOLL_EEMPTY);
	ck_assert_uint_eq(e[0].epc_bits, 12);
	ck_assert_uint_eq(e[0].epc[0], 0xAB);
	ck_assert_uint_eq(e[0].epc[1], 0xC0);
	ck_assert_uint_eq(e[0].station, 101);
	ck_assert_int_eq(e[0].time_ms, 1764547230000);
	ck_assert_uint_eq(e[0].state, TOLL_TSL_ENTRY_OPEN);
	ck_assert_uint_eq(e[1].epc_bits, 96);
	ck_assert_mem_eq(e[1].epc, t.epc, 32); /* the tag's EPC: another kind of record */
	ck_assert_uint_eq(e[1].station, 2147483647u);
	ck_assert_int_eq(e[1].time_ms, 1764540000000);
	ck_assert_uint_eq(e[1].state, TOLL_TSL_ENTRY_EXPIRED);
	/* re-encoded from the decoded records, signed again: the same bytes */
	ck_assert_int_eq(toll_tsl_delta_begin(&bld, out, sizeof(out), msg.list_version, msg.created_ms,
					      msg.key_id),
			 0);
	ck_assert_int_eq(toll_tsl_delta_add_account(&bld, &a), 0);
	ck_assert_int_eq(toll_tsl_delta_add_tag(&bld, &t), 0);
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &e[0]), 0);
	ck_assert_int_eq(toll_tsl_delta_add_entry(&bld, &e[1]), 0);
	ck_assert_int_eq(toll_tsl_finish(&bld, key_a, &len), 0);
	ck_assert_uint_eq(len, n);
	ck_assert_mem_eq(out, want, n);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("tslmsg");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_roundtrip_delta);
	tcase_add_test(tc, test_delta_max);
	tcase_add_test(tc, test_roundtrip_entries);
	tcase_add_test(tc, test_entries_max);
	tcase_add_test(tc, test_entries_space);
	tcase_add_test(tc, test_entries_builder);
	tcase_add_test(tc, test_roundtrip_heartbeat);
	tcase_add_test(tc, test_roundtrip_requests);
	tcase_add_test(tc, test_roundtrip_deltas);
	tcase_add_test(tc, test_deltas_mixed);
	tcase_add_test(tc, test_deltas_max);
	tcase_add_test(tc, test_snapshot_chunk_max);
	tcase_add_test(tc, test_roundtrip_snapshot);
	tcase_add_test(tc, test_roundtrip_error);
	tcase_add_test(tc, test_header_refused);
	tcase_add_test(tc, test_record_refused);
	tcase_add_test(tc, test_entry_refused);
	tcase_add_test(tc, test_body_refused);
	tcase_add_test(tc, test_truncated_and_trailing);
	tcase_add_test(tc, test_signature_bits);
	tcase_add_test(tc, test_builder_args);
	tcase_add_test(tc, test_fixed_vectors);
	tcase_add_test(tc, test_fixed_vector_v2);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(suite());
}

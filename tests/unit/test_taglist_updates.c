/* test_taglist_updates.c: the tag status list's update layer: a tag's
 * whole state replaced (status, class, account, plate, TID, pass, exempt,
 * long and odd-length EPCs), new tags and accounts, central's balances
 * resetting this process's debits, the writer's bounds refused with
 * nothing changed, 200,000 updates on a 1,000,000-tag base, save and load
 * giving the same lookups, and one thread applying updates while others
 * look up and debit, every answer the old or the new complete state.
 *
 * TAGLIST_SEED=N replays the seeded parts (printed on every run). */
#include <check.h>
#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "lane_taglist.h"
#include "rng.h"
#include "unit.h"
#include "unit_tmp.h"

/* ---- helpers ---------------------------------------------------------------- */

static void
hex(const char *s, uint8_t *out)
{
	for (size_t i = 0; s[2 * i]; i++) {
		unsigned v;
		sscanf(s + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

static uint64_t
test_seed(const char *name)
{
	uint64_t seed = (uint64_t)time(NULL);
	if (getenv("TAGLIST_SEED"))
		seed = strtoull(getenv("TAGLIST_SEED"), NULL, 10);
	fprintf(stderr, "%s: TAGLIST_SEED=%" PRIu64 "\n", name, seed);
	return seed;
}

static struct lane_taglist *
load_ok(const char *path)
{
	struct lane_taglist *l = NULL;
	char err[256] = "";
	ck_assert_msg(lane_taglist_load(path, &l, err, sizeof(err)) == 0, "%s", err);
	return l;
}

static void
save_ok(const struct lane_taglist *l, const char *path)
{
	char err[256] = "";
	ck_assert_msg(lane_taglist_save(l, path, err, sizeof(err)) == 0, "%s", err);
}

static void
upd(struct lane_tag_update *u, const char *epc_hex, unsigned bits, const char *tid_hex, uint64_t account,
    unsigned vclass, const char *plate, unsigned status, unsigned reason, unsigned flags, uint32_t station,
    uint32_t until)
{
	memset(u, 0, sizeof(*u));
	hex(epc_hex, u->epc);
	u->epc_bits = bits;
	if (tid_hex != NULL) {
		u->tid_valid = 1;
		hex(tid_hex, u->tid);
	}
	u->account_id = account;
	u->vclass = vclass;
	snprintf(u->plate, sizeof(u->plate), "%s", plate);
	u->status = status;
	u->reason = reason;
	u->flags = flags;
	u->pass_station = station;
	u->pass_until_day = until;
}

static int
writer_add(struct lane_taglist_writer *w, const struct lane_tag_update *u)
{
	return lane_taglist_writer_tag(w, u->epc, u->epc_bits, u->tid_valid ? u->tid : NULL, u->account_id, u->vclass,
				       u->plate, u->status, u->reason, u->flags, u->pass_station, u->pass_until_day);
}

/* A lookup answers exactly u's state (TID given: the listed one). */
static int
answers(const struct lane_taglist *l, const struct lane_tag_update *u, int64_t balance)
{
	struct lane_tag_info i;
	if (lane_taglist_lookup(l, u->epc, u->epc_bits, u->tid_valid ? u->tid : NULL, &i) != 0)
		return 0;
	return i.account_id == u->account_id && i.vclass == u->vclass && i.status == u->status &&
	       i.reason == u->reason && i.flags == u->flags && strcmp(i.plate, u->plate) == 0 &&
	       i.pass_station == u->pass_station && i.pass_until_day == u->pass_until_day &&
	       i.balance_vnd == balance && i.tid_listed == (u->tid_valid != 0) && i.tid_mismatch == 0;
}

/* ---- the small list: every kind of tag ------------------------------------- */

#define T1 "e2801160200074cf085609bc"
#define T2 "e2801160200074cf085609bd"
#define T3 "e2801160200074cf085609be"

enum { NSMALL = 8 };

static void
small_tags(struct lane_tag_update u[NSMALL])
{
	upd(&u[0], "303400000000000000000001", 96, T1, 5, 2, "51A-123.45", LANE_TAG_VALID, 0, 0, 0, 0);
	upd(&u[1], "303400000000000000000002", 96, NULL, 5, 1, "29C-678.90", LANE_TAG_LOW_BALANCE, 0, 0, 0, 0);
	upd(&u[2], "303400000000000000000003", 96, NULL, 3, 4, "", LANE_TAG_INVALID, LANE_TAG_REASON_STOLEN, 0, 0, 0);
	upd(&u[3], "303400000000000000000004", 96, NULL, 9, 5, "PASS1", LANE_TAG_VALID, 0, LANE_TAG_F_PASS, 101, 21000);
	upd(&u[4], "abababababababababababababababababababababababababababababababab", 256, NULL, 9, 3, "LONG",
	    LANE_TAG_VALID, 0, LANE_TAG_F_EXEMPT, 0, 0);
	upd(&u[5], "fff8", 13, NULL, 5, 1, "13", LANE_TAG_VALID, 0, 0, 0, 0);
	upd(&u[6], "303400000000000000000007", 96, NULL, 11, 3, "ng-01 x/y~", LANE_TAG_INVALID, 255, 0, 0, 0);
	upd(&u[7], "3034000000000000000000ff", 95, T2, 4294967295u, 2, "95", LANE_TAG_VALID, 0,
	    LANE_TAG_F_EXEMPT | LANE_TAG_F_PASS, 4000000000u, 4294967295u);
}

static int64_t
small_balance(uint64_t account)
{
	switch (account) {
	case 5:
		return 100000;
	case 3:
		return -2000;
	case 9:
		return INT32_MAX; /* 9e9 clamped */
	case 11:
		return 500;
	case 4294967295u:
		return 777;
	}
	return -1;
}

static struct lane_taglist *
small_list(void)
{
	struct lane_taglist_writer *w;
	struct lane_tag_update u[NSMALL];
	const char *path = tmpfile_named("small.tsl");

	small_tags(u);
	ck_assert_int_eq(lane_taglist_writer_new(77, &w), 0);
	ck_assert_int_eq(lane_taglist_writer_account(w, 5, 100000), 0);
	ck_assert_int_eq(lane_taglist_writer_account(w, 3, -2000), 0);
	ck_assert_int_eq(lane_taglist_writer_account(w, 9, 9000000000LL), 0);
	ck_assert_int_eq(lane_taglist_writer_account(w, 11, 500), 0);
	ck_assert_int_eq(lane_taglist_writer_account(w, 4294967295u, 777), 0);
	for (int k = 0; k < NSMALL; k++)
		ck_assert_int_eq(writer_add(w, &u[k]), 0);
	ck_assert_int_eq(lane_taglist_writer_finish(w, path), 0);
	lane_taglist_writer_free(w);
	struct lane_taglist *l = load_ok(path);
	for (int k = 0; k < NSMALL; k++)
		ck_assert_msg(answers(l, &u[k], small_balance(u[k].account_id)), "base tag %d", k);
	return l;
}

/* ---- tests ------------------------------------------------------------------ */

START_TEST(test_upsert_replaces)
{
	struct lane_tag_update base[NSMALL], u;
	struct lane_tag_info i;
	uint8_t tid[12];
	struct lane_taglist *l;

	make_tmpdir();
	l = small_list();
	small_tags(base);
	size_t mem0 = lane_taglist_memory_bytes(l);

	/* tag 1: low balance, no TID, account 5 -> invalid (blacklisted),
	 * class 3, account 3, a plate outside the 6-bit alphabet, a TID */
	upd(&u, "303400000000000000000002", 96, T3, 3, 3, "ha-noi 9/9", LANE_TAG_INVALID,
	    LANE_TAG_REASON_BLACKLISTED, 0, 0, 0);
	ck_assert_int_eq(lane_taglist_upsert_tag(l, &u), 0);
	ck_assert(answers(l, &u, -2000));
	/* the TID now listed: a clone is caught, a read without TID is not checked */
	hex(T1, tid);
	ck_assert_int_eq(lane_taglist_lookup(l, u.epc, 96, tid, &i), 0);
	ck_assert_int_eq(i.tid_mismatch, 1);
	ck_assert_int_eq(i.tid_listed, 1);
	ck_assert_int_eq(lane_taglist_lookup(l, u.epc, 96, NULL, &i), 0);
	ck_assert_int_eq(i.tid_mismatch, 0);
	ck_assert_int_eq(i.tid_listed, 1);

	/* tag 0: its TID dropped, a pass added, exempt */
	upd(&u, "303400000000000000000001", 96, NULL, 5, 2, "51A-123.45", LANE_TAG_VALID, 0,
	    LANE_TAG_F_PASS | LANE_TAG_F_EXEMPT, 202, 22000);
	ck_assert_int_eq(lane_taglist_upsert_tag(l, &u), 0);
	ck_assert(answers(l, &u, 100000));
	hex(T2, tid);
	ck_assert_int_eq(lane_taglist_lookup(l, u.epc, 96, tid, &i), 0);
	ck_assert_int_eq(i.tid_mismatch, 0);
	ck_assert_int_eq(i.tid_listed, 0);
	ck_assert_uint_eq(i.flags, LANE_TAG_F_PASS | LANE_TAG_F_EXEMPT);
	ck_assert_uint_eq(i.pass_station, 202);

	/* tag 3: its pass taken away; tag 7: exempt and pass gone, another TID */
	upd(&u, "303400000000000000000004", 96, NULL, 9, 5, "PASS1", LANE_TAG_LOW_BALANCE, 0, 0, 0, 0);
	ck_assert_int_eq(lane_taglist_upsert_tag(l, &u), 0);
	ck_assert(answers(l, &u, INT32_MAX));
	upd(&u, "3034000000000000000000ff", 95, T3, 11, 1, "", LANE_TAG_VALID, 0, 0, 0, 0);
	ck_assert_int_eq(lane_taglist_upsert_tag(l, &u), 0);
	ck_assert(answers(l, &u, 500));
	hex(T2, tid); /* the TID it had in the base: now a mismatch */
	ck_assert_int_eq(lane_taglist_lookup(l, u.epc, 95, tid, &i), 0);
	ck_assert_int_eq(i.tid_mismatch, 1);

	/* the 256-bit and the 13-bit tag; bits past epc_bits do not matter */
	upd(&u, "abababababababababababababababababababababababababababababababab", 256, NULL, 5, 4, "ABCDEFGHIJKL",
	    LANE_TAG_INVALID, 4, 0, 0, 0);
	ck_assert_int_eq(lane_taglist_upsert_tag(l, &u), 0);
	ck_assert(answers(l, &u, 100000));
	upd(&u, "ffff", 13, NULL, 3, 5, "13B", LANE_TAG_VALID, 0, LANE_TAG_F_EXEMPT, 0, 0);
	ck_assert_int_eq(lane_taglist_upsert_tag(l, &u), 0);
	u.epc[1] = 0xf8;
	ck_assert(answers(l, &u, -2000));

	/* nothing added: six tags held, the others as they were */
	ck_assert_uint_eq(lane_taglist_count(l), NSMALL);
	ck_assert_uint_eq(lane_taglist_update_count(l), 6);
	ck_assert(answers(l, &base[2], -2000));
	ck_assert(answers(l, &base[6], 500));
	ck_assert_uint_gt(lane_taglist_memory_bytes(l), mem0);

	/* the same tag again: the later state wins, still one record */
	upd(&u, "303400000000000000000002", 96, NULL, 5, 1, "X", LANE_TAG_VALID, 0, 0, 0, 0);
	ck_assert_int_eq(lane_taglist_upsert_tag(l, &u), 0);
	ck_assert(answers(l, &u, 100000));
	ck_assert_uint_eq(lane_taglist_update_count(l), 6);
	/* a debit through an updated tag's account shows on base tags of it */
	ck_assert_int_eq(lane_taglist_debit(l, 5, 1000), 0);
	ck_assert(answers(l, &u, 99000));
	ck_assert_int_eq(lane_taglist_lookup(l, base[0].epc, 96, NULL, &i), 0);
	ck_assert_int_eq(i.balance_vnd, 99000);
	lane_taglist_free(l);
	rm_tmpdir();
}
END_TEST

START_TEST(test_new_tag_new_account)
{
	struct lane_tag_update base[NSMALL], u, v, x;
	struct lane_tag_info i;
	struct lane_taglist *l;

	make_tmpdir();
	l = small_list();
	small_tags(base);

	/* a new tag of a new account: there with balance 0 until central's comes */
	upd(&u, "303400000000000000000100", 96, T1, 600, 2, "30F-000.01", LANE_TAG_VALID, 0, 0, 0, 0);
	ck_assert_int_eq(lane_taglist_upsert_tag(l, &u), 0);
	ck_assert(answers(l, &u, 0));
	ck_assert_uint_eq(lane_taglist_count(l), NSMALL + 1);
	ck_assert_uint_eq(lane_taglist_update_count(l), 2); /* the tag and its account */
	ck_assert_int_eq(lane_taglist_set_account(l, 600, 5000), 0);
	ck_assert(answers(l, &u, 5000));
	ck_assert_int_eq(lane_taglist_debit(l, 600, 1200), 0);
	ck_assert(answers(l, &u, 3800));
	ck_assert_uint_eq(lane_taglist_update_count(l), 2);

	/* a new 200-bit tag of an account the base has: shares its debits */
	upd(&v, "0102030405060708090a0b0c0d0e0f101112131415161718c0", 200, NULL, 3, 1, "", LANE_TAG_VALID, 0, 0, 0, 0);
	ck_assert_int_eq(lane_taglist_upsert_tag(l, &v), 0);
	ck_assert(answers(l, &v, -2000));
	ck_assert_int_eq(lane_taglist_debit(l, 3, 500), 0);
	ck_assert(answers(l, &v, -2500));
	ck_assert(answers(l, &base[2], -2500));
	ck_assert_uint_eq(lane_taglist_count(l), NSMALL + 2);

	/* the same bytes at another length, one bit off, a 96-bit prefix: not there */
	ck_assert_int_eq(lane_taglist_lookup(l, v.epc, 199, NULL, &i), TOLL_ENOTFOUND);
	ck_assert_int_eq(lane_taglist_lookup(l, v.epc, 96, NULL, &i), TOLL_ENOTFOUND);
	x = u;
	x.epc[11] ^= 1;
	ck_assert_int_eq(lane_taglist_lookup(l, x.epc, 96, NULL, &i), TOLL_ENOTFOUND);
	ck_assert_int_eq(lane_taglist_lookup(l, u.epc, 97, NULL, &i), TOLL_ENOTFOUND);

	/* the version */
	ck_assert_uint_eq(lane_taglist_version(l), 77);
	lane_taglist_set_version(l, 78);
	ck_assert_uint_eq(lane_taglist_version(l), 78);

	/* many new tags of many new accounts: the tables grow under the list */
	for (unsigned k = 0; k < 5000; k++) {
		upd(&x, "303499000000000000000000", 96, NULL, 1000 + k / 2, 1 + k % 5, "N", LANE_TAG_VALID, 0, 0, 0, 0);
		x.epc[8] = (uint8_t)(k >> 8);
		x.epc[9] = (uint8_t)k;
		ck_assert_int_eq(lane_taglist_upsert_tag(l, &x), 0);
	}
	ck_assert_uint_eq(lane_taglist_count(l), NSMALL + 2 + 5000);
	ck_assert_uint_eq(lane_taglist_update_count(l), 3 + 5000 + 2500);
	for (unsigned k = 0; k < 5000; k++) {
		upd(&x, "303499000000000000000000", 96, NULL, 1000 + k / 2, 1 + k % 5, "N", LANE_TAG_VALID, 0, 0, 0, 0);
		x.epc[8] = (uint8_t)(k >> 8);
		x.epc[9] = (uint8_t)k;
		ck_assert_msg(answers(l, &x, 0), "new tag %u", k);
	}
	ck_assert(answers(l, &u, 3800));
	ck_assert(answers(l, &base[0], 100000));
	lane_taglist_free(l);
	rm_tmpdir();
}
END_TEST

START_TEST(test_set_account)
{
	struct lane_tag_update base[NSMALL];
	struct lane_tag_info i;
	struct lane_taglist *l;

	make_tmpdir();
	l = small_list();
	small_tags(base);
	ck_assert_int_eq(lane_taglist_debit(l, 5, 30000), 0);
	ck_assert_int_eq(lane_taglist_debit(l, 3, 100), 0);
	ck_assert(answers(l, &base[0], 70000));

	/* central's balance for 5: its debits here are forgotten, on every tag of it */
	ck_assert_int_eq(lane_taglist_set_account(l, 5, 250000), 0);
	ck_assert(answers(l, &base[0], 250000));
	ck_assert(answers(l, &base[1], 250000));
	ck_assert(answers(l, &base[5], 250000));
	/* the others untouched, their debits kept */
	ck_assert(answers(l, &base[2], -2100));
	ck_assert(answers(l, &base[6], 500));
	ck_assert(answers(l, &base[3], INT32_MAX));
	ck_assert_uint_eq(lane_taglist_update_count(l), 1);
	ck_assert_uint_eq(lane_taglist_count(l), NSMALL);

	/* debits after it count; central's next balance resets them again */
	ck_assert_int_eq(lane_taglist_debit(l, 5, 1000), 0);
	ck_assert(answers(l, &base[1], 249000));
	ck_assert_int_eq(lane_taglist_set_account(l, 5, 10), 0);
	ck_assert(answers(l, &base[0], 10));
	ck_assert_int_eq(lane_taglist_debit(l, 5, 11), 0);
	ck_assert(answers(l, &base[0], -1));
	ck_assert_uint_eq(lane_taglist_update_count(l), 1);
	/* debits saturate as in the base */
	ck_assert_int_eq(lane_taglist_debit(l, 5, INT64_MAX), 0);
	ck_assert_int_eq(lane_taglist_lookup(l, base[0].epc, 96, NULL, &i), 0);
	ck_assert_int_le(i.balance_vnd, 0);

	/* clamped to the int32 range, as at load */
	ck_assert_int_eq(lane_taglist_set_account(l, 11, 5000000000LL), 0);
	ck_assert(answers(l, &base[6], INT32_MAX));
	ck_assert_int_eq(lane_taglist_set_account(l, 11, -5000000000LL), 0);
	ck_assert(answers(l, &base[6], INT32_MIN));
	ck_assert_int_eq(lane_taglist_set_account(l, 4294967295u, 1), 0);
	ck_assert(answers(l, &base[7], 1));

	/* an account the list did not have */
	ck_assert_int_eq(lane_taglist_debit(l, 404, 1), TOLL_ENOTFOUND);
	ck_assert_int_eq(lane_taglist_set_account(l, 404, 9000), 0);
	ck_assert_int_eq(lane_taglist_debit(l, 404, 1), 0);
	ck_assert_int_eq(lane_taglist_debit(l, 404, -1), TOLL_EINVAL);
	ck_assert_int_eq(lane_taglist_debit(l, 405, 1), TOLL_ENOTFOUND);
	ck_assert_int_eq(lane_taglist_debit(l, 0, 1), TOLL_ENOTFOUND);
	ck_assert_int_eq(lane_taglist_debit(l, 1ull << 32, 1), TOLL_ENOTFOUND);
	ck_assert_uint_eq(lane_taglist_update_count(l), 4);
	ck_assert_uint_eq(lane_taglist_count(l), NSMALL);

	/* ids out of bounds */
	ck_assert_int_eq(lane_taglist_set_account(l, 0, 1), TOLL_ERANGE);
	ck_assert_int_eq(lane_taglist_set_account(l, 1ull << 32, 1), TOLL_ERANGE);
	ck_assert_int_eq(lane_taglist_set_account(NULL, 5, 1), TOLL_EINVAL);
	ck_assert_uint_eq(lane_taglist_update_count(l), 4);
	lane_taglist_free(l);
	rm_tmpdir();
}
END_TEST

START_TEST(test_bounds_refused)
{
	struct lane_tag_update base[NSMALL], good, u;
	struct lane_taglist_writer *w;
	struct lane_taglist *l;

	make_tmpdir();
	l = small_list();
	small_tags(base);
	ck_assert_int_eq(lane_taglist_writer_new(1, &w), 0);
	/* a good update of tag 0 and of a new tag, each made bad one way */
	for (int which = 0; which < 2; which++) {
		if (which == 0)
			good = base[0];
		else
			upd(&good, "303400000000000000000100", 96, NULL, 5, 1, "", LANE_TAG_VALID, 0, 0, 0, 0);
		good.vclass = 3; /* differs from tag 0's */
		for (int c = 0; c < 14; c++) {
			int want = TOLL_EINVAL;
			u = good;
			switch (c) {
			case 0: u.epc_bits = 0; break;
			case 1: u.epc_bits = 257; break;
			case 2: u.vclass = 0; break;
			case 3: u.vclass = 6; break;
			case 4: u.status = 3; break;
			case 5: u.reason = 256; break;
			case 6: u.flags = 0x04; break;
			case 7: memset(u.plate, 'A', sizeof(u.plate)); break; /* 13 characters, no NUL */
			case 8: strcpy(u.plate, "51A\x01"); break;
			case 9: strcpy(u.plate, "51A\x7f"); break;
			case 10: u.pass_station = 1; break;
			case 11: u.pass_until_day = 1; break;
			case 12: u.account_id = 0; want = TOLL_ERANGE; break;
			case 13: u.account_id = 1ull << 32; want = TOLL_ERANGE; break;
			}
			ck_assert_msg(lane_taglist_upsert_tag(l, &u) == want, "case %d.%d", which, c);
			/* the writer's bounds are the same */
			ck_assert_msg(writer_add(w, &u) == want, "writer, case %d.%d", which, c);
		}
		/* out of bounds on two counts: EINVAL first, as the writer */
		u = good;
		u.vclass = 9;
		u.account_id = 0;
		ck_assert_int_eq(lane_taglist_upsert_tag(l, &u), TOLL_EINVAL);
		ck_assert_int_eq(writer_add(w, &u), TOLL_EINVAL);
	}
	ck_assert_int_eq(lane_taglist_upsert_tag(NULL, &good), TOLL_EINVAL);
	ck_assert_int_eq(lane_taglist_upsert_tag(l, NULL), TOLL_EINVAL);
	lane_taglist_writer_free(w);

	/* nothing changed */
	ck_assert_uint_eq(lane_taglist_update_count(l), 0);
	ck_assert_uint_eq(lane_taglist_count(l), NSMALL);
	for (int k = 0; k < NSMALL; k++)
		ck_assert_msg(answers(l, &base[k], small_balance(base[k].account_id)), "tag %d", k);
	/* and the good ones go in; a 12-character plate is fine */
	strcpy(good.plate, "ABCDEFGHIJKL");
	ck_assert_int_eq(lane_taglist_upsert_tag(l, &good), 0);
	ck_assert(answers(l, &good, 100000));
	ck_assert_uint_eq(lane_taglist_update_count(l), 1);
	lane_taglist_free(l);
	rm_tmpdir();
}
END_TEST

/* ---- the big lists: every tag's state a function of (tag, generation) ----- */

static uint64_t
mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

/* Tag t's state in generation g (0: the base) over accounts 1..naccts.
 * The plate names both, so a reader can tell which state it got. */
static void
state_for(uint32_t t, unsigned g, uint32_t naccts, struct lane_tag_update *u)
{
	uint64_t x = mix((uint64_t)t * 1000003 + g), r = mix(t);

	memset(u, 0, sizeof(*u));
	u->epc[0] = 0x30;
	for (int i = 0; i < 4; i++)
		u->epc[1 + i] = (uint8_t)(t >> (24 - 8 * i));
	for (int i = 5; i < 32; i++)
		u->epc[i] = (uint8_t)(r >> (8 * (i % 8)));
	u->epc_bits = t % 50 == 3 ? 128 : t % 333 == 7 ? 201 : 96;
	if (u->epc_bits % 8)
		u->epc[u->epc_bits / 8] &= (uint8_t)(0xFF << (8 - u->epc_bits % 8));
	u->tid_valid = x % 4 == 0;
	if (u->tid_valid)
		for (int i = 0; i < 12; i++)
			u->tid[i] = (uint8_t)mix(x + (uint64_t)i);
	u->account_id = 1 + (t * 7ull + g * 13ull) % naccts;
	u->vclass = 1 + (unsigned)(x >> 8) % 5;
	u->status = (unsigned)(x >> 16) % 3;
	u->reason = u->status == LANE_TAG_INVALID ? (unsigned)(x >> 24) % 256 : 0;
	u->flags = (x >> 32) % 11 == 0 ? LANE_TAG_F_EXEMPT : 0;
	if ((x >> 40) % 7 == 0) {
		u->flags |= LANE_TAG_F_PASS;
		u->pass_station = (uint32_t)(x >> 3);
		u->pass_until_day = 20000 + g;
	}
	snprintf(u->plate, sizeof(u->plate), (x >> 48) % 2 ? "T%uG%u" : "t%u/g%u", t, g);
}

/* Which generation a plate names, or -1. */
static int
plate_gen(const char *plate, uint32_t t)
{
	unsigned pt, pg;
	if (sscanf(plate, "T%uG%u", &pt, &pg) != 2 && sscanf(plate, "t%u/g%u", &pt, &pg) != 2)
		return -1;
	return pt == t ? (int)pg : -1;
}

/* info is exactly tag t's state in generation g, apart from the balance;
 * read_tid is the TID the lookup was given (or NULL). */
static int
is_state(const struct lane_tag_info *i, uint32_t t, unsigned g, uint32_t naccts, const uint8_t *read_tid)
{
	struct lane_tag_update u;
	state_for(t, g, naccts, &u);
	int mismatch = u.tid_valid && read_tid != NULL && memcmp(read_tid, u.tid, 12) != 0;
	return i->account_id == u.account_id && i->vclass == u.vclass && i->status == u.status &&
	       i->reason == u.reason && i->flags == u.flags && strcmp(i->plate, u.plate) == 0 &&
	       i->pass_station == u.pass_station && i->pass_until_day == u.pass_until_day &&
	       i->tid_listed == u.tid_valid && i->tid_mismatch == mismatch;
}

static const char *
write_big(uint32_t ntags, uint32_t naccts, int64_t (*balance)(uint32_t), const char *name)
{
	struct lane_taglist_writer *w;
	struct lane_tag_update u;
	const char *path = tmpfile_named(name);

	ck_assert_int_eq(lane_taglist_writer_new(1, &w), 0);
	/* plain ifs in loops of a million: each Check assertion costs a write */
	for (uint32_t a = 1; a <= naccts; a++)
		if (lane_taglist_writer_account(w, a, balance(a)) != 0)
			ck_abort_msg("account %" PRIu32, a);
	for (uint32_t t = 0; t < ntags; t++) {
		state_for(t, 0, naccts, &u);
		if (writer_add(w, &u) != 0)
			ck_abort_msg("tag %" PRIu32, t);
	}
	ck_assert_msg(lane_taglist_writer_finish(w, path) == 0, "%s", lane_taglist_writer_error(w));
	lane_taglist_writer_free(w);
	return path;
}

static int64_t
big_bal0(uint32_t a)
{
	return (int64_t)(a * 37u % 1000000) - 1000;
}

static int64_t
big_bal1(uint32_t a)
{
	return 7777 + (int64_t)a;
}

/* Every lookup of l2 answers as l1's, for the listed TID, none, and another. */
static void
same_lookups(const struct lane_taglist *l1, const struct lane_taglist *l2, uint32_t ntags, uint32_t naccts_max,
	     const uint8_t *updated_gen)
{
	struct lane_tag_update u;
	struct lane_tag_info a, b;
	uint8_t other[12] = {0xEE};

	ck_assert_uint_eq(lane_taglist_count(l1), lane_taglist_count(l2));
	ck_assert_uint_eq(lane_taglist_version(l1), lane_taglist_version(l2));
	for (uint32_t t = 0; t < ntags; t++) {
		state_for(t, updated_gen[t], naccts_max, &u);
		const uint8_t *tids[3] = {u.tid_valid ? u.tid : NULL, NULL, other};
		for (int k = 0; k < (t % 8 == 0 ? 3 : 1); k++) {
			int r1 = lane_taglist_lookup(l1, u.epc, u.epc_bits, tids[k], &a);
			int r2 = lane_taglist_lookup(l2, u.epc, u.epc_bits, tids[k], &b);
			if (r1 != 0 || r2 != 0 || memcmp(&a, &b, sizeof(a)) != 0)
				ck_abort_msg("tag %" PRIu32 " (TID %d): %d %d, %s/%s %" PRId64 "/%" PRId64, t, k, r1, r2,
					     a.plate, b.plate, a.balance_vnd, b.balance_vnd);
		}
	}
}

START_TEST(test_many_updates)
{
	enum { NT = 1000000, NA = 800000, NUPD = 150000, NNEW = 50000, NNEWA = 5000 };
	uint64_t seed = test_seed("test_many_updates");
	struct lane_tag_update u;
	struct lane_tag_info info;
	struct toll_rng rng;
	struct lane_taglist *l, *l2;
	uint8_t *gen = calloc(NT + NNEW, 1); /* the generation each tag is at */
	uint8_t *aset = calloc(NA + NNEWA + 1, 1);

	make_tmpdir();
	toll_rng_seed(&rng, seed);
	l = load_ok(write_big(NT, NA, big_bal0, "big.tsl"));
	ck_assert_uint_eq(lane_taglist_count(l), NT);
	size_t mem0 = lane_taglist_memory_bytes(l);

	/* 150,000 base tags (seeded, some twice) and 50,000 new ones; the new
	 * ones' accounts include 5,000 the base does not have */
	for (uint32_t k = 0; k < NUPD + NNEW; k++) {
		uint32_t t = k < NUPD ? (uint32_t)toll_rng_below(&rng, NT) : NT + (k - NUPD);
		gen[t] = 1;
		state_for(t, 1, NA + NNEWA, &u);
		if (lane_taglist_upsert_tag(l, &u) != 0)
			ck_abort_msg("seed %" PRIu64 ": tag %" PRIu32, seed, t);
	}
	size_t nupd = 0;
	for (uint32_t t = 0; t < NT + NNEW; t++)
		nupd += gen[t];
	/* central's balances for every 40th base account and all the new ones */
	for (uint32_t a = 40; a <= NA; a += 40) {
		ck_assert_int_eq(lane_taglist_set_account(l, a, big_bal1(a)), 0);
		aset[a] = 1;
	}
	for (uint32_t a = NA + 1; a <= NA + NNEWA; a++) {
		ck_assert_int_eq(lane_taglist_set_account(l, a, big_bal1(a)), 0);
		aset[a] = 1;
	}
	lane_taglist_set_version(l, 2);
	ck_assert_uint_eq(lane_taglist_count(l), NT + NNEW);
	ck_assert_uint_eq(lane_taglist_update_count(l), nupd + NA / 40 + NNEWA);
	ck_assert_uint_gt(lane_taglist_memory_bytes(l), mem0);

	/* every tag answers its generation's state and its account's balance */
	for (uint32_t t = 0; t < NT + NNEW; t++) {
		state_for(t, gen[t], gen[t] ? NA + NNEWA : NA, &u);
		int64_t bal = aset[u.account_id] ? big_bal1((uint32_t)u.account_id) : big_bal0((uint32_t)u.account_id);
		if (lane_taglist_lookup(l, u.epc, u.epc_bits, u.tid_valid ? u.tid : NULL, &info) != 0)
			ck_abort_msg("seed %" PRIu64 ": tag %" PRIu32 " not found", seed, t);
		if (!is_state(&info, t, gen[t], gen[t] ? NA + NNEWA : NA, u.tid_valid ? u.tid : NULL) ||
		    info.balance_vnd != bal)
			ck_abort_msg("seed %" PRIu64 ": tag %" PRIu32 " generation %u: plate %s, balance %" PRId64
				     " (want %" PRId64 ")",
				     seed, t, gen[t], info.plate, info.balance_vnd, bal);
	}
	/* tags never listed are still not there */
	for (uint32_t t = NT + NNEW; t < NT + NNEW + 1000; t++) {
		state_for(t, 1, NA, &u);
		ck_assert_int_eq(lane_taglist_lookup(l, u.epc, u.epc_bits, NULL, &info), TOLL_ENOTFOUND);
	}

	/* saved and loaded: the same answers for every tag */
	const char *saved = tmpfile_named("saved.tsl");
	save_ok(l, saved);
	l2 = load_ok(saved);
	ck_assert_uint_eq(lane_taglist_update_count(l2), 0);
	same_lookups(l, l2, NT + NNEW, NA + NNEWA, gen);
	lane_taglist_free(l2);
	lane_taglist_free(l);
	free(gen);
	free(aset);
	rm_tmpdir();
}
END_TEST

START_TEST(test_save_load)
{
	enum { NT = 3000, NA = 1000, NNEW = 700, NNEWA = 50 };
	struct lane_tag_update base[NSMALL], u;
	struct lane_tag_info a, b;
	struct lane_taglist *l, *l2;
	uint8_t gen[NT + NNEW];
	char err[256] = "";

	make_tmpdir();

	/* the small list, every kind of tag, some updated, some added */
	l = small_list();
	small_tags(base);
	upd(&u, "303400000000000000000002", 96, T3, 600, 3, "ha-noi 9/9", LANE_TAG_INVALID, 1, 0, 0, 0);
	ck_assert_int_eq(lane_taglist_upsert_tag(l, &u), 0);
	upd(&u, "abababababababababababababababababababababababababababababababab", 256, T1, 3, 4, "ABCDEFGHIJKL",
	    LANE_TAG_VALID, 0, LANE_TAG_F_PASS, 7, 8);
	ck_assert_int_eq(lane_taglist_upsert_tag(l, &u), 0);
	upd(&u, "f0", 4, NULL, 601, 1, "", LANE_TAG_VALID, 0, LANE_TAG_F_EXEMPT, 0, 0);
	ck_assert_int_eq(lane_taglist_upsert_tag(l, &u), 0);
	upd(&u, "0102030405060708090a0b0c0d0e0f101112131415161718c0", 200, T2, 5, 1, "", LANE_TAG_VALID, 0, 0, 0, 0);
	ck_assert_int_eq(lane_taglist_upsert_tag(l, &u), 0);
	ck_assert_int_eq(lane_taglist_set_account(l, 600, 4242), 0);
	ck_assert_int_eq(lane_taglist_set_account(l, 3, 9000000000LL), 0); /* clamped in memory */
	ck_assert_int_eq(lane_taglist_set_account(l, 700, -5), 0);	   /* no tags */
	lane_taglist_set_version(l, 78);
	const char *saved = tmpfile_named("small-saved.tsl");
	save_ok(l, saved);
	l2 = load_ok(saved);
	ck_assert_uint_eq(lane_taglist_count(l2), NSMALL + 2);
	ck_assert_uint_eq(lane_taglist_version(l2), 78);
	const char *epcs[NSMALL + 2][2] = {
		{"303400000000000000000001", "96"}, {"303400000000000000000002", "96"}, {"303400000000000000000003", "96"},
		{"303400000000000000000004", "96"}, {"abababababababababababababababababababababababababababababababab", "256"},
		{"fff8", "13"}, {"303400000000000000000007", "96"}, {"3034000000000000000000ff", "95"}, {"f0", "4"},
		{"0102030405060708090a0b0c0d0e0f101112131415161718c0", "200"}};
	const char *tids[4] = {T1, T2, T3, NULL};
	for (int k = 0; k < NSMALL + 2; k++) {
		uint8_t e[32] = {0}, tid[12];
		hex(epcs[k][0], e);
		for (int j = 0; j < 4; j++) {
			if (tids[j])
				hex(tids[j], tid);
			ck_assert_int_eq(lane_taglist_lookup(l, e, (unsigned)atoi(epcs[k][1]), tids[j] ? tid : NULL, &a), 0);
			ck_assert_int_eq(lane_taglist_lookup(l2, e, (unsigned)atoi(epcs[k][1]), tids[j] ? tid : NULL, &b), 0);
			ck_assert_msg(memcmp(&a, &b, sizeof(a)) == 0, "tag %d TID %d: %s/%s", k, j, a.plate, b.plate);
		}
	}
	ck_assert_int_eq(lane_taglist_debit(l2, 700, 1), 0);
	ck_assert_int_eq(lane_taglist_debit(l2, 601, 1), 0);

	/* balances as central gave them: this process's debits are not saved */
	ck_assert_int_eq(lane_taglist_debit(l, 5, 3000), 0);
	ck_assert_int_eq(lane_taglist_debit(l, 600, 3000), 0);
	save_ok(l, saved);
	lane_taglist_free(l2);
	l2 = load_ok(saved);
	ck_assert(answers(l2, &base[0], 100000));
	upd(&u, "303400000000000000000002", 96, T3, 600, 3, "ha-noi 9/9", LANE_TAG_INVALID, 1, 0, 0, 0);
	ck_assert(answers(l2, &u, 4242));
	ck_assert(answers(l, &u, 4242 - 3000));
	lane_taglist_free(l2);

	/* a save that cannot be written says why and leaves nothing */
	ck_assert_int_eq(lane_taglist_save(l, "/nonexistent-dir/x.tsl", err, sizeof(err)), TOLL_ESYS);
	ck_assert_ptr_nonnull(strstr(err, "could not create"));
	ck_assert_int_eq(lane_taglist_save(NULL, saved, err, sizeof(err)), TOLL_EINVAL);
	lane_taglist_free(l);

	/* a seeded list: updates, new tags, new accounts; saved twice over */
	memset(gen, 0, sizeof(gen));
	l = load_ok(write_big(NT, NA, big_bal0, "mid.tsl"));
	for (uint32_t t = 0; t < NT + NNEW; t++) {
		if (t < NT && t % 3 != 0)
			continue;
		gen[t] = 1;
		state_for(t, 1, NA + NNEWA, &u);
		ck_assert_int_eq(lane_taglist_upsert_tag(l, &u), 0);
	}
	for (uint32_t id = 1; id <= NA + NNEWA; id += 3)
		ck_assert_int_eq(lane_taglist_set_account(l, id, big_bal1(id)), 0);
	save_ok(l, saved);
	l2 = load_ok(saved);
	same_lookups(l, l2, NT + NNEW, NA + NNEWA, gen);
	/* the saved list, updated and saved again */
	for (uint32_t t = 0; t < NT; t += 5) {
		gen[t] = 2;
		state_for(t, 2, NA + NNEWA, &u);
		if (lane_taglist_upsert_tag(l, &u) != 0 || lane_taglist_upsert_tag(l2, &u) != 0)
			ck_abort_msg("tag %" PRIu32, t);
	}
	const char *again = tmpfile_named("again.tsl");
	save_ok(l2, again);
	struct lane_taglist *l3 = load_ok(again);
	same_lookups(l, l3, NT + NNEW, NA + NNEWA, gen);
	lane_taglist_free(l3);
	lane_taglist_free(l2);
	lane_taglist_free(l);
	rm_tmpdir();
}
END_TEST

/* ---- one thread updates, others look up and debit ----------------------------- */

enum {
	CT_TAGS = 20000,   /* in the base */
	CT_NEW = 5000,	   /* added in generation 1 */
	CT_ACCTS = 4000,   /* in the base */
	CT_NEWACCTS = 500, /* created before generation 1 */
	CT_GENS = 20,
	CT_READERS = 3,
	CT_DEBIT_ROOM = 4000000 /* more than all debits of a run */
};

/* Account a's balance as central gives it in generation g: 10^7 apart,
 * so that one balance minus this run's debits is never another's. */
static int64_t
ct_balance(uint32_t a, unsigned g)
{
	return 10000000LL * (g + 1) + 5000000 + a;
}

static int64_t
ct_bal0(uint32_t a)
{
	return ct_balance(a, 0);
}

struct ct {
	struct lane_taglist *l;
	int done;	     /* atomic: the writer has finished */
	uint64_t lookups;    /* atomic */
	uint32_t cursor;     /* atomic: the tag the writer is at */
	uint64_t seed;
	char failure[300];   /* the first reader failure, under mu */
	pthread_mutex_t mu;
	/* every tag's EPC and base TID, so that readers spend their time in
	 * the list rather than making keys */
	uint8_t (*epc)[32];
	unsigned *bits;
	uint8_t (*tid0)[12];
};

struct ct_reader {
	struct ct *c;
	int id;
	unsigned gens_seen; /* bit g: some lookup answered generation g */
	uint64_t lookups, absent;
};

static void
ct_fail(struct ct *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
ct_fail(struct ct *c, const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&c->mu);
	if (c->failure[0] == 0) {
		va_start(ap, fmt);
		vsnprintf(c->failure, sizeof(c->failure), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&c->mu);
}

/* The balance is some generation's minus at most this run's debits. */
static int
ct_balance_ok(uint64_t account, int64_t bal)
{
	for (unsigned g = 0; g <= CT_GENS; g++) {
		int64_t d = ct_balance((uint32_t)account, g) - bal;
		if (d >= 0 && d < CT_DEBIT_ROOM)
			return 1;
	}
	return 0;
}

static void *
ct_read(void *arg)
{
	struct ct_reader *r = arg;
	struct ct *c = r->c;
	struct toll_rng rng;
	struct lane_tag_info info;

	toll_rng_seed(&rng, c->seed + (uint64_t)r->id);
	for (;;) {
		int last = __atomic_load_n(&c->done, __ATOMIC_ACQUIRE);
		for (int k = 0; k < 256; k++) {
			/* half at random, half at the tag being rewritten (where a
			 * half-written state would show) */
			uint32_t t = (uint32_t)toll_rng_below(&rng, CT_TAGS + CT_NEW);
			if (k % 2)
				t = (__atomic_load_n(&c->cursor, __ATOMIC_RELAXED) + (uint32_t)toll_rng_below(&rng, 3)) %
				    (CT_TAGS + CT_NEW);
			/* read with the base's TID (or none): a later TID is a mismatch */
			const uint8_t *tid = k % 3 ? c->tid0[t] : NULL;
			int rc = lane_taglist_lookup(c->l, c->epc[t], c->bits[t], tid, &info);
			r->lookups++;
			if (rc == TOLL_ENOTFOUND && t >= CT_TAGS) {
				r->absent++; /* a new tag not added yet: the old state */
				continue;
			}
			if (rc != 0) {
				ct_fail(c, "reader %d: tag %" PRIu32 ": %s", r->id, t, toll_strerror(rc));
				return NULL;
			}
			int g = plate_gen(info.plate, t);
			if (g < 0 || g > CT_GENS || (g == 0 && t >= CT_TAGS) ||
			    !is_state(&info, t, (unsigned)g, g == 0 ? CT_ACCTS : CT_ACCTS + CT_NEWACCTS, tid)) {
				ct_fail(c, "reader %d: tag %" PRIu32 ": a state of no generation (plate '%s', class %u, "
					   "account %" PRIu64 ")",
					r->id, t, info.plate, info.vclass, info.account_id);
				return NULL;
			}
			if (!ct_balance_ok(info.account_id, info.balance_vnd)) {
				ct_fail(c, "reader %d: account %" PRIu64 ": balance %" PRId64 " of no generation", r->id,
					info.account_id, info.balance_vnd);
				return NULL;
			}
			r->gens_seen |= 1u << g;
			if (k % 4 == 0 && (rc = lane_taglist_debit(c->l, info.account_id, 1)) != 0) {
				ct_fail(c, "reader %d: debit of %" PRIu64 ": %s", r->id, info.account_id, toll_strerror(rc));
				return NULL;
			}
		}
		__atomic_fetch_add(&c->lookups, 256, __ATOMIC_RELAXED);
		if (last)
			return NULL;
	}
}

START_TEST(test_concurrent)
{
	struct ct c;
	struct ct_reader r[CT_READERS];
	pthread_t th[CT_READERS];
	struct lane_tag_update u;
	struct lane_tag_info info;

	memset(&c, 0, sizeof(c));
	pthread_mutex_init(&c.mu, NULL);
	c.seed = test_seed("test_concurrent");
	c.epc = calloc(CT_TAGS + CT_NEW, sizeof(*c.epc));
	c.bits = calloc(CT_TAGS + CT_NEW, sizeof(*c.bits));
	c.tid0 = calloc(CT_TAGS + CT_NEW, sizeof(*c.tid0));
	for (uint32_t t = 0; t < CT_TAGS + CT_NEW; t++) {
		state_for(t, 0, CT_ACCTS, &u);
		memcpy(c.epc[t], u.epc, 32);
		c.bits[t] = u.epc_bits;
		memcpy(c.tid0[t], u.tid, 12);
	}
	make_tmpdir();
	c.l = load_ok(write_big(CT_TAGS, CT_ACCTS, ct_bal0, "ct.tsl"));
	for (int k = 0; k < CT_READERS; k++) {
		memset(&r[k], 0, sizeof(r[k]));
		r[k].c = &c;
		r[k].id = k;
		ck_assert_int_eq(pthread_create(&th[k], NULL, ct_read, &r[k]), 0);
	}
	/* the readers are running before anything changes */
	while (__atomic_load_n(&c.lookups, __ATOMIC_RELAXED) < 2000)
		sched_yield();

	/* this thread applies: new accounts, then generation after generation
	 * of every tag (new ones from generation 1), balances in between */
	for (uint32_t a = CT_ACCTS + 1; a <= CT_ACCTS + CT_NEWACCTS; a++)
		ck_assert_int_eq(lane_taglist_set_account(c.l, a, ct_balance(a, 0)), 0);
	for (unsigned g = 1; g <= CT_GENS; g++) {
		for (uint32_t t = 0; t < CT_TAGS + CT_NEW; t++) {
			state_for(t, g, CT_ACCTS + CT_NEWACCTS, &u);
			__atomic_store_n(&c.cursor, t, __ATOMIC_RELAXED);
			if (lane_taglist_upsert_tag(c.l, &u) != 0)
				ck_abort_msg("generation %u: tag %" PRIu32, g, t);
			if (t % 5 == 0 && t / 5 < CT_ACCTS + CT_NEWACCTS &&
			    lane_taglist_set_account(c.l, 1 + t / 5, ct_balance(1 + t / 5, g)) != 0)
				ck_abort_msg("generation %u: account %" PRIu32, g, 1 + t / 5);
		}
		lane_taglist_set_version(c.l, 1 + g);
	}
	__atomic_store_n(&c.done, 1, __ATOMIC_RELEASE);
	uint64_t lookups = 0, absent = 0;
	unsigned seen = 0;
	for (int k = 0; k < CT_READERS; k++) {
		pthread_join(th[k], NULL);
		lookups += r[k].lookups;
		absent += r[k].absent;
		seen |= r[k].gens_seen;
	}
	fprintf(stderr, "test_concurrent: %" PRIu64 " lookups, %" PRIu64 " of tags not yet added, generations seen 0x%x\n",
		lookups, absent, seen);
	ck_assert_msg(c.failure[0] == 0, "seed %" PRIu64 ": %s", c.seed, c.failure);
	/* the readers saw the list change under them */
	ck_assert_uint_ge(__builtin_popcount(seen), 2);

	/* afterwards: every tag at the last generation, every account at its
	 * last balance minus at most the readers' debits */
	ck_assert_uint_eq(lane_taglist_count(c.l), CT_TAGS + CT_NEW);
	ck_assert_uint_eq(lane_taglist_version(c.l), 1 + CT_GENS);
	for (uint32_t t = 0; t < CT_TAGS + CT_NEW; t++) {
		state_for(t, CT_GENS, CT_ACCTS + CT_NEWACCTS, &u);
		if (lane_taglist_lookup(c.l, u.epc, u.epc_bits, u.tid_valid ? u.tid : NULL, &info) != 0 ||
		    !is_state(&info, t, CT_GENS, CT_ACCTS + CT_NEWACCTS, u.tid_valid ? u.tid : NULL))
			ck_abort_msg("tag %" PRIu32 ": not its last state", t);
		int64_t d = ct_balance((uint32_t)info.account_id, CT_GENS) - info.balance_vnd;
		if (d < 0 || d > (int64_t)lookups)
			ck_abort_msg("tag %" PRIu32 ": balance %" PRId64, t, info.balance_vnd);
	}
	lane_taglist_free(c.l);
	pthread_mutex_destroy(&c.mu);
	free(c.epc);
	free(c.bits);
	free(c.tid0);
	rm_tmpdir();
}
END_TEST

/* Tables growing under readers: new tags (and with them new accounts)
 * arrive while readers look them up in a tight loop.  More readers than
 * cores, so that some are preempted inside a probe and resume in a table
 * that has been replaced meanwhile: one freed too soon shows under ASan. */
enum { GR_TAGS = 120000, GR_READERS = 6, GR_ACCTS = 40000 };

static void
gr_tag(uint32_t t, struct lane_tag_update *u, unsigned g)
{
	memset(u, 0, sizeof(*u));
	u->epc[0] = 0x35;
	for (int i = 0; i < 4; i++)
		u->epc[8 + i] = (uint8_t)(t >> (24 - 8 * i));
	u->epc_bits = 96;
	u->account_id = 1000 + t % GR_ACCTS;
	u->vclass = 1 + (t + g) % 5;
	u->status = g % 2 ? LANE_TAG_LOW_BALANCE : LANE_TAG_VALID;
	snprintf(u->plate, sizeof(u->plate), "N%uG%u", t, g);
}

struct gr_reader {
	struct ct *c;
	char (*plates)[2][LANE_PLATE_MAX + 1];
	int id;
	uint64_t found;
};

static void *
gr_read(void *arg)
{
	struct gr_reader *r = arg;
	struct ct *c = r->c;
	struct toll_rng rng;
	struct lane_tag_update u;
	struct lane_tag_info info;

	toll_rng_seed(&rng, c->seed + 100 + (uint64_t)r->id);
	for (;;) {
		int last = __atomic_load_n(&c->done, __ATOMIC_ACQUIRE);
		for (int k = 0; k < 1024; k++) {
			uint32_t cur = __atomic_load_n(&c->cursor, __ATOMIC_RELAXED);
			uint32_t t = k % 4 ? (cur + GR_TAGS - 8 + (uint32_t)toll_rng_below(&rng, 16)) % GR_TAGS
					   : (uint32_t)toll_rng_below(&rng, GR_TAGS);
			gr_tag(t, &u, 0);
			int rc = lane_taglist_lookup(c->l, u.epc, 96, NULL, &info);
			if (rc == TOLL_ENOTFOUND)
				continue;
			r->found++;
			unsigned g = info.status == LANE_TAG_LOW_BALANCE;
			if (rc != 0 || info.account_id != u.account_id || info.vclass != 1 + (t + g) % 5 ||
			    strcmp(info.plate, r->plates[t][g]) != 0 || info.balance_vnd > 0 ||
			    lane_taglist_debit(c->l, info.account_id, 1) != 0) {
				ct_fail(c, "reader %d: tag %" PRIu32 ": rc %d, plate '%s', class %u, account %" PRIu64, r->id,
					t, rc, info.plate, info.vclass, info.account_id);
				return NULL;
			}
		}
		if (last)
			return NULL;
	}
}

START_TEST(test_concurrent_growth)
{
	struct ct c;
	struct gr_reader r[GR_READERS];
	pthread_t th[GR_READERS];
	struct lane_tag_update u;
	char(*plates)[2][LANE_PLATE_MAX + 1] = malloc(GR_TAGS * sizeof(*plates));

	memset(&c, 0, sizeof(c));
	pthread_mutex_init(&c.mu, NULL);
	c.seed = test_seed("test_concurrent_growth");
	for (uint32_t t = 0; t < GR_TAGS; t++)
		for (unsigned g = 0; g < 2; g++) {
			gr_tag(t, &u, g);
			memcpy(plates[t][g], u.plate, sizeof(u.plate));
		}
	make_tmpdir();
	c.l = small_list();
	for (int k = 0; k < GR_READERS; k++) {
		r[k] = (struct gr_reader){&c, plates, k, 0};
		ck_assert_int_eq(pthread_create(&th[k], NULL, gr_read, &r[k]), 0);
	}
	/* new tags, then each once more: the tag table grows from nothing to
	 * 256 K slots, the account table to 128 K */
	for (unsigned g = 0; g < 2; g++)
		for (uint32_t t = 0; t < GR_TAGS; t++) {
			gr_tag(t, &u, g);
			__atomic_store_n(&c.cursor, t, __ATOMIC_RELAXED);
			if (lane_taglist_upsert_tag(c.l, &u) != 0)
				ck_abort_msg("tag %" PRIu32, t);
		}
	__atomic_store_n(&c.done, 1, __ATOMIC_RELEASE);
	uint64_t found = 0;
	for (int k = 0; k < GR_READERS; k++) {
		pthread_join(th[k], NULL);
		found += r[k].found;
	}
	fprintf(stderr, "test_concurrent_growth: %" PRIu64 " lookups found a tag\n", found);
	ck_assert_msg(c.failure[0] == 0, "seed %" PRIu64 ": %s", c.seed, c.failure);
	ck_assert_uint_gt(found, 0);
	ck_assert_uint_eq(lane_taglist_count(c.l), NSMALL + GR_TAGS);
	ck_assert_uint_eq(lane_taglist_update_count(c.l), GR_TAGS + GR_ACCTS);
	lane_taglist_free(c.l);
	pthread_mutex_destroy(&c.mu);
	free(plates);
	rm_tmpdir();
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("taglist_updates");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, test_upsert_replaces);
	tcase_add_test(tc, test_new_tag_new_account);
	tcase_add_test(tc, test_set_account);
	tcase_add_test(tc, test_bounds_refused);
	tcase_add_test(tc, test_save_load);
	tcase_add_test(tc, test_many_updates);
	tcase_add_test(tc, test_concurrent);
	tcase_add_test(tc, test_concurrent_growth);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(suite());
}

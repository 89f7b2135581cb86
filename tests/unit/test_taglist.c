/* test_taglist.c: the tag status list: every field round trip through the
 * writer, the file and the loader; debits per account; clones; and a
 * damaged, truncated or wrong-version file refused, never half-loaded. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"
#include "err.h"
#include "lane_taglist.h"
#include "unit.h"

static char path[256];

static void
tmp_path(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(path, sizeof(path), "%s/toll-tsl-%d", tmp && *tmp ? tmp : "/tmp", (int)getpid());
}

static void
epc96(uint8_t e[12], uint8_t last)
{
	memset(e, 0, 12);
	e[0] = 0x30;
	e[11] = last;
}

static struct lane_taglist *
build(void)
{
	struct lane_taglist_writer *w;
	struct lane_taglist *l;
	uint8_t e[32], tid[12];
	char err[256];

	tmp_path();
	memset(tid, 0xE2, sizeof(tid));
	ck_assert_int_eq(lane_taglist_writer_new(77, &w), 0);
	ck_assert_int_eq(lane_taglist_writer_account(w, 5, 100000), 0);
	ck_assert_int_eq(lane_taglist_writer_account(w, 3, -2000), 0);
	ck_assert_int_eq(lane_taglist_writer_account(w, 9, 9000000000LL), 0); /* clamped in memory */
	epc96(e, 1);
	ck_assert_int_eq(lane_taglist_writer_tag(w, e, 96, tid, 5, 2, "51A-123.45", LANE_TAG_VALID, 0, 0, 0, 0), 0);
	epc96(e, 2);
	ck_assert_int_eq(lane_taglist_writer_tag(w, e, 96, NULL, 5, 1, "51A2", LANE_TAG_LOW_BALANCE, 0, 0, 0, 0), 0);
	epc96(e, 3);
	ck_assert_int_eq(lane_taglist_writer_tag(w, e, 96, NULL, 3, 4, "", LANE_TAG_INVALID, 2, 0, 0, 0), 0);
	epc96(e, 4);
	ck_assert_int_eq(lane_taglist_writer_tag(w, e, 96, NULL, 9, 5, "PASS1", LANE_TAG_VALID, 0, LANE_TAG_F_PASS, 101, 21000), 0);
	memset(e, 0xAB, 32);
	ck_assert_int_eq(lane_taglist_writer_tag(w, e, 256, NULL, 9, 3, "LONG", LANE_TAG_VALID, 0, LANE_TAG_F_EXEMPT, 0, 0), 0);
	e[0] = 0xF0;
	ck_assert_int_eq(lane_taglist_writer_tag(w, e, 4, NULL, 9, 1, "ODD", LANE_TAG_VALID, 0, 0, 0, 0), 0);
	/* refused by the writer */
	ck_assert_int_eq(lane_taglist_writer_tag(w, e, 96, NULL, 9, 6, "", 0, 0, 0, 0, 0), TOLL_EINVAL);
	ck_assert_int_eq(lane_taglist_writer_tag(w, e, 96, NULL, 9, 1, "toolongplate", 0, 0, 0, 0, 0), TOLL_EINVAL);
	ck_assert_int_eq(lane_taglist_writer_tag(w, e, 96, NULL, 9, 1, "low", 0, 0, 0, 0, 0), TOLL_EINVAL);
	ck_assert_int_eq(lane_taglist_writer_tag(w, e, 257, NULL, 9, 1, "", 0, 0, 0, 0, 0), TOLL_EINVAL);
	ck_assert_int_eq(lane_taglist_writer_account(w, 1ull << 33, 0), TOLL_ERANGE);
	ck_assert_int_eq(lane_taglist_writer_finish(w, path), 0);
	lane_taglist_writer_free(w);
	ck_assert_msg(lane_taglist_load(path, &l, err, sizeof(err)) == 0, "%s", err);
	return l;
}

START_TEST(test_round_trip)
{
	struct lane_taglist *l = build();
	struct lane_tag_info i;
	uint8_t e[32], tid[12];

	ck_assert_uint_eq(lane_taglist_version(l), 77);
	ck_assert_uint_eq(lane_taglist_count(l), 6);
	memset(tid, 0xE2, sizeof(tid));
	epc96(e, 1);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 96, tid, &i), 0);
	ck_assert_uint_eq(i.account_id, 5);
	ck_assert_uint_eq(i.vclass, 2);
	ck_assert_str_eq(i.plate, "51A-123.45");
	ck_assert_int_eq(i.balance_vnd, 100000);
	ck_assert_int_eq(i.tid_mismatch, 0);
	/* the same EPC with another TID: a clone */
	tid[0] = 0;
	ck_assert_int_eq(lane_taglist_lookup(l, e, 96, tid, &i), 0);
	ck_assert_int_eq(i.tid_mismatch, 1);
	/* no TID listed: any TID matches */
	epc96(e, 2);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 96, tid, &i), 0);
	ck_assert_int_eq(i.tid_mismatch, 0);
	ck_assert_uint_eq(i.status, LANE_TAG_LOW_BALANCE);
	epc96(e, 3);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 96, NULL, &i), 0);
	ck_assert_uint_eq(i.status, LANE_TAG_INVALID);
	ck_assert_uint_eq(i.reason, 2);
	ck_assert_int_eq(i.balance_vnd, -2000);
	epc96(e, 4);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 96, NULL, &i), 0);
	ck_assert_uint_eq(i.flags, LANE_TAG_F_PASS);
	ck_assert_uint_eq(i.pass_station, 101);
	ck_assert_uint_eq(i.pass_until_day, 21000);
	ck_assert_int_eq(i.balance_vnd, INT32_MAX);
	memset(e, 0xAB, 32);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 256, NULL, &i), 0);
	ck_assert_uint_eq(i.flags, LANE_TAG_F_EXEMPT);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 248, NULL, &i), TOLL_ENOTFOUND);
	e[0] = 0xF0;
	ck_assert_int_eq(lane_taglist_lookup(l, e, 4, NULL, &i), 0);
	ck_assert_str_eq(i.plate, "ODD");
	epc96(e, 99);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 96, NULL, &i), TOLL_ENOTFOUND);
	/* debits reach every tag of the account */
	ck_assert_int_eq(lane_taglist_debit(l, 5, 35000), 0);
	ck_assert_int_eq(lane_taglist_debit(l, 5, 35000), 0);
	epc96(e, 2);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 96, NULL, &i), 0);
	ck_assert_int_eq(i.balance_vnd, 30000);
	ck_assert_int_eq(lane_taglist_debit(l, 404, 1), TOLL_ENOTFOUND);
	ck_assert_int_eq(lane_taglist_debit(l, 5, -1), TOLL_EINVAL);
	lane_taglist_free(l);
	unlink(path);
}
END_TEST

static uint8_t *
read_all(size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b = malloc(4096);
	*len = fread(b, 1, 4096, f);
	fclose(f);
	return b;
}

START_TEST(test_damage_refused)
{
	struct lane_taglist *l = build(), *m;
	size_t len;
	char err[256];
	uint8_t *b;

	lane_taglist_free(l);
	b = read_all(&len);
	for (size_t i = 0; i < len; i++) {
		b[i] ^= 0x10;
		ck_assert_msg(lane_taglist_load_mem(b, len, &m, err, sizeof(err)) != 0, "flip at %zu accepted", i);
		b[i] ^= 0x10;
	}
	for (size_t n = 0; n < len; n++) {
		uint8_t *c = malloc(n ? n : 1);
		memcpy(c, b, n);
		ck_assert_msg(lane_taglist_load_mem(c, n, &m, err, sizeof(err)) != 0, "length %zu accepted", n);
		free(c);
	}
	ck_assert_int_eq(lane_taglist_load_mem(b, len, &m, err, sizeof(err)), 0);
	lane_taglist_free(m);
	free(b);
	unlink(path);
}
END_TEST

START_TEST(test_csv_errors)
{
	char csv[300], out[320], err[256];
	const char *tmp = getenv("TMPDIR");
	static const struct {
		const char *text, *where;
	} bad[] = {
		{"nope\n", ":1:"},
		{"toll-taglist-csv 1\naccount,x,1\n", ":2:"},
		{"toll-taglist-csv 1\naccount,1,1\n3034,,1,9,P,valid,0,,,\n", ":3:"},
		{"toll-taglist-csv 1\naccount,1,1\n3034,,1,1,P,sleepy,0,,,\n", ":3:"},
		{"toll-taglist-csv 1\naccount,1,1\n3034,e2,1,1,P,valid,0,,,\n", ":3:"},
		{"toll-taglist-csv 1\naccount,1,1\n3034,,1,1,p!,valid,0,,,\n", ":3:"},
		{"toll-taglist-csv 1\naccount,1,1\n30zz,,1,1,P,valid,0,,,\n", ":3:"},
		{"toll-taglist-csv 1\naccount,1,1\n3034,,1,1,P,valid,0,gold,,\n", ":3:"},
		{"toll-taglist-csv 1\naccount,1,1\naccount,1,2\n", "twice"},
		{"toll-taglist-csv 1\naccount,1,1\n3034,,1,1,P,valid,0,,,\n3034,,1,1,Q,valid,0,,,\n", "twice"},
		{"toll-taglist-csv 1\naccount,1,1\n3034,,2,1,P,valid,0,,,\n", "unknown account"},
	};

	snprintf(csv, sizeof(csv), "%s/toll-csv-%d", tmp && *tmp ? tmp : "/tmp", (int)getpid());
	snprintf(out, sizeof(out), "%s.tsl", csv);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		FILE *f = fopen(csv, "w");
		fputs(bad[i].text, f);
		fclose(f);
		err[0] = 0;
		ck_assert_msg(lane_taglist_import_csv(csv, out, 1, err, sizeof(err)) != 0, "case %zu accepted", i);
		ck_assert_msg(strstr(err, bad[i].where) != NULL, "case %zu: '%s' lacks '%s'", i, err, bad[i].where);
		ck_assert_int_ne(access(out, F_OK), 0);
	}
	unlink(csv);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("taglist");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_damage_refused);
	tcase_add_test(tc, test_csv_errors);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(suite());
}

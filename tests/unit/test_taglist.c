/* test_taglist.c: the tag status list: every field round trip through the
 * writer, the file and the loader; 96-bit, 256-bit and odd-length EPCs;
 * TID match, mismatch and absence; debits per account; thousands of seeded
 * tags; a damaged, truncated, reordered or wrong-version file refused and
 * never half-loaded; the fixtures in tests/data/taglist; the CSV import and
 * its errors with line numbers.
 *
 * TAGLIST_FIXTURES_WRITE=1 makes test_fixtures rewrite the derived
 * fixtures (sample.bin and the damaged files) instead of checking them. */
#include <check.h>
#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crc.h"
#include "err.h"
#include "lane_taglist.h"
#include "rng.h"
#include "unit.h"
#include "unit_tmp.h"

/* ---- helpers ---------------------------------------------------------------- */

static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;
	long n;

	ck_assert_msg(f != NULL, "open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc((size_t)n + 1);
	ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return b;
}

static void
spit(const char *path, const void *b, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_msg(f != NULL, "create %s", path);
	ck_assert_uint_eq(fwrite(b, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

static const char *
data_path(const char *name)
{
	static char p[2][600];
	static int k;
	const char *top = getenv("TOLL_TOP");
	k = (k + 1) % 2;
	snprintf(p[k], sizeof(p[k]), "%s/tests/data/taglist/%s", top && *top ? top : ".", name);
	return p[k];
}

static void
hex(const char *s, uint8_t *out)
{
	for (size_t i = 0; s[2 * i]; i++) {
		unsigned v;
		sscanf(s + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

/* big-endian fields of a file image */
static uint64_t
get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void
put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* Where the parts of a format-2 image are (from its header's counts). */
struct layout {
	size_t acct, longs, tags, trailer; /* offsets of the first record / trailer */
	uint64_t na, nl, nt;
};

static int
layout_of(const uint8_t *b, size_t len, struct layout *lo)
{
	if (len < 64)
		return -1;
	lo->na = get_be(b + 24, 8);
	lo->nt = get_be(b + 32, 8);
	lo->nl = get_be(b + 40, 8);
	if (lo->na > len || lo->nt > len || lo->nl > len)
		return -1;
	lo->acct = 64 + 16;
	lo->longs = lo->acct + 16 * lo->na + 4 + 16;
	lo->tags = lo->longs + 34 * lo->nl + 4 + 16;
	lo->trailer = lo->tags + 52 * lo->nt + 4;
	return lo->trailer + 12 == len ? 0 : -1;
}

/* Recompute every checksum of an image after a deliberate change, so the
 * loader's checks behind the checksums are reached. */
static void
fix_crcs(uint8_t *b, size_t len)
{
	struct layout lo;
	put_be(b + 60, toll_crc32c(0, b, 60), 4);
	if (layout_of(b, len, &lo) != 0)
		return; /* the counts were the change */
	size_t starts[3] = {lo.acct - 16, lo.longs - 16, lo.tags - 16};
	size_t ends[3] = {lo.acct + 16 * lo.na, lo.longs + 34 * lo.nl, lo.tags + 52 * lo.nt};
	for (int s = 0; s < 3; s++)
		put_be(b + ends[s], toll_crc32c(0, b + starts[s], ends[s] - starts[s]), 4);
	put_be(b + lo.trailer, toll_crc32c(0, b, lo.trailer), 4);
}

/* ---- the list every test starts from ------------------------------------- */

struct spec {
	const char *epc_hex;
	unsigned bits;
	const char *tid_hex; /* NULL: none */
	uint64_t account;
	unsigned vclass;
	const char *plate;
	unsigned status, reason, flags;
	uint32_t station, until;
	int64_t balance; /* expected before debits */
};

static const struct spec specs[] = {
	{"303400000000000000000001", 96, "e2801160200074cf085609bc", 5, 2, "51A-123.45", LANE_TAG_VALID, 0, 0, 0, 0, 100000},
	{"303400000000000000000002", 96, NULL, 5, 1, "29C-678.90", LANE_TAG_LOW_BALANCE, 0, 0, 0, 0, 100000},
	{"303400000000000000000003", 96, NULL, 3, 4, "", LANE_TAG_INVALID, LANE_TAG_REASON_STOLEN, 0, 0, 0, -2000},
	{"303400000000000000000004", 96, NULL, 9, 5, "PASS1", LANE_TAG_VALID, 0, LANE_TAG_F_PASS, 101, 21000, INT32_MAX},
	{"abababababababababababababababababababababababababababababababab", 256, NULL, 9, 3, "LONG", LANE_TAG_VALID, 0,
	 LANE_TAG_F_EXEMPT, 0, 0, INT32_MAX},
	{"f0", 4, NULL, 9, 1, "ODD", LANE_TAG_VALID, 0, 0, 0, 0, INT32_MAX},
	{"303400000000000000000007", 96, NULL, 11, 3, "ABCDEFGHIJKL", LANE_TAG_INVALID, 255, 0, 0, 0, INT32_MIN},
	{"303400000000000000000008", 96, "000000000000000000000000", 4294967295u, 2, "ng-01 x/y~", LANE_TAG_VALID, 0,
	 LANE_TAG_F_EXEMPT | LANE_TAG_F_PASS, 4000000000u, 4294967295u, 777},
	{"303400000000000000000009", 96, NULL, 5, 1, "Z9Z9Z9Z9Z9Z9", LANE_TAG_VALID, 0, 0, 0, 0, 100000},
	{"30340000000000000000000900000000", 128, "e2801160200074cf085609bd", 3, 2, "--..  --..", LANE_TAG_VALID, 0, 0, 0, 0,
	 -2000},
	{"fff8", 13, NULL, 5, 1, "13", LANE_TAG_VALID, 0, 0, 0, 0, 100000},
	{"fff0", 13, NULL, 5, 1, "13B", LANE_TAG_VALID, 0, 0, 0, 0, 100000},
	{"3034000000000000000000ff", 95, NULL, 5, 1, "95", LANE_TAG_VALID, 0, 0, 0, 0, 100000},
	{"3034000000000000000000ff80", 97, NULL, 5, 1, "97", LANE_TAG_VALID, 0, 0, 0, 0, 100000},
};
#define NSPECS (sizeof(specs) / sizeof(specs[0]))

static void
write_list(const char *path)
{
	struct lane_taglist_writer *w;
	uint8_t e[32], tid[12];

	ck_assert_int_eq(lane_taglist_writer_new(77, &w), 0);
	ck_assert_int_eq(lane_taglist_writer_account(w, 9, 9000000000LL), 0); /* clamped in memory */
	ck_assert_int_eq(lane_taglist_writer_account(w, 5, 100000), 0);
	ck_assert_int_eq(lane_taglist_writer_account(w, 3, -2000), 0);
	ck_assert_int_eq(lane_taglist_writer_account(w, 11, -9000000000LL), 0);
	ck_assert_int_eq(lane_taglist_writer_account(w, 4294967295u, 777), 0);
	ck_assert_int_eq(lane_taglist_writer_account(w, 12, 1), 0); /* no tags: allowed */
	for (size_t i = 0; i < NSPECS; i++) {
		const struct spec *s = &specs[i];
		memset(e, 0, sizeof(e));
		hex(s->epc_hex, e);
		if (s->tid_hex)
			hex(s->tid_hex, tid);
		ck_assert_msg(lane_taglist_writer_tag(w, e, s->bits, s->tid_hex ? tid : NULL, s->account, s->vclass,
						      s->plate, s->status, s->reason, s->flags, s->station,
						      s->until) == 0,
			      "spec %zu", i);
	}
	ck_assert_int_eq(lane_taglist_writer_finish(w, path), 0);
	ck_assert_str_eq(lane_taglist_writer_error(w), "");
	lane_taglist_writer_free(w);
}

/* Every spec'd tag answers with exactly its fields; returns 0 or the first
 * spec that does not (so a damaged load can be compared too). */
static int
matches_specs(const struct lane_taglist *l)
{
	struct lane_tag_info i;
	uint8_t e[32], tid[12];

	if (lane_taglist_version(l) != 77 || lane_taglist_count(l) != NSPECS)
		return -1;
	for (size_t k = 0; k < NSPECS; k++) {
		const struct spec *s = &specs[k];
		memset(e, 0, sizeof(e));
		hex(s->epc_hex, e);
		if (s->tid_hex)
			hex(s->tid_hex, tid);
		if (lane_taglist_lookup(l, e, s->bits, s->tid_hex ? tid : NULL, &i) != 0 || i.account_id != s->account ||
		    i.vclass != s->vclass || strcmp(i.plate, s->plate) != 0 || i.status != s->status ||
		    i.reason != s->reason || i.flags != s->flags || i.pass_station != s->station ||
		    i.pass_until_day != s->until || i.balance_vnd != s->balance || i.tid_mismatch != 0 ||
		    i.tid_listed != (s->tid_hex != NULL))
			return (int)k + 1;
	}
	return 0;
}

static struct lane_taglist *
load_ok(const char *path)
{
	struct lane_taglist *l = NULL;
	char err[256] = "";
	ck_assert_msg(lane_taglist_load(path, &l, err, sizeof(err)) == 0, "%s", err);
	return l;
}

/* ---- tests ------------------------------------------------------------------ */

START_TEST(test_round_trip)
{
	const char *path;
	struct lane_taglist *l;

	make_tmpdir();
	path = tmpfile_named("list.tsl");
	write_list(path);
	l = load_ok(path);
	ck_assert_int_eq(matches_specs(l), 0);
	ck_assert_uint_gt(lane_taglist_memory_bytes(l), NSPECS * 32);
	lane_taglist_free(l);

	/* from memory the same */
	size_t len;
	uint8_t *b = slurp(path, &len);
	char err[256];
	ck_assert_int_eq(lane_taglist_load_mem(b, len, &l, err, sizeof(err)), 0);
	ck_assert_int_eq(matches_specs(l), 0);
	lane_taglist_free(l);
	free(b);
	lane_taglist_free(NULL);
	rm_tmpdir();
}
END_TEST

START_TEST(test_epc_lengths)
{
	struct lane_taglist *l;
	struct lane_tag_info i;
	uint8_t e[32];

	make_tmpdir();
	write_list(tmpfile_named("list.tsl"));
	l = load_ok(tmpfile_named("list.tsl"));

	/* 256 bits: found; one bit less, one bit changed: not */
	memset(e, 0xAB, 32);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 256, NULL, &i), 0);
	ck_assert_str_eq(i.plate, "LONG");
	ck_assert_int_eq(lane_taglist_lookup(l, e, 255, NULL, &i), TOLL_ENOTFOUND);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 248, NULL, &i), TOLL_ENOTFOUND);
	e[31] ^= 1;
	ck_assert_int_eq(lane_taglist_lookup(l, e, 256, NULL, &i), TOLL_ENOTFOUND);

	/* 4 bits 1111: the bits past the length are ignored in the read */
	e[0] = 0xF0;
	ck_assert_int_eq(lane_taglist_lookup(l, e, 4, NULL, &i), 0);
	ck_assert_str_eq(i.plate, "ODD");
	e[0] = 0xFF;
	ck_assert_int_eq(lane_taglist_lookup(l, e, 4, NULL, &i), 0);
	e[0] = 0xE0;
	ck_assert_int_eq(lane_taglist_lookup(l, e, 4, NULL, &i), TOLL_ENOTFOUND);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 8, NULL, &i), TOLL_ENOTFOUND);

	/* 13 bits: fff8 and fff0 are different EPCs */
	e[0] = 0xFF;
	e[1] = 0xF8;
	ck_assert_int_eq(lane_taglist_lookup(l, e, 13, NULL, &i), 0);
	ck_assert_str_eq(i.plate, "13");
	e[1] = 0xF0;
	ck_assert_int_eq(lane_taglist_lookup(l, e, 13, NULL, &i), 0);
	ck_assert_str_eq(i.plate, "13B");
	e[1] = 0xF7; /* 1111 0 and garbage past bit 13 */
	ck_assert_int_eq(lane_taglist_lookup(l, e, 13, NULL, &i), 0);
	ck_assert_str_eq(i.plate, "13B");

	/* a 96-bit EPC and the 128-bit one that starts with it; 95 and 97 bits */
	memset(e, 0, sizeof(e));
	hex("30340000000000000000000900000000", e);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 96, NULL, &i), 0);
	ck_assert_str_eq(i.plate, "Z9Z9Z9Z9Z9Z9");
	ck_assert_int_eq(lane_taglist_lookup(l, e, 128, NULL, &i), 0);
	ck_assert_str_eq(i.plate, "--..  --..");
	ck_assert_int_eq(lane_taglist_lookup(l, e, 112, NULL, &i), TOLL_ENOTFOUND);
	hex("3034000000000000000000ff80", e);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 95, NULL, &i), 0);
	ck_assert_str_eq(i.plate, "95");
	ck_assert_int_eq(lane_taglist_lookup(l, e, 97, NULL, &i), 0);
	ck_assert_str_eq(i.plate, "97");
	ck_assert_int_eq(lane_taglist_lookup(l, e, 96, NULL, &i), TOLL_ENOTFOUND);

	/* out of range lengths and unknown tags: not found, nothing left in out */
	memset(&i, 0x5A, sizeof(i));
	ck_assert_int_eq(lane_taglist_lookup(l, e, 0, NULL, &i), TOLL_ENOTFOUND);
	ck_assert_uint_eq(i.account_id, 0);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 257, NULL, &i), TOLL_ENOTFOUND);
	memset(e, 0, sizeof(e));
	hex("303400000000000000000063", e);
	memset(&i, 0x5A, sizeof(i));
	ck_assert_int_eq(lane_taglist_lookup(l, e, 96, NULL, &i), TOLL_ENOTFOUND);
	ck_assert_uint_eq(i.account_id, 0);
	ck_assert_str_eq(i.plate, "");
	ck_assert_int_eq(lane_taglist_lookup(l, NULL, 96, NULL, &i), TOLL_EINVAL);
	lane_taglist_free(l);
	rm_tmpdir();
}
END_TEST

START_TEST(test_tid)
{
	struct lane_taglist *l;
	struct lane_tag_info i;
	uint8_t e[12], tid[12];

	make_tmpdir();
	write_list(tmpfile_named("list.tsl"));
	l = load_ok(tmpfile_named("list.tsl"));
	hex("303400000000000000000001", e);
	hex("e2801160200074cf085609bc", tid);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 96, tid, &i), 0);
	ck_assert_int_eq(i.tid_mismatch, 0);
	ck_assert_int_eq(i.tid_listed, 1);
	/* the same EPC with another TID: a clone, still reported with its fields */
	for (int k = 0; k < 12; k++) {
		tid[k] ^= 0x01;
		ck_assert_int_eq(lane_taglist_lookup(l, e, 96, tid, &i), 0);
		ck_assert_msg(i.tid_mismatch == 1, "TID byte %d changed, not noticed", k);
		ck_assert_uint_eq(i.account_id, 5);
		tid[k] ^= 0x01;
	}
	/* no TID read: nothing to compare, but the caller sees one is listed */
	ck_assert_int_eq(lane_taglist_lookup(l, e, 96, NULL, &i), 0);
	ck_assert_int_eq(i.tid_mismatch, 0);
	ck_assert_int_eq(i.tid_listed, 1);
	/* no TID listed: any TID matches */
	hex("303400000000000000000002", e);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 96, tid, &i), 0);
	ck_assert_int_eq(i.tid_mismatch, 0);
	ck_assert_int_eq(i.tid_listed, 0);
	/* an all-zero TID is a TID like any other */
	hex("303400000000000000000008", e);
	memset(tid, 0, sizeof(tid));
	ck_assert_int_eq(lane_taglist_lookup(l, e, 96, tid, &i), 0);
	ck_assert_int_eq(i.tid_mismatch, 0);
	tid[11] = 1;
	ck_assert_int_eq(lane_taglist_lookup(l, e, 96, tid, &i), 0);
	ck_assert_int_eq(i.tid_mismatch, 1);
	/* a long EPC's TID */
	uint8_t e16[16];
	hex("30340000000000000000000900000000", e16);
	hex("e2801160200074cf085609bd", tid);
	ck_assert_int_eq(lane_taglist_lookup(l, e16, 128, tid, &i), 0);
	ck_assert_int_eq(i.tid_mismatch, 0);
	tid[0] = 0;
	ck_assert_int_eq(lane_taglist_lookup(l, e16, 128, tid, &i), 0);
	ck_assert_int_eq(i.tid_mismatch, 1);
	lane_taglist_free(l);
	rm_tmpdir();
}
END_TEST

struct debit_arg {
	struct lane_taglist *l;
	int n;
};

static void *
debit_thread(void *p)
{
	struct debit_arg *a = p;
	for (int k = 0; k < a->n; k++)
		if (lane_taglist_debit(a->l, 3, 1) != 0)
			return p;
	return NULL;
}

START_TEST(test_debit)
{
	struct lane_taglist *l;
	struct lane_tag_info i;
	uint8_t e[12];

	make_tmpdir();
	write_list(tmpfile_named("list.tsl"));
	l = load_ok(tmpfile_named("list.tsl"));
	ck_assert_int_eq(lane_taglist_debit(l, 5, 35000), 0);
	ck_assert_int_eq(lane_taglist_debit(l, 5, 35000), 0);
	ck_assert_int_eq(lane_taglist_debit(l, 5, 0), 0);
	/* every tag of account 5 sees it; the others do not */
	for (size_t k = 0; k < NSPECS; k++) {
		uint8_t b[32] = {0};
		hex(specs[k].epc_hex, b);
		ck_assert_int_eq(lane_taglist_lookup(l, b, specs[k].bits, NULL, &i), 0);
		ck_assert_int_eq(i.balance_vnd, specs[k].balance - (specs[k].account == 5 ? 70000 : 0));
	}
	/* below zero is still a number; the lane compares it with the fee */
	ck_assert_int_eq(lane_taglist_debit(l, 5, 100000), 0);
	hex("303400000000000000000002", e);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 96, NULL, &i), 0);
	ck_assert_int_eq(i.balance_vnd, -70000);
	/* debits saturate: the account stays at or below zero */
	ck_assert_int_eq(lane_taglist_debit(l, 9, INT64_MAX), 0);
	ck_assert_int_eq(lane_taglist_debit(l, 9, 5), 0);
	hex("303400000000000000000004", e);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 96, NULL, &i), 0);
	ck_assert_int_eq(i.balance_vnd, 0);
	ck_assert_int_eq(lane_taglist_debit(l, 4294967295u, 777), 0);
	hex("303400000000000000000008", e);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 96, NULL, &i), 0);
	ck_assert_int_eq(i.balance_vnd, 0);
	/* unknown accounts, around and between the known ids */
	ck_assert_int_eq(lane_taglist_debit(l, 404, 1), TOLL_ENOTFOUND);
	ck_assert_int_eq(lane_taglist_debit(l, 0, 1), TOLL_ENOTFOUND);
	ck_assert_int_eq(lane_taglist_debit(l, 2, 1), TOLL_ENOTFOUND);
	ck_assert_int_eq(lane_taglist_debit(l, 4, 1), TOLL_ENOTFOUND);
	ck_assert_int_eq(lane_taglist_debit(l, 1ull << 32, 1), TOLL_ENOTFOUND);
	ck_assert_int_eq(lane_taglist_debit(l, 5, -1), TOLL_EINVAL);
	/* two threads, one account: no debit lost */
	pthread_t th[2];
	struct debit_arg a = {l, 20000};
	for (int k = 0; k < 2; k++)
		ck_assert_int_eq(pthread_create(&th[k], NULL, debit_thread, &a), 0);
	for (int k = 0; k < 2; k++) {
		void *r;
		pthread_join(th[k], &r);
		ck_assert_ptr_null(r);
	}
	hex("303400000000000000000003", e);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 96, NULL, &i), 0);
	ck_assert_int_eq(i.balance_vnd, -2000 - 40000);
	ck_assert_int_eq(lane_taglist_debit(l, 12, 1), 0); /* an account without tags */
	lane_taglist_free(l);
	rm_tmpdir();
}
END_TEST

START_TEST(test_writer_refuses)
{
	struct lane_taglist_writer *w;
	uint8_t e[32] = {0x30, 0x34};
	const char *path;

	make_tmpdir();
	path = tmpfile_named("list.tsl");
	ck_assert_int_eq(lane_taglist_writer_new(1, &w), 0);
	ck_assert_int_eq(lane_taglist_writer_account(w, 0, 0), TOLL_ERANGE);
	ck_assert_int_eq(lane_taglist_writer_account(w, 1ull << 32, 0), TOLL_ERANGE);
	ck_assert_int_eq(lane_taglist_writer_account(w, 1, 0), 0);
	ck_assert_int_eq(lane_taglist_writer_tag(w, e, 96, NULL, 1, 0, "", 0, 0, 0, 0, 0), TOLL_EINVAL);
	ck_assert_int_eq(lane_taglist_writer_tag(w, e, 96, NULL, 1, 6, "", 0, 0, 0, 0, 0), TOLL_EINVAL);
	ck_assert_int_eq(lane_taglist_writer_tag(w, e, 96, NULL, 1, 1, "ABCDEFGHIJKLM", 0, 0, 0, 0, 0), TOLL_EINVAL);
	ck_assert_int_eq(lane_taglist_writer_tag(w, e, 96, NULL, 1, 1, "tab\there", 0, 0, 0, 0, 0), TOLL_EINVAL);
	ck_assert_int_eq(lane_taglist_writer_tag(w, e, 96, NULL, 1, 1, "\xc3\xa9", 0, 0, 0, 0, 0), TOLL_EINVAL);
	ck_assert_int_eq(lane_taglist_writer_tag(w, e, 96, NULL, 1, 1, "", 3, 0, 0, 0, 0), TOLL_EINVAL);
	ck_assert_int_eq(lane_taglist_writer_tag(w, e, 96, NULL, 1, 1, "", 0, 256, 0, 0, 0), TOLL_EINVAL);
	ck_assert_int_eq(lane_taglist_writer_tag(w, e, 96, NULL, 1, 1, "", 0, 0, 4, 0, 0), TOLL_EINVAL);
	ck_assert_int_eq(lane_taglist_writer_tag(w, e, 96, NULL, 1, 1, "", 0, 0, 0, 101, 0), TOLL_EINVAL);
	ck_assert_int_eq(lane_taglist_writer_tag(w, e, 96, NULL, 1, 1, "", 0, 0, 0, 0, 20000), TOLL_EINVAL);
	ck_assert_int_eq(lane_taglist_writer_tag(w, e, 0, NULL, 1, 1, "", 0, 0, 0, 0, 0), TOLL_EINVAL);
	ck_assert_int_eq(lane_taglist_writer_tag(w, e, 257, NULL, 1, 1, "", 0, 0, 0, 0, 0), TOLL_EINVAL);
	ck_assert_int_eq(lane_taglist_writer_tag(w, NULL, 96, NULL, 1, 1, "", 0, 0, 0, 0, 0), TOLL_EINVAL);
	ck_assert_int_eq(lane_taglist_writer_tag(w, e, 96, NULL, 0, 1, "", 0, 0, 0, 0, 0), TOLL_ERANGE);
	ck_assert_int_eq(lane_taglist_writer_tag(w, e, 96, NULL, 1ull << 32, 1, "", 0, 0, 0, 0, 0), TOLL_ERANGE);
	/* tags 0 and 2 share an EPC (the 128-bit tag 1 only starts with it) */
	ck_assert_int_eq(lane_taglist_writer_tag(w, e, 96, NULL, 1, 1, "A", 0, 0, 0, 0, 0), 0);
	ck_assert_int_eq(lane_taglist_writer_tag(w, e, 128, NULL, 1, 1, "B", 0, 0, 0, 0, 0), 0);
	ck_assert_int_eq(lane_taglist_writer_tag(w, e, 96, NULL, 1, 2, "C", 0, 0, 0, 0, 0), 0);
	e[31] = 1;
	ck_assert_int_eq(lane_taglist_writer_tag(w, e, 256, NULL, 1, 1, "D", 0, 0, 0, 0, 0), 0);
	ck_assert_int_eq(lane_taglist_writer_tag(w, e, 256, NULL, 1, 1, "E", 0, 0, 0, 0, 0), 0);
	ck_assert_int_eq(lane_taglist_writer_finish(w, path), TOLL_EEXIST);
	ck_assert_str_eq(lane_taglist_writer_error(w), "tag 2 has the EPC of tag 0");
	ck_assert_int_ne(access(path, F_OK), 0);
	lane_taglist_writer_free(w);

	/* the same long EPC twice; bits past the length do not make it another */
	ck_assert_int_eq(lane_taglist_writer_new(1, &w), 0);
	ck_assert_int_eq(lane_taglist_writer_account(w, 1, 0), 0);
	uint8_t odd[2] = {0xFF, 0xF8};
	ck_assert_int_eq(lane_taglist_writer_tag(w, odd, 13, NULL, 1, 1, "", 0, 0, 0, 0, 0), 0);
	odd[1] = 0xFF;
	ck_assert_int_eq(lane_taglist_writer_tag(w, odd, 13, NULL, 1, 1, "", 0, 0, 0, 0, 0), 0);
	ck_assert_int_eq(lane_taglist_writer_finish(w, path), TOLL_EEXIST);
	ck_assert_str_eq(lane_taglist_writer_error(w), "tag 1 has the EPC of tag 0");
	lane_taglist_writer_free(w);

	/* an account twice; a tag of an account never added */
	ck_assert_int_eq(lane_taglist_writer_new(1, &w), 0);
	ck_assert_int_eq(lane_taglist_writer_account(w, 7, 0), 0);
	ck_assert_int_eq(lane_taglist_writer_account(w, 8, 0), 0);
	ck_assert_int_eq(lane_taglist_writer_account(w, 7, 5), 0);
	ck_assert_int_eq(lane_taglist_writer_finish(w, path), TOLL_EEXIST);
	ck_assert_str_eq(lane_taglist_writer_error(w), "account 7 added twice");
	lane_taglist_writer_free(w);
	ck_assert_int_eq(lane_taglist_writer_new(1, &w), 0);
	ck_assert_int_eq(lane_taglist_writer_account(w, 7, 0), 0);
	ck_assert_int_eq(lane_taglist_writer_tag(w, e, 96, NULL, 7, 1, "", 0, 0, 0, 0, 0), 0);
	ck_assert_int_eq(lane_taglist_writer_tag(w, e, 100, NULL, 9, 1, "", 0, 0, 0, 0, 0), 0);
	ck_assert_int_eq(lane_taglist_writer_finish(w, path), TOLL_ENOTFOUND);
	ck_assert_str_eq(lane_taglist_writer_error(w), "tag 1 names account 9, never added");
	/* fixed, the same writer finishes; a second finish writes the same bytes */
	ck_assert_int_eq(lane_taglist_writer_account(w, 9, 0), 0);
	ck_assert_int_eq(lane_taglist_writer_finish(w, path), 0);
	size_t n1, n2;
	uint8_t *b1 = slurp(path, &n1);
	ck_assert_int_eq(lane_taglist_writer_finish(w, path), 0);
	uint8_t *b2 = slurp(path, &n2);
	ck_assert_uint_eq(n1, n2);
	ck_assert_int_eq(memcmp(b1, b2, n1), 0);
	free(b1);
	free(b2);
	/* an unwritable place: an error, no temp file left */
	ck_assert_int_eq(lane_taglist_writer_finish(w, tmpfile_named("no/such/dir/list.tsl")), TOLL_ESYS);
	ck_assert_ptr_nonnull(strstr(lane_taglist_writer_error(w), "could not create"));
	lane_taglist_writer_free(w);
	lane_taglist_writer_free(NULL);

	/* an empty list is a list */
	struct lane_taglist *l;
	struct lane_tag_info i;
	ck_assert_int_eq(lane_taglist_writer_new(3, &w), 0);
	ck_assert_int_eq(lane_taglist_writer_finish(w, path), 0);
	lane_taglist_writer_free(w);
	l = load_ok(path);
	ck_assert_uint_eq(lane_taglist_count(l), 0);
	ck_assert_uint_eq(lane_taglist_version(l), 3);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 96, NULL, &i), TOLL_ENOTFOUND);
	ck_assert_int_eq(lane_taglist_debit(l, 1, 1), TOLL_ENOTFOUND);
	lane_taglist_free(l);
	rm_tmpdir();
}
END_TEST

/* The documented hash and bucket (docs/taglist-format.md), from scratch. */
static uint64_t
doc_fmix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xFF51AFD7ED558CCDull;
	x ^= x >> 33;
	x *= 0xC4CEB9FE1A85EC53ull;
	return x ^ (x >> 33);
}

static uint32_t
doc_bucket96(const uint8_t e[12], uint64_t ntags)
{
	uint64_t h = 0x9E3779B97F4A7C15ull ^ 96;
	h = doc_fmix(h ^ get_be(e, 8));
	h = doc_fmix(h ^ (get_be(e + 8, 4) << 32));
	return (uint32_t)(((h >> 32) * (ntags / 2 + 1)) >> 32);
}

/* The next 96-bit EPC (counting k up) in bucket 0 of ntags' buckets, or not. */
static void
next_epc(uint8_t e[12], uint32_t *k, int in_bucket0, uint64_t ntags)
{
	for (;; (*k)++) {
		put_be(e + 8, *k, 4);
		if ((doc_bucket96(e, ntags) == 0) == in_bucket0) {
			(*k)++;
			return;
		}
	}
}

START_TEST(test_bucket_bound)
{
	struct lane_taglist_writer *w;
	struct lane_taglist *l;
	struct lane_tag_info i;
	uint8_t e[12] = {0x30, 0x34};
	const char *path;
	uint32_t k;

	/* 66 tags make 34 buckets; 65 EPCs in bucket 0 are over the bound */
	make_tmpdir();
	path = tmpfile_named("list.tsl");
	for (int in0 = 65; in0 >= 64; in0--) {
		ck_assert_int_eq(lane_taglist_writer_new(1, &w), 0);
		ck_assert_int_eq(lane_taglist_writer_account(w, 1, 0), 0);
		k = 0;
		for (int n = 0; n < 66; n++) {
			next_epc(e, &k, n < in0, 66);
			ck_assert_int_eq(lane_taglist_writer_tag(w, e, 96, NULL, 1, 1, "", 0, 0, 0, 0, 0), 0);
		}
		if (in0 == 65) {
			ck_assert_int_eq(lane_taglist_writer_finish(w, path), TOLL_ERANGE);
			ck_assert_ptr_nonnull(strstr(lane_taglist_writer_error(w), "share a hash bucket"));
		} else {
			ck_assert_int_eq(lane_taglist_writer_finish(w, path), 0);
		}
		lane_taglist_writer_free(w);
	}
	/* 64 are fine, all found */
	l = load_ok(path);
	k = 0;
	for (int n = 0; n < 66; n++) {
		next_epc(e, &k, n < 64, 66);
		ck_assert_int_eq(lane_taglist_lookup(l, e, 96, NULL, &i), 0);
	}
	lane_taglist_free(l);
	/* the file is in the order of the documented hash: bucket 0 first */
	size_t len;
	uint8_t *b = slurp(path, &len);
	struct layout lo;
	ck_assert_int_eq(layout_of(b, len, &lo), 0);
	for (int n = 0; n < 64; n++)
		ck_assert_uint_eq(doc_bucket96(b + lo.tags + 52 * n, 66), 0);
	ck_assert_uint_ne(doc_bucket96(b + lo.tags + 52 * 64, 66), 0);
	free(b);
	rm_tmpdir();
}
END_TEST

START_TEST(test_many_seeded)
{
	uint64_t seed = (uint64_t)time(NULL);
	struct toll_rng rng;
	struct lane_taglist_writer *w;
	struct lane_taglist *l;
	struct lane_tag_info info;
	enum { NT = 30000, NA = 25000 };
	uint32_t *ids = malloc(NA * sizeof(*ids));
	uint8_t(*epcs)[16] = malloc(NT * sizeof(*epcs));
	unsigned *bits = malloc(NT * sizeof(*bits));
	uint32_t *acct = malloc(NT * sizeof(*acct));
	const char *path;

	if (getenv("TAGLIST_SEED"))
		seed = strtoull(getenv("TAGLIST_SEED"), NULL, 10);
	fprintf(stderr, "test_many_seeded: TAGLIST_SEED=%" PRIu64 "\n", seed);
	toll_rng_seed(&rng, seed);
	make_tmpdir();
	path = tmpfile_named("many.tsl");
	ck_assert_int_eq(lane_taglist_writer_new(seed, &w), 0);
	/* sparse ids: a dense cluster, then one id in each 300,000-wide slot
	 * (the account directory's uneven case); all unique by construction */
	for (int a = 0; a < NA; a++) {
		uint32_t id = a < NA / 2 ? (uint32_t)(1000 + 3 * a)
					 : (uint32_t)(100000 + (uint64_t)(a - NA / 2) * 300000 + toll_rng_below(&rng, 300000));
		ids[a] = id;
		ck_assert_int_eq(lane_taglist_writer_account(w, id, (int64_t)id % 1000000), 0);
	}
	for (int t = 0; t < NT; t++) {
		memset(epcs[t], 0, 16);
		uint64_t r = toll_rng_next(&rng), s = toll_rng_next(&rng);
		put_be(epcs[t], r, 8);
		put_be(epcs[t] + 8, s, 8);
		epcs[t][0] = 0x30;
		put_be(epcs[t] + 1, (uint64_t)t, 4); /* unique */
		bits[t] = t % 10 == 0 ? 128 : t % 97 == 0 ? 64 : 96;
		if (bits[t] == 96)
			memset(epcs[t] + 12, 0, 4);
		if (bits[t] == 64)
			memset(epcs[t] + 8, 0, 8);
		acct[t] = (uint32_t)toll_rng_below(&rng, NA);
		ck_assert_int_eq(lane_taglist_writer_tag(w, epcs[t], bits[t], NULL, ids[acct[t]], 1 + (unsigned)(t % 5),
							 "51A00000", LANE_TAG_VALID, 0, t % 7 == 0 ? LANE_TAG_F_PASS : 0,
							 t % 7 == 0 ? (uint32_t)t : 0, t % 7 == 0 ? 20000 : 0),
				 0);
	}
	ck_assert_int_eq(lane_taglist_writer_finish(w, path), 0);
	lane_taglist_writer_free(w);
	l = load_ok(path);
	ck_assert_uint_eq(lane_taglist_count(l), NT);
	for (int a = 0; a < NA; a++)
		ck_assert_msg(lane_taglist_debit(l, ids[a], 1) == 0, "seed %" PRIu64 ": account %" PRIu32, seed, ids[a]);
	for (int t = 0; t < NT; t++) {
		ck_assert_msg(lane_taglist_lookup(l, epcs[t], bits[t], NULL, &info) == 0, "seed %" PRIu64 ": tag %d", seed,
			      t);
		ck_assert_uint_eq(info.account_id, ids[acct[t]]);
		ck_assert_int_eq(info.balance_vnd, (int64_t)ids[acct[t]] % 1000000 - 1);
		ck_assert_uint_eq(info.vclass, 1 + (unsigned)(t % 5));
		ck_assert_uint_eq(info.pass_station, t % 7 == 0 ? (uint32_t)t : 0);
		/* the same bytes at another length, or one bit off: not found */
		ck_assert_int_eq(lane_taglist_lookup(l, epcs[t], bits[t] == 96 ? 128 : 96, NULL, &info), TOLL_ENOTFOUND);
		epcs[t][5] ^= 0x40;
		ck_assert_int_eq(lane_taglist_lookup(l, epcs[t], bits[t], NULL, &info), TOLL_ENOTFOUND);
		epcs[t][5] ^= 0x40;
	}
	/* ids between the known ones */
	for (int k = 0; k < NA / 2; k++)
		ck_assert_int_eq(lane_taglist_debit(l, 1001 + 3 * (uint64_t)k, 1), TOLL_ENOTFOUND);
	for (int a = NA / 2; a + 1 < NA; a++)
		if (ids[a] + 1 != ids[a + 1])
			ck_assert_int_eq(lane_taglist_debit(l, ids[a] + 1, 1), TOLL_ENOTFOUND);
	ck_assert_int_eq(lane_taglist_debit(l, 999, 1), TOLL_ENOTFOUND);
	ck_assert_int_eq(lane_taglist_debit(l, (uint64_t)ids[NA - 1] + 1, 1), TOLL_ENOTFOUND);
	lane_taglist_free(l);
	free(ids);
	free(epcs);
	free(bits);
	free(acct);
	rm_tmpdir();
}
END_TEST

START_TEST(test_damage_refused)
{
	struct lane_taglist *l;
	size_t len;
	char err[256];
	uint8_t *b;
	static const uint8_t flips[] = {0x01, 0x10, 0x80, 0xFF};

	make_tmpdir();
	write_list(tmpfile_named("list.tsl"));
	b = slurp(tmpfile_named("list.tsl"), &len);
	/* every byte, several patterns: refused, or (a flip in a byte that
	 * does not matter) the very same data; never anything else */
	for (size_t i = 0; i < len; i++)
		for (size_t f = 0; f < sizeof(flips); f++) {
			b[i] ^= flips[f];
			err[0] = 0;
			if (lane_taglist_load_mem(b, len, &l, err, sizeof(err)) == 0) {
				ck_assert_msg(matches_specs(l) == 0, "flip 0x%02x at %zu: different data", flips[f], i);
				lane_taglist_free(l);
			} else {
				ck_assert_ptr_null(l);
				ck_assert_msg(err[0] != 0, "flip at %zu: no message", i);
			}
			b[i] ^= flips[f];
		}
	/* truncated at every length, and one byte too many */
	for (size_t n = 0; n < len; n++) {
		uint8_t *c = malloc(n ? n : 1);
		memcpy(c, b, n);
		ck_assert_msg(lane_taglist_load_mem(c, n, &l, err, sizeof(err)) != 0, "length %zu accepted", n);
		ck_assert_ptr_null(l);
		free(c);
	}
	uint8_t *c = malloc(len + 1);
	memcpy(c, b, len);
	c[len] = 0;
	ck_assert_int_eq(lane_taglist_load_mem(c, len + 1, &l, err, sizeof(err)), TOLL_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err, "past the end"));
	free(c);
	/* truncated files too, through the file path */
	spit(tmpfile_named("cut.tsl"), b, len / 2);
	ck_assert_int_eq(lane_taglist_load(tmpfile_named("cut.tsl"), &l, err, sizeof(err)), TOLL_ESHORT);
	ck_assert_ptr_nonnull(strstr(err, "cut.tsl: truncated"));
	ck_assert_int_eq(lane_taglist_load_mem(b, len, &l, err, sizeof(err)), 0);
	lane_taglist_free(l);
	ck_assert_int_eq(lane_taglist_load(tmpfile_named("nothing.tsl"), &l, err, sizeof(err)), TOLL_ESYS);
	ck_assert_ptr_nonnull(strstr(err, "nothing.tsl: No such file"));
	ck_assert_int_eq(lane_taglist_load(tmpdir, &l, err, sizeof(err)), TOLL_ESYS);
	free(b);
	rm_tmpdir();
}
END_TEST

/* A deliberate change behind valid checksums, refused with its reason. */
struct edit {
	const char *what;
	int part; /* 0 header, 1 account record, 2 long EPC record, 3 tag record, 4 trailer, 5 section header */
	size_t index, off;
	int width;
	uint64_t value; /* written big-endian, width bytes */
	int code;
	const char *msg;
};

static const struct edit edits[] = {
	{"magic", 0, 0, 0, 1, 'X', TOLL_EFORMAT, "bad magic"},
	{"format 1", 0, 0, 8, 4, 1, TOLL_EVERSION, "format version 1; this program reads version 2"},
	{"format 3", 0, 0, 8, 4, 3, TOLL_EVERSION, "format version 3"},
	{"header length", 0, 0, 12, 4, 65, TOLL_EFORMAT, "header length"},
	{"reserved", 0, 0, 56, 4, 1, TOLL_EFORMAT, "reserved"},
	{"pass count", 0, 0, 48, 8, 3, TOLL_EFORMAT, "passes, the header says"},
	{"pass count huge", 0, 0, 48, 8, 1000, TOLL_EFORMAT, "counts out of bounds"},
	{"tag count", 0, 0, 32, 8, 15, TOLL_ESHORT, "truncated"},
	{"account id 0", 1, 0, 0, 8, 0, TOLL_EFORMAT, "account 0: id 0"},
	{"account id 2^32", 1, 5, 0, 8, 1ull << 32, TOLL_ERANGE, "above 2^32-1"},
	{"accounts out of order", 1, 1, 0, 8, 2, TOLL_EFORMAT, "account 1: id 2 not above"},
	{"long EPC 96 bits", 2, 0, 0, 2, 96, TOLL_EFORMAT, "96-bit EPCs go inline"},
	{"long EPC 0 bits", 2, 0, 0, 2, 0, TOLL_EFORMAT, "0 bits"},
	{"class 0", 3, 2, 28, 1, 0, TOLL_EFORMAT, "class 0"},
	{"class 6", 3, 2, 28, 1, 6, TOLL_EFORMAT, "class 6"},
	{"status 3", 3, 2, 29, 1, 3, TOLL_EFORMAT, "status 3"},
	{"unknown flag", 3, 2, 31, 1, 0x10, TOLL_EFORMAT, "unknown flags 0x10"},
	{"account index", 3, 2, 24, 4, 6, TOLL_EFORMAT, "account index 6 past the 6 accounts"},
	{"plate control char", 3, 2, 32, 1, 0x01, TOLL_EFORMAT, "plate"},
	{"plate 8-bit", 3, 2, 32, 1, 0xC3, TOLL_EFORMAT, "plate"},
	{"plate after its end", 3, 2, 43, 1, 'A', TOLL_EFORMAT, "plate"},
	{"pass station without pass", 3, 2, 44, 4, 7, TOLL_EFORMAT, "without the pass flag"},
	{"section type", 5, 2, 0, 4, 9, TOLL_EFORMAT, "tags section header says type 9"},
	{"end marker", 4, 0, 4, 1, 'X', TOLL_EFORMAT, "no end marker"},
};

/* tag edits go to a plain tag: 96-bit, no TID, no pass, plate under 12 */
static size_t
plain_tag(const uint8_t *b, const struct layout *lo)
{
	for (size_t t = 0; t < lo->nt; t++) {
		const uint8_t *r = b + lo->tags + 52 * t;
		if ((r[31] & (1 | 4 | 8)) == 0 && r[43] == 0 && r[32] != 0)
			return t;
	}
	ck_abort_msg("no plain tag");
	return 0;
}

static size_t
edit_offset(const struct layout *lo, const struct edit *e, size_t plain)
{
	switch (e->part) {
	case 1:
		return lo->acct + 16 * e->index + e->off;
	case 2:
		return lo->longs + 34 * e->index + e->off;
	case 3:
		return lo->tags + 52 * plain + e->off;
	case 4:
		return lo->trailer + e->off;
	case 5:
		return (e->index == 0 ? lo->acct : e->index == 1 ? lo->longs : lo->tags) - 16 + e->off;
	}
	return e->off;
}

START_TEST(test_checked_behind_crc)
{
	struct lane_taglist *l;
	struct layout lo;
	size_t len;
	char err[256];
	uint8_t *b, *c;

	make_tmpdir();
	write_list(tmpfile_named("list.tsl"));
	b = slurp(tmpfile_named("list.tsl"), &len);
	ck_assert_int_eq(layout_of(b, len, &lo), 0);
	ck_assert_uint_eq(lo.nt, NSPECS);
	c = malloc(len);
	size_t plain = plain_tag(b, &lo);
	for (size_t k = 0; k < sizeof(edits) / sizeof(edits[0]); k++) {
		const struct edit *e = &edits[k];
		memcpy(c, b, len);
		put_be(c + edit_offset(&lo, e, plain), e->value, e->width);
		if (e->part != 0 || e->off >= 12)
			fix_crcs(c, len);
		err[0] = 0;
		ck_assert_msg(lane_taglist_load_mem(c, len, &l, err, sizeof(err)) == e->code, "%s: code, got '%s'",
			      e->what, err);
		ck_assert_msg(strstr(err, e->msg) != NULL, "%s: '%s' lacks '%s'", e->what, err, e->msg);
		ck_assert_ptr_null(l);
	}

	/* a bit set past a short long EPC's length */
	memcpy(c, b, len);
	for (size_t k = 0; k < lo.nl; k++)
		if (get_be(b + lo.longs + 34 * k, 2) <= 128) {
			c[lo.longs + 34 * k + 2 + 31] = 1;
			break;
		}
	fix_crcs(c, len);
	ck_assert_int_eq(lane_taglist_load_mem(c, len, &l, err, sizeof(err)), TOLL_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err, "bits set past"));

	/* tags swapped: out of order; one tag copied over the next: twice */
	memcpy(c, b, len);
	memcpy(c + lo.tags + 52 * 3, b + lo.tags + 52 * 4, 52);
	memcpy(c + lo.tags + 52 * 4, b + lo.tags + 52 * 3, 52);
	fix_crcs(c, len);
	ck_assert_int_eq(lane_taglist_load_mem(c, len, &l, err, sizeof(err)), TOLL_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err, "tag 4: out of order"));
	memcpy(c, b, len);
	for (size_t t = 0; t + 1 < lo.nt; t++) /* two 96-bit neighbours */
		if (!(b[lo.tags + 52 * t + 31] & 8) && !(b[lo.tags + 52 * (t + 1) + 31] & 8)) {
			memcpy(c + lo.tags + 52 * (t + 1), b + lo.tags + 52 * t, 52);
			break;
		}
	fix_crcs(c, len);
	ck_assert_int_eq(lane_taglist_load_mem(c, len, &l, err, sizeof(err)), TOLL_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err, "EPC listed twice"));

	/* a 96-bit tag marked long: more long-EPC tags than long EPCs */
	memcpy(c, b, len);
	for (size_t t = 0; t < lo.nt; t++)
		if (!(b[lo.tags + 52 * t + 31] & 8)) {
			memset(c + lo.tags + 52 * t, 0, 12);
			c[lo.tags + 52 * t + 31] |= 8;
			break;
		}
	fix_crcs(c, len);
	ck_assert_int_eq(lane_taglist_load_mem(c, len, &l, err, sizeof(err)), TOLL_EFORMAT);

	/* TID bytes without the flag */
	memcpy(c, b, len);
	for (size_t t = 0; t < lo.nt; t++)
		if (!(b[lo.tags + 52 * t + 31] & 1)) {
			c[lo.tags + 52 * t + 20] = 1;
			break;
		}
	fix_crcs(c, len);
	ck_assert_int_eq(lane_taglist_load_mem(c, len, &l, err, sizeof(err)), TOLL_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err, "TID bytes without the TID flag"));

	/* each checksum on its own */
	size_t where[] = {60, lo.acct + 16 * lo.na, lo.longs + 34 * lo.nl, lo.tags + 52 * lo.nt, lo.trailer};
	const char *says[] = {"header damaged", "accounts section damaged", "long EPCs section damaged",
			      "tags section damaged", "whole-file checksum"};
	for (size_t k = 0; k < 5; k++) {
		memcpy(c, b, len);
		c[where[k]] ^= 0x20;
		ck_assert_int_eq(lane_taglist_load_mem(c, len, &l, err, sizeof(err)), TOLL_ECRC);
		ck_assert_msg(strstr(err, says[k]) != NULL, "'%s' lacks '%s'", err, says[k]);
	}
	/* damage inside a record reads as damage, not as what the bytes say */
	memcpy(c, b, len);
	c[lo.tags + 28] = 9; /* class 9 */
	ck_assert_int_eq(lane_taglist_load_mem(c, len, &l, err, sizeof(err)), TOLL_ECRC);
	ck_assert_ptr_nonnull(strstr(err, "tags section damaged"));
	free(c);
	free(b);
	rm_tmpdir();
}
END_TEST

/* fixture name, how to make it from sample.bin (or NULL: itself), code, message */
static void
corrupt_fixture(const char *name, uint8_t *c, size_t *len, const struct layout *lo)
{
	if (strcmp(name, "truncated.bin") == 0) {
		*len = lo->tags + 52 * 3 + 20;
	} else if (strcmp(name, "flipped-bit.bin") == 0) {
		c[lo->tags + 52 * 5 + 36] ^= 0x04;
	} else if (strcmp(name, "bad-magic.bin") == 0) {
		memcpy(c, "TOLLTAG\0", 8);
	} else if (strcmp(name, "version-3.bin") == 0) {
		put_be(c + 8, 3, 4);
		fix_crcs(c, *len);
	} else if (strcmp(name, "unsorted.bin") == 0) {
		/* the first two neighbouring 96-bit tags (long ones take their
		 * EPCs from the long EPC section in order) */
		uint8_t t[52], *p = c + lo->tags;
		while (p[31] & 8 || p[52 + 31] & 8)
			p += 52;
		memcpy(t, p, 52);
		memcpy(p, p + 52, 52);
		memcpy(p + 52, t, 52);
		fix_crcs(c, *len);
	} else if (strcmp(name, "account-id-64bit.bin") == 0) {
		put_be(c + lo->acct + 16 * (lo->na - 1), 1ull << 40, 8);
		fix_crcs(c, *len);
	}
}

static const struct {
	const char *name;
	int code;
	const char *msg;
} bad_fixtures[] = {
	{"truncated.bin", TOLL_ESHORT, "truncated"},
	{"flipped-bit.bin", TOLL_ECRC, "tags section damaged (checksum mismatch)"},
	{"bad-magic.bin", TOLL_EFORMAT, "not a tag status list (bad magic)"},
	{"version-3.bin", TOLL_EVERSION, "format version 3; this program reads version 2"},
	{"format-1.bin", TOLL_EVERSION, "format version 1; this program reads version 2"},
	{"unsorted.bin", TOLL_EFORMAT, "out of order"},
	{"account-id-64bit.bin", TOLL_ERANGE, "id 1099511627776 above 2^32-1"},
};

START_TEST(test_fixtures)
{
	int regen = getenv("TAGLIST_FIXTURES_WRITE") != NULL;
	struct lane_taglist *l;
	struct lane_tag_info i;
	char err[512];
	size_t len, glen;
	uint8_t *b, *g;
	const char *out;

	make_tmpdir();
	out = regen ? data_path("sample.bin") : tmpfile_named("sample.tsl");
	ck_assert_msg(lane_taglist_import_csv(data_path("sample.csv"), out, 20261122, err, sizeof(err)) == 0, "%s", err);
	b = slurp(out, &len);
	if (!regen) {
		/* the writer's output is a function of its input alone */
		g = slurp(data_path("sample.bin"), &glen);
		ck_assert_uint_eq(len, glen);
		ck_assert_msg(memcmp(b, g, len) == 0, "sample.csv no longer imports to sample.bin");
		free(g);
	}
	l = load_ok(data_path("sample.bin"));
	ck_assert_uint_eq(lane_taglist_version(l), 20261122);
	ck_assert_uint_eq(lane_taglist_count(l), 21);
	uint8_t e[32] = {0}, tid[12];
	hex("3034257bf7194e4000001a85", e);
	hex("e2801160200074cf085609bc", tid);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 96, tid, &i), 0);
	ck_assert_uint_eq(i.account_id, 1001);
	ck_assert_str_eq(i.plate, "51A12345");
	ck_assert_int_eq(i.balance_vnd, 500000);
	hex("3034257bf7194e4000001a8a", e);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 96, NULL, &i), 0);
	ck_assert_uint_eq(i.flags, LANE_TAG_F_PASS);
	ck_assert_uint_eq(i.pass_station, 101);
	ck_assert_uint_eq(i.pass_until_day, 20908); /* 2027-03-31 */
	hex("3034257bf7194e4000001a90", e);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 96, NULL, &i), 0);
	ck_assert_uint_eq(i.flags, LANE_TAG_F_PASS | LANE_TAG_F_EXEMPT);
	ck_assert_uint_eq(i.pass_until_day, 20818); /* 2026-12-31 */
	ck_assert_int_eq(i.balance_vnd, INT32_MAX);
	hex("3034257bf7194e4000001a8d", e);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 96, NULL, &i), 0);
	ck_assert_uint_eq(i.status, LANE_TAG_INVALID);
	ck_assert_uint_eq(i.reason, LANE_TAG_REASON_REPLACED);
	hex("3034257bf7194e4000001a93", e);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 96, NULL, &i), 0);
	ck_assert_str_eq(i.plate, "51A 123.45");
	hex("3034257bf7194e4000001a95", e);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 96, NULL, &i), 0);
	ck_assert_str_eq(i.plate, "tm-12/34");
	hex("3034257bf7194e4000001a8e", e);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 96, NULL, &i), 0);
	ck_assert_int_eq(i.balance_vnd, -35000);
	hex("3035", e);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 16, NULL, &i), 0);
	ck_assert_str_eq(i.plate, "SHORT16");
	hex("30340000000000000000000000000000000000000000000000000000000000ff", e);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 256, NULL, &i), 0);
	ck_assert_str_eq(i.plate, "LONG256");
	hex("e2003412012345678901234567890abc", e);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 128, NULL, &i), 0);
	ck_assert_uint_eq(i.account_id, 1005);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 96, NULL, &i), 0);
	ck_assert_uint_eq(i.account_id, 1006);
	lane_taglist_free(l);

	struct layout lo;
	ck_assert_int_eq(layout_of(b, len, &lo), 0);
	for (size_t k = 0; k < sizeof(bad_fixtures) / sizeof(bad_fixtures[0]); k++) {
		const char *name = bad_fixtures[k].name;
		if (regen && strcmp(name, "format-1.bin") != 0) {
			uint8_t *c = malloc(len);
			size_t n = len;
			memcpy(c, b, len);
			corrupt_fixture(name, c, &n, &lo);
			spit(data_path(name), c, n);
			free(c);
		}
		err[0] = 0;
		ck_assert_msg(lane_taglist_load(data_path(name), &l, err, sizeof(err)) == bad_fixtures[k].code,
			      "%s: %s", name, err);
		ck_assert_msg(strstr(err, bad_fixtures[k].msg) != NULL && strstr(err, name) != NULL, "%s: '%s'", name,
			      err);
		ck_assert_ptr_null(l);
	}
	free(b);
	rm_tmpdir();
}
END_TEST

static int
import_text(const char *text, char *err, size_t errlen)
{
	spit(tmpfile_named("in.csv"), text, strlen(text));
	return lane_taglist_import_csv(tmpfile_named("in.csv"), tmpfile_named("out.tsl"), 5, err, errlen);
}

#define H "toll-taglist-csv 1\n"
#define A "account,1,1000\n"
#define T(rest) "303400000000000000000001," rest "\n"

START_TEST(test_csv_errors)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{"nope\n", "in.csv:1: want the header 'toll-taglist-csv 1'"},
		{"toll-taglist-csv 2\n", ":1: want the header"},
		{"", "in.csv: empty"},
		{"# only a comment\n\n", "in.csv: empty"},
		{H "account,x,1\n", ":2: account id 'x'"},
		{H "account,0,1\n", ":2: account id '0'"},
		{H "account,4294967296,1\n", ":2: account id '4294967296'"},
		{H "account,1,12abc\n", ":2: balance '12abc'"},
		{H "account,1,99999999999999999999\n", ":2: balance"},
		{H "account,1\n", ":2: 2 fields; an account line is account,ID,BALANCE_VND"},
		{H A T(",1,9,P,valid,0,,,"), ":3: class '9'"},
		{H A T(",1,0,P,valid,0,,,"), ":3: class '0'"},
		{H A T(",1,1,P,sleepy,0,,,"), ":3: status 'sleepy'"},
		{H A T("e2,1,1,P,valid,0,,,"), ":3: TID 'e2'"},
		{H A T(",1,1,ABCDEFGHIJKLM,valid,0,,,"), ":3: plate 'ABCDEFGHIJKLM'"},
		{H A T(",1,1,51A\t1,valid,0,,,"), ":3: plate"},
		{H A T(",x,1,P,valid,0,,,"), ":3: account 'x'"},
		{H A T(",1,1,P,valid,256,,,"), ":3: reason '256'"},
		{H A T(",1,1,P,valid,0,gold,,"), ":3: flags 'gold'"},
		{H A T(",1,1,P,valid,0,pass,,2027-01-01"), ":3: pass station ''"},
		{H A T(",1,1,P,valid,0,pass,101,"), ":3: pass until ''"},
		{H A T(",1,1,P,valid,0,pass,101,2025-02-29"), ":3: pass until '2025-02-29'"},
		{H A T(",1,1,P,valid,0,pass,101,2025-13-01"), ":3: pass until"},
		{H A T(",1,1,P,valid,0,pass,101,20000"), ":3: pass until '20000': want a date YYYY-MM-DD"},
		{H A T(",1,1,P,valid,0,,101,"), ":3: pass station and date without the pass flag"},
		{H A T(",1,1,P,valid,0,,,2027-01-01"), ":3: pass station and date without"},
		{H A T(",1,1,P,valid,0,,,,"), ":3: 11 fields; a line has at most 10"},
		{H A T(",1,1,P,valid,0,,"), ":3: 9 fields; a tag line has 10"},
		{H A "30zz,,1,1,P,valid,0,,,\n", ":3: EPC '30zz'"},
		{H A ",,1,1,P,valid,0,,,\n", ":3: EPC ''"},
		{H A "30340000000000000000000000000000000000000000000000000000000000000,,1,1,P,valid,0,,,\n", ":3: EPC"},
		{H "account,1,1\n# a comment\naccount,1,2\n", ":4: account listed twice (first at line 2)"},
		{H A T(",1,1,P,valid,0,,,") "\n" "303400000000000000000001,,1,1,Q,low,0,,,\n", ":5: EPC listed twice (first at line 3)"},
		{H A T(",1,1,P,valid,0,,,") "303400000000000000000001,,1,1,Q,low,0,,,\n" "303400000000000000000001,,1,1,R,low,0,,,\n",
		 ":4: EPC listed twice (first at line 3)"},
		{H A "3034000000000000000000AB,,1,1,P,valid,0,,,\n3034000000000000000000ab,,1,1,P,valid,0,,,\n",
		 ":4: EPC listed twice (first at line 3)"},
		{H A T(",1,1,P,valid,0,,,") "303400000000000000000002,,2,1,P,valid,0,,,\n", ":4: unknown account"},
	};
	char err[512];

	make_tmpdir();
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		unlink(tmpfile_named("out.tsl"));
		err[0] = 0;
		ck_assert_msg(import_text(bad[k].text, err, sizeof(err)) != 0, "case %zu accepted", k);
		ck_assert_msg(strstr(err, bad[k].msg) != NULL, "case %zu: '%s' lacks '%s'", k, err, bad[k].msg);
		ck_assert_msg(access(tmpfile_named("out.tsl"), F_OK) != 0, "case %zu left a file", k);
	}
	/* a NUL byte, a line too long */
	spit(tmpfile_named("in.csv"), H "3034\0,,1\n", sizeof(H "3034\0,,1\n") - 1);
	ck_assert_int_ne(lane_taglist_import_csv(tmpfile_named("in.csv"), tmpfile_named("out.tsl"), 5, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, ":2: NUL byte"));
	char longline[2100];
	memset(longline, 'a', sizeof(longline));
	memcpy(longline, H, strlen(H));
	longline[sizeof(longline) - 1] = 0;
	ck_assert_int_ne(import_text(longline, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, ":2: line longer than"));
	/* a failed import leaves what was there */
	spit(tmpfile_named("out.tsl"), "keep", 4);
	ck_assert_int_ne(import_text(H A T(",2,1,P,valid,0,,,"), err, sizeof(err)), 0);
	size_t n;
	uint8_t *b = slurp(tmpfile_named("out.tsl"), &n);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(memcmp(b, "keep", 4), 0);
	free(b);
	ck_assert_int_eq(lane_taglist_import_csv(tmpfile_named("none.csv"), tmpfile_named("out.tsl"), 5, err, sizeof(err)),
			 TOLL_ESYS);
	ck_assert_ptr_nonnull(strstr(err, "could not open"));
	/* no temp file left behind by any of it */
	DIR *d = opendir(tmpdir);
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		ck_assert_msg(strstr(de->d_name, ".tmp.") == NULL, "left %s", de->d_name);
	closedir(d);
	rm_tmpdir();
}
END_TEST

START_TEST(test_csv_accepts)
{
	struct lane_taglist *l;
	struct lane_tag_info i;
	char err[512];
	uint8_t e[12];

	make_tmpdir();
	/* comments before the header, CRLF, accounts after their tags, every date form */
	const char *text = "# exported 2026-11-22\r\n"
			   "toll-taglist-csv 1\r\n"
			   "303400000000000000000001,,1,1,51A-123.45,valid,0,pass,7,1970-01-01\r\n"
			   "303400000000000000000002,E2801160200074CF085609BC,1,2,,low,0,pass,7,2000-02-29\r\n"
			   "303400000000000000000003,,1,3,X,invalid,4,exempt,,\r\n"
			   "303400000000000000000004,,1,3,X,valid,0,pass+exempt,4294967295,9999-12-31\r\n"
			   "303400000000000000000005,,1,3,X,valid,0,pass,0,2024-02-29\r\n"
			   "\r\n"
			   "account,1,-5\r\n";
	ck_assert_msg(import_text(text, err, sizeof(err)) == 0, "%s", err);
	l = load_ok(tmpfile_named("out.tsl"));
	ck_assert_uint_eq(lane_taglist_version(l), 5);
	static const uint32_t days[] = {0, 11016, 0, 2932896, 19782};
	for (int k = 0; k < 5; k++) {
		hex("303400000000000000000001", e);
		e[11] = (uint8_t)(k + 1);
		ck_assert_int_eq(lane_taglist_lookup(l, e, 96, NULL, &i), 0);
		ck_assert_uint_eq(i.pass_until_day, days[k]);
		ck_assert_int_eq(i.balance_vnd, -5);
	}
	e[11] = 2;
	uint8_t tid[12];
	hex("e2801160200074cf085609bc", tid);
	ck_assert_int_eq(lane_taglist_lookup(l, e, 96, tid, &i), 0);
	ck_assert_int_eq(i.tid_listed, 1);
	ck_assert_int_eq(i.tid_mismatch, 0);
	e[11] = 3;
	ck_assert_int_eq(lane_taglist_lookup(l, e, 96, NULL, &i), 0);
	ck_assert_uint_eq(i.reason, 4);
	ck_assert_uint_eq(i.flags, LANE_TAG_F_EXEMPT);
	lane_taglist_free(l);
	rm_tmpdir();
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("taglist");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_epc_lengths);
	tcase_add_test(tc, test_tid);
	tcase_add_test(tc, test_debit);
	tcase_add_test(tc, test_writer_refuses);
	tcase_add_test(tc, test_bucket_bound);
	tcase_add_test(tc, test_many_seeded);
	tcase_add_test(tc, test_damage_refused);
	tcase_add_test(tc, test_checked_behind_crc);
	tcase_add_test(tc, test_fixtures);
	tcase_add_test(tc, test_csv_errors);
	tcase_add_test(tc, test_csv_accepts);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(suite());
}

/* test_sim_relay.c: the relay's SP-over-TCP frame parser (a valid stream
 * fed whole, byte by byte and in seeded random pieces; every bad header
 * byte; a length above the bound, at it, and 2^64-1; truncation in the
 * header, the length and the body; garbage; nothing accepted after an
 * error), the percentage parser, and the seeded fault decisions (replay,
 * the same draws whatever the rates, the rates themselves). */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "rng.h"
#include "sim_relay.h"
#include "unit.h"

#define MAXB 4096

/* A stream: the header of protocol 0x0030 (req0), then messages of the
 * given lengths, byte j of message i being i * 7 + j. */
static size_t
stream(uint8_t *out, const size_t *lens, unsigned n)
{
	static const uint8_t hdr[8] = {0x00, 'S', 'P', 0x00, 0x00, 0x30, 0x00, 0x00};
	size_t len = 0;

	memcpy(out, hdr, 8);
	len = 8;
	for (unsigned i = 0; i < n; i++) {
		for (int k = 7; k >= 0; k--)
			out[len++] = (uint8_t)((uint64_t)lens[i] >> (8 * k));
		for (size_t j = 0; j < lens[i]; j++)
			out[len++] = (uint8_t)(i * 7 + j);
	}
	return len;
}

/* Feed the stream in pieces of the sizes piece() gives; check the header
 * and every message come out whole and in order. */
static void
feed_in_pieces(const uint8_t *s, size_t slen, const size_t *lens, unsigned n, uint64_t seed)
{
	struct sim_sp_parser p;
	struct toll_rng rng;
	unsigned got = 0, headers = 0;
	size_t off = 0;
	char err[200];

	toll_rng_seed(&rng, seed);
	sim_sp_parser_init(&p, MAXB);
	while (off < slen) {
		/* seed 0: byte by byte; others: 1..64 bytes at a time */
		size_t piece = seed == 0 ? 1 : (size_t)toll_rng_range(&rng, 1, 64);
		if (piece > slen - off)
			piece = slen - off;
		size_t at = 0;
		while (at < piece) {
			uint8_t hdr[8];
			struct sim_sp_frame f;
			size_t used;
			int ev = sim_sp_feed(&p, s + off + at, piece - at, &used, hdr, &f, err, sizeof(err));
			ck_assert_int_ge(ev, 0);
			ck_assert_uint_le(used, piece - at);
			at += used;
			if (ev == SIM_SP_HEADER) {
				ck_assert_uint_eq(headers, 0);
				ck_assert_uint_eq(got, 0);
				ck_assert_mem_eq(hdr, s, 8);
				ck_assert_uint_eq(p.protocol, 0x0030);
				headers++;
			} else if (ev == SIM_SP_MESSAGE) {
				ck_assert_uint_lt(got, n);
				ck_assert_uint_eq(f.len, 8 + lens[got]);
				for (int k = 0; k < 8; k++)
					ck_assert_uint_eq(f.bytes[k], (uint8_t)((uint64_t)lens[got] >> (8 * (7 - k))));
				for (size_t j = 0; j < lens[got]; j++)
					ck_assert_uint_eq(f.bytes[8 + j], (uint8_t)(got * 7 + j));
				free(f.bytes);
				got++;
			} else {
				ck_assert_uint_eq(at, piece); /* MORE: every byte taken */
			}
		}
		off += piece;
	}
	ck_assert_uint_eq(headers, 1);
	ck_assert_uint_eq(got, n);
	ck_assert_uint_eq(p.messages, n);
	ck_assert_int_eq(sim_sp_finish(&p), 0);
	sim_sp_parser_clear(&p);
}

START_TEST(test_valid_stream)
{
	static uint8_t s[16384];
	const size_t lens[] = {0, 5, 300, 1, 0, MAXB, 48};
	unsigned n = sizeof(lens) / sizeof(lens[0]);
	size_t slen = stream(s, lens, n);

	feed_in_pieces(s, slen, lens, n, 0);
	for (uint64_t seed = 1; seed <= 50; seed++)
		feed_in_pieces(s, slen, lens, n, seed);
	/* whole, at once: one event per call, used says where to go on */
	feed_in_pieces(s, slen, lens, n, 12345);
}
END_TEST

START_TEST(test_whole_buffer_events)
{
	uint8_t s[64];
	const size_t lens[] = {3, 0};
	size_t slen = stream(s, lens, 2), off = 0, used;
	struct sim_sp_parser p;
	struct sim_sp_frame f;
	uint8_t hdr[8];
	char err[200];

	sim_sp_parser_init(&p, MAXB);
	ck_assert_int_eq(sim_sp_feed(&p, s, slen, &used, hdr, &f, err, sizeof(err)), SIM_SP_HEADER);
	ck_assert_uint_eq(used, 8);
	off += used;
	ck_assert_int_eq(sim_sp_feed(&p, s + off, slen - off, &used, hdr, &f, err, sizeof(err)), SIM_SP_MESSAGE);
	ck_assert_uint_eq(used, 11);
	ck_assert_uint_eq(f.len, 11);
	free(f.bytes);
	off += used;
	ck_assert_int_eq(sim_sp_feed(&p, s + off, slen - off, &used, hdr, &f, err, sizeof(err)), SIM_SP_MESSAGE);
	ck_assert_uint_eq(used, 8);
	ck_assert_uint_eq(f.len, 8);
	free(f.bytes);
	off += used;
	ck_assert_uint_eq(off, slen);
	ck_assert_int_eq(sim_sp_feed(&p, s + off, 0, &used, hdr, &f, err, sizeof(err)), SIM_SP_MORE);
	ck_assert_uint_eq(used, 0);
	ck_assert_int_eq(sim_sp_finish(&p), 0);
}
END_TEST

/* Feed all of s, freeing the messages: 0, or the first error. */
static int
feed_all(struct sim_sp_parser *p, const uint8_t *s, size_t n, char *err, size_t errlen)
{
	size_t off = 0;
	for (;;) {
		uint8_t hdr[8];
		struct sim_sp_frame f;
		size_t used;
		int ev = sim_sp_feed(p, s + off, n - off, &used, hdr, &f, err, errlen);
		off += used;
		if (ev == SIM_SP_MESSAGE)
			free(f.bytes);
		if (ev < 0 || off == n)
			return ev < 0 ? ev : 0;
	}
}

START_TEST(test_bad_header)
{
	const uint8_t good[8] = {0x00, 'S', 'P', 0x00, 0x00, 0x31, 0x00, 0x00};
	struct sim_sp_parser p;
	char err[200];

	/* any protocol id passes */
	for (unsigned proto = 0; proto < 0x10000; proto += 0x1111) {
		uint8_t h[8];
		memcpy(h, good, 8);
		h[4] = (uint8_t)(proto >> 8);
		h[5] = (uint8_t)proto;
		sim_sp_parser_init(&p, MAXB);
		ck_assert_int_eq(feed_all(&p, h, 8, err, sizeof(err)), 0);
		ck_assert_uint_eq(p.protocol, proto);
	}
	/* every other byte, each value changed */
	const int bytes[] = {0, 1, 2, 3, 6, 7};
	for (unsigned b = 0; b < sizeof(bytes) / sizeof(bytes[0]); b++) {
		for (unsigned v = 0; v < 256; v += 17) {
			uint8_t h[8];
			memcpy(h, good, 8);
			if (h[bytes[b]] == v)
				continue;
			h[bytes[b]] = (uint8_t)v;
			sim_sp_parser_init(&p, MAXB);
			err[0] = 0;
			ck_assert_int_eq(feed_all(&p, h, 8, err, sizeof(err)), TOLL_EFORMAT);
			ck_assert_ptr_nonnull(strstr(err, bytes[b] < 4 ? "not an SP header" : "reserved"));
			/* nothing more is taken */
			ck_assert_int_eq(feed_all(&p, good, 8, err, sizeof(err)), TOLL_EFORMAT);
			ck_assert_int_eq(sim_sp_finish(&p), TOLL_EFORMAT);
		}
	}
	/* garbage: an HTTP request, TLS, a Modbus frame */
	const char *garbage[] = {"GET / HTTP/1.1\r\n\r\n", "\x16\x03\x01\x02\x00\x01\x00\x01", "\x00\x01\x00\x00\x00\x06\x01\x03"};
	for (unsigned g = 0; g < 3; g++) {
		sim_sp_parser_init(&p, MAXB);
		ck_assert_int_eq(feed_all(&p, (const uint8_t *)garbage[g], 8, err, sizeof(err)), TOLL_EFORMAT);
	}
}
END_TEST

START_TEST(test_length_bound)
{
	struct sim_sp_parser p;
	uint8_t s[64];
	char err[200];
	size_t lens[1] = {16};
	size_t n = stream(s, lens, 1);

	/* at the bound: fine */
	sim_sp_parser_init(&p, 16);
	ck_assert_int_eq(feed_all(&p, s, n, err, sizeof(err)), 0);
	ck_assert_uint_eq(p.messages, 1);
	ck_assert_int_eq(sim_sp_finish(&p), 0);
	/* one above: refused before anything is allocated or read */
	sim_sp_parser_init(&p, 15);
	ck_assert_int_eq(feed_all(&p, s, 16, err, sizeof(err)), TOLL_ERANGE);
	ck_assert_ptr_nonnull(strstr(err, "16 bytes"));
	ck_assert_int_eq(feed_all(&p, s, 8, err, sizeof(err)), TOLL_EFORMAT);
	/* 2^64 - 1 */
	memset(s + 8, 0xff, 8);
	sim_sp_parser_init(&p, SIM_SP_MSG_MAX_DEFAULT);
	ck_assert_int_eq(feed_all(&p, s, 16, err, sizeof(err)), TOLL_ERANGE);
	/* the default bound: 64 MiB + 1 */
	uint64_t big = SIM_SP_MSG_MAX_DEFAULT + 1;
	for (int k = 0; k < 8; k++)
		s[8 + k] = (uint8_t)(big >> (8 * (7 - k)));
	sim_sp_parser_init(&p, SIM_SP_MSG_MAX_DEFAULT);
	ck_assert_int_eq(feed_all(&p, s, 16, err, sizeof(err)), TOLL_ERANGE);
}
END_TEST

START_TEST(test_truncated)
{
	uint8_t s[128];
	size_t lens[2] = {10, 20};
	size_t n = stream(s, lens, 2);
	char err[200];

	/* every cut: between messages is a clean end, anywhere else is not */
	for (size_t cut = 0; cut <= n; cut++) {
		struct sim_sp_parser p;
		sim_sp_parser_init(&p, MAXB);
		ck_assert_int_eq(feed_all(&p, s, cut, err, sizeof(err)), 0);
		int clean = cut == 0 || cut == 8 || cut == 8 + 8 + 10 || cut == n;
		ck_assert_int_eq(sim_sp_finish(&p), clean ? 0 : TOLL_ESHORT);
		sim_sp_parser_clear(&p); /* frees a part-read message */
	}
}
END_TEST

START_TEST(test_random_garbage)
{
	struct toll_rng rng;
	uint8_t buf[256];
	char err[200];

	/* random bytes never crash, never yield a message without a header */
	toll_rng_seed(&rng, 7);
	for (int round = 0; round < 2000; round++) {
		struct sim_sp_parser p;
		size_t n = (size_t)toll_rng_range(&rng, 0, sizeof(buf));
		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)toll_rng_next(&rng);
		if (round % 2 == 0 && n >= 8) /* half of them with a good header */
			memcpy(buf, "\x00SP\x00\x00\x30\x00\x00", 8);
		sim_sp_parser_init(&p, 64);
		int rc = feed_all(&p, buf, n, err, sizeof(err));
		ck_assert(rc == 0 || rc == TOLL_EFORMAT || rc == TOLL_ERANGE);
		(void)sim_sp_finish(&p);
		sim_sp_parser_clear(&p);
	}
}
END_TEST

START_TEST(test_parse_pct)
{
	const struct {
		const char *s;
		int ok;
		uint32_t ppm;
	} cases[] = {
		{"0", 1, 0}, {"10", 1, 100000}, {"2.5", 1, 25000}, {"0.0001", 1, 1}, {"100", 1, 1000000},
		{"100.0000", 1, 1000000}, {"33.3333", 1, 333333}, {"007", 1, 70000},
		{"", 0, 0}, {".", 0, 0}, {".5", 0, 0}, {"1.", 0, 0}, {"101", 0, 0}, {"100.0001", 0, 0},
		{"-1", 0, 0}, {"1e2", 0, 0}, {"1.23456", 0, 0}, {"abc", 0, 0}, {"1000", 0, 0}, {"5%", 0, 0},
		{" 5", 0, 0},
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t ppm = 12345;
		int rc = sim_relay_parse_pct(cases[i].s, &ppm);
		ck_assert_msg(cases[i].ok ? rc == 0 : rc == TOLL_EINVAL, "'%s'", cases[i].s);
		if (cases[i].ok)
			ck_assert_uint_eq(ppm, cases[i].ppm);
	}
}
END_TEST

START_TEST(test_decide)
{
	struct sim_relay_faults none = {0, 0, 0, 0}, all = {1000000, 1000000, 1000000, 50},
				some = {100000, 100000, 100000, 20};
	struct toll_rng a, b, c;
	unsigned drops = 0, dups = 0, holds = 0, n = 100000;
	int saw0 = 0, saw20 = 0;

	/* the same draws whatever the rates: the generators stay in step */
	toll_rng_seed(&a, 99);
	toll_rng_seed(&b, 99);
	toll_rng_seed(&c, 99);
	for (unsigned i = 0; i < n; i++) {
		struct sim_relay_decision da, db, dc;
		sim_relay_decide(&a, &none, &da);
		ck_assert(!da.drop && da.copies == 1 && !da.hold && da.delay_ms == 0);
		sim_relay_decide(&b, &all, &db);
		ck_assert(db.drop && db.copies == 1 && !db.hold); /* a dropped message is not also sent */
		ck_assert(db.delay_ms >= 0 && db.delay_ms <= 50);
		sim_relay_decide(&c, &some, &dc);
		drops += dc.drop;
		dups += dc.copies == 2;
		holds += dc.hold;
		ck_assert(dc.delay_ms >= 0 && dc.delay_ms <= 20);
		saw0 |= dc.delay_ms == 0;
		saw20 |= dc.delay_ms == 20;
	}
	uint64_t next = toll_rng_next(&a);
	ck_assert_uint_eq(toll_rng_next(&b), next);
	ck_assert_uint_eq(toll_rng_next(&c), next);
	/* 10 % each (dups and holds only of what was not dropped: 9 %) */
	ck_assert_uint_gt(drops, 9400);
	ck_assert_uint_lt(drops, 10600);
	ck_assert_uint_gt(dups, 8400);
	ck_assert_uint_lt(dups, 9600);
	ck_assert_uint_gt(holds, 8400);
	ck_assert_uint_lt(holds, 9600);
	ck_assert(saw0 && saw20);

	/* replay: one seed, one sequence */
	toll_rng_seed(&a, 4242);
	toll_rng_seed(&b, 4242);
	for (unsigned i = 0; i < 1000; i++) {
		struct sim_relay_decision x, y;
		sim_relay_decide(&a, &some, &x);
		sim_relay_decide(&b, &some, &y);
		ck_assert(x.drop == y.drop && x.copies == y.copies && x.hold == y.hold && x.delay_ms == y.delay_ms);
	}
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("sim_relay");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_valid_stream);
	tcase_add_test(tc, test_whole_buffer_events);
	tcase_add_test(tc, test_bad_header);
	tcase_add_test(tc, test_length_bound);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_random_garbage);
	tcase_add_test(tc, test_parse_pct);
	tcase_add_test(tc, test_decide);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(suite());
}

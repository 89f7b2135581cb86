/* test_sim_scenario.c: scenario lines and files: parse, write, read back;
 * seeded generation replays; bad input is refused with a clear message. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "sim_scenario.h"
#include "unit.h"

START_TEST(test_parse_vehicle)
{
	struct sim_cmd c;
	char err[256];

	ck_assert_int_eq(sim_cmd_parse("1500 vehicle lane=1 epc=3034257bf7194e4000001a85 "
				       "tid=e2801160200074cf085609bc class=3 speed=35 rssi=-600 "
				       "plate=51A12345 neighbour repeat=2",
				       1, 4, &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c.kind, SIM_CMD_VEHICLE);
	ck_assert_int_eq(c.at_ms, 1500);
	ck_assert_int_eq(c.lane, 1);
	ck_assert_uint_eq(c.v.epc_bits, 96);
	ck_assert_uint_eq(c.v.epc[0], 0x30);
	ck_assert_uint_eq(c.v.epc[11], 0x85);
	ck_assert(c.v.has_tid);
	ck_assert_uint_eq(c.v.vclass, 3);
	ck_assert_uint_eq(c.v.speed_kmh, 35);
	ck_assert_int_eq(c.v.rssi_dbm_x10, -600);
	ck_assert_str_eq(c.v.plate, "51A12345");
	ck_assert_int_eq(c.v.neighbour, 2);
	ck_assert_uint_eq(c.v.repeat, 2);

	/* round trip through the writer */
	char line[SIM_LINE_MAX];
	struct sim_cmd c2;
	ck_assert_int_eq(sim_cmd_format(&c, line, sizeof(line)), 0);
	ck_assert_int_eq(sim_cmd_parse(line, 1, 4, &c2, err, sizeof(err)), 0);
	ck_assert_mem_eq(&c.v, &c2.v, sizeof(c.v));
	ck_assert_int_eq(c2.at_ms, 1500);
}
END_TEST

START_TEST(test_parse_errors)
{
	static const char *bad[] = {
		"vehicle lane=0",			  /* no epc */
		"vehicle lane=4 epc=30",		  /* lane out of range */
		"vehicle lane=0 epc=3g",		  /* not hex */
		"vehicle lane=0 epc=30 class=6",	  /* class */
		"vehicle lane=0 epc=30 tid=e280",	  /* short tid */
		"vehicle lane=0 epc=30 speed=0",	  /* speed */
		"vehicle lane=0 epc=30 bogus=1",	  /* unknown argument */
		"vehicle lane=0 epc=30 neighbour=0",	  /* own lane */
		"vehicle lane=0 notag unreadable",	  /* contradiction */
		"vehicle lane=0 epc=" "0123456789012345678901234567890123456789012345678901234567890123" "0",
		"teleport lane=0",			  /* unknown command */
		"offline lane=0 ms=10",			  /* no unit */
		"io-fault lane=0 what=door on",		  /* unknown fault */
		"vehicle lane=0 epc=30 plate=0123456789abc", /* plate too long */
		"",
	};
	struct sim_cmd c;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		ck_assert_msg(sim_cmd_parse(bad[i], 0, 4, &c, err, sizeof(err)) == TOLL_EFORMAT,
			      "accepted: %s", bad[i]);
		ck_assert_msg(err[0] != 0, "no message for: %s", bad[i]);
	}
	/* control commands are not scenario events */
	ck_assert_int_eq(sim_cmd_parse("10 quit", 1, 4, &c, err, sizeof(err)), TOLL_EFORMAT);
	ck_assert_int_eq(sim_cmd_parse("-5 reboot lane=0", 1, 4, &c, err, sizeof(err)), TOLL_EFORMAT);
}
END_TEST

static int
load_text(const char *text, unsigned lanes, struct sim_scenario *s, char *err, size_t errlen)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int rc;
	ck_assert_ptr_nonnull(f);
	sim_scenario_init(s);
	rc = sim_scenario_load(s, f, "test", lanes, err, errlen);
	fclose(f);
	return rc;
}

START_TEST(test_file)
{
	struct sim_scenario s;
	char err[300];

	ck_assert_int_eq(load_text("toll-sim-scenario 1\nseed 9\nlanes 2\n# comment\n\n"
				   "2000 reboot lane=1\n"
				   "1000 vehicle lane=0 epc=30aa\n"
				   "1000 tag lane=1 epc=30bb ms=50\n",
				   2, &s, err, sizeof(err)), 0);
	ck_assert_uint_eq(s.n, 3);
	ck_assert(s.has_seed && s.seed == 9);
	/* sorted by time, file order kept for ties */
	ck_assert_int_eq(s.cmds[0].kind, SIM_CMD_VEHICLE);
	ck_assert_int_eq(s.cmds[1].kind, SIM_CMD_TAG);
	ck_assert_int_eq(s.cmds[2].kind, SIM_CMD_REBOOT);
	sim_scenario_clear(&s);

	ck_assert_int_eq(load_text("", 1, &s, err, sizeof(err)), TOLL_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err, "not a toll-sim scenario"));
	ck_assert_int_eq(load_text("toll-sim-scenario 2\n", 1, &s, err, sizeof(err)), TOLL_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err, "version"));
	sim_scenario_clear(&s);
	ck_assert_int_eq(load_text("toll-sim-scenario 1\nlanes 8\n", 2, &s, err, sizeof(err)), TOLL_EFORMAT);
	sim_scenario_clear(&s);
	ck_assert_int_eq(load_text("toll-sim-scenario 1\n100 vehicle lane=0\n", 1, &s, err, sizeof(err)),
			 TOLL_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err, "test:2:"));
	sim_scenario_clear(&s);
}
END_TEST

START_TEST(test_generate_replays)
{
	struct sim_gen_params p;
	struct sim_scenario a, b, c;
	char *ta = NULL, *tb = NULL;
	size_t la = 0, lb = 0;

	sim_gen_defaults(&p);
	p.lanes = 3;
	p.duration_ms = 120000;
	p.rate_vph = 1200;
	sim_scenario_init(&a);
	sim_scenario_init(&b);
	ck_assert_int_eq(sim_scenario_generate(&a, 77, &p), 0);
	ck_assert_int_eq(sim_scenario_generate(&b, 77, &p), 0);
	FILE *fa = open_memstream(&ta, &la), *fb = open_memstream(&tb, &lb);
	ck_assert_int_eq(sim_scenario_write(&a, fa, 3), 0);
	ck_assert_int_eq(sim_scenario_write(&b, fb, 3), 0);
	fclose(fa);
	fclose(fb);
	ck_assert_str_eq(ta, tb);
	/* about 40 vehicles a lane; times ascending */
	ck_assert(a.n > 60 && a.n < 200);
	for (size_t i = 1; i < a.n; i++)
		ck_assert(a.cmds[i - 1].at_ms <= a.cmds[i].at_ms);
	/* the written file loads back to the same commands */
	char err[300];
	ck_assert_int_eq(load_text(ta, 3, &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.n, a.n);
	for (size_t i = 0; i < a.n; i++) {
		ck_assert_int_eq(c.cmds[i].at_ms, a.cmds[i].at_ms);
		ck_assert_mem_eq(&c.cmds[i].v, &a.cmds[i].v, sizeof(a.cmds[i].v));
	}
	sim_scenario_clear(&c);
	/* another seed, another scenario */
	sim_scenario_clear(&b);
	ck_assert_int_eq(sim_scenario_generate(&b, 78, &p), 0);
	ck_assert(b.n != a.n || memcmp(b.cmds, a.cmds, a.n * sizeof(*a.cmds)) != 0);
	sim_scenario_clear(&a);
	sim_scenario_clear(&b);
	free(ta);
	free(tb);
}
END_TEST

START_TEST(test_tags_file)
{
	const char *text = "# epc tid class plate\n"
			   "3034257bf7194e4000001a85 e2801160200074cf085609bc 2 51A12345\n"
			   "3034257bf7194e4000001a86 - 5\n"
			   "3034257bf7194e4000001a87\n";
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	struct sim_vehicle_spec *tags = NULL;
	size_t n = 0;
	char err[300];

	ck_assert_int_eq(sim_tags_load(f, "tags", &tags, &n, err, sizeof(err)), 0);
	fclose(f);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(tags[0].vclass, 2);
	ck_assert_str_eq(tags[0].plate, "51A12345");
	ck_assert(!tags[1].has_tid);
	ck_assert_uint_eq(tags[1].vclass, 5);
	free(tags);

	const char *bad = "3034 e280 2\n";
	f = fmemopen((void *)bad, strlen(bad), "r");
	ck_assert_int_eq(sim_tags_load(f, "tags", &tags, &n, err, sizeof(err)), TOLL_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err, "tags:1"));
	fclose(f);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("sim_scenario");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_parse_vehicle);
	tcase_add_test(tc, test_parse_errors);
	tcase_add_test(tc, test_file);
	tcase_add_test(tc, test_generate_replays);
	tcase_add_test(tc, test_tags_file);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(suite());
}

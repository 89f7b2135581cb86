/* test_cfg.c: configuration tables: defaults, types, units, bounds,
 * indexed keys, file errors with their line, print reloads the same. */
#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "err.h"
#include "unit.h"

struct conf {
	int64_t count, timeout_ms, size;
	int flag;
	char name[16];
	struct {
		char ep[32];
		int64_t unit;
	} lane[4];
};

#define F(x) offsetof(struct conf, x)
#define L(x) offsetof(struct conf, lane[0].x), sizeof(((struct conf *)0)->lane[0]), 4

static const struct toll_cfg_key keys[] = {
	{"count", TOLL_CFG_INT, 1, 64, "2", F(count), 0, 0, 0, "a count"},
	{"timeout", TOLL_CFG_MS, 1, 60000, "50ms", F(timeout_ms), 0, 0, 0, "a timeout"},
	{"size", TOLL_CFG_BYTES, 1024, 1LL << 40, "1MiB", F(size), 0, 0, 0, "a size"},
	{"flag", TOLL_CFG_BOOL, 0, 1, "no", F(flag), 0, 0, 0, "a flag"},
	{"name", TOLL_CFG_STRING, 0, 15, "plaza", F(name), 0, 0, 0, "a name"},
	{"lane.*.ep", TOLL_CFG_STRING, 0, 31, "", L(ep), 0, "an endpoint"},
	{"lane.*.unit", TOLL_CFG_INT, 1, 247, "1", L(unit), 0, "a unit"},
};
#define N (sizeof(keys) / sizeof(keys[0]))

START_TEST(test_defaults_and_set)
{
	struct conf c;
	char err[256];

	ck_assert_int_eq(toll_cfg_defaults(keys, N, &c), 0);
	ck_assert_int_eq(c.count, 2);
	ck_assert_int_eq(c.timeout_ms, 50);
	ck_assert_int_eq(c.size, 1 << 20);
	ck_assert_int_eq(c.flag, 0);
	ck_assert_str_eq(c.name, "plaza");
	ck_assert_int_eq(c.lane[3].unit, 1);
	ck_assert_int_eq(toll_cfg_set(keys, N, &c, "timeout", "2s", err, sizeof(err)), 0);
	ck_assert_int_eq(c.timeout_ms, 2000);
	ck_assert_int_eq(toll_cfg_set(keys, N, &c, "timeout", "1m", err, sizeof(err)), 0);
	ck_assert_int_eq(c.timeout_ms, 60000);
	ck_assert_int_eq(toll_cfg_set(keys, N, &c, "size", "16MiB", err, sizeof(err)), 0);
	ck_assert_int_eq(c.size, 16 << 20);
	ck_assert_int_eq(toll_cfg_set(keys, N, &c, "flag", "yes", err, sizeof(err)), 0);
	ck_assert_int_eq(c.flag, 1);
	ck_assert_int_eq(toll_cfg_set(keys, N, &c, "lane.2.ep", "tcp:h:1", err, sizeof(err)), 0);
	ck_assert_str_eq(c.lane[2].ep, "tcp:h:1");
	ck_assert_int_eq(toll_cfg_set(keys, N, &c, "lane.3.unit", "247", err, sizeof(err)), 0);
	ck_assert_int_eq(c.lane[3].unit, 247);
}
END_TEST

START_TEST(test_bad_values)
{
	static const char *bad[][2] = {
		{"count", "0"}, {"count", "65"}, {"count", "12abc"}, {"count", ""}, {"count", "9223372036854775808"},
		{"timeout", "1d"}, {"timeout", "2m"}, {"size", "1KB"}, {"size", "2TiB"}, {"flag", "maybe"},
		{"name", "0123456789abcdef"}, {"lane.4.ep", "x"}, {"lane.x.ep", "x"}, {"lane.01.ep", "x"},
		{"nope", "1"}, {"lane.1.unit", "0"},
	};
	struct conf c;
	char err[256];

	toll_cfg_defaults(keys, N, &c);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		ck_assert_msg(toll_cfg_set(keys, N, &c, bad[i][0], bad[i][1], err, sizeof(err)) == TOLL_ECONFIG,
			      "%s = %s accepted", bad[i][0], bad[i][1]);
		ck_assert_msg(strncmp(err, bad[i][0], strlen(bad[i][0])) == 0, "message '%s'", err);
	}
}
END_TEST

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

START_TEST(test_file)
{
	struct conf c, d;
	char path[256], path2[300], err[256];
	const char *tmp = getenv("TMPDIR");

	memset(&c, 0, sizeof(c)); /* padding too, for the comparison below */
	memset(&d, 0, sizeof(d));
	snprintf(path, sizeof(path), "%s/toll-cfg-%d", tmp && *tmp ? tmp : "/tmp", (int)getpid());
	snprintf(path2, sizeof(path2), "%s.out", path);
	toll_cfg_defaults(keys, N, &c);
	write_file(path, "# a comment\n\ncount = 7\n  name=gate 3  \nlane.1.ep = rtu:/dev/ttyS1:9600\n");
	ck_assert_msg(toll_cfg_load(keys, N, &c, path, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(c.count, 7);
	ck_assert_str_eq(c.name, "gate 3");
	ck_assert_str_eq(c.lane[1].ep, "rtu:/dev/ttyS1:9600");
	/* printed, it loads back the same */
	FILE *f = fopen(path2, "w");
	toll_cfg_print(keys, N, &c, f);
	fclose(f);
	toll_cfg_defaults(keys, N, &d);
	ck_assert_msg(toll_cfg_load(keys, N, &d, path2, err, sizeof(err)) == 0, "%s", err);
	ck_assert_mem_eq(&c, &d, sizeof(c));
	/* errors name the file and line */
	write_file(path, "count = 3\ncount = 4\n");
	ck_assert_int_eq(toll_cfg_load(keys, N, &c, path, err, sizeof(err)), TOLL_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err, ":2: count set twice"));
	write_file(path, "count = 3\nno equals sign\n");
	ck_assert_int_eq(toll_cfg_load(keys, N, &c, path, err, sizeof(err)), TOLL_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err, ":2:"));
	write_file(path, "\n\nwho = 1\n");
	ck_assert_int_eq(toll_cfg_load(keys, N, &c, path, err, sizeof(err)), TOLL_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err, ":3: who: unknown key"));
	unlink(path);
	unlink(path2);
	ck_assert_int_eq(toll_cfg_load(keys, N, &c, path, err, sizeof(err)), TOLL_ECONFIG);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("cfg");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_defaults_and_set);
	tcase_add_test(tc, test_bad_values);
	tcase_add_test(tc, test_file);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(suite());
}

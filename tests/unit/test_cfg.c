/* test_cfg.c: configuration tables: defaults, every type and unit, bounds,
 * bad numbers, indexed keys, secrets, required keys, which keys were set,
 * file errors with their line, and a printed configuration loads back the
 * same. */
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
	int64_t count, timeout_ms, size, offset;
	int flag;
	char name[16];
	char password[32];
	char site[16];
	struct {
		char ep[32];
		int64_t unit;
		int on;
	} lane[4];
	int64_t alarm_ms[3];
	/* last, so the comparisons below can leave it out */
	unsigned char set[TOLL_CFG_SETMAP_BYTES(8 + 3 * 4 + 3)];
};

#define F(x) offsetof(struct conf, x)
#define L(x) offsetof(struct conf, lane[0].x), sizeof(((struct conf *)0)->lane[0]), 4

static const struct toll_cfg_key keys[] = {
	{"count", TOLL_CFG_INT, 1, 64, "2", F(count), 0, 0, 0, "a count"},
	{"timeout", TOLL_CFG_MS, 1, 60000, "50ms", F(timeout_ms), 0, 0, 0, "a timeout"},
	{"size", TOLL_CFG_BYTES, 1024, 1LL << 40, "1MiB", F(size), 0, 0, 0, "a size"},
	{"offset", TOLL_CFG_INT, -720, 840, "420", F(offset), 0, 0, 0, "minutes east of UTC"},
	{"flag", TOLL_CFG_BOOL, 0, 1, "no", F(flag), 0, 0, 0, "a flag"},
	{"name", TOLL_CFG_STRING, 0, 15, "plaza", F(name), 0, 0, 0, "a name"},
	{"password", TOLL_CFG_STRING, 0, 31, "", F(password), 0, 0, TOLL_CFG_SECRET, "a secret"},
	{"site", TOLL_CFG_STRING, 1, 15, NULL, F(site), 0, 0, TOLL_CFG_REQUIRED, "the site code"},
	{"lane.*.ep", TOLL_CFG_STRING, 0, 31, "", L(ep), 0, "an endpoint"},
	{"lane.*.unit", TOLL_CFG_INT, 1, 247, "1", L(unit), 0, "a unit"},
	{"lane.*.on", TOLL_CFG_BOOL, 0, 1, "yes", L(on), 0, "a lane flag"},
	{"alarm.*", TOLL_CFG_MS, 0, 3600000, NULL, F(alarm_ms), sizeof(int64_t), 3, 0, "alarm delays"},
	TOLL_CFG_SETMAP_ROW(struct conf, set),
};
#define N (sizeof(keys) / sizeof(keys[0]))

static void
fresh(struct conf *c)
{
	memset(c, 0, sizeof(*c)); /* padding too, for memcmp */
	ck_assert_int_eq(toll_cfg_defaults(keys, N, c), 0);
}

static int
set(struct conf *c, const char *k, const char *v, char *err, size_t errlen)
{
	err[0] = 0;
	return toll_cfg_set(keys, N, c, k, v, err, errlen);
}

static void
set_ok(struct conf *c, const char *k, const char *v)
{
	char err[256];
	ck_assert_msg(set(c, k, v, err, sizeof(err)) == 0, "%s = %s: %s", k, v, err);
}

/* A set that fails with a message starting "KEY: " and holding want. */
static void
set_bad(struct conf *c, const char *k, const char *v, const char *want)
{
	char err[256], prefix[128];
	ck_assert_msg(set(c, k, v, err, sizeof(err)) == TOLL_ECONFIG, "%s = '%s' accepted", k, v);
	snprintf(prefix, sizeof(prefix), "%s: ", k);
	ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0, "%s = '%s': message '%s'", k, v, err);
	ck_assert_msg(strstr(err, want) != NULL, "%s = '%s': '%s' lacks '%s'", k, v, err, want);
}

static int
load_text(struct conf *c, const char *text, char *err, size_t errlen)
{
	err[0] = 0;
	return toll_cfg_load_text(keys, N, c, text, strlen(text), "my.conf", err, errlen);
}

static void
load_bad(const char *text, const char *want)
{
	struct conf c;
	char err[512];
	fresh(&c);
	ck_assert_msg(load_text(&c, text, err, sizeof(err)) == TOLL_ECONFIG, "accepted:\n%s", text);
	ck_assert_msg(strstr(err, want) != NULL, "'%s' lacks '%s'", err, want);
}

static char *
print(const struct conf *c)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	ck_assert_ptr_nonnull(f);
	toll_cfg_print(keys, N, c, f);
	fclose(f);
	return text;
}

START_TEST(test_defaults)
{
	struct conf c;
	char err[256];

	fresh(&c);
	ck_assert_int_eq(c.count, 2);
	ck_assert_int_eq(c.timeout_ms, 50);
	ck_assert_int_eq(c.size, 1 << 20);
	ck_assert_int_eq(c.offset, 420);
	ck_assert_int_eq(c.flag, 0);
	ck_assert_str_eq(c.name, "plaza");
	ck_assert_str_eq(c.password, "");
	ck_assert_str_eq(c.site, "");
	for (int i = 0; i < 4; i++) {
		ck_assert_str_eq(c.lane[i].ep, "");
		ck_assert_int_eq(c.lane[i].unit, 1);
		ck_assert_int_eq(c.lane[i].on, 1);
	}
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(c.alarm_ms[i], 0);
	/* defaults do not count as set; the required key is missing */
	ck_assert_int_eq(toll_cfg_index_set(keys, N, &c, "count", 0), 0);
	ck_assert_int_eq(toll_cfg_index_set(keys, N, &c, "lane.*.ep", 3), 0);
	ck_assert_int_eq(toll_cfg_check(keys, N, &c, err, sizeof(err)), TOLL_ECONFIG);
	ck_assert_str_eq(err, "site: required (the site code)");
	set_ok(&c, "site", "HN-01");
	ck_assert_int_eq(toll_cfg_check(keys, N, &c, err, sizeof(err)), 0);
	/* defaults again clears the set map */
	ck_assert_int_eq(toll_cfg_defaults(keys, N, &c), 0);
	ck_assert_int_eq(toll_cfg_index_set(keys, N, &c, "site", 0), 0);
	ck_assert_str_eq(c.site, "");
}
END_TEST

START_TEST(test_types)
{
	static const struct {
		const char *key, *value;
		int64_t want;
	} num[] = {
		{"count", "7", 7},
		{"count", "  64\t", 64},
		{"count", "1", 1},
		{"offset", "-720", -720},
		{"offset", "-0", 0},
		{"offset", "0", 0},
		{"timeout", "250ms", 250},
		{"timeout", "250", 250},
		{"timeout", "5s", 5000},
		{"timeout", "1m", 60000},
		{"timeout", "60000ms", 60000},
		{"alarm.0", "1h", 3600000},
		{"alarm.2", "0", 0},
		{"alarm.1", "90s", 90000},
		{"size", "64MiB", 64LL << 20},
		{"size", "2GiB", 2LL << 30},
		{"size", "1TiB", 1LL << 40},
		{"size", "1024", 1024},
		{"size", "4096B", 4096},
		{"size", "3KiB", 3072},
		{"lane.3.unit", "247", 247},
	};
	static const struct {
		const char *value;
		int want;
	} bools[] = {
		{"yes", 1}, {"no", 0}, {"true", 1}, {"false", 0}, {"on", 1}, {"off", 0}, {"1", 1}, {"0", 0},
	};
	struct conf c;
	unsigned idx;

	fresh(&c);
	for (size_t i = 0; i < sizeof(num) / sizeof(num[0]); i++) {
		set_ok(&c, num[i].key, num[i].value);
		int64_t got = !strcmp(num[i].key, "count")	  ? c.count
			      : !strcmp(num[i].key, "offset")	  ? c.offset
			      : !strcmp(num[i].key, "timeout")	  ? c.timeout_ms
			      : !strcmp(num[i].key, "size")	  ? c.size
			      : !strcmp(num[i].key, "lane.3.unit") ? c.lane[3].unit
			      : sscanf(num[i].key, "alarm.%u", &idx) == 1 ? c.alarm_ms[idx]
									  : -1;
		ck_assert_msg(got == num[i].want, "%s = %s gave %lld", num[i].key, num[i].value, (long long)got);
	}
	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		set_ok(&c, "flag", bools[i].value);
		ck_assert_int_eq(c.flag, bools[i].want);
		set_ok(&c, "lane.1.on", bools[i].value);
		ck_assert_int_eq(c.lane[1].on, bools[i].want);
	}
	/* strings: as written, blanks around dropped, '#' and '=' kept, UTF-8 kept */
	set_ok(&c, "name", "gate 3");
	ck_assert_str_eq(c.name, "gate 3");
	set_ok(&c, "name", "  a#b=c\t");
	ck_assert_str_eq(c.name, "a#b=c");
	set_ok(&c, "name", "Tr\xe1\xba\xa1m 1");
	ck_assert_str_eq(c.name, "Tr\xe1\xba\xa1m 1");
	set_ok(&c, "name", "0123456789abcde"); /* 15 bytes: the limit */
	ck_assert_str_eq(c.name, "0123456789abcde");
	set_ok(&c, "name", "");
	ck_assert_str_eq(c.name, "");
	set_ok(&c, "lane.2.ep", "tcp:h:1");
	ck_assert_str_eq(c.lane[2].ep, "tcp:h:1");
	set_ok(&c, "lane.2.ep", "x"); /* a shorter value leaves nothing behind */
	ck_assert_int_eq(c.lane[2].ep[2], 0);
	ck_assert_str_eq(c.lane[2].ep, "x");
}
END_TEST

START_TEST(test_bad_values)
{
	struct conf c;

	fresh(&c);
	/* bounds, inclusive */
	set_bad(&c, "count", "0", "0 is out of bounds [1, 64]");
	set_bad(&c, "count", "65", "65 is out of bounds [1, 64]");
	set_bad(&c, "offset", "-721", "out of bounds [-720, 840]");
	set_bad(&c, "timeout", "0ms", "out of bounds [1ms, 1m]");
	set_bad(&c, "timeout", "60001", "out of bounds [1ms, 1m]");
	set_bad(&c, "timeout", "2m", "2m is out of bounds");
	set_bad(&c, "size", "1023", "out of bounds [1KiB, 1TiB]");
	set_bad(&c, "size", "2TiB", "out of bounds [1KiB, 1TiB]");
	set_bad(&c, "lane.1.unit", "248", "out of bounds [1, 247]");
	set_bad(&c, "alarm.0", "-1ms", "out of bounds [0, 1h]");
	/* numbers that are not */
	set_bad(&c, "count", "9223372036854775808", "out of bounds");
	set_bad(&c, "count", "-9223372036854775809", "out of bounds");
	set_bad(&c, "count", "99999999999999999999999", "out of bounds");
	set_bad(&c, "count", "12abc", "'12abc' is not a whole number");
	set_bad(&c, "count", "", "'' is not a whole number");
	set_bad(&c, "count", "   ", "'' is not a whole number");
	set_bad(&c, "count", "+5", "not a whole number");
	set_bad(&c, "count", "-", "not a whole number");
	set_bad(&c, "count", "--1", "not a whole number");
	set_bad(&c, "count", "0x10", "not a whole number");
	set_bad(&c, "count", "1e3", "not a whole number");
	set_bad(&c, "count", "1 2", "not a whole number");
	set_bad(&c, "count", "5s", "not a whole number");
	set_bad(&c, "timeout", "1.5s", "not a duration");
	set_bad(&c, "timeout", "5 s", "not a duration");
	set_bad(&c, "timeout", "1d", "not a duration");
	set_bad(&c, "timeout", "5S", "not a duration");
	set_bad(&c, "timeout", "s", "not a duration");
	set_bad(&c, "timeout", "9223372036854775807h", "out of bounds");
	set_bad(&c, "timeout", "9223372036854775808ms", "out of bounds");
	set_bad(&c, "size", "1KB", "not a size");
	set_bad(&c, "size", "1kib", "not a size");
	set_bad(&c, "size", "8388608TiB", "out of bounds");
	set_bad(&c, "flag", "maybe", "'maybe' is not yes or no");
	set_bad(&c, "flag", "YES", "not yes or no");
	set_bad(&c, "flag", "", "not yes or no");
	set_bad(&c, "flag", "2", "not yes or no");
	/* strings */
	set_bad(&c, "name", "0123456789abcdef", "16 bytes, longer than 15");
	set_bad(&c, "name", "a\nb", "control character 0x0a");
	set_bad(&c, "name", "a\x7f", "control character 0x7f");
	set_bad(&c, "site", "", "0 bytes, shorter than 1");
	/* what failed changed nothing */
	ck_assert_int_eq(c.count, 2);
	ck_assert_int_eq(c.timeout_ms, 50);
	ck_assert_str_eq(c.name, "plaza");
	ck_assert_int_eq(toll_cfg_index_set(keys, N, &c, "count", 0), 0);
}
END_TEST

START_TEST(test_keys)
{
	struct conf c;
	char err[256];

	fresh(&c);
	set_bad(&c, "nope", "1", "unknown key");
	set_bad(&c, "Count", "1", "unknown key");
	set_bad(&c, "count ", "1", "unknown key");
	set_bad(&c, "lane", "1", "unknown key");
	set_bad(&c, "lane.0", "1", "unknown key");
	set_bad(&c, "lane.1.nope", "1", "unknown key");
	/* indices: 0..count-1, decimal, no leading zeros */
	set_ok(&c, "lane.0.unit", "5");
	set_ok(&c, "lane.3.unit", "6");
	ck_assert_int_eq(c.lane[0].unit, 5);
	ck_assert_int_eq(c.lane[3].unit, 6);
	set_bad(&c, "lane.4.ep", "x", "bad index for lane.*.ep, want a number 0..3");
	set_bad(&c, "lane.x.reader", "x", "unknown key");
	set_bad(&c, "lane.x.ep", "x", "bad index for lane.*.ep");
	set_bad(&c, "lane.01.ep", "x", "bad index");
	set_bad(&c, "lane.00.ep", "x", "bad index");
	set_bad(&c, "lane..ep", "x", "bad index");
	set_bad(&c, "lane.-1.ep", "x", "bad index");
	set_bad(&c, "lane.+1.ep", "x", "bad index");
	set_bad(&c, "lane. 1.ep", "x", "bad index");
	set_bad(&c, "lane.1.2.ep", "x", "bad index");
	set_bad(&c, "lane.4294967296.ep", "x", "bad index");
	set_bad(&c, "lane.99999999999999999999.ep", "x", "bad index");
	set_bad(&c, "lane.*.ep", "x", "bad index");
	set_bad(&c, "alarm.3", "1s", "bad index for alarm.*, want a number 0..2");
	set_bad(&c, "alarm.", "1s", "bad index");
	ck_assert_int_eq(set(&c, "", "1", err, sizeof(err)), TOLL_ECONFIG);
	ck_assert_str_eq(err, "empty key name");
	/* a key from outside is quoted harmlessly */
	ck_assert_int_eq(set(&c, "a\x1b[2J", "1", err, sizeof(err)), TOLL_ECONFIG);
	ck_assert_str_eq(err, "a?[2J: unknown key");
	ck_assert_int_eq(toll_cfg_set(keys, N, &c, NULL, "1", err, sizeof(err)), TOLL_ECONFIG);
	ck_assert_int_eq(toll_cfg_set(keys, N, &c, "count", NULL, err, sizeof(err)), TOLL_ECONFIG);
	/* a NULL or short err buffer is fine */
	ck_assert_int_eq(toll_cfg_set(keys, N, &c, "nope", "1", NULL, 0), TOLL_ECONFIG);
	ck_assert_int_eq(toll_cfg_set(keys, N, &c, "nope", "1", err, 3), TOLL_ECONFIG);
	ck_assert_str_eq(err, "no");
}
END_TEST

START_TEST(test_index_set)
{
	struct conf c;
	char err[256];

	fresh(&c);
	set_ok(&c, "lane.2.ep", "tcp:h:1");
	set_ok(&c, "lane.0.unit", "1"); /* set to its default: still set */
	set_ok(&c, "count", "3");
	ck_assert_int_eq(load_text(&c, "alarm.2 = 5s\nlane.3.on = no\n", err, sizeof(err)), 0);
	for (unsigned i = 0; i < 4; i++) {
		ck_assert_int_eq(toll_cfg_index_set(keys, N, &c, "lane.*.ep", i), i == 2);
		ck_assert_int_eq(toll_cfg_index_set(keys, N, &c, "lane.*.unit", i), i == 0);
		ck_assert_int_eq(toll_cfg_index_set(keys, N, &c, "lane.*.on", i), i == 3);
	}
	for (unsigned i = 0; i < 3; i++)
		ck_assert_int_eq(toll_cfg_index_set(keys, N, &c, "alarm.*", i), i == 2);
	ck_assert_int_eq(toll_cfg_index_set(keys, N, &c, "count", 0), 1);
	ck_assert_int_eq(toll_cfg_index_set(keys, N, &c, "timeout", 0), 0);
	/* a failed set marks nothing */
	ck_assert_int_eq(set(&c, "lane.1.ep", "a\tb\x01", err, sizeof(err)), TOLL_ECONFIG);
	ck_assert_int_eq(toll_cfg_index_set(keys, N, &c, "lane.*.ep", 1), 0);
	/* errors */
	ck_assert_int_eq(toll_cfg_index_set(keys, N, &c, "lane.*.ep", 4), TOLL_ERANGE);
	ck_assert_int_eq(toll_cfg_index_set(keys, N, &c, "count", 1), TOLL_ERANGE);
	ck_assert_int_eq(toll_cfg_index_set(keys, N, &c, "lane.2.ep", 0), TOLL_ENOTFOUND);
	ck_assert_int_eq(toll_cfg_index_set(keys, N, &c, "nope", 0), TOLL_ENOTFOUND);
	/* a table without a set map cannot tell */
	ck_assert_int_eq(toll_cfg_index_set(keys, N - 1, &c, "count", 0), TOLL_EINVAL);
}
END_TEST

START_TEST(test_secret)
{
	struct conf c;
	char err[256], *text;

	fresh(&c);
	set_ok(&c, "site", "s");
	/* empty, the secret prints as empty */
	text = print(&c);
	ck_assert_ptr_nonnull(strstr(text, "\npassword = \n"));
	free(text);
	set_ok(&c, "password", "hunter2#x");
	ck_assert_str_eq(c.password, "hunter2#x");
	text = print(&c);
	ck_assert_ptr_nonnull(strstr(text, "\npassword = <hidden>\n"));
	ck_assert_ptr_null(strstr(text, "hunter2"));
	free(text);
	/* messages never quote a secret */
	ck_assert_int_eq(set(&c, "password", "hunter2\x01 and more", err, sizeof(err)), TOLL_ECONFIG);
	ck_assert_ptr_null(strstr(err, "hunter2"));
	ck_assert_int_eq(set(&c, "password", "0123456789012345678901234567890123456789", err, sizeof(err)),
			 TOLL_ECONFIG);
	ck_assert_ptr_null(strstr(err, "0123"));
	ck_assert_int_eq(load_text(&c, "password = hunter3\x01\n", err, sizeof(err)), TOLL_ECONFIG);
	ck_assert_ptr_null(strstr(err, "hunter3"));
	ck_assert_ptr_nonnull(strstr(err, "my.conf:1: password: control character 0x01"));
	/* a printed secret is not taken for the secret */
	ck_assert_int_eq(set(&c, "password", "<hidden>", err, sizeof(err)), TOLL_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err, "password: <hidden> stands for a secret"));
	ck_assert_str_eq(c.password, "hunter2#x");
	/* describe shows the key, not a value */
	FILE *f = open_memstream(&text, &(size_t){0});
	toll_cfg_describe(keys, N, f);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(text, "password                 text, up to 31 bytes, default empty, secret\n"));
	ck_assert_ptr_nonnull(strstr(text, "site                     text, 1 to 15 bytes, required\n    the site code\n"));
	ck_assert_ptr_nonnull(strstr(text, "timeout                  duration 1ms to 1m, default 50ms\n"));
	ck_assert_ptr_nonnull(strstr(text, "lane.*.unit              integer 1 to 247, index 0 to 3, default 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "alarm.*                  duration 0 to 1h, index 0 to 2, no default\n"));
	ck_assert_ptr_null(strstr(text, "(null)"));
	free(text);
}
END_TEST

START_TEST(test_file_errors)
{
	/* each names the file and the line */
	load_bad("count = 3\ncount = 4\n", "my.conf:2: count set twice");
	load_bad("count = 3\n  count=3\n", "my.conf:2: count set twice");
	load_bad("lane.1.ep = a\nlane.2.ep = b\nlane.1.ep = c\n", "my.conf:3: lane.1.ep set twice");
	load_bad("count = 3\nno equals sign\n", "my.conf:2: want 'key = value', not 'no equals sign'");
	load_bad("\n\nwho = 1\n", "my.conf:3: who: unknown key");
	load_bad("# c\n = 1\n", "my.conf:2: empty key name");
	load_bad("count = 65\n", "my.conf:1: count: 65 is out of bounds [1, 64]");
	load_bad("count = 12abc\n", "my.conf:1: count: '12abc' is not a whole number");
	load_bad("count =\n", "my.conf:1: count: '' is not a whole number");
	load_bad("timeout = 3d\n", "my.conf:1: timeout: '3d' is not a duration");
	load_bad("name = 0123456789abcdef\n", "my.conf:1: name: 16 bytes, longer than 15");
	load_bad("lane.4.ep = x\n", "my.conf:1: lane.4.ep: bad index");
	load_bad("lane.x.ep = x\n", "my.conf:1: lane.x.ep: bad index");
	load_bad("count = 3\r\nname = a\rb\r\n", "my.conf:2: name: control character 0x0d");
	load_bad("count = 3 # three\n", "my.conf:1: count: '3 # three' is not a whole number");
	load_bad("\xef\xbb\xbf\xef\xbb\xbf" "count = 3\n", "my.conf:1: ???count: unknown key");

	/* NUL bytes and long lines */
	struct conf c;
	char err[512];
	static const char nul[] = "count = 3\nname = a\0b\n";
	fresh(&c);
	ck_assert_int_eq(toll_cfg_load_text(keys, N, &c, nul, sizeof(nul) - 1, "my.conf", err, sizeof(err)),
			 TOLL_ECONFIG);
	ck_assert_str_eq(err, "my.conf:2: NUL byte in the line");
	char *big = malloc(TOLL_CFG_LINE_MAX + 64);
	size_t n = (size_t)sprintf(big, "count = 3\n# ");
	memset(big + n, 'x', TOLL_CFG_LINE_MAX - 2);
	n += TOLL_CFG_LINE_MAX - 2;
	big[n++] = '\n';
	ck_assert_int_eq(toll_cfg_load_text(keys, N, &c, big, n, "my.conf", err, sizeof(err)), 0);
	big[n - 1] = 'x';
	big[n++] = '\n';
	ck_assert_int_eq(toll_cfg_load_text(keys, N, &c, big, n, "my.conf", err, sizeof(err)), TOLL_ECONFIG);
	ck_assert_str_eq(err, "my.conf:2: line longer than 4096 bytes");
	free(big);
	/* a long bad key is quoted shortened */
	fresh(&c);
	char line[300];
	memset(line, 'k', 200);
	strcpy(line + 200, " = 1\n");
	ck_assert_int_eq(load_text(&c, line, err, sizeof(err)), TOLL_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err, "my.conf:1: kkkk"));
	ck_assert_ptr_nonnull(strstr(err, "...: unknown key"));
	ck_assert_uint_lt(strlen(err), 100);
}
END_TEST

START_TEST(test_file)
{
	struct conf c;
	char err[512];

	/* comments, blanks, CRLF, a byte order mark, '#' inside a value, no final newline */
	fresh(&c);
	ck_assert_int_eq(load_text(&c,
				   "\xef\xbb\xbf# a comment\r\n\r\n  # an indented comment\n"
				   "count = 7\n  name=gate 3  \r\n\tlane.1.ep = rtu:/dev/ttyS1:9600\n"
				   "password = p#ss=word\nsite=HN\nalarm.1 = 2m",
				   err, sizeof(err)),
			 0);
	ck_assert_int_eq(c.count, 7);
	ck_assert_str_eq(c.name, "gate 3");
	ck_assert_str_eq(c.lane[1].ep, "rtu:/dev/ttyS1:9600");
	ck_assert_str_eq(c.password, "p#ss=word");
	ck_assert_str_eq(c.site, "HN");
	ck_assert_int_eq(c.alarm_ms[1], 120000);
	/* an empty file changes nothing; a later set wins over the file */
	ck_assert_int_eq(load_text(&c, "", err, sizeof(err)), 0);
	set_ok(&c, "count", "8");
	ck_assert_int_eq(c.count, 8);

	/* through a real file */
	char path[] = "/tmp/toll-cfg-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	FILE *f = fdopen(fd, "w");
	fputs("site = DN\nsize = 2GiB\nflag = on\n", f);
	fclose(f);
	fresh(&c);
	ck_assert_msg(toll_cfg_load(keys, N, &c, path, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(c.site, "DN");
	ck_assert_int_eq(c.size, 2LL << 30);
	ck_assert_int_eq(c.flag, 1);
	f = fopen(path, "w");
	fputs("site = DN\nsize = 2GB\n", f);
	fclose(f);
	ck_assert_int_eq(toll_cfg_load(keys, N, &c, path, err, sizeof(err)), TOLL_ECONFIG);
	char want[128];
	snprintf(want, sizeof(want), "%s:2: size: '2GB' is not a size", path);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
	/* larger than TOLL_CFG_FILE_MAX */
	f = fopen(path, "w");
	for (int i = 0; i < TOLL_CFG_FILE_MAX / 16 + 1; i++)
		fputs("# ..............\n", f);
	fclose(f);
	ck_assert_int_eq(toll_cfg_load(keys, N, &c, path, err, sizeof(err)), TOLL_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err, "larger than 1048576 bytes"));
	unlink(path);
	ck_assert_int_eq(toll_cfg_load(keys, N, &c, path, err, sizeof(err)), TOLL_ECONFIG);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(toll_cfg_load(keys, N, &c, "/", err, sizeof(err)), TOLL_ECONFIG);
	ck_assert_str_eq(err, "/: Is a directory");
}
END_TEST

/* Print, load the text into fresh defaults: the same configuration. */
static void
round_trip(const struct conf *c, int same_set)
{
	struct conf d;
	char err[512], *text = print(c), *again;

	fresh(&d);
	ck_assert_msg(load_text(&d, text, err, sizeof(err)) == 0, "%s in:\n%s", err, text);
	ck_assert_msg(memcmp(c, &d, offsetof(struct conf, set)) == 0, "differs after:\n%s", text);
	for (size_t k = 0; same_set && k < N; k++)
		if (keys[k].name != NULL && strchr(keys[k].name, '*') != NULL)
			for (unsigned i = 0; i < keys[k].count; i++)
				ck_assert_int_eq(toll_cfg_index_set(keys, N, c, keys[k].name, i),
						 toll_cfg_index_set(keys, N, &d, keys[k].name, i));
	again = print(&d);
	ck_assert_str_eq(text, again);
	free(text);
	free(again);
}

START_TEST(test_print)
{
	struct conf c;
	char *text;

	fresh(&c);
	text = print(&c);
	ck_assert_str_eq(text, "count = 2\n"
			       "timeout = 50ms\n"
			       "size = 1MiB\n"
			       "offset = 420\n"
			       "flag = no\n"
			       "name = plaza\n"
			       "password = \n"
			       "# site = (not set)\n");
	free(text);
	round_trip(&c, 1);

	set_ok(&c, "count", "64");
	set_ok(&c, "timeout", "1500");
	set_ok(&c, "size", "3072");
	set_ok(&c, "offset", "-720");
	set_ok(&c, "flag", "true");
	set_ok(&c, "name", "Tr\xe1\xba\xa1m #1 = a");
	set_ok(&c, "site", "HN-01");
	set_ok(&c, "lane.0.ep", "tcp:127.0.0.1:1502");
	set_ok(&c, "lane.3.ep", ""); /* set to the default: printed, still set after the reload */
	set_ok(&c, "lane.2.unit", "247");
	set_ok(&c, "lane.1.on", "no");
	set_ok(&c, "alarm.2", "0");
	set_ok(&c, "alarm.0", "-0");
	set_ok(&c, "alarm.1", "3600000");
	text = print(&c);
	ck_assert_str_eq(text, "count = 64\n"
			       "timeout = 1500ms\n"
			       "size = 3KiB\n"
			       "offset = -720\n"
			       "flag = yes\n"
			       "name = Tr\xe1\xba\xa1m #1 = a\n"
			       "password = \n"
			       "site = HN-01\n"
			       "lane.0.ep = tcp:127.0.0.1:1502\n"
			       "lane.3.ep = \n"
			       "lane.2.unit = 247\n"
			       "lane.1.on = no\n"
			       "alarm.0 = 0\n"
			       "alarm.1 = 1h\n"
			       "alarm.2 = 0\n");
	free(text);
	round_trip(&c, 1);

	/* values away from the defaults without a set map record are printed too */
	c.lane[3].unit = 9;
	memset(c.lane[0].ep, 0, sizeof(c.lane[0].ep)); /* the bytes past the NUL too */
	memcpy(c.lane[0].ep, "changed", 7);
	c.alarm_ms[0] = 1001;
	round_trip(&c, 0);
	text = print(&c);
	ck_assert_ptr_nonnull(strstr(text, "lane.3.unit = 9\n"));
	ck_assert_ptr_nonnull(strstr(text, "alarm.0 = 1001ms\n"));
	free(text);
}
END_TEST

/* The older way: no set map, no required keys. */
struct plain {
	int64_t n;
	char s[8];
	int64_t idx[2];
};
static const struct toll_cfg_key plain_keys[] = {
	{"n", TOLL_CFG_INT, 0, 10, NULL, offsetof(struct plain, n), 0, 0, 0, "n"},
	{"s", TOLL_CFG_STRING, 0, 7, "x", offsetof(struct plain, s), 0, 0, 0, "s"},
	{"i.*", TOLL_CFG_BYTES, 0, 100, "1", offsetof(struct plain, idx), sizeof(int64_t), 2, 0, "i"},
};

START_TEST(test_no_setmap)
{
	struct plain p, q;
	char err[256], *text = NULL;
	size_t len;

	memset(&p, 0, sizeof(p));
	memset(&q, 0, sizeof(q));
	ck_assert_int_eq(toll_cfg_defaults(plain_keys, 3, &p), 0);
	ck_assert_int_eq(toll_cfg_check(plain_keys, 3, &p, err, sizeof(err)), 0);
	ck_assert_int_eq(toll_cfg_index_set(plain_keys, 3, &p, "i.*", 0), TOLL_EINVAL);
	FILE *f = open_memstream(&text, &len);
	toll_cfg_print(plain_keys, 3, &p, f);
	fclose(f);
	/* 0 is a value n can have: with no default and no record, it shows as unset */
	ck_assert_str_eq(text, "# n = (not set)\ns = x\n");
	free(text);
	ck_assert_int_eq(toll_cfg_set(plain_keys, 3, &p, "i.1", "64", err, sizeof(err)), 0);
	ck_assert_int_eq(toll_cfg_set(plain_keys, 3, &p, "n", "4", err, sizeof(err)), 0);
	f = open_memstream(&text, &len);
	toll_cfg_print(plain_keys, 3, &p, f);
	fclose(f);
	ck_assert_str_eq(text, "n = 4\ns = x\ni.1 = 64\n");
	ck_assert_int_eq(toll_cfg_defaults(plain_keys, 3, &q), 0);
	ck_assert_int_eq(toll_cfg_load_text(plain_keys, 3, &q, text, len, "p", err, sizeof(err)), 0);
	ck_assert_mem_eq(&p, &q, sizeof(p));
	free(text);
}
END_TEST

struct bad_conf {
	int64_t a, b;
	char s[8];
	int64_t arr[9];
	unsigned char set[1];
};
#define B(x) offsetof(struct bad_conf, x)

START_TEST(test_bad_tables)
{
	static const struct toll_cfg_key t_default[] = {
		{"a", TOLL_CFG_INT, 0, 10, "11", B(a), 0, 0, 0, ""},
	};
	static const struct toll_cfg_key t_dup[] = {
		{"a", TOLL_CFG_INT, 0, 10, "1", B(a), 0, 0, 0, ""},
		{"a", TOLL_CFG_INT, 0, 10, "1", B(b), 0, 0, 0, ""},
	};
	static const struct toll_cfg_key t_required_nomap[] = {
		{"a", TOLL_CFG_INT, 0, 10, NULL, B(a), 0, 0, TOLL_CFG_REQUIRED, ""},
	};
	static const struct toll_cfg_key t_required_default[] = {
		{"a", TOLL_CFG_INT, 0, 10, "1", B(a), 0, 0, TOLL_CFG_REQUIRED, ""},
		TOLL_CFG_SETMAP_ROW(struct bad_conf, set),
	};
	static const struct toll_cfg_key t_two_stars[] = {
		{"a.*.*", TOLL_CFG_INT, 0, 10, "1", B(a), 8, 1, 0, ""},
	};
	static const struct toll_cfg_key t_stride[] = {
		{"a.*", TOLL_CFG_INT, 0, 10, "1", B(a), 4, 2, 0, ""},
	};
	static const struct toll_cfg_key t_count[] = {
		{"a.*", TOLL_CFG_INT, 0, 10, "1", B(a), 8, 0, 0, ""},
	};
	static const struct toll_cfg_key t_map_small[] = {
		{"arr.*", TOLL_CFG_INT, 0, 10, "1", B(arr), 8, 9, 0, ""},
		TOLL_CFG_SETMAP_ROW(struct bad_conf, set),
	};
	static const struct toll_cfg_key t_map_fits[] = {
		{"arr.*", TOLL_CFG_INT, 0, 10, "1", B(arr), 8, 8, 0, ""},
		TOLL_CFG_SETMAP_ROW(struct bad_conf, set),
	};
	static const struct toll_cfg_key t_name[] = {
		{"a b", TOLL_CFG_INT, 0, 10, "1", B(a), 0, 0, 0, ""},
	};
	static const struct toll_cfg_key t_blank_default[] = {
		{"s", TOLL_CFG_STRING, 0, 7, " x", B(s), 0, 0, 0, ""},
	};
	static const struct toll_cfg_key t_minmax[] = {
		{"a", TOLL_CFG_INT, 10, 0, NULL, B(a), 0, 0, 0, ""},
	};
	static const struct {
		const struct toll_cfg_key *k;
		size_t n;
	} bad[] = {
		{t_default, 1}, {t_dup, 2},	 {t_required_nomap, 1}, {t_required_default, 2},
		{t_two_stars, 1}, {t_stride, 1}, {t_count, 1},		{t_map_small, 2},
		{t_name, 1},	{t_blank_default, 1}, {t_minmax, 1},
	};
	struct bad_conf c;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(toll_cfg_defaults(bad[i].k, bad[i].n, &c) == TOLL_ECONFIG, "table %zu accepted", i);
	/* 8 bits fit the one byte */
	ck_assert_int_eq(toll_cfg_defaults(t_map_fits, 2, &c), 0);
	ck_assert_int_eq(c.arr[7], 1);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("cfg");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_types);
	tcase_add_test(tc, test_bad_values);
	tcase_add_test(tc, test_keys);
	tcase_add_test(tc, test_index_set);
	tcase_add_test(tc, test_secret);
	tcase_add_test(tc, test_file_errors);
	tcase_add_test(tc, test_file);
	tcase_add_test(tc, test_print);
	tcase_add_test(tc, test_no_setmap);
	tcase_add_test(tc, test_bad_tables);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(suite());
}

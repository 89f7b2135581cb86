/* fuzz_cfg.c: any bytes loaded as a configuration file against a sample
 * table: no crash, no leak, an error names the file and line; what loads
 * prints as a file that loads back to the same configuration and prints
 * the same again. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct conf {
	int64_t count, timeout_ms, size, offset;
	int flag;
	char name[16];
	char password[24];
	char site[12];
	struct {
		char ep[20];
		int64_t unit;
		int on;
		int64_t hold_ms;
	} lane[3];
	int64_t alarm[4];
	unsigned char set[TOLL_CFG_SETMAP_BYTES(8 + 4 * 3 + 4)];
};

#define F(x) offsetof(struct conf, x)
#define L(x) offsetof(struct conf, lane[0].x), sizeof(((struct conf *)0)->lane[0]), 3

static const struct toll_cfg_key keys[] = {
	{"count", TOLL_CFG_INT, 1, 64, "2", F(count), 0, 0, 0, "a count"},
	{"timeout", TOLL_CFG_MS, 1, 3600000, "50ms", F(timeout_ms), 0, 0, 0, "a timeout"},
	{"size", TOLL_CFG_BYTES, 0, INT64_MAX, "1MiB", F(size), 0, 0, 0, "a size"},
	{"offset", TOLL_CFG_INT, INT64_MIN, INT64_MAX, "420", F(offset), 0, 0, 0, "any number"},
	{"flag", TOLL_CFG_BOOL, 0, 1, "no", F(flag), 0, 0, 0, "a flag"},
	{"name", TOLL_CFG_STRING, 0, 15, "plaza", F(name), 0, 0, 0, "a name"},
	{"password", TOLL_CFG_STRING, 0, 23, "", F(password), 0, 0, TOLL_CFG_SECRET, "a secret"},
	{"site", TOLL_CFG_STRING, 1, 11, NULL, F(site), 0, 0, TOLL_CFG_REQUIRED, "a required key"},
	{"lane.*.ep", TOLL_CFG_STRING, 0, 19, "", L(ep), 0, "an endpoint"},
	{"lane.*.unit", TOLL_CFG_INT, 1, 247, "1", L(unit), 0, "a unit"},
	{"lane.*.on", TOLL_CFG_BOOL, 0, 1, "yes", L(on), 0, "a lane flag"},
	{"lane.*.hold", TOLL_CFG_MS, INT64_MIN, INT64_MAX, "1s", L(hold_ms), 0, "any duration"},
	{"alarm.*", TOLL_CFG_BYTES, -1, 1LL << 50, NULL, F(alarm), sizeof(int64_t), 4, 0, "no default"},
	TOLL_CFG_SETMAP_ROW(struct conf, set),
};
#define N (sizeof(keys) / sizeof(keys[0]))

static char *
print(const struct conf *c, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);
	if (f == NULL)
		abort();
	toll_cfg_print(keys, N, c, f);
	fclose(f);
	return text;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct conf c, d;
	char err[512], err2[512];
	size_t len, len2;

	memset(&c, 0, sizeof(c));
	memset(&d, 0, sizeof(d));
	if (toll_cfg_defaults(keys, N, &c) != 0 || toll_cfg_defaults(keys, N, &d) != 0)
		abort();
	err[0] = 0;
	if (toll_cfg_load_text(keys, N, &c, (const char *)data, size, "f", err, sizeof(err)) != 0) {
		if (strncmp(err, "f:", 2) != 0 || err[2] < '1' || err[2] > '9')
			abort(); /* every refusal names the file and line */
		return 0;
	}
	(void)toll_cfg_check(keys, N, &c, err, sizeof(err));
	/* a secret prints hidden; hidden, it would not load back */
	if (c.password[0] != 0) {
		char *text = print(&c, &len);
		if (strstr(text, "\npassword = <hidden>\n") == NULL)
			abort();
		free(text);
		if (toll_cfg_set(keys, N, &c, "password", "", err, sizeof(err)) != 0)
			abort();
	}
	char *text = print(&c, &len);
	if (toll_cfg_load_text(keys, N, &d, text, len, "printed", err2, sizeof(err2)) != 0) {
		fprintf(stderr, "printed configuration refused: %s\n%s", err2, text);
		abort();
	}
	if (memcmp(&c, &d, offsetof(struct conf, set)) != 0) {
		fprintf(stderr, "printed configuration loads differently:\n%s", text);
		abort();
	}
	for (size_t k = 0; k < N; k++)
		if (keys[k].name != NULL && strchr(keys[k].name, '*') != NULL)
			for (unsigned i = 0; i < keys[k].count; i++)
				if (toll_cfg_index_set(keys, N, &c, keys[k].name, i) !=
				    toll_cfg_index_set(keys, N, &d, keys[k].name, i))
					abort();
	char *again = print(&d, &len2);
	if (len != len2 || memcmp(text, again, len) != 0)
		abort();
	free(text);
	free(again);
	return 0;
}

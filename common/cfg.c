/* cfg.c: configuration tables, parsing and printing. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "err.h"

#define LINE_MAX_CFG 1024
#define SEEN_MAX 4096

#define fail(err, errlen, ...) toll_errf((err), (errlen), TOLL_ECONFIG, __VA_ARGS__)

/* Match name against a key; *idx gets the index for '*' keys. */
static int
key_match(const struct toll_cfg_key *k, const char *name, unsigned *idx)
{
	const char *star = strchr(k->name, '*');
	size_t pre;
	char *end;
	unsigned long v;

	*idx = 0;
	if (star == NULL)
		return strcmp(k->name, name) == 0;
	pre = (size_t)(star - k->name);
	if (strncmp(k->name, name, pre) != 0 || name[pre] < '0' || name[pre] > '9')
		return 0;
	errno = 0;
	v = strtoul(name + pre, &end, 10);
	if (errno != 0 || strcmp(end, star + 1) != 0 || (name[pre] == '0' && end != name + pre + 1))
		return 0;
	if (v >= k->count)
		return -1; /* right key, index out of range */
	*idx = (unsigned)v;
	return 1;
}

static void *
field(const struct toll_cfg_key *k, void *conf, unsigned idx)
{
	return (char *)conf + k->offset + (size_t)idx * k->stride;
}

static int
parse_scaled(const char *s, const char *const *units, const int64_t *mult, int64_t *out)
{
	char *end;
	long long v;

	if (*s == 0)
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s)
		return -1;
	if (*end == 0) {
		*out = v;
		return 0;
	}
	for (int i = 0; units[i] != NULL; i++)
		if (strcmp(end, units[i]) == 0) {
			if (v != 0 && (v > INT64_MAX / mult[i] || v < INT64_MIN / mult[i]))
				return -1;
			*out = v * mult[i];
			return 0;
		}
	return -1;
}

static int
set_value(const struct toll_cfg_key *k, void *conf, unsigned idx, const char *name,
	  const char *value, char *err, size_t errlen)
{
	static const char *const ms_units[] = {"ms", "s", "m", "h", NULL};
	static const int64_t ms_mult[] = {1, 1000, 60000, 3600000};
	static const char *const byte_units[] = {"B", "KiB", "MiB", "GiB", "TiB", NULL};
	static const int64_t byte_mult[] = {1, 1024, 1048576, 1073741824, 1099511627776LL};
	int64_t v;
	void *f = field(k, conf, idx);

	switch (k->type) {
	case TOLL_CFG_INT:
	case TOLL_CFG_MS:
	case TOLL_CFG_BYTES:
		if (k->type == TOLL_CFG_INT) {
			static const char *const none[] = {NULL};
			if (parse_scaled(value, none, NULL, &v) != 0)
				return fail(err, errlen, "%s: '%s' is not a whole number", name, value);
		} else if (parse_scaled(value, k->type == TOLL_CFG_MS ? ms_units : byte_units,
					k->type == TOLL_CFG_MS ? ms_mult : byte_mult, &v) != 0) {
			return fail(err, errlen, "%s: '%s' is not a %s", name, value,
				    k->type == TOLL_CFG_MS ? "duration (250ms, 5s, 2m, 1h)" : "size (64KiB, 16MiB, 2GiB)");
		}
		if (v < k->min || v > k->max)
			return fail(err, errlen, "%s: %s is out of bounds [%" PRId64 ", %" PRId64 "]", name,
				    value, k->min, k->max);
		memcpy(f, &v, sizeof(v));
		return 0;
	case TOLL_CFG_BOOL: {
		int b;
		if (!strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "on") || !strcmp(value, "1"))
			b = 1;
		else if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "off") || !strcmp(value, "0"))
			b = 0;
		else
			return fail(err, errlen, "%s: '%s' is not yes or no", name, value);
		memcpy(f, &b, sizeof(b));
		return 0;
	}
	case TOLL_CFG_STRING:
		if ((int64_t)strlen(value) > k->max)
			return fail(err, errlen, "%s: longer than %" PRId64 " characters", name, k->max);
		memset(f, 0, (size_t)k->max + 1);
		memcpy(f, value, strlen(value));
		return 0;
	}
	return fail(err, errlen, "%s: bad key type", name);
}

int
toll_cfg_defaults(const struct toll_cfg_key *keys, size_t n, void *conf)
{
	char err[256], name[160];

	for (size_t i = 0; i < n; i++) {
		unsigned count = strchr(keys[i].name, '*') ? keys[i].count : 1;
		for (unsigned idx = 0; idx < count; idx++) {
			if (keys[i].def == NULL) {
				size_t sz = keys[i].type == TOLL_CFG_STRING ? (size_t)keys[i].max + 1
					    : keys[i].type == TOLL_CFG_BOOL ? sizeof(int) : sizeof(int64_t);
				memset(field(&keys[i], conf, idx), 0, sz);
				continue;
			}
			snprintf(name, sizeof(name), "%s", keys[i].name);
			if (set_value(&keys[i], conf, idx, name, keys[i].def, err, sizeof(err)) != 0)
				return TOLL_ECONFIG; /* a bad default is a programming error */
		}
	}
	return 0;
}

static int
find(const struct toll_cfg_key *keys, size_t n, const char *name, size_t *ki, unsigned *idx)
{
	for (size_t i = 0; i < n; i++) {
		int m = key_match(&keys[i], name, idx);
		if (m == 1) {
			*ki = i;
			return 0;
		}
		if (m < 0)
			return TOLL_ERANGE;
	}
	return TOLL_ENOTFOUND;
}

int
toll_cfg_set(const struct toll_cfg_key *keys, size_t n, void *conf, const char *name,
	     const char *value, char *err, size_t errlen)
{
	size_t ki;
	unsigned idx;
	int rc = find(keys, n, name, &ki, &idx);

	if (rc == TOLL_ERANGE)
		return fail(err, errlen, "%s: index out of range", name);
	if (rc != 0)
		return fail(err, errlen, "%s: unknown key", name);
	return set_value(&keys[ki], conf, idx, name, value, err, errlen);
}

static char *
trim(char *s)
{
	char *e;
	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = 0;
	return s;
}

int
toll_cfg_load(const struct toll_cfg_key *keys, size_t n, void *conf, const char *path,
	      char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, msg[300];
	size_t cap = 0;
	ssize_t got;
	unsigned lineno = 0;
	char *seen[SEEN_MAX];
	size_t nseen = 0;
	int rc = 0;

	if (f == NULL)
		return fail(err, errlen, "%s: %s", path, strerror(errno));
	while (rc == 0 && (got = getline(&line, &cap, f)) >= 0) {
		char *p, *eq, *key, *val;
		lineno++;
		if (got > LINE_MAX_CFG) {
			rc = fail(err, errlen, "%s:%u: line longer than %d characters", path, lineno, LINE_MAX_CFG);
			break;
		}
		if ((size_t)got != strlen(line)) {
			rc = fail(err, errlen, "%s:%u: NUL byte in the line", path, lineno);
			break;
		}
		p = trim(line);
		if (*p == 0 || *p == '#')
			continue;
		eq = strchr(p, '=');
		if (eq == NULL) {
			rc = fail(err, errlen, "%s:%u: want 'key = value'", path, lineno);
			break;
		}
		*eq = 0;
		key = trim(p);
		val = trim(eq + 1);
		for (size_t i = 0; i < nseen; i++)
			if (strcmp(seen[i], key) == 0) {
				rc = fail(err, errlen, "%s:%u: %s set twice", path, lineno, key);
				break;
			}
		if (rc != 0)
			break;
		if (toll_cfg_set(keys, n, conf, key, val, msg, sizeof(msg)) != 0) {
			rc = fail(err, errlen, "%s:%u: %s", path, lineno, msg);
			break;
		}
		if (nseen < SEEN_MAX && (seen[nseen] = strdup(key)) != NULL)
			nseen++;
	}
	for (size_t i = 0; i < nseen; i++)
		free(seen[i]);
	free(line);
	fclose(f);
	return rc;
}

static void
print_value(const struct toll_cfg_key *k, const void *conf, unsigned idx, FILE *out)
{
	const void *f = (const char *)conf + k->offset + (size_t)idx * k->stride;
	int64_t v;
	int b;

	if (k->flags & TOLL_CFG_SECRET) {
		fputs("<hidden>", out);
		return;
	}
	switch (k->type) {
	case TOLL_CFG_INT:
		memcpy(&v, f, sizeof(v));
		fprintf(out, "%" PRId64, v);
		break;
	case TOLL_CFG_MS:
		memcpy(&v, f, sizeof(v));
		fprintf(out, "%" PRId64 "ms", v);
		break;
	case TOLL_CFG_BYTES:
		memcpy(&v, f, sizeof(v));
		fprintf(out, "%" PRId64, v);
		break;
	case TOLL_CFG_BOOL:
		memcpy(&b, f, sizeof(b));
		fputs(b ? "yes" : "no", out);
		break;
	case TOLL_CFG_STRING:
		fputs((const char *)f, out);
		break;
	}
}

static int
is_default(const struct toll_cfg_key *k, const void *f)
{
	union {
		int64_t i;
		int b;
		char s[8];
	} d;
	char err[64];
	struct toll_cfg_key one = *k;

	one.offset = 0;
	one.stride = 0;
	memset(&d, 0, sizeof(d));
	if (k->def != NULL && set_value(&one, &d, 0, k->name, k->def, err, sizeof(err)) != 0)
		return 0;
	return k->type == TOLL_CFG_BOOL ? memcmp(&d.b, f, sizeof(int)) == 0
					: memcmp(&d.i, f, sizeof(int64_t)) == 0;
}

void
toll_cfg_print(const struct toll_cfg_key *keys, size_t n, const void *conf, FILE *out)
{
	for (size_t i = 0; i < n; i++) {
		const char *star = strchr(keys[i].name, '*');
		unsigned count = star ? keys[i].count : 1;
		for (unsigned idx = 0; idx < count; idx++) {
			const char *f = (const char *)conf + keys[i].offset + (size_t)idx * keys[i].stride;
			if (star != NULL) {
				/* indexed keys: only elements set away from the default */
				if (keys[i].type == TOLL_CFG_STRING) {
					if (f[0] == 0)
						continue;
				} else if (is_default(&keys[i], f)) {
					continue;
				}
				fprintf(out, "%.*s%u%s = ", (int)(star - keys[i].name), keys[i].name, idx, star + 1);
			} else {
				fprintf(out, "%s = ", keys[i].name);
			}
			print_value(&keys[i], conf, idx, out);
			fputc('\n', out);
		}
	}
}

void
toll_cfg_describe(const struct toll_cfg_key *keys, size_t n, FILE *out)
{
	static const char *const types[] = {"integer", "yes/no", "text", "duration", "size"};
	for (size_t i = 0; i < n; i++) {
		const struct toll_cfg_key *k = &keys[i];
		fprintf(out, "%-24s %-8s", k->name, types[k->type]);
		if (k->type == TOLL_CFG_STRING)
			fprintf(out, " (up to %" PRId64 " chars)", k->max);
		else if (k->type != TOLL_CFG_BOOL)
			fprintf(out, " [%" PRId64 ", %" PRId64 "]", k->min, k->max);
		fprintf(out, " default %s\n    %s\n", k->def ? (k->def[0] ? k->def : "\"\"") : "(none)", k->help);
	}
}

/* cfg.c: configuration tables: checking, defaults, parsing, printing. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "err.h"
#include "log.h"

#define HIDDEN "<hidden>"
#define MSG_MAX 512   /* one inner message, before "FILE:LINE: " */
#define ECHO_MAX 64   /* bytes of a bad key or value quoted in a message */
#define COUNT_MAX 1000000

#define fail(err, errlen, ...) toll_errf((err), (errlen), TOLL_ECONFIG, __VA_ARGS__)

struct unit {
	const char *name;
	int64_t mult;
};

static const struct unit ms_units[] = {
	{"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}, {NULL, 0},
};
static const struct unit byte_units[] = {
	{"TiB", 1099511627776LL}, {"GiB", 1073741824}, {"MiB", 1048576}, {"KiB", 1024}, {"B", 1}, {NULL, 0},
};
static const struct unit no_units[] = {{NULL, 0}};

static const struct unit *
units_of(enum toll_cfg_type t)
{
	return t == TOLL_CFG_MS ? ms_units : t == TOLL_CFG_BYTES ? byte_units : no_units;
}

static int
is_star(const struct toll_cfg_key *k)
{
	return strchr(k->name, '*') != NULL;
}

static unsigned
nelem(const struct toll_cfg_key *k)
{
	return is_star(k) ? k->count : 1;
}

static size_t
field_size(const struct toll_cfg_key *k)
{
	switch (k->type) {
	case TOLL_CFG_STRING:
		return (size_t)k->max + 1;
	case TOLL_CFG_BOOL:
		return sizeof(int);
	case TOLL_CFG_SETMAP:
		return (size_t)k->max;
	default:
		return sizeof(int64_t);
	}
}

static void *
field(const struct toll_cfg_key *k, void *conf, unsigned idx)
{
	return (char *)conf + k->offset + (size_t)idx * k->stride;
}

static const void *
cfield(const struct toll_cfg_key *k, const void *conf, unsigned idx)
{
	return (const char *)conf + k->offset + (size_t)idx * k->stride;
}

/* The setmap row and the first bit of key ki in it. */
static const struct toll_cfg_key *
setmap(const struct toll_cfg_key *keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (keys[i].type == TOLL_CFG_SETMAP)
			return &keys[i];
	return NULL;
}

static size_t
bit_base(const struct toll_cfg_key *keys, size_t ki)
{
	size_t b = 0;
	for (size_t i = 0; i < ki; i++)
		if (keys[i].type != TOLL_CFG_SETMAP)
			b += nelem(&keys[i]);
	return b;
}

static size_t
total_bits(const struct toll_cfg_key *keys, size_t n)
{
	return bit_base(keys, n);
}

/* Untrusted text for a message: printable ASCII as is, others as '?',
 * at most ECHO_MAX bytes. */
static const char *
echo(char *dst, size_t dstlen, const char *s, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 4 < dstlen; i++) {
		if (i == ECHO_MAX) {
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		unsigned char c = (unsigned char)s[i];
		dst[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	dst[o] = 0;
	return dst;
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* A decimal whole number with an optional unit from units, over [s, s+len).
 * 0; -1 not a number; -2 out of the int64 range. */
static int
parse_num(const char *s, size_t len, const struct unit *units, int64_t *out)
{
	size_t i = 0, digits;
	int neg = 0;
	uint64_t v = 0, limit;

	if (i < len && s[i] == '-') {
		neg = 1;
		i++;
	}
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	digits = i;
	int big = 0;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (limit - d) / 10)
			big = 1;
		else
			v = v * 10 + d;
	}
	if (i == digits)
		return -1;
	int64_t mult = 0;
	if (i == len) {
		mult = 1;
	} else {
		for (const struct unit *u = units; u->name != NULL; u++)
			if (strlen(u->name) == len - i && memcmp(u->name, s + i, len - i) == 0) {
				mult = u->mult;
				break;
			}
		if (mult == 0)
			return -1;
	}
	if (big || v > limit / (uint64_t)mult)
		return -2;
	v *= (uint64_t)mult;
	if (neg)
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	else
		*out = (int64_t)v;
	return 0;
}

/* A number in the largest unit that divides it exactly ("5s", "64MiB"). */
static const char *
fmt_num(char *buf, size_t len, enum toll_cfg_type type, int64_t v)
{
	if (v != 0 && v != INT64_MIN)
		for (const struct unit *u = units_of(type); u->name != NULL; u++)
			if (u->mult > 1 && v % u->mult == 0) {
				snprintf(buf, len, "%" PRId64 "%s", v / u->mult, u->name);
				return buf;
			}
	snprintf(buf, len, "%" PRId64 "%s", v, type == TOLL_CFG_MS && v != 0 ? "ms" : "");
	return buf;
}

static const char *
type_name(enum toll_cfg_type t)
{
	switch (t) {
	case TOLL_CFG_INT:
		return "integer";
	case TOLL_CFG_BOOL:
		return "yes/no";
	case TOLL_CFG_STRING:
		return "text";
	case TOLL_CFG_MS:
		return "duration";
	case TOLL_CFG_BYTES:
		return "size";
	default:
		return "?";
	}
}

/* Parse [v, v+len) for key k into field f.  name is the key as given;
 * messages start with it. */
static int
parse_value(const struct toll_cfg_key *k, void *f, const char *name, const char *v, size_t len,
	    char *err, size_t errlen)
{
	char q[ECHO_MAX + 8], lo[32], hi[32];
	int secret = (k->flags & TOLL_CFG_SECRET) != 0;
	int64_t x = 0;

	if (secret && len == strlen(HIDDEN) && memcmp(v, HIDDEN, len) == 0)
		return fail(err, errlen, "%s: %s stands for a secret in a printed configuration: give the secret itself",
			    name, HIDDEN);
	if (secret)
		snprintf(q, sizeof(q), "the value");
	else
		echo(q, sizeof(q), v, len);
	switch (k->type) {
	case TOLL_CFG_INT:
	case TOLL_CFG_MS:
	case TOLL_CFG_BYTES: {
		int rc = parse_num(v, len, units_of(k->type), &x);
		if (rc == -1 && k->type == TOLL_CFG_INT)
			return fail(err, errlen, "%s: '%s' is not a whole number", name, q);
		if (rc == -1)
			return fail(err, errlen, "%s: '%s' is not a %s", name, q,
				    k->type == TOLL_CFG_MS ? "duration (250ms, 5s, 2m, 1h, or plain ms)"
							   : "size (512B, 64KiB, 16MiB, 2GiB, 1TiB, or plain bytes)");
		if (rc != 0 || x < k->min || x > k->max)
			return fail(err, errlen, "%s: %s is out of bounds [%s, %s]", name, q,
				    fmt_num(lo, sizeof(lo), k->type, k->min), fmt_num(hi, sizeof(hi), k->type, k->max));
		memcpy(f, &x, sizeof(x));
		return 0;
	}
	case TOLL_CFG_BOOL: {
		static const char *const words[] = {"no", "yes", "false", "true", "off", "on", "0", "1"};
		for (int i = 0; i < 8; i++)
			if (strlen(words[i]) == len && memcmp(words[i], v, len) == 0) {
				int b = i % 2;
				memcpy(f, &b, sizeof(b));
				return 0;
			}
		return fail(err, errlen, "%s: '%s' is not yes or no (true/false, on/off, 1/0)", name, q);
	}
	case TOLL_CFG_STRING:
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
				return fail(err, errlen, "%s: control character 0x%02x in the value", name,
					    (unsigned char)v[i]);
		if ((int64_t)len > k->max)
			return fail(err, errlen, "%s: %zu bytes, longer than %" PRId64, name, len, k->max);
		if ((int64_t)len < k->min)
			return fail(err, errlen, "%s: %zu bytes, shorter than %" PRId64, name, len, k->min);
		memset(f, 0, (size_t)k->max + 1);
		memcpy(f, v, len);
		return 0;
	case TOLL_CFG_SETMAP:
		break;
	}
	return fail(err, errlen, "%s: not a settable key", name);
}

/* Find key [name, name+len): *ki, *idx.  TOLL_ENOTFOUND; TOLL_ERANGE with
 * *ki set when a '*' key matches but the index is bad. */
static int
lookup(const struct toll_cfg_key *keys, size_t n, const char *name, size_t len, size_t *ki, unsigned *idx)
{
	int bad = TOLL_ENOTFOUND;

	*idx = 0;
	for (size_t i = 0; i < n; i++)
		if (keys[i].type != TOLL_CFG_SETMAP && !is_star(&keys[i]) && strlen(keys[i].name) == len &&
		    memcmp(keys[i].name, name, len) == 0) {
			*ki = i;
			return 0;
		}
	for (size_t i = 0; i < n; i++) {
		const struct toll_cfg_key *k = &keys[i];
		if (k->type == TOLL_CFG_SETMAP || !is_star(k))
			continue;
		const char *star = strchr(k->name, '*');
		size_t pre = (size_t)(star - k->name), suf = strlen(star + 1);
		if (len < pre + suf || memcmp(name, k->name, pre) != 0 ||
		    memcmp(name + len - suf, star + 1, suf) != 0)
			continue;
		const char *d = name + pre;
		size_t dl = len - pre - suf;
		uint64_t v = 0;
		int ok = dl > 0 && dl <= 10 && !(dl > 1 && d[0] == '0');
		for (size_t j = 0; ok && j < dl; j++) {
			if (d[j] < '0' || d[j] > '9')
				ok = 0;
			else
				v = v * 10 + (uint64_t)(d[j] - '0');
		}
		if (ok && v < k->count) {
			*ki = i;
			*idx = (unsigned)v;
			return 0;
		}
		if (bad == TOLL_ENOTFOUND) {
			*ki = i;
			bad = TOLL_ERANGE;
		}
	}
	return bad;
}

static void
mark(const struct toll_cfg_key *keys, size_t n, void *conf, size_t ki, unsigned idx)
{
	const struct toll_cfg_key *sm = setmap(keys, n);
	if (sm == NULL)
		return;
	size_t b = bit_base(keys, ki) + idx;
	unsigned char *map = field(sm, conf, 0);
	map[b / 8] |= (unsigned char)(1u << (b % 8));
}

/* Set key [name, name+nlen) to [v, v+vlen) (blanks trimmed here). */
static int
set_one(const struct toll_cfg_key *keys, size_t n, void *conf, const char *name, size_t nlen,
	const char *v, size_t vlen, size_t *ki, unsigned *idx, char *err, size_t errlen)
{
	char q[ECHO_MAX + 8];
	int rc;

	while (vlen > 0 && is_blank(*v)) {
		v++;
		vlen--;
	}
	while (vlen > 0 && is_blank(v[vlen - 1]))
		vlen--;
	echo(q, sizeof(q), name, nlen);
	if (nlen == 0)
		return fail(err, errlen, "empty key name");
	rc = lookup(keys, n, name, nlen, ki, idx);
	if (rc == TOLL_ENOTFOUND)
		return fail(err, errlen, "%s: unknown key", q);
	if (rc == TOLL_ERANGE)
		return fail(err, errlen, "%s: bad index for %s, want a number 0..%u without leading zeros", q,
			    keys[*ki].name, keys[*ki].count - 1);
	rc = parse_value(&keys[*ki], field(&keys[*ki], conf, *idx), q, v, vlen, err, errlen);
	if (rc != 0)
		return rc;
	mark(keys, n, conf, *ki, *idx);
	return 0;
}

/* A bad table is a programming error: say which key and why. */
static int
bad_table(const struct toll_cfg_key *k, size_t i, const char *why)
{
	toll_err("configuration table row %zu (%s): %s", i, k->name ? k->name : "setmap", why);
	return TOLL_ECONFIG;
}

static int
check_table(const struct toll_cfg_key *keys, size_t n)
{
	size_t nmaps = 0;
	int required = 0;

	for (size_t i = 0; i < n; i++) {
		const struct toll_cfg_key *k = &keys[i];
		if (k->type == TOLL_CFG_SETMAP) {
			size_t need = TOLL_CFG_SETMAP_BYTES(total_bits(keys, n));
			if (++nmaps > 1)
				return bad_table(k, i, "more than one setmap row");
			if (k->max < 0 || (size_t)k->max < need) {
				toll_err("configuration table: the setmap needs %zu bytes, has %" PRId64, need, k->max);
				return TOLL_ECONFIG;
			}
			continue;
		}
		if (k->type > TOLL_CFG_BYTES)
			return bad_table(k, i, "unknown type");
		if (k->name == NULL || k->name[0] == 0)
			return bad_table(k, i, "no name");
		for (const char *p = k->name; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
			      *p == '.' || *p == '_' || *p == '-' || *p == '*'))
				return bad_table(k, i, "name has characters other than letters, digits, '.', '_', '-', '*'");
		const char *star = strchr(k->name, '*');
		if (star != NULL && strchr(star + 1, '*') != NULL)
			return bad_table(k, i, "more than one '*'");
		if (star != NULL && (k->count == 0 || k->count > COUNT_MAX || k->stride < field_size(k)))
			return bad_table(k, i, "'*' key needs count 1..1000000 and a stride of at least the field size");
		if (k->type == TOLL_CFG_STRING && (k->min < 0 || k->max > TOLL_CFG_STRING_MAX))
			return bad_table(k, i, "string lengths must lie in 0..TOLL_CFG_STRING_MAX");
		if (k->type != TOLL_CFG_BOOL && k->min > k->max)
			return bad_table(k, i, "min above max");
		if ((k->flags & TOLL_CFG_REQUIRED) && (k->def != NULL || star != NULL))
			return bad_table(k, i, "a required key is a plain key without a default");
		if (k->flags & ~(unsigned)(TOLL_CFG_REQUIRED | TOLL_CFG_SECRET))
			return bad_table(k, i, "unknown flags");
		required |= (k->flags & TOLL_CFG_REQUIRED) != 0;
		if (k->def != NULL) {
			size_t dl = strlen(k->def);
			char msg[MSG_MAX];
			union {
				int64_t i;
				int b;
				char s[TOLL_CFG_STRING_MAX + 1];
			} tmp;
			if (dl > 0 && (is_blank(k->def[0]) || is_blank(k->def[dl - 1])))
				return bad_table(k, i, "blanks around the default");
			if (parse_value(k, &tmp, k->name, k->def, dl, msg, sizeof(msg)) != 0)
				return bad_table(k, i, msg);
		}
		for (size_t j = 0; j < i; j++)
			if (keys[j].type != TOLL_CFG_SETMAP && strcmp(keys[j].name, k->name) == 0)
				return bad_table(k, i, "name given twice");
	}
	if (required && nmaps == 0) {
		toll_err("configuration table: required keys need a setmap row");
		return TOLL_ECONFIG;
	}
	return 0;
}

int
toll_cfg_defaults(const struct toll_cfg_key *keys, size_t n, void *conf)
{
	char err[MSG_MAX];

	if (check_table(keys, n) != 0)
		return TOLL_ECONFIG;
	for (size_t i = 0; i < n; i++) {
		const struct toll_cfg_key *k = &keys[i];
		if (k->type == TOLL_CFG_SETMAP) {
			memset(field(k, conf, 0), 0, field_size(k));
			continue;
		}
		for (unsigned idx = 0; idx < nelem(k); idx++) {
			void *f = field(k, conf, idx);
			if (k->def == NULL)
				memset(f, 0, field_size(k));
			else if (parse_value(k, f, k->name, k->def, strlen(k->def), err, sizeof(err)) != 0)
				return TOLL_ECONFIG; /* checked above */
		}
	}
	return 0;
}

int
toll_cfg_set(const struct toll_cfg_key *keys, size_t n, void *conf, const char *name, const char *value,
	     char *err, size_t errlen)
{
	size_t ki;
	unsigned idx;

	if (name == NULL || value == NULL)
		return fail(err, errlen, "no key or no value");
	return set_one(keys, n, conf, name, strlen(name), value, strlen(value), &ki, &idx, err, errlen);
}

int
toll_cfg_load_text(const struct toll_cfg_key *keys, size_t n, void *conf, const char *text, size_t len,
		   const char *name, char *err, size_t errlen)
{
	size_t nbits = total_bits(keys, n), off = 0;
	unsigned char *seen = calloc(TOLL_CFG_SETMAP_BYTES(nbits) + 1, 1);
	unsigned lineno = 0;
	char msg[MSG_MAX];
	int rc = 0;

	if (name == NULL)
		name = "configuration";
	if (seen == NULL)
		return toll_errf(err, errlen, TOLL_ENOMEM, "%s: out of memory", name);
	if (text == NULL && len > 0) {
		free(seen);
		return fail(err, errlen, "%s: no text", name);
	}
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		off = 3;
	while (off < len) {
		const char *line = text + off, *nl = memchr(line, '\n', len - off);
		size_t ll = nl ? (size_t)(nl - line) : len - off;
		off += ll + (nl != NULL);
		lineno++;
		if (ll > TOLL_CFG_LINE_MAX) {
			rc = fail(err, errlen, "%s:%u: line longer than %d bytes", name, lineno, TOLL_CFG_LINE_MAX);
			break;
		}
		if (memchr(line, 0, ll) != NULL) {
			rc = fail(err, errlen, "%s:%u: NUL byte in the line", name, lineno);
			break;
		}
		if (ll > 0 && line[ll - 1] == '\r')
			ll--;
		while (ll > 0 && is_blank(*line)) {
			line++;
			ll--;
		}
		while (ll > 0 && is_blank(line[ll - 1]))
			ll--;
		if (ll == 0 || line[0] == '#')
			continue;
		const char *eq = memchr(line, '=', ll);
		if (eq == NULL) {
			char q[ECHO_MAX + 8];
			rc = fail(err, errlen, "%s:%u: want 'key = value', not '%s'", name, lineno,
				  echo(q, sizeof(q), line, ll));
			break;
		}
		size_t kl = (size_t)(eq - line), ki;
		unsigned idx;
		while (kl > 0 && is_blank(line[kl - 1]))
			kl--;
		if (set_one(keys, n, conf, line, kl, eq + 1, ll - (size_t)(eq + 1 - line), &ki, &idx, msg,
			    sizeof(msg)) != 0) {
			rc = fail(err, errlen, "%s:%u: %s", name, lineno, msg);
			break;
		}
		size_t b = bit_base(keys, ki) + idx;
		if (seen[b / 8] & (1u << (b % 8))) {
			char q[ECHO_MAX + 8];
			rc = fail(err, errlen, "%s:%u: %s set twice", name, lineno, echo(q, sizeof(q), line, kl));
			break;
		}
		seen[b / 8] |= (unsigned char)(1u << (b % 8));
	}
	free(seen);
	return rc;
}

int
toll_cfg_load(const struct toll_cfg_key *keys, size_t n, void *conf, const char *path, char *err,
	      size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t len = 0, got;
	int rc;

	if (f == NULL)
		return fail(err, errlen, "%s: %s", path, strerror(errno));
	buf = malloc(TOLL_CFG_FILE_MAX + 1);
	if (buf == NULL) {
		fclose(f);
		return toll_errf(err, errlen, TOLL_ENOMEM, "%s: out of memory", path);
	}
	while (len <= TOLL_CFG_FILE_MAX && (got = fread(buf + len, 1, TOLL_CFG_FILE_MAX + 1 - len, f)) > 0)
		len += got;
	if (ferror(f))
		rc = fail(err, errlen, "%s: %s", path, strerror(errno ? errno : EIO));
	else if (len > TOLL_CFG_FILE_MAX)
		rc = fail(err, errlen, "%s: larger than %d bytes", path, TOLL_CFG_FILE_MAX);
	else
		rc = toll_cfg_load_text(keys, n, conf, buf, len, path, err, errlen);
	free(buf);
	fclose(f);
	return rc;
}

static int
bit_set(const struct toll_cfg_key *keys, size_t n, const void *conf, size_t ki, unsigned idx)
{
	const struct toll_cfg_key *sm = setmap(keys, n);
	size_t b = bit_base(keys, ki) + idx;
	const unsigned char *map = cfield(sm, conf, 0);
	return (map[b / 8] >> (b % 8)) & 1;
}

int
toll_cfg_index_set(const struct toll_cfg_key *keys, size_t n, const void *conf, const char *name,
		   unsigned index)
{
	if (setmap(keys, n) == NULL)
		return TOLL_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (keys[i].type == TOLL_CFG_SETMAP || strcmp(keys[i].name, name) != 0)
			continue;
		if (index >= nelem(&keys[i]))
			return TOLL_ERANGE;
		return bit_set(keys, n, conf, i, index);
	}
	return TOLL_ENOTFOUND;
}

int
toll_cfg_check(const struct toll_cfg_key *keys, size_t n, const void *conf, char *err, size_t errlen)
{
	int tracked = setmap(keys, n) != NULL;

	for (size_t i = 0; i < n; i++)
		if (keys[i].type != TOLL_CFG_SETMAP && (keys[i].flags & TOLL_CFG_REQUIRED) &&
		    (!tracked || !bit_set(keys, n, conf, i, 0)))
			return fail(err, errlen, "%s: required (%s)", keys[i].name, keys[i].help ? keys[i].help : "no default");
	return 0;
}

/* The field in its zero state (what a NULL default leaves). */
static int
is_zero(const struct toll_cfg_key *k, const void *f)
{
	if (k->type == TOLL_CFG_STRING)
		return ((const char *)f)[0] == 0;
	if (k->type == TOLL_CFG_BOOL) {
		int b;
		memcpy(&b, f, sizeof(b));
		return b == 0;
	}
	int64_t v;
	memcpy(&v, f, sizeof(v));
	return v == 0;
}

static int
is_default(const struct toll_cfg_key *k, const void *f)
{
	int64_t v, d;
	int b;

	if (k->def == NULL)
		return is_zero(k, f);
	switch (k->type) {
	case TOLL_CFG_STRING:
		return strnlen(f, (size_t)k->max + 1) == strlen(k->def) && strcmp(f, k->def) == 0;
	case TOLL_CFG_BOOL:
		memcpy(&b, f, sizeof(b));
		return (b != 0) == (k->def[0] == 'y' || k->def[0] == 't' || k->def[0] == '1' ||
				    strcmp(k->def, "on") == 0);
	default:
		memcpy(&v, f, sizeof(v));
		return parse_num(k->def, strlen(k->def), units_of(k->type), &d) == 0 && d == v;
	}
}

static void
print_value(const struct toll_cfg_key *k, const void *f, FILE *out)
{
	char buf[32];
	int64_t v;
	int b;

	if (k->flags & TOLL_CFG_SECRET) {
		/* an empty secret tells nothing; anything else is hidden */
		if (!(k->type == TOLL_CFG_STRING && ((const char *)f)[0] == 0))
			fputs(HIDDEN, out);
		return;
	}
	switch (k->type) {
	case TOLL_CFG_INT:
	case TOLL_CFG_MS:
	case TOLL_CFG_BYTES:
		memcpy(&v, f, sizeof(v));
		fputs(fmt_num(buf, sizeof(buf), k->type, v), out);
		break;
	case TOLL_CFG_BOOL:
		memcpy(&b, f, sizeof(b));
		fputs(b ? "yes" : "no", out);
		break;
	case TOLL_CFG_STRING:
		fprintf(out, "%.*s", (int)strnlen(f, (size_t)k->max), (const char *)f);
		break;
	case TOLL_CFG_SETMAP:
		break;
	}
}

void
toll_cfg_print(const struct toll_cfg_key *keys, size_t n, const void *conf, FILE *out)
{
	int tracked = setmap(keys, n) != NULL;

	for (size_t i = 0; i < n; i++) {
		const struct toll_cfg_key *k = &keys[i];
		if (k->type == TOLL_CFG_SETMAP)
			continue;
		const char *star = strchr(k->name, '*');
		for (unsigned idx = 0; idx < nelem(k); idx++) {
			const void *f = cfield(k, conf, idx);
			int set = tracked && bit_set(keys, n, conf, i, idx);
			if (star != NULL) {
				/* elements: those set or away from the default */
				if (!set && is_default(k, f))
					continue;
				fprintf(out, "%.*s%u%s = ", (int)(star - k->name), k->name, idx, star + 1);
			} else if (k->def == NULL && !set && is_zero(k, f)) {
				fprintf(out, "# %s = (not set)\n", k->name);
				continue;
			} else {
				fprintf(out, "%s = ", k->name);
			}
			print_value(k, f, out);
			fputc('\n', out);
		}
	}
}

void
toll_cfg_describe(const struct toll_cfg_key *keys, size_t n, FILE *out)
{
	char lo[32], hi[32];

	for (size_t i = 0; i < n; i++) {
		const struct toll_cfg_key *k = &keys[i];
		if (k->type == TOLL_CFG_SETMAP)
			continue;
		fprintf(out, "%-24s %s", k->name, type_name(k->type));
		if (k->type == TOLL_CFG_STRING && k->min > 0)
			fprintf(out, ", %" PRId64 " to %" PRId64 " bytes", k->min, k->max);
		else if (k->type == TOLL_CFG_STRING)
			fprintf(out, ", up to %" PRId64 " bytes", k->max);
		else if (k->type != TOLL_CFG_BOOL)
			fprintf(out, " %s to %s", fmt_num(lo, sizeof(lo), k->type, k->min),
				fmt_num(hi, sizeof(hi), k->type, k->max));
		if (is_star(k))
			fprintf(out, ", index 0 to %u", k->count - 1);
		if (k->flags & TOLL_CFG_REQUIRED)
			fputs(", required", out);
		else if (k->def == NULL)
			fputs(", no default", out);
		else if (k->flags & TOLL_CFG_SECRET)
			fputs(k->def[0] ? ", default " HIDDEN : ", default empty", out);
		else
			fprintf(out, ", default %s", k->def[0] ? k->def : "empty");
		if (k->flags & TOLL_CFG_SECRET)
			fputs(", secret", out);
		fprintf(out, "\n    %s\n", k->help ? k->help : "");
	}
}

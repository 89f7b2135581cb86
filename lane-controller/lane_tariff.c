/* lane_tariff.c: tariff file parsing and fee lookups. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "lane_tariff.h"

#define MAX_ITEMS 100000
#define MAX_FEE 100000000LL   /* VND */
#define MAX_RATE 100000LL     /* VND per km */
#define MAX_METRES 5000000LL  /* 5,000 km */

struct open_fee {
	uint32_t station;
	int64_t fee[5];
};
struct network {
	uint32_t id;
	int64_t rate[5];
};
struct station {
	uint32_t net, id;
	int64_t metres;
};
struct pair {
	uint32_t net, entry, exit;
	int64_t fee[5];
};

struct lane_tariff {
	uint64_t version;
	struct open_fee *open;
	size_t nopen;
	struct network *nets;
	size_t nnets;
	struct station *stations;
	size_t nstations;
	struct pair *pairs;
	size_t npairs;
};

#define fail(err, errlen, ...) toll_errf((err), (errlen), TOLL_EFORMAT, __VA_ARGS__)

static int
num(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
	char *end;
	long long v;
	if (s == NULL || *s == 0 || (*s != '-' && (*s < '0' || *s > '9')))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != 0 || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static void *
grow(void *p, size_t n, size_t size)
{
	if (n >= MAX_ITEMS)
		return NULL;
	if ((n & (n - 1)) != 0 && n != 0)
		return p; /* room left: capacities are powers of two */
	return realloc(p, (n == 0 ? 1 : 2 * n) * size);
}

static const struct station *
find_station(const struct lane_tariff *t, uint32_t id)
{
	for (size_t i = 0; i < t->nstations; i++)
		if (t->stations[i].id == id)
			return &t->stations[i];
	return NULL;
}

static const struct network *
find_net(const struct lane_tariff *t, uint32_t id)
{
	for (size_t i = 0; i < t->nnets; i++)
		if (t->nets[i].id == id)
			return &t->nets[i];
	return NULL;
}

static int
is_open(const struct lane_tariff *t, uint32_t id)
{
	for (size_t i = 0; i < t->nopen; i++)
		if (t->open[i].station == id)
			return 1;
	return 0;
}

/* Parse one line's words; returns 0 or an error with err set. */
static int
parse_line(struct lane_tariff *t, char **w, int nw, const char *name, unsigned ln, int *have_version,
	   char *err, size_t errlen)
{
	int64_t v[8];

	if (strcmp(w[0], "version") == 0) {
		char *end;
		if (nw != 2 || *have_version)
			return fail(err, errlen, "%s:%u: want one 'version N'", name, ln);
		errno = 0;
		t->version = strtoull(w[1], &end, 10);
		if (errno != 0 || *end != 0 || w[1][0] < '0' || w[1][0] > '9')
			return fail(err, errlen, "%s:%u: bad version '%s'", name, ln, w[1]);
		*have_version = 1;
		return 0;
	}
	if (strcmp(w[0], "open") == 0) {
		struct open_fee o;
		if (nw != 7 || num(w[1], 1, UINT32_MAX, &v[0]) != 0)
			return fail(err, errlen, "%s:%u: want 'open STATION FEE1 .. FEE5'", name, ln);
		o.station = (uint32_t)v[0];
		for (int c = 0; c < 5; c++)
			if (num(w[2 + c], 0, MAX_FEE, &o.fee[c]) != 0)
				return fail(err, errlen, "%s:%u: fee '%s' not 0..%lld VND", name, ln, w[2 + c], MAX_FEE);
		if (is_open(t, o.station) || find_station(t, o.station))
			return fail(err, errlen, "%s:%u: station %u defined twice", name, ln, o.station);
		void *g = grow(t->open, t->nopen, sizeof(*t->open));
		if (g == NULL)
			return fail(err, errlen, "%s:%u: too many entries", name, ln);
		t->open = g;
		t->open[t->nopen++] = o;
		return 0;
	}
	if (strcmp(w[0], "network") == 0) {
		struct network n;
		if (nw != 7 || num(w[1], 1, UINT32_MAX, &v[0]) != 0)
			return fail(err, errlen, "%s:%u: want 'network NET RATE1 .. RATE5'", name, ln);
		n.id = (uint32_t)v[0];
		for (int c = 0; c < 5; c++)
			if (num(w[2 + c], 0, MAX_RATE, &n.rate[c]) != 0)
				return fail(err, errlen, "%s:%u: rate '%s' not 0..%lld VND/km", name, ln, w[2 + c], MAX_RATE);
		if (find_net(t, n.id))
			return fail(err, errlen, "%s:%u: network %u defined twice", name, ln, n.id);
		void *g = grow(t->nets, t->nnets, sizeof(*t->nets));
		if (g == NULL)
			return fail(err, errlen, "%s:%u: too many entries", name, ln);
		t->nets = g;
		t->nets[t->nnets++] = n;
		return 0;
	}
	if (strcmp(w[0], "station") == 0) {
		struct station s;
		if (nw != 4 || num(w[1], 1, UINT32_MAX, &v[0]) != 0 || num(w[2], 1, UINT32_MAX, &v[1]) != 0 ||
		    num(w[3], 0, MAX_METRES, &v[2]) != 0)
			return fail(err, errlen, "%s:%u: want 'station NET STATION METRES' (0..%lld)", name, ln, MAX_METRES);
		s.net = (uint32_t)v[0];
		s.id = (uint32_t)v[1];
		s.metres = v[2];
		if (!find_net(t, s.net))
			return fail(err, errlen, "%s:%u: unknown network %u", name, ln, s.net);
		if (find_station(t, s.id) || is_open(t, s.id))
			return fail(err, errlen, "%s:%u: station %u defined twice", name, ln, s.id);
		void *g = grow(t->stations, t->nstations, sizeof(*t->stations));
		if (g == NULL)
			return fail(err, errlen, "%s:%u: too many entries", name, ln);
		t->stations = g;
		t->stations[t->nstations++] = s;
		return 0;
	}
	if (strcmp(w[0], "matrix") == 0) {
		struct pair p;
		if (nw != 9 || num(w[1], 1, UINT32_MAX, &v[0]) != 0 || num(w[2], 1, UINT32_MAX, &v[1]) != 0 ||
		    num(w[3], 1, UINT32_MAX, &v[2]) != 0)
			return fail(err, errlen, "%s:%u: want 'matrix NET ENTRY EXIT FEE1 .. FEE5'", name, ln);
		p.net = (uint32_t)v[0];
		p.entry = (uint32_t)v[1];
		p.exit = (uint32_t)v[2];
		const struct station *a = find_station(t, p.entry), *b = find_station(t, p.exit);
		if (a == NULL || b == NULL || a->net != p.net || b->net != p.net || p.entry == p.exit)
			return fail(err, errlen, "%s:%u: matrix stations must be two stations of network %u",
				    name, ln, p.net);
		for (int c = 0; c < 5; c++)
			if (num(w[4 + c], 0, MAX_FEE, &p.fee[c]) != 0)
				return fail(err, errlen, "%s:%u: fee '%s' not 0..%lld VND", name, ln, w[4 + c], MAX_FEE);
		for (size_t i = 0; i < t->npairs; i++)
			if (t->pairs[i].entry == p.entry && t->pairs[i].exit == p.exit)
				return fail(err, errlen, "%s:%u: matrix %u %u given twice", name, ln, p.entry, p.exit);
		void *g = grow(t->pairs, t->npairs, sizeof(*t->pairs));
		if (g == NULL)
			return fail(err, errlen, "%s:%u: too many entries", name, ln);
		t->pairs = g;
		t->pairs[t->npairs++] = p;
		return 0;
	}
	return fail(err, errlen, "%s:%u: unknown line '%s' (version, open, network, station, matrix)", name, ln, w[0]);
}

int
lane_tariff_parse(const char *text, size_t len, const char *name, struct lane_tariff **out,
		  char *err, size_t errlen)
{
	struct lane_tariff *t = calloc(1, sizeof(*t));
	unsigned ln = 0;
	int have_header = 0, have_version = 0, rc = 0;
	size_t off = 0;

	if (t == NULL)
		return TOLL_ENOMEM;
	while (off < len && rc == 0) {
		char line[512], *w[12], *save = NULL, *tok;
		size_t end = off;
		int nw = 0;

		while (end < len && text[end] != '\n')
			end++;
		ln++;
		if (end - off >= sizeof(line)) {
			rc = fail(err, errlen, "%s:%u: line too long", name, ln);
			break;
		}
		memcpy(line, text + off, end - off);
		line[end - off] = 0;
		off = end + 1;
		char *hash = strchr(line, '#');
		if (hash != NULL)
			*hash = 0;
		while ((tok = strtok_r(nw == 0 ? line : NULL, " \t\r", &save)) != NULL) {
			if (nw == 12) {
				rc = fail(err, errlen, "%s:%u: too many words", name, ln);
				break;
			}
			w[nw++] = tok;
		}
		if (rc != 0 || nw == 0)
			continue;
		if (!have_header) {
			if (nw != 2 || strcmp(w[0], "toll-tariff") != 0 || strcmp(w[1], "1") != 0) {
				rc = fail(err, errlen, "%s:%u: not a version 1 tariff (want 'toll-tariff 1')", name, ln);
				break;
			}
			have_header = 1;
			continue;
		}
		rc = parse_line(t, w, nw, name, ln, &have_version, err, errlen);
	}
	if (rc == 0 && memchr(text, 0, len) != NULL)
		rc = fail(err, errlen, "%s: NUL byte in the file", name);
	if (rc == 0 && !have_header)
		rc = fail(err, errlen, "%s: empty, not a tariff", name);
	if (rc == 0 && !have_version)
		rc = fail(err, errlen, "%s: no 'version N' line", name);
	if (rc != 0) {
		lane_tariff_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

int
lane_tariff_load(const char *path, struct lane_tariff **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;
	int rc;

	if (f == NULL)
		return fail(err, errlen, "%s: %s", path, strerror(errno));
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > (1 << 24) || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return fail(err, errlen, "%s: unreadable or larger than 16 MiB", path);
	}
	buf = malloc((size_t)n + 1);
	if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return fail(err, errlen, "%s: read error", path);
	}
	fclose(f);
	rc = lane_tariff_parse(buf, (size_t)n, path, out, err, errlen);
	free(buf);
	return rc;
}

void
lane_tariff_free(struct lane_tariff *t)
{
	if (t == NULL)
		return;
	free(t->open);
	free(t->nets);
	free(t->stations);
	free(t->pairs);
	free(t);
}

uint64_t lane_tariff_version(const struct lane_tariff *t) { return t->version; }

int
lane_tariff_open_fee(const struct lane_tariff *t, uint32_t station, unsigned vclass, int64_t *fee)
{
	if (vclass < 1 || vclass > 5)
		return TOLL_ERANGE;
	for (size_t i = 0; i < t->nopen; i++)
		if (t->open[i].station == station) {
			*fee = t->open[i].fee[vclass - 1];
			return 0;
		}
	return TOLL_ENOTFOUND;
}

int
lane_tariff_closed_fee(const struct lane_tariff *t, uint32_t entry, uint32_t exit_station,
		       unsigned vclass, int64_t *fee)
{
	const struct station *a = find_station(t, entry), *b = find_station(t, exit_station);
	const struct network *n;
	int64_t d;

	if (vclass < 1 || vclass > 5)
		return TOLL_ERANGE;
	if (a == NULL || b == NULL || a->net != b->net)
		return TOLL_ENOTFOUND;
	for (size_t i = 0; i < t->npairs; i++)
		if (t->pairs[i].entry == entry && t->pairs[i].exit == exit_station) {
			*fee = t->pairs[i].fee[vclass - 1];
			return 0;
		}
	for (size_t i = 0; i < t->npairs; i++) /* the reverse, unless given itself */
		if (t->pairs[i].entry == exit_station && t->pairs[i].exit == entry) {
			*fee = t->pairs[i].fee[vclass - 1];
			return 0;
		}
	n = find_net(t, a->net);
	d = a->metres > b->metres ? a->metres - b->metres : b->metres - a->metres;
	/* metres x VND/km / 1000, half up; both bounded, no overflow */
	*fee = (d * n->rate[vclass - 1] + 500) / 1000;
	return 0;
}

int
lane_tariff_max_closed_fee(const struct lane_tariff *t, uint32_t exit_station, unsigned vclass,
			   int64_t *fee)
{
	const struct station *b = find_station(t, exit_station);
	int64_t best = -1, f;

	if (vclass < 1 || vclass > 5)
		return TOLL_ERANGE;
	if (b == NULL)
		return TOLL_ENOTFOUND;
	for (size_t i = 0; i < t->nstations; i++)
		if (t->stations[i].net == b->net && t->stations[i].id != exit_station &&
		    lane_tariff_closed_fee(t, t->stations[i].id, exit_station, vclass, &f) == 0 && f > best)
			best = f;
	if (best < 0)
		return TOLL_ENOTFOUND;
	*fee = best;
	return 0;
}

int
lane_tariff_station_kind(const struct lane_tariff *t, uint32_t station)
{
	if (is_open(t, station))
		return 1;
	if (find_station(t, station))
		return 2;
	return TOLL_ENOTFOUND;
}

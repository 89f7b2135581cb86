/* lane_tariff.c: tariff file parsing and fee lookups. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "lane_tariff.h"

#define NCLASS LANE_TARIFF_CLASSES
#define FEE_MAX LANE_TARIFF_FEE_MAX_VND
#define RATE_MAX LANE_TARIFF_RATE_MAX_VND_KM
#define POS_MAX LANE_TARIFF_POS_MAX_M
#define LINE_MAX_B 1024
#define WORDS_MAX 10
#define ECHO_MAX 40
#define STATIONS_MAX 65536
#define NETWORKS_MAX 4096
#define NET_STATIONS_MAX 1024
#define PAIRS_MAX (1u << 20)
#define NONE UINT32_MAX

struct station {
	uint32_t id;
	uint32_t net;	   /* index in nets; NONE: an open station */
	uint32_t next;	   /* the next station of the same network; NONE */
	unsigned line;
	int64_t metres;	   /* closed: position along the network */
	int64_t fee[NCLASS]; /* open */
};

struct network {
	uint32_t id;
	uint32_t first; /* station list; NONE */
	uint32_t nstations;
	unsigned line;
	int64_t lo_m, hi_m;
	int64_t rate[NCLASS];
};

struct pair {
	uint32_t entry, exit;
	unsigned line;
	int64_t fee[NCLASS];
};

/* uint64 key -> uint32 index; open addressing, linear probing, at most
 * half full; val NONE marks a free slot. */
struct idx {
	uint64_t *key;
	uint32_t *val;
	size_t cap, n;
};

struct lane_tariff {
	uint64_t version;
	struct station *st;
	size_t nst, capst;
	struct network *nets;
	size_t nnets, capnets;
	struct pair *pairs;
	size_t npairs, cappairs;
	struct idx st_idx, net_idx, pair_idx;
};

static size_t
slot(uint64_t key, size_t cap)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	return (size_t)key & (cap - 1);
}

static uint32_t
idx_get(const struct idx *h, uint64_t key)
{
	if (h->cap == 0)
		return NONE;
	for (size_t i = slot(key, h->cap);; i = (i + 1) & (h->cap - 1)) {
		if (h->val[i] == NONE)
			return NONE;
		if (h->key[i] == key)
			return h->val[i];
	}
}

static int
idx_put(struct idx *h, uint64_t key, uint32_t val)
{
	if (2 * (h->n + 1) > h->cap) {
		struct idx g = {0};
		g.cap = h->cap ? 2 * h->cap : 64;
		g.key = malloc(g.cap * sizeof(*g.key));
		g.val = malloc(g.cap * sizeof(*g.val));
		if (g.key == NULL || g.val == NULL) {
			free(g.key);
			free(g.val);
			return TOLL_ENOMEM;
		}
		memset(g.val, 0xff, g.cap * sizeof(*g.val));
		for (size_t i = 0; i < h->cap; i++)
			if (h->val[i] != NONE)
				(void)idx_put(&g, h->key[i], h->val[i]); /* room: no growth */
		free(h->key);
		free(h->val);
		*h = g;
	}
	size_t i = slot(key, h->cap);
	while (h->val[i] != NONE)
		i = (i + 1) & (h->cap - 1);
	h->key[i] = key;
	h->val[i] = val;
	h->n++;
	return 0;
}

static void
idx_free(struct idx *h)
{
	free(h->key);
	free(h->val);
}

static int
grow(void **p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return 0;
	size_t nc = *cap ? 2 * *cap : 16;
	void *g = realloc(*p, nc * size);
	if (g == NULL)
		return TOLL_ENOMEM;
	*p = g;
	*cap = nc;
	return 0;
}

static uint64_t
pair_key(uint32_t entry, uint32_t exit_station)
{
	return (uint64_t)entry << 32 | exit_station;
}

/* The parser's state: where it is, for messages. */
struct ps {
	struct lane_tariff *t;
	const char *name;
	unsigned line;
	char *err;
	size_t errlen;
};

#define fail(p, ...) perr((p), TOLL_EFORMAT, __VA_ARGS__)

static int perr(struct ps *p, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
perr(struct ps *p, int code, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return toll_errf(p->err, p->errlen, code, "%s:%u: %s", p->name, p->line, msg);
}

/* A word from the file for a message: printable ASCII, others '?'. */
static const char *
echo(char *dst, size_t dstlen, const char *w)
{
	size_t o = 0;
	for (size_t i = 0; w[i] && o + 4 < dstlen; i++) {
		if (i == ECHO_MAX) {
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		unsigned char c = (unsigned char)w[i];
		dst[o++] = c > 0x20 && c < 0x7f ? (char)c : '?';
	}
	dst[o] = 0;
	return dst;
}

/* Plain decimal digits, value 0..max. */
static int
parse_u64(const char *w, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (*w == 0)
		return -1;
	for (; *w; w++) {
		if (*w < '0' || *w > '9')
			return -1;
		unsigned d = (unsigned)(*w - '0');
		if (d > max || v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int
word_id(struct ps *p, const char *w, const char *what, uint32_t *out)
{
	char q[ECHO_MAX + 8];
	uint64_t v;

	if (parse_u64(w, UINT32_MAX, &v) != 0 || v == 0)
		return fail(p, "%s '%s' is not a number 1..4294967295", what, echo(q, sizeof(q), w));
	*out = (uint32_t)v;
	return 0;
}

/* Five amounts 0..max for classes 1..5. */
static int
word_amounts(struct ps *p, char **w, int64_t max, const char *what, int64_t *out)
{
	char q[ECHO_MAX + 8];
	uint64_t v;

	for (int c = 0; c < NCLASS; c++) {
		if (parse_u64(w[c], (uint64_t)max, &v) != 0)
			return fail(p, "class %d %s '%s' is not a whole number 0..%" PRId64, c + 1, what,
				    echo(q, sizeof(q), w[c]), max);
		out[c] = (int64_t)v;
	}
	return 0;
}

/* Kilometres with up to three decimals, into metres 0..POS_MAX. */
static int
word_km(struct ps *p, const char *w, int64_t *metres)
{
	char q[ECHO_MAX + 8];
	const char *dot = strchr(w, '.');
	uint64_t km, frac = 0;
	char ip[16];
	size_t il = dot ? (size_t)(dot - w) : strlen(w);

	if (il == 0 || il >= sizeof(ip))
		goto bad;
	memcpy(ip, w, il);
	ip[il] = 0;
	if (parse_u64(ip, (uint64_t)POS_MAX / 1000, &km) != 0)
		goto bad;
	if (dot != NULL) {
		size_t fl = strlen(dot + 1);
		if (fl == 0 || fl > 3 || parse_u64(dot + 1, 999, &frac) != 0)
			goto bad;
		for (size_t i = fl; i < 3; i++)
			frac *= 10;
	}
	if (km * 1000 + frac > (uint64_t)POS_MAX)
		goto bad;
	*metres = (int64_t)(km * 1000 + frac);
	return 0;
bad:
	return fail(p, "position '%s' is not kilometres 0..%lld with up to three decimals", echo(q, sizeof(q), w),
		    POS_MAX / 1000);
}

static int
words(struct ps *p, int nw, int want, char **w, const char *usage)
{
	char q[ECHO_MAX + 8];

	if (nw < want)
		return fail(p, "want '%s'", usage);
	if (nw > want)
		return fail(p, "trailing '%s' after '%s'", echo(q, sizeof(q), w[want]), usage);
	return 0;
}

static int64_t
distance_fee(int64_t metres, int64_t rate)
{
	/* metres <= 5e6, rate <= 1e5: the product fits with room to spare */
	return (metres * rate + 500) / 1000;
}

static const char *
km_text(char *buf, size_t len, int64_t metres)
{
	snprintf(buf, len, "%" PRId64 ".%03" PRId64, metres / 1000, metres % 1000);
	return buf;
}

static int
station_taken(struct ps *p, uint32_t id)
{
	uint32_t i = idx_get(&p->t->st_idx, id);
	if (i == NONE)
		return 0;
	const struct station *s = &p->t->st[i];
	if (s->net == NONE)
		return fail(p, "station %" PRIu32 " is already the open station of line %u", id, s->line);
	return fail(p, "station %" PRIu32 " is already a station of network %" PRIu32 " (line %u)", id,
		    p->t->nets[s->net].id, s->line);
}

static int
add_station(struct ps *p, struct station *s)
{
	struct lane_tariff *t = p->t;
	if (t->nst >= STATIONS_MAX)
		return fail(p, "more than %d stations", STATIONS_MAX);
	if (grow((void **)&t->st, &t->capst, t->nst, sizeof(*t->st)) != 0 ||
	    idx_put(&t->st_idx, s->id, (uint32_t)t->nst) != 0)
		return perr(p, TOLL_ENOMEM, "out of memory");
	t->st[t->nst++] = *s;
	return 0;
}

static int
line_open(struct ps *p, char **w, int nw)
{
	static const char usage[] = "open STATION FEE1 FEE2 FEE3 FEE4 FEE5";
	struct station s = {.net = NONE, .next = NONE, .line = p->line};
	int rc;

	if ((rc = words(p, nw, 7, w, usage)) != 0 || (rc = word_id(p, w[1], "station", &s.id)) != 0 ||
	    (rc = word_amounts(p, w + 2, FEE_MAX, "fee", s.fee)) != 0 || (rc = station_taken(p, s.id)) != 0)
		return rc;
	return add_station(p, &s);
}

static int
line_network(struct ps *p, char **w, int nw)
{
	static const char usage[] = "network NET RATE1 RATE2 RATE3 RATE4 RATE5";
	struct lane_tariff *t = p->t;
	struct network n = {.first = NONE, .line = p->line};
	int rc;
	uint32_t i;

	if ((rc = words(p, nw, 7, w, usage)) != 0 || (rc = word_id(p, w[1], "network", &n.id)) != 0 ||
	    (rc = word_amounts(p, w + 2, RATE_MAX, "rate (VND/km)", n.rate)) != 0)
		return rc;
	if ((i = idx_get(&t->net_idx, n.id)) != NONE)
		return fail(p, "network %" PRIu32 " is already defined on line %u", n.id, t->nets[i].line);
	if (t->nnets >= NETWORKS_MAX)
		return fail(p, "more than %d networks", NETWORKS_MAX);
	if (grow((void **)&t->nets, &t->capnets, t->nnets, sizeof(*t->nets)) != 0 ||
	    idx_put(&t->net_idx, n.id, (uint32_t)t->nnets) != 0)
		return perr(p, TOLL_ENOMEM, "out of memory");
	t->nets[t->nnets++] = n;
	return 0;
}

static int
line_station(struct ps *p, char **w, int nw)
{
	static const char usage[] = "station NET STATION KM";
	struct lane_tariff *t = p->t;
	struct station s = {.next = NONE, .line = p->line};
	uint32_t netid, ni;
	char a[32], b[32];
	int rc;

	if ((rc = words(p, nw, 4, w, usage)) != 0 || (rc = word_id(p, w[1], "network", &netid)) != 0 ||
	    (rc = word_id(p, w[2], "station", &s.id)) != 0 || (rc = word_km(p, w[3], &s.metres)) != 0)
		return rc;
	if ((ni = idx_get(&t->net_idx, netid)) == NONE)
		return fail(p, "unknown network %" PRIu32 " (a 'network' line must come first)", netid);
	if ((rc = station_taken(p, s.id)) != 0)
		return rc;
	struct network *n = &t->nets[ni];
	if (n->nstations >= NET_STATIONS_MAX)
		return fail(p, "more than %d stations in network %" PRIu32, NET_STATIONS_MAX, netid);
	for (uint32_t j = n->first; j != NONE; j = t->st[j].next)
		if (t->st[j].metres == s.metres)
			return fail(p, "station %" PRIu32 " at km %s, where station %" PRIu32 " (line %u) is", s.id,
				    km_text(a, sizeof(a), s.metres), t->st[j].id, t->st[j].line);
	int64_t lo = n->nstations ? (n->lo_m < s.metres ? n->lo_m : s.metres) : s.metres;
	int64_t hi = n->nstations ? (n->hi_m > s.metres ? n->hi_m : s.metres) : s.metres;
	for (int c = 0; c < NCLASS; c++)
		if (distance_fee(hi - lo, n->rate[c]) > FEE_MAX)
			return fail(p, "station %" PRIu32 " makes a %s km trip on network %" PRIu32
				    " cost %" PRId64 " VND at class %d, above %lld",
				    s.id, km_text(b, sizeof(b), hi - lo), netid, distance_fee(hi - lo, n->rate[c]), c + 1,
				    FEE_MAX);
	s.net = ni;
	s.next = n->first;
	if ((rc = add_station(p, &s)) != 0)
		return rc;
	n->first = (uint32_t)(t->nst - 1);
	n->nstations++;
	n->lo_m = lo;
	n->hi_m = hi;
	return 0;
}

static int
line_matrix(struct ps *p, char **w, int nw)
{
	static const char usage[] = "matrix NET ENTRY EXIT FEE1 FEE2 FEE3 FEE4 FEE5";
	struct lane_tariff *t = p->t;
	struct pair pr = {.line = p->line};
	uint32_t netid, ni, i;
	int rc;

	if ((rc = words(p, nw, 9, w, usage)) != 0 || (rc = word_id(p, w[1], "network", &netid)) != 0 ||
	    (rc = word_id(p, w[2], "entry station", &pr.entry)) != 0 ||
	    (rc = word_id(p, w[3], "exit station", &pr.exit)) != 0 ||
	    (rc = word_amounts(p, w + 4, FEE_MAX, "fee", pr.fee)) != 0)
		return rc;
	if ((ni = idx_get(&t->net_idx, netid)) == NONE)
		return fail(p, "unknown network %" PRIu32, netid);
	uint32_t ends[2] = {pr.entry, pr.exit};
	for (int e = 0; e < 2; e++) {
		i = idx_get(&t->st_idx, ends[e]);
		if (i == NONE || t->st[i].net != ni)
			return fail(p, "station %" PRIu32 " is not a station of network %" PRIu32
				    " (its 'station' line must come first)", ends[e], netid);
	}
	if ((i = idx_get(&t->pair_idx, pair_key(pr.entry, pr.exit))) != NONE)
		return fail(p, "matrix %" PRIu32 " %" PRIu32 " is already given on line %u", pr.entry, pr.exit,
			    t->pairs[i].line);
	if (t->npairs >= PAIRS_MAX)
		return fail(p, "more than %u matrix rows", PAIRS_MAX);
	if (grow((void **)&t->pairs, &t->cappairs, t->npairs, sizeof(*t->pairs)) != 0 ||
	    idx_put(&t->pair_idx, pair_key(pr.entry, pr.exit), (uint32_t)t->npairs) != 0)
		return perr(p, TOLL_ENOMEM, "out of memory");
	t->pairs[t->npairs++] = pr;
	return 0;
}

/* One line's statement; stage 0 wants the header, 1 the version. */
static int
statement(struct ps *p, char **w, int nw, int *stage)
{
	char q[ECHO_MAX + 8];
	int rc;

	if (*stage == 0) {
		if (strcmp(w[0], "toll-tariff") != 0)
			return fail(p, "not a tariff file (want 'toll-tariff 1' first, not '%s')", echo(q, sizeof(q), w[0]));
		if (nw >= 2 && strcmp(w[1], "1") != 0)
			return perr(p, TOLL_EVERSION, "tariff format '%s', this build reads format 1",
				    echo(q, sizeof(q), w[1]));
		if ((rc = words(p, nw, 2, w, "toll-tariff 1")) != 0)
			return rc;
		*stage = 1;
		return 0;
	}
	if (strcmp(w[0], "version") == 0) {
		uint64_t v;
		if (*stage != 1)
			return fail(p, "second 'version' line");
		if ((rc = words(p, nw, 2, w, "version N")) != 0)
			return rc;
		if (parse_u64(w[1], UINT64_MAX, &v) != 0 || v == 0)
			return fail(p, "version '%s' is not a number 1..18446744073709551615", echo(q, sizeof(q), w[1]));
		p->t->version = v;
		*stage = 2;
		return 0;
	}
	if (*stage == 1)
		return fail(p, "want 'version N' right after 'toll-tariff 1', not '%s'", echo(q, sizeof(q), w[0]));
	if (strcmp(w[0], "open") == 0)
		return line_open(p, w, nw);
	if (strcmp(w[0], "network") == 0)
		return line_network(p, w, nw);
	if (strcmp(w[0], "station") == 0)
		return line_station(p, w, nw);
	if (strcmp(w[0], "matrix") == 0)
		return line_matrix(p, w, nw);
	return fail(p, "unknown line '%s' (open, network, station, matrix)", echo(q, sizeof(q), w[0]));
}

static int
parse(struct ps *p, const char *text, size_t len)
{
	size_t off = 0;
	int stage = 0, rc;

	while (off < len) {
		const char *ln = text + off, *nl = memchr(ln, '\n', len - off);
		size_t ll = nl ? (size_t)(nl - ln) : len - off;
		char line[LINE_MAX_B + 1], *w[WORDS_MAX + 1];
		int nw = 0;

		off += ll + (nl != NULL);
		p->line++;
		if (ll > LINE_MAX_B)
			return fail(p, "line longer than %d bytes", LINE_MAX_B);
		if (ll > 0 && ln[ll - 1] == '\r')
			ll--;
		for (size_t i = 0; i < ll; i++) {
			unsigned char c = (unsigned char)ln[i];
			if (c == 0)
				return fail(p, "NUL byte");
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return fail(p, "control character 0x%02x", c);
		}
		memcpy(line, ln, ll);
		line[ll] = 0;
		char *hash = strchr(line, '#');
		if (hash != NULL)
			*hash = 0;
		for (char *s = line; nw <= WORDS_MAX;) {
			while (*s == ' ' || *s == '\t')
				*s++ = 0;
			if (*s == 0)
				break;
			w[nw++] = s;
			while (*s && *s != ' ' && *s != '\t')
				s++;
		}
		if (nw == 0)
			continue;
		if ((rc = statement(p, w, nw, &stage)) != 0)
			return rc;
	}
	if (p->line == 0)
		p->line = 1;
	if (stage == 0)
		return fail(p, "end of file without 'toll-tariff 1': not a tariff");
	if (stage == 1)
		return fail(p, "end of file before the 'version N' line");
	for (size_t i = 0; i < p->t->nnets; i++)
		if (p->t->nets[i].nstations < 2) {
			p->line = p->t->nets[i].line;
			return fail(p, "network %" PRIu32 " has fewer than two stations", p->t->nets[i].id);
		}
	if (p->t->nst == 0)
		return fail(p, "no stations: the tariff charges nothing");
	return 0;
}

int
lane_tariff_parse(const char *text, size_t len, const char *name, struct lane_tariff **out, char *err,
		  size_t errlen)
{
	struct ps p = {.name = name ? name : "tariff", .err = err, .errlen = errlen};
	int rc;

	*out = NULL;
	if (text == NULL && len > 0)
		return toll_errf(err, errlen, TOLL_EINVAL, "%s: no text", p.name);
	if ((p.t = calloc(1, sizeof(*p.t))) == NULL)
		return toll_errf(err, errlen, TOLL_ENOMEM, "%s: out of memory", p.name);
	if ((rc = parse(&p, text, len)) != 0) {
		lane_tariff_free(p.t);
		return rc;
	}
	*out = p.t;
	return 0;
}

int
lane_tariff_load(const char *path, struct lane_tariff **out, char *err, size_t errlen)
{
	FILE *f;
	char *buf;
	size_t len = 0, got;
	int rc;

	*out = NULL;
	if ((f = fopen(path, "rb")) == NULL)
		return toll_errf(err, errlen, TOLL_ESYS, "%s: %s", path, strerror(errno));
	if ((buf = malloc(LANE_TARIFF_FILE_MAX + 1)) == NULL) {
		fclose(f);
		return toll_errf(err, errlen, TOLL_ENOMEM, "%s: out of memory", path);
	}
	while (len <= LANE_TARIFF_FILE_MAX && (got = fread(buf + len, 1, LANE_TARIFF_FILE_MAX + 1 - len, f)) > 0)
		len += got;
	if (ferror(f))
		rc = toll_errf(err, errlen, TOLL_ESYS, "%s: %s", path, strerror(errno ? errno : EIO));
	else if (len > LANE_TARIFF_FILE_MAX)
		rc = toll_errf(err, errlen, TOLL_EFORMAT, "%s: larger than %d bytes", path, LANE_TARIFF_FILE_MAX);
	else
		rc = lane_tariff_parse(buf, len, path, out, err, errlen);
	free(buf);
	fclose(f);
	return rc;
}

void
lane_tariff_free(struct lane_tariff *t)
{
	if (t == NULL)
		return;
	free(t->st);
	free(t->nets);
	free(t->pairs);
	idx_free(&t->st_idx);
	idx_free(&t->net_idx);
	idx_free(&t->pair_idx);
	free(t);
}

uint64_t
lane_tariff_version(const struct lane_tariff *t)
{
	return t ? t->version : 0;
}

static const struct station *
find(const struct lane_tariff *t, uint32_t id)
{
	uint32_t i = idx_get(&t->st_idx, id);
	return i == NONE ? NULL : &t->st[i];
}

int
lane_tariff_open_fee(const struct lane_tariff *t, uint32_t station, unsigned vclass, int64_t *fee_vnd)
{
	const struct station *s;

	if (t == NULL || fee_vnd == NULL)
		return TOLL_EINVAL;
	if (vclass < 1 || vclass > NCLASS)
		return TOLL_ERANGE;
	if ((s = find(t, station)) == NULL || s->net != NONE)
		return TOLL_ENOTFOUND;
	*fee_vnd = s->fee[vclass - 1];
	return 0;
}

int
lane_tariff_closed_fee(const struct lane_tariff *t, uint32_t entry_station, uint32_t exit_station, unsigned vclass,
		       int64_t *fee_vnd)
{
	const struct station *a, *b;
	uint32_t i;

	if (t == NULL || fee_vnd == NULL)
		return TOLL_EINVAL;
	if (vclass < 1 || vclass > NCLASS)
		return TOLL_ERANGE;
	a = find(t, entry_station);
	b = find(t, exit_station);
	if (a == NULL || b == NULL || a->net == NONE || a->net != b->net)
		return TOLL_ENOTFOUND;
	if ((i = idx_get(&t->pair_idx, pair_key(entry_station, exit_station))) != NONE ||
	    (i = idx_get(&t->pair_idx, pair_key(exit_station, entry_station))) != NONE) {
		*fee_vnd = t->pairs[i].fee[vclass - 1];
		return 0;
	}
	if (entry_station == exit_station)
		return TOLL_ENOTFOUND;
	*fee_vnd = distance_fee(a->metres > b->metres ? a->metres - b->metres : b->metres - a->metres,
				t->nets[a->net].rate[vclass - 1]);
	return 0;
}

int
lane_tariff_max_closed_fee(const struct lane_tariff *t, uint32_t exit_station, unsigned vclass, int64_t *fee_vnd)
{
	const struct station *b;
	int64_t best = -1, f;

	if (t == NULL || fee_vnd == NULL)
		return TOLL_EINVAL;
	if (vclass < 1 || vclass > NCLASS)
		return TOLL_ERANGE;
	if ((b = find(t, exit_station)) == NULL || b->net == NONE)
		return TOLL_ENOTFOUND;
	for (uint32_t j = t->nets[b->net].first; j != NONE; j = t->st[j].next)
		if (lane_tariff_closed_fee(t, t->st[j].id, exit_station, vclass, &f) == 0 && f > best)
			best = f;
	if (best < 0)
		return TOLL_ENOTFOUND;
	*fee_vnd = best;
	return 0;
}

int
lane_tariff_station_kind(const struct lane_tariff *t, uint32_t station)
{
	const struct station *s = t ? find(t, station) : NULL;

	if (s == NULL)
		return TOLL_ENOTFOUND;
	return s->net == NONE ? 1 : 2;
}

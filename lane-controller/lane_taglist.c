/* lane_taglist.c: the tag status list, file and memory.
 *
 * File, format version 1, big-endian (docs/taglist-format.md):
 *   header, 48 bytes: magic "TOLLTSL\0" | u32 version 1 | u32 0 |
 *     u64 list version | u64 accounts | u64 tags | u32 CRC-32C of the 40
 *     bytes before | u32 0
 *   accounts, sorted by id, unique: u64 id | i64 balance VND
 *   tags: u16 epc bits | EPC (bits rounded up to bytes) | u8 flags (1 TID,
 *     2 exempt, 4 pass) | [TID, 12 bytes] | u32 account index (into the
 *     accounts above) | u8 class | u8 status |
 *     u8 reason | u8 plate length | plate | [u32 pass station | u32 pass until day]
 *   trailer: u32 CRC-32C of everything between header and trailer |
 *     "TOLLEND\0"
 * Memory: an open-addressing table of 28-byte entries at 80 % load (a
 * 96-bit EPC inline, other lengths by a 96-bit SHA-256 prefix), plates
 * packed 6 bits a character, accounts in dense arrays (id, balance, debit). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "crc.h"
#include "crypto.h"
#include "err.h"
#include "fwi_map.h"
#include "lane_taglist.h"

#define HDR 48
#define TRAILER 12
#define F_TID 1
#define F_EXEMPT 2
#define F_PASS 4
#define MAX_TAGS 100000000ull
#define INFO_HASHED 0x80

static const uint8_t magic[8] = {'T', 'O', 'L', 'L', 'T', 'S', 'L', 0};
static const uint8_t endmagic[8] = {'T', 'O', 'L', 'L', 'E', 'N', 'D', 0};

struct entry {
	uint8_t key[12];
	uint32_t acct; /* account index + 1; 0: empty slot */
	uint64_t plate_reason; /* 10 chars x 6 bits, reason in the top 4 */
	uint16_t tidh;	       /* 0: no TID */
	uint8_t info;	       /* class 3 | status 2 | exempt 1 | pass 1 | hashed 1 */
	uint8_t pad;
} __attribute__((packed));

struct pass {
	uint32_t entry, station, until_day;
};

struct lane_taglist {
	uint64_t version;
	struct entry *slots;
	uint64_t cap, count;
	uint32_t *acct_id;
	int32_t *balance, *debit;
	uint64_t naccts;
	struct pass *passes;
	uint64_t npasses;
};

#define fail(err, errlen, ...) toll_errf((err), (errlen), TOLL_EFORMAT, __VA_ARGS__)

/* ---- plates: 6 bits a character ---------------------------------------- */

static int
plate_code(char c)
{
	if (c >= '0' && c <= '9')
		return 1 + c - '0';
	if (c >= 'A' && c <= 'Z')
		return 11 + c - 'A';
	if (c == '-')
		return 37;
	if (c == '.')
		return 38;
	if (c == ' ')
		return 39;
	return -1;
}

static int
plate_pack(const char *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	if (n > LANE_PLATE_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int c = plate_code(p[i]);
		if (c < 0)
			return -1;
		v |= (uint64_t)c << (6 * i);
	}
	*out = v;
	return 0;
}

static void
plate_unpack(uint64_t v, char out[13])
{
	static const char chars[] = "?0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-. ";
	int n = 0;
	for (int i = 0; i < LANE_PLATE_MAX; i++) {
		unsigned c = (unsigned)(v >> (6 * i)) & 63;
		if (c == 0 || c >= sizeof(chars) - 1)
			break;
		out[n++] = chars[c];
	}
	out[n] = 0;
}

/* ---- keys and hashing ----------------------------------------------------- */

static int
make_key(const uint8_t *epc, unsigned bits, uint8_t key[12])
{
	if (bits == 96) {
		memcpy(key, epc, 12);
		return 0;
	}
	uint8_t buf[2 + FWI_EPC_MAX_BYTES], h[32];
	size_t n = (bits + 7) / 8;
	buf[0] = (uint8_t)(bits >> 8);
	buf[1] = (uint8_t)bits;
	memcpy(buf + 2, epc, n);
	toll_sha256(buf, 2 + n, h);
	memcpy(key, h, 12);
	return INFO_HASHED;
}

static uint64_t
mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static uint64_t
slot_of(const struct lane_taglist *l, const uint8_t key[12])
{
	uint64_t a, b = 0;
	memcpy(&a, key, 8);
	memcpy(&b, key + 8, 4);
	uint64_t h = mix(a ^ mix(b + 0x9e3779b97f4a7c15ull));
	return (uint64_t)(((unsigned __int128)h * l->cap) >> 64);
}

static uint16_t
tid_hash(const uint8_t tid[12])
{
	uint16_t h = (uint16_t)toll_crc32c(0, tid, 12);
	return h == 0 ? 1 : h;
}

/* ---- lookups ---------------------------------------------------------------- */

static const struct entry *
find(const struct lane_taglist *l, const uint8_t key[12], uint8_t hashed)
{
	if (l->cap == 0)
		return NULL;
	for (uint64_t i = slot_of(l, key), n = 0; n < l->cap; n++, i = i + 1 == l->cap ? 0 : i + 1) {
		const struct entry *e = &l->slots[i];
		if (e->acct == 0)
			return NULL;
		if ((e->info & INFO_HASHED) == hashed && memcmp(e->key, key, 12) == 0)
			return e;
	}
	return NULL;
}

static int64_t
account_balance(const struct lane_taglist *l, uint32_t idx)
{
	return (int64_t)l->balance[idx] - l->debit[idx];
}

int
lane_taglist_lookup(const struct lane_taglist *l, const uint8_t *epc, unsigned epc_bits,
		    const uint8_t *tid, struct lane_tag_info *out)
{
	uint8_t key[12];
	uint8_t hashed;
	const struct entry *e;

	memset(out, 0, sizeof(*out));
	if (epc_bits == 0 || epc_bits > FWI_EPC_MAX_BITS)
		return TOLL_ENOTFOUND;
	hashed = (uint8_t)make_key(epc, epc_bits, key);
	e = find(l, key, hashed);
	if (e == NULL)
		return TOLL_ENOTFOUND;
	uint32_t a = e->acct - 1;
	out->account_id = l->acct_id[a];
	out->vclass = e->info & 7;
	out->status = (e->info >> 3) & 3;
	out->flags = ((e->info >> 5) & 1 ? LANE_TAG_F_EXEMPT : 0) | ((e->info >> 6) & 1 ? LANE_TAG_F_PASS : 0);
	out->reason = (unsigned)(e->plate_reason >> 60);
	plate_unpack(e->plate_reason, out->plate);
	out->balance_vnd = account_balance(l, a);
	if (e->tidh != 0 && tid != NULL && tid_hash(tid) != e->tidh)
		out->tid_mismatch = 1;
	if (out->flags & LANE_TAG_F_PASS) {
		uint32_t idx = (uint32_t)(e - l->slots);
		size_t lo = 0, hi = l->npasses;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (l->passes[mid].entry < idx)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < l->npasses && l->passes[lo].entry == idx) {
			out->pass_station = l->passes[lo].station;
			out->pass_until_day = l->passes[lo].until_day;
		}
	}
	return 0;
}

static int64_t
find_account(const struct lane_taglist *l, uint64_t id)
{
	size_t lo = 0, hi = l->naccts;
	if (id > UINT32_MAX)
		return -1;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (l->acct_id[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < l->naccts && l->acct_id[lo] == id ? (int64_t)lo : -1;
}

int
lane_taglist_debit(struct lane_taglist *l, uint64_t account_id, int64_t fee)
{
	int64_t a = find_account(l, account_id);
	int64_t d;
	if (a < 0)
		return TOLL_ENOTFOUND;
	if (fee < 0)
		return TOLL_EINVAL;
	d = (int64_t)l->debit[a] + fee;
	l->debit[a] = d > INT32_MAX ? INT32_MAX : (int32_t)d;
	return 0;
}

uint64_t lane_taglist_version(const struct lane_taglist *l) { return l->version; }
size_t lane_taglist_count(const struct lane_taglist *l) { return (size_t)l->count; }

size_t
lane_taglist_memory_bytes(const struct lane_taglist *l)
{
	return (size_t)(l->cap * sizeof(struct entry) + l->naccts * 12 + l->npasses * sizeof(struct pass) +
			sizeof(*l));
}

void
lane_taglist_free(struct lane_taglist *l)
{
	if (l == NULL)
		return;
	free(l->slots);
	free(l->acct_id);
	free(l->balance);
	free(l->debit);
	free(l->passes);
	free(l);
}

/* ---- loading ---------------------------------------------------------------- */

int
lane_taglist_load_mem(const uint8_t *buf, size_t len, struct lane_taglist **out, char *err,
		      size_t errlen)
{
	struct toll_rd r;
	uint8_t m[8];
	uint32_t version, zero, crc, zero2, tcrc;
	uint64_t lv, na, nt;
	struct lane_taglist *l;
	int rc = TOLL_EFORMAT;

	if (buf == NULL || len < HDR + TRAILER)
		return fail(err, errlen, "tag list truncated (%zu bytes)", len);
	toll_rd_init(&r, buf, HDR);
	toll_rd_bytes(&r, m, 8);
	toll_rd_u32(&r, &version);
	toll_rd_u32(&r, &zero);
	toll_rd_u64(&r, &lv);
	toll_rd_u64(&r, &na);
	toll_rd_u64(&r, &nt);
	toll_rd_u32(&r, &crc);
	toll_rd_u32(&r, &zero2);
	if (memcmp(m, magic, 8) != 0)
		return fail(err, errlen, "not a tag status list (bad magic)");
	if (crc != toll_crc32c(0, buf, 40) || zero != 0 || zero2 != 0)
		return fail(err, errlen, "tag list header damaged");
	if (version != 1) {
		fail(err, errlen, "tag list format version %u, this program reads version 1", version);
		return TOLL_EVERSION;
	}
	if (memcmp(buf + len - 8, endmagic, 8) != 0)
		return fail(err, errlen, "tag list truncated (no end marker)");
	toll_rd_init(&r, buf + len - TRAILER, 4);
	toll_rd_u32(&r, &tcrc);
	if (tcrc != toll_crc32c(0, buf + HDR, len - HDR - TRAILER))
		return fail(err, errlen, "tag list damaged (checksum mismatch)");
	if (na > UINT32_MAX || nt > MAX_TAGS || na * 16 > len)
		return fail(err, errlen, "tag list counts out of bounds (%" PRIu64 " accounts, %" PRIu64 " tags)", na, nt);

	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return TOLL_ENOMEM;
	l->version = lv;
	l->naccts = na;
	l->acct_id = malloc((na ? na : 1) * sizeof(*l->acct_id));
	l->balance = malloc((na ? na : 1) * sizeof(*l->balance));
	l->debit = calloc(na ? na : 1, sizeof(*l->debit));
	l->cap = nt + nt / 4 + 1;
	l->slots = calloc(l->cap, sizeof(*l->slots));
	if (!l->acct_id || !l->balance || !l->debit || !l->slots) {
		rc = TOLL_ENOMEM;
		goto bad;
	}
	toll_rd_init(&r, buf + HDR, len - HDR - TRAILER);
	for (uint64_t i = 0; i < na; i++) {
		uint64_t id;
		int64_t bal;
		if (toll_rd_u64(&r, &id) || toll_rd_i64(&r, &bal)) {
			fail(err, errlen, "tag list truncated in account %" PRIu64, i);
			goto bad;
		}
		if (id == 0 || id > UINT32_MAX || (i > 0 && id <= l->acct_id[i - 1])) {
			fail(err, errlen, "account %" PRIu64 ": id %" PRIu64 " zero, too large or out of order", i, id);
			goto bad;
		}
		l->acct_id[i] = (uint32_t)id;
		l->balance[i] = bal > INT32_MAX ? INT32_MAX : bal < INT32_MIN ? INT32_MIN : (int32_t)bal;
	}
	for (uint64_t i = 0; i < nt; i++) {
		uint16_t bits;
		uint8_t epc[FWI_EPC_MAX_BYTES] = {0}, tid[12], flags, cls, status, reason, plen;
		char plate[16];
		uint32_t acct;
		uint32_t pst = 0, pday = 0;
		struct entry e;

		memset(&e, 0, sizeof(e));
		if (toll_rd_u16(&r, &bits) || bits == 0 || bits > FWI_EPC_MAX_BITS ||
		    toll_rd_bytes(&r, epc, (bits + 7u) / 8) || toll_rd_u8(&r, &flags) || (flags & ~7) ||
		    ((flags & F_TID) && toll_rd_bytes(&r, tid, 12)) || toll_rd_u32(&r, &acct) ||
		    toll_rd_u8(&r, &cls) || toll_rd_u8(&r, &status) || toll_rd_u8(&r, &reason) ||
		    toll_rd_u8(&r, &plen) || plen > LANE_PLATE_MAX || toll_rd_bytes(&r, plate, plen) ||
		    ((flags & F_PASS) && (toll_rd_u32(&r, &pst) || toll_rd_u32(&r, &pday)))) {
			fail(err, errlen, "tag %" PRIu64 ": truncated or malformed", i);
			goto bad;
		}
		if (bits % 8 && (epc[bits / 8] & (0xFF >> (bits % 8)))) {
			fail(err, errlen, "tag %" PRIu64 ": bits set past the EPC length", i);
			goto bad;
		}
		int64_t a = acct < na ? (int64_t)acct : -1;
		uint64_t packed;
		if (a < 0 || cls < 1 || cls > 5 || status > LANE_TAG_INVALID || reason > 15 ||
		    plate_pack(plate, plen, &packed) != 0) {
			fail(err, errlen, "tag %" PRIu64 ": unknown account, class, status, reason or plate", i);
			goto bad;
		}
		e.plate_reason = packed;
		e.info = (uint8_t)(make_key(epc, bits, e.key) | cls | status << 3 |
				   ((flags & F_EXEMPT) ? 1 << 5 : 0) | ((flags & F_PASS) ? 1 << 6 : 0));
		e.plate_reason |= (uint64_t)reason << 60;
		e.acct = (uint32_t)a + 1;
		e.tidh = (flags & F_TID) ? tid_hash(tid) : 0;
		uint64_t s = slot_of(l, e.key);
		while (l->slots[s].acct != 0) {
			if ((l->slots[s].info & INFO_HASHED) == (e.info & INFO_HASHED) &&
			    memcmp(l->slots[s].key, e.key, 12) == 0) {
				fail(err, errlen, "tag %" PRIu64 ": EPC listed twice", i);
				goto bad;
			}
			s = s + 1 == l->cap ? 0 : s + 1;
		}
		l->slots[s] = e;
		l->count++;
		if (flags & F_PASS) {
			struct pass *np = l->npasses % 1024 == 0
						  ? realloc(l->passes, (l->npasses + 1024) * sizeof(*np))
						  : l->passes;
			if (np == NULL) {
				rc = TOLL_ENOMEM;
				goto bad;
			}
			l->passes = np;
			l->passes[l->npasses].entry = (uint32_t)s;
			l->passes[l->npasses].station = pst;
			l->passes[l->npasses].until_day = pday;
			l->npasses++;
		}
	}
	if (toll_rd_left(&r) != 0) {
		fail(err, errlen, "tag list has %zu bytes after its last tag", toll_rd_left(&r));
		goto bad;
	}
	/* passes sorted by slot for the lookup's binary search */
	for (uint64_t i = 1; i < l->npasses; i++) {
		struct pass p = l->passes[i];
		uint64_t j = i;
		while (j > 0 && l->passes[j - 1].entry > p.entry) {
			l->passes[j] = l->passes[j - 1];
			j--;
		}
		l->passes[j] = p;
	}
	*out = l;
	return 0;
bad:
	lane_taglist_free(l);
	return rc;
}

int
lane_taglist_load(const char *path, struct lane_taglist **out, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int rc;

	if (fd < 0)
		return fail(err, errlen, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || st.st_size < 0) {
		close(fd);
		return fail(err, errlen, "%s: %s", path, strerror(errno));
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return TOLL_ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	char msg[256];
	rc = lane_taglist_load_mem(buf, got, out, msg, sizeof(msg));
	free(buf);
	if (rc != 0)
		fail(err, errlen, "%s: %s", path, msg);
	return rc;
}

/* ---- writing ---------------------------------------------------------------- */

struct wtag {
	uint16_t bits;
	uint8_t epc[FWI_EPC_MAX_BYTES];
	uint8_t has_tid, tid[12];
	uint64_t account;
	uint64_t home; /* the slot the loader will put it near: file order */
	uint32_t account_index;
	uint8_t cls, status, reason, flags, plen;
	char plate[LANE_PLATE_MAX];
	uint32_t pass_station, pass_until;
};

struct waccount {
	uint64_t id;
	int64_t balance;
};

struct lane_taglist_writer {
	uint64_t version;
	struct wtag *tags;
	size_t ntags, captags;
	struct waccount *accts;
	size_t naccts, capaccts;
};

int
lane_taglist_writer_new(uint64_t list_version, struct lane_taglist_writer **out)
{
	struct lane_taglist_writer *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return TOLL_ENOMEM;
	w->version = list_version;
	*out = w;
	return 0;
}

void
lane_taglist_writer_free(struct lane_taglist_writer *w)
{
	if (w == NULL)
		return;
	free(w->tags);
	free(w->accts);
	free(w);
}

int
lane_taglist_writer_account(struct lane_taglist_writer *w, uint64_t id, int64_t balance)
{
	if (id == 0 || id > UINT32_MAX)
		return TOLL_ERANGE;
	if (w->naccts == w->capaccts) {
		size_t nc = w->capaccts ? 2 * w->capaccts : 1024;
		struct waccount *n = realloc(w->accts, nc * sizeof(*n));
		if (n == NULL)
			return TOLL_ENOMEM;
		w->accts = n;
		w->capaccts = nc;
	}
	w->accts[w->naccts].id = id;
	w->accts[w->naccts].balance = balance;
	w->naccts++;
	return 0;
}

int
lane_taglist_writer_tag(struct lane_taglist_writer *w, const uint8_t *epc, unsigned bits,
			const uint8_t *tid, uint64_t account, unsigned vclass, const char *plate,
			unsigned status, unsigned reason, unsigned flags, uint32_t pass_station,
			uint32_t pass_until_day)
{
	struct wtag t;
	uint64_t packed;
	size_t plen = plate ? strlen(plate) : 0;

	if (bits == 0 || bits > FWI_EPC_MAX_BITS || vclass < 1 || vclass > 5 || status > LANE_TAG_INVALID ||
	    reason > 15 || (flags & ~(unsigned)(LANE_TAG_F_EXEMPT | LANE_TAG_F_PASS)) ||
	    plate_pack(plate ? plate : "", plen, &packed) != 0 || w->ntags >= MAX_TAGS)
		return TOLL_EINVAL;
	memset(&t, 0, sizeof(t));
	t.bits = (uint16_t)bits;
	memcpy(t.epc, epc, (bits + 7) / 8);
	if (bits % 8)
		t.epc[bits / 8] &= (uint8_t)(0xFF << (8 - bits % 8));
	if (tid != NULL) {
		t.has_tid = 1;
		memcpy(t.tid, tid, 12);
	}
	t.account = account;
	t.cls = (uint8_t)vclass;
	t.status = (uint8_t)status;
	t.reason = (uint8_t)reason;
	t.flags = (uint8_t)flags;
	t.plen = (uint8_t)plen;
	memcpy(t.plate, plate ? plate : "", plen);
	t.pass_station = pass_station;
	t.pass_until = pass_until_day;
	if (w->ntags == w->captags) {
		size_t nc = w->captags ? 2 * w->captags : 1024;
		struct wtag *n = realloc(w->tags, nc * sizeof(*n));
		if (n == NULL)
			return TOLL_ENOMEM;
		w->tags = n;
		w->captags = nc;
	}
	w->tags[w->ntags++] = t;
	return 0;
}

static int
home_cmp(const void *a, const void *b)
{
	const struct wtag *x = a, *y = b;
	return x->home < y->home ? -1 : x->home > y->home;
}

static int
acct_cmp(const void *a, const void *b)
{
	const struct waccount *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int
put_all(FILE *f, const void *p, size_t n, uint32_t *crc)
{
	*crc = toll_crc32c(*crc, p, n);
	return fwrite(p, 1, n, f) == n ? 0 : -1;
}

int
lane_taglist_writer_finish(struct lane_taglist_writer *w, const char *path)
{
	char tmp[4096];
	uint8_t b[128];
	struct toll_wr wr;
	uint32_t crc = 0;
	FILE *f;
	int fd, ok = 1;

	qsort(w->accts, w->naccts, sizeof(*w->accts), acct_cmp);
	for (size_t i = 1; i < w->naccts; i++)
		if (w->accts[i].id == w->accts[i - 1].id)
			return TOLL_EEXIST;
	/* tags in the order of their slots in the loader's table, so loading
	 * fills it front to back instead of at random (3x faster at 10M) */
	struct lane_taglist shape;
	memset(&shape, 0, sizeof(shape));
	shape.cap = (uint64_t)w->ntags + w->ntags / 4 + 1;
	for (size_t i = 0; i < w->ntags; i++) {
		uint8_t key[12];
		make_key(w->tags[i].epc, w->tags[i].bits, key);
		w->tags[i].home = slot_of(&shape, key);
	}
	qsort(w->tags, w->ntags, sizeof(*w->tags), home_cmp);
	/* tags name their account by its index in the sorted accounts */
	for (size_t i = 0; i < w->ntags; i++) {
		size_t lo = 0, hi = w->naccts;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (w->accts[mid].id < w->tags[i].account)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == w->naccts || w->accts[lo].id != w->tags[i].account)
			return TOLL_ENOTFOUND;
		w->tags[i].account_index = (uint32_t)lo;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		if (fd >= 0)
			close(fd);
		return TOLL_ESYS;
	}
	toll_wr_init(&wr, b, HDR);
	toll_wr_bytes(&wr, magic, 8);
	toll_wr_u32(&wr, 1);
	toll_wr_u32(&wr, 0);
	toll_wr_u64(&wr, w->version);
	toll_wr_u64(&wr, w->naccts);
	toll_wr_u64(&wr, w->ntags);
	toll_wr_u32(&wr, toll_crc32c(0, b, 40));
	toll_wr_u32(&wr, 0);
	ok &= fwrite(b, 1, HDR, f) == HDR;
	for (size_t i = 0; i < w->naccts && ok; i++) {
		toll_wr_init(&wr, b, 16);
		toll_wr_u64(&wr, w->accts[i].id);
		toll_wr_u64(&wr, (uint64_t)w->accts[i].balance);
		ok &= put_all(f, b, 16, &crc) == 0;
	}
	for (size_t i = 0; i < w->ntags && ok; i++) {
		const struct wtag *t = &w->tags[i];
		uint8_t fl = (uint8_t)((t->has_tid ? F_TID : 0) | ((t->flags & LANE_TAG_F_EXEMPT) ? F_EXEMPT : 0) |
				       ((t->flags & LANE_TAG_F_PASS) ? F_PASS : 0));
		toll_wr_init(&wr, b, sizeof(b));
		toll_wr_u16(&wr, t->bits);
		toll_wr_bytes(&wr, t->epc, (t->bits + 7u) / 8);
		toll_wr_u8(&wr, fl);
		if (t->has_tid)
			toll_wr_bytes(&wr, t->tid, 12);
		toll_wr_u32(&wr, t->account_index);
		toll_wr_u8(&wr, t->cls);
		toll_wr_u8(&wr, t->status);
		toll_wr_u8(&wr, t->reason);
		toll_wr_u8(&wr, t->plen);
		toll_wr_bytes(&wr, t->plate, t->plen);
		if (fl & F_PASS) {
			toll_wr_u32(&wr, t->pass_station);
			toll_wr_u32(&wr, t->pass_until);
		}
		ok &= put_all(f, b, wr.off, &crc) == 0;
	}
	toll_wr_init(&wr, b, TRAILER);
	toll_wr_u32(&wr, crc);
	toll_wr_bytes(&wr, endmagic, 8);
	ok &= fwrite(b, 1, TRAILER, f) == TRAILER;
	ok &= fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok &= fclose(f) == 0;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return TOLL_ESYS;
	}
	return 0;
}

/* ---- CSV import ----------------------------------------------------------- */

static int
hexbytes(const char *s, uint8_t *out, size_t max, unsigned *bits)
{
	size_t n = strlen(s);
	if (n == 0 || n > 2 * max)
		return -1;
	memset(out, 0, max);
	for (size_t i = 0; i < n; i++) {
		int d = (s[i] >= '0' && s[i] <= '9') ? s[i] - '0'
			: (s[i] >= 'a' && s[i] <= 'f') ? s[i] - 'a' + 10
			: (s[i] >= 'A' && s[i] <= 'F') ? s[i] - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		out[i / 2] |= (uint8_t)(i % 2 ? d : d << 4);
	}
	*bits = (unsigned)(4 * n);
	return 0;
}

static int
u64_field(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno != 0 || *end != 0 || *out > max ? -1 : 0;
}

int
lane_taglist_import_csv(const char *csv_path, const char *out_path, uint64_t list_version,
			char *err, size_t errlen)
{
	FILE *f = fopen(csv_path, "r");
	struct lane_taglist_writer *w = NULL;
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	unsigned ln = 0;
	int rc = 0, header = 0;

	if (f == NULL)
		return fail(err, errlen, "%s: %s", csv_path, strerror(errno));
	if (lane_taglist_writer_new(list_version, &w) != 0) {
		fclose(f);
		return TOLL_ENOMEM;
	}
	while (rc == 0 && (got = getline(&line, &cap, f)) >= 0) {
		char *fld[12], *p = line;
		int nf = 0;
		ln++;
		if ((size_t)got != strlen(line) || got > 1024) {
			rc = fail(err, errlen, "%s:%u: NUL byte or line too long", csv_path, ln);
			break;
		}
		line[strcspn(line, "\r\n")] = 0;
		if (line[0] == 0 || line[0] == '#')
			continue;
		if (!header) {
			if (strcmp(line, "toll-taglist-csv 1") != 0) {
				rc = fail(err, errlen, "%s:%u: want the header 'toll-taglist-csv 1'", csv_path, ln);
				break;
			}
			header = 1;
			continue;
		}
		for (;;) {
			if (nf == 12)
				break;
			fld[nf++] = p;
			p = strchr(p, ',');
			if (p == NULL)
				break;
			*p++ = 0;
		}
		if (strcmp(fld[0], "account") == 0) {
			uint64_t id;
			char *end;
			long long bal;
			if (nf != 3 || u64_field(fld[1], UINT32_MAX, &id) != 0 || id == 0) {
				rc = fail(err, errlen, "%s:%u: want 'account,ID,BALANCE' with ID 1..4294967295", csv_path, ln);
				break;
			}
			errno = 0;
			bal = strtoll(fld[2], &end, 10);
			if (errno != 0 || *end != 0 || end == fld[2]) {
				rc = fail(err, errlen, "%s:%u: bad balance '%s'", csv_path, ln, fld[2]);
				break;
			}
			if (lane_taglist_writer_account(w, id, bal) != 0)
				rc = fail(err, errlen, "%s:%u: account refused", csv_path, ln);
			continue;
		}
		uint8_t epc[FWI_EPC_MAX_BYTES], tid[12];
		unsigned bits, tbits = 0, status, flags = 0;
		uint64_t acct, cls, reason, pst = 0, pday = 0;
		if (nf != 10 || hexbytes(fld[0], epc, sizeof(epc), &bits) != 0 ||
		    (fld[1][0] && (hexbytes(fld[1], tid, 12, &tbits) != 0 || tbits != 96)) ||
		    u64_field(fld[2], UINT32_MAX, &acct) != 0 || u64_field(fld[3], 5, &cls) != 0 || cls < 1 ||
		    u64_field(fld[6], 15, &reason) != 0 ||
		    (fld[8][0] && u64_field(fld[8], UINT32_MAX, &pst) != 0) ||
		    (fld[9][0] && u64_field(fld[9], UINT32_MAX, &pday) != 0)) {
			rc = fail(err, errlen, "%s:%u: want EPC,TID,ACCOUNT,CLASS(1-5),PLATE,STATUS,REASON(0-15),FLAGS,PASS_STATION,PASS_UNTIL_DAY",
				  csv_path, ln);
			break;
		}
		if (strcmp(fld[5], "valid") == 0)
			status = LANE_TAG_VALID;
		else if (strcmp(fld[5], "low") == 0)
			status = LANE_TAG_LOW_BALANCE;
		else if (strcmp(fld[5], "invalid") == 0)
			status = LANE_TAG_INVALID;
		else {
			rc = fail(err, errlen, "%s:%u: status '%s': valid, low or invalid", csv_path, ln, fld[5]);
			break;
		}
		if (strcmp(fld[7], "exempt") == 0)
			flags = LANE_TAG_F_EXEMPT;
		else if (strcmp(fld[7], "pass") == 0)
			flags = LANE_TAG_F_PASS;
		else if (fld[7][0] != 0) {
			rc = fail(err, errlen, "%s:%u: flags '%s': exempt, pass or empty", csv_path, ln, fld[7]);
			break;
		}
		if (lane_taglist_writer_tag(w, epc, bits, tbits ? tid : NULL, acct, (unsigned)cls, fld[4], status,
					    (unsigned)reason, flags, (uint32_t)pst, (uint32_t)pday) != 0)
			rc = fail(err, errlen, "%s:%u: tag refused (plate: at most %d of 0-9 A-Z - . space)",
				  csv_path, ln, LANE_PLATE_MAX);
	}
	free(line);
	fclose(f);
	if (rc == 0 && !header)
		rc = fail(err, errlen, "%s: empty", csv_path);
	if (rc == 0) {
		int wr = lane_taglist_writer_finish(w, out_path);
		if (wr == TOLL_EEXIST)
			rc = fail(err, errlen, "%s: an account listed twice", csv_path);
		else if (wr == TOLL_ENOTFOUND)
			rc = fail(err, errlen, "%s: a tag names an unknown account", csv_path);
		else if (wr != 0)
			rc = fail(err, errlen, "could not write %s", out_path);
	}
	lane_taglist_writer_free(w);
	if (rc == 0) {
		/* load it back: duplicate EPCs, unknown accounts show here */
		struct lane_taglist *l;
		char msg[256];
		if (lane_taglist_load(out_path, &l, msg, sizeof(msg)) != 0) {
			unlink(out_path);
			return fail(err, errlen, "%s: %s", csv_path, msg);
		}
		lane_taglist_free(l);
	}
	return rc;
}

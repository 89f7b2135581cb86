/* lane_taglist.c: the tag status list: file, memory, lookups, writer, CSV.
 *
 * File, format version 2, big-endian (docs/taglist-format.md):
 *
 *   header, 64 bytes
 *      0  magic "TOLLTSL\0"
 *      8  u32 format version (2)
 *     12  u32 header length (64)
 *     16  u64 list version
 *     24  u64 A, accounts
 *     32  u64 T, tags
 *     40  u64 L, tags whose EPC is not 96 bits long ("long EPCs")
 *     48  u64 P, tags with a pass
 *     56  u32 zero
 *     60  u32 CRC-32C of bytes 0-59
 *   three sections in this order: accounts (type 1), long EPCs (2), tags (3)
 *     u32 type | u32 record length | u64 record count | records |
 *     u32 CRC-32C of the section from its type field on
 *   account, 16 bytes, ids strictly increasing:
 *     u64 id (1..2^32-1) | i64 balance VND
 *   long EPC, 34 bytes, in the order of the tags that use them:
 *     u16 bits (1..256, not 96) | 32 bytes EPC, left-aligned, zero past its bits
 *   tag, 52 bytes, strictly increasing by (hash, EPC bits, EPC bytes):
 *      0  12 bytes EPC (96 bits; zero for a long EPC)
 *     12  12 bytes TID (zero without one)
 *     24  u32 account index (into the accounts section)
 *     28  u8 class 1-5 | u8 status 0-2 | u8 reason | u8 flags (1 TID,
 *         2 exempt, 4 pass, 8 long EPC: the next long EPC record)
 *     32  12 bytes plate: printable ASCII, zero-padded
 *     44  u32 pass station | u32 pass valid-until day (both zero without a pass)
 *   trailer, 12 bytes: u32 CRC-32C of every byte before it | "TOLLEND\0"
 *
 * The size is therefore 136 + 16 A + 34 L + 52 T: a file whose header says
 * otherwise is refused before anything is allocated.
 *
 * hash(EPC) = h, starting from 0x9E3779B97F4A7C15 ^ bits, then for each
 * 8-byte group of the EPC's bytes (zero-padded, big-endian) h =
 * fmix64(h ^ group) (MurmurHash3's finaliser).
 *
 * Memory: the tags in file order (sorted by hash), 32 bytes each; a
 * directory of u32 first-indexes over T/2 hash buckets (bucket =
 * (hash >> 32) * buckets >> 32, monotone in the hash, so each bucket's tags
 * are contiguous); a lookup hashes, reads two directory words and compares
 * about two entries.  Accounts sorted by id, 12 bytes (u32 id, i32 balance,
 * i32 debits), with a directory over the id range for debits by id.
 * Passes (tag index, station, day) sorted by tag with a directory per 256
 * tags; long EPCs and plates outside the 6-bit alphabet in side arrays.
 * 10 M tags and 8.3 M accounts: 32 + 2 + 10 + 0.4 = ~44.5 bytes a tag.
 *
 * Updates after load: a layer of records over the base, each found through
 * an open-addressing hash table of pointers (tags by EPC hash, accounts by
 * id); the threading argument is in lane_taglist.h and at "the update
 * layer" below. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "crc.h"
#include "err.h"
#include "lane_taglist.h"

#define FORMAT_VERSION 2
#define HDR_LEN 64
#define SEC_HDR_LEN 16
#define SEC_CRC_LEN 4
#define TRAILER_LEN 12
#define ACCT_REC 16
#define LONG_REC 34
#define TAG_REC 52
#define SEC_ACCOUNTS 1
#define SEC_LONG 2
#define SEC_TAGS 3
#define FIXED_LEN (HDR_LEN + 3 * (SEC_HDR_LEN + SEC_CRC_LEN) + TRAILER_LEN)

/* tag flags in the file */
#define FF_TID 0x01
#define FF_EXEMPT 0x02
#define FF_PASS 0x04
#define FF_LONG 0x08

#define TAGS_PER_BUCKET 2
#define MAX_BUCKET 64 /* tags in one hash bucket: a lookup's bound */
#define ACCTS_PER_BUCKET 8
#define PASS_SHIFT 8 /* one pass directory word per 256 tags */
#define CHUNK_RECS 16384
#define BIG_ALLOC (1u << 20)
#define HASH_SEED 0x9E3779B97F4A7C15ull
#define TID_SEED 0xC2B2AE3D27D4EB4Full
#define CSV_LINE_MAX 1024

static const uint8_t magic[8] = {'T', 'O', 'L', 'L', 'T', 'S', 'L', 0};
static const uint8_t endmagic[8] = {'T', 'O', 'L', 'L', 'E', 'N', 'D', 0};

/* ---- memory layout ------------------------------------------------------ */

/* entry.info */
#define I_CLASS 0x07
#define I_STATUS_SHIFT 3
#define I_EXEMPT 0x20
#define I_PASS 0x40
#define I_TID 0x80
/* entry.x */
#define X_LONG 0x01  /* key holds the index into longs */
#define X_PLATE 0x02 /* plate holds the index into plates */
#define X_UPDATED 0x04 /* the update layer holds this tag's state (set atomically, once) */

/* One tag, 32 bytes. */
struct entry {
	uint64_t plate;	  /* characters 0-9, 6 bits each from bit 0, and bits 0-3 of character 10 */
	uint8_t key[12];  /* the 96-bit EPC as read; X_LONG: u32 index, host order */
	uint32_t acct;	  /* index into accts */
	uint32_t tidfp;	  /* TID fingerprint, with I_TID */
	uint8_t plate_hi; /* bits 4-5 of character 10, character 11 from bit 2 */
	uint8_t info;	  /* class | status << 3 | I_EXEMPT | I_PASS | I_TID */
	uint8_t reason;
	uint8_t x; /* X_LONG | X_PLATE */
};
_Static_assert(sizeof(struct entry) == 32, "a tag entry is 32 bytes");

struct account {
	uint32_t id;
	int32_t balance_vnd;
	int32_t debit_vnd; /* this process's debits since the snapshot, atomic;
			    * DEBIT_MOVED once the update layer holds the account */
};

struct pass {
	uint32_t tag, station, until_day;
};

struct longepc {
	uint16_t bits;
	uint8_t epc[32];
};

enum { R_TAGS, R_DIR, R_ACCTS, R_ADIR, R_PASSES, R_PDIR, R_LONGS, R_COUNT };

struct region {
	void *p;
	size_t n;
};

struct lane_taglist {
	struct region mem[R_COUNT];
	struct entry *tags;
	uint32_t *dir; /* nb + 1 words */
	uint64_t ntags;
	uint32_t nb;
	struct account *accts;
	uint32_t *adir; /* nab + 1 words */
	uint64_t naccts;
	uint32_t nab, amin;
	uint64_t aspan;
	struct pass *passes;
	uint32_t *pdir; /* npb + 1 words */
	uint64_t npasses, npb;
	struct longepc *longs;
	uint64_t nlongs;
	char (*plates)[LANE_PLATE_MAX]; /* plates outside the 6-bit alphabet */
	size_t nplates, capplates;

	/* the update layer; atomic where readers see it */
	uint64_t version_now;	 /* atomic */
	pthread_mutex_t umu;	 /* update calls and save */
	struct ptab *utab;	 /* tags by EPC hash, atomic pointer */
	struct ptab *atab;	 /* accounts by id, atomic pointer */
	struct tblock *tblocks;	 /* where tag records live: update side only */
	struct ablock *ablocks;	 /* where account records live: update side only */
	uint64_t n_utags;	 /* tag records, atomic */
	uint64_t n_newtags;	 /* of those, tags the base does not have, atomic */
	uint64_t n_uaccts;	 /* account records, atomic */
	uint64_t n_newaccts;	 /* of those, accounts the base does not have, atomic */
	size_t ubytes;		 /* what the update layer allocated, atomic */
};

/* Large arrays come straight from mmap (huge pages where the kernel gives
 * them: fewer TLB misses on a 300 MB table), small ones from calloc. */
static void *
region_alloc(struct lane_taglist *l, int r, size_t n)
{
	void *p;

	if (n < BIG_ALLOC) {
		p = calloc(1, n ? n : 1);
	} else {
		p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			p = NULL;
#ifdef MADV_HUGEPAGE
		else
			(void)madvise(p, n, MADV_HUGEPAGE);
#endif
	}
	l->mem[r].p = p;
	l->mem[r].n = n;
	return p;
}

static void
region_free(struct region *m)
{
	if (m->p == NULL)
		return;
	if (m->n < BIG_ALLOC)
		free(m->p);
	else
		munmap(m->p, m->n);
	m->p = NULL;
}

static void updates_free(struct lane_taglist *l);

void
lane_taglist_free(struct lane_taglist *l)
{
	if (l == NULL)
		return;
	updates_free(l);
	pthread_mutex_destroy(&l->umu);
	for (int r = 0; r < R_COUNT; r++)
		region_free(&l->mem[r]);
	free(l->plates);
	free(l);
}

size_t
lane_taglist_memory_bytes(const struct lane_taglist *l)
{
	size_t n = sizeof(*l) + l->capplates * sizeof(*l->plates);
	for (int r = 0; r < R_COUNT; r++)
		n += l->mem[r].n;
	return n + __atomic_load_n(&l->ubytes, __ATOMIC_RELAXED);
}

uint64_t
lane_taglist_version(const struct lane_taglist *l)
{
	return __atomic_load_n(&l->version_now, __ATOMIC_RELAXED);
}

size_t
lane_taglist_count(const struct lane_taglist *l)
{
	return (size_t)(l->ntags + __atomic_load_n(&l->n_newtags, __ATOMIC_RELAXED));
}

/* ---- hashing -------------------------------------------------------------- */

static inline uint64_t
fmix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xFF51AFD7ED558CCDull;
	x ^= x >> 33;
	x *= 0xC4CEB9FE1A85EC53ull;
	x ^= x >> 33;
	return x;
}

/* n <= 8 bytes as a big-endian u64, zero-padded on the right */
static inline uint64_t
group_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t k = 0; k < 8; k++)
		v = v << 8 | (k < n ? p[k] : 0);
	return v;
}

static uint64_t
epc_hash(uint64_t seed, const uint8_t *epc, unsigned bits)
{
	size_t n = (bits + 7) / 8;
	uint64_t h = seed ^ bits;
	for (size_t i = 0; i < n; i += 8)
		h = fmix64(h ^ group_be(epc + i, n - i < 8 ? n - i : 8));
	return h;
}

static inline uint64_t
epc_hash96(const uint8_t e[12])
{
	uint64_t h = HASH_SEED ^ 96;
	h = fmix64(h ^ group_be(e, 8));
	return fmix64(h ^ group_be(e + 8, 4));
}

static uint32_t
tid_fingerprint(const uint8_t tid[12])
{
	return (uint32_t)(epc_hash(TID_SEED, tid, 96) >> 32);
}

static inline uint32_t
bucket_of(uint64_t h, uint32_t nb)
{
	return (uint32_t)(((h >> 32) * (uint64_t)nb) >> 32);
}

static uint32_t
buckets_for(uint64_t ntags)
{
	return (uint32_t)(ntags / TAGS_PER_BUCKET + 1);
}

/* The order of the tags in the file and in memory. */
static int
key_cmp(uint64_t ha, unsigned bitsa, const uint8_t *a, uint64_t hb, unsigned bitsb, const uint8_t *b)
{
	if (ha != hb)
		return ha < hb ? -1 : 1;
	if (bitsa != bitsb)
		return bitsa < bitsb ? -1 : 1;
	return memcmp(a, b, (bitsa + 7) / 8);
}

/* ---- plates: 6 bits a character, or the overflow arena -------------------- */

static const char plate_alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-. ";

static int
plate_code(char c)
{
	if (c >= '0' && c <= '9')
		return 1 + (c - '0');
	if (c >= 'A' && c <= 'Z')
		return 11 + (c - 'A');
	switch (c) {
	case '-':
		return 37;
	case '.':
		return 38;
	case ' ':
		return 39;
	}
	return -1;
}

/* 0, or -1 when a character is outside the alphabet */
static int
plate_pack(const char *p, size_t n, uint64_t *lo, uint8_t *hi)
{
	uint64_t v = 0;
	unsigned c10 = 0, c11 = 0;

	for (size_t i = 0; i < n; i++) {
		int c = plate_code(p[i]);
		if (c < 0)
			return -1;
		if (i < 10)
			v |= (uint64_t)c << (6 * i);
		else if (i == 10)
			c10 = (unsigned)c;
		else
			c11 = (unsigned)c;
	}
	*lo = v | (uint64_t)(c10 & 15) << 60;
	*hi = (uint8_t)(c10 >> 4 | c11 << 2);
	return 0;
}

static void
plate_unpack(uint64_t lo, uint8_t hi, char out[LANE_PLATE_MAX + 1])
{
	unsigned n = 0;
	for (unsigned i = 0; i < LANE_PLATE_MAX; i++) {
		unsigned c = i < 10 ? (unsigned)(lo >> (6 * i)) & 63
			     : i == 10 ? (unsigned)(lo >> 60) | (hi & 3u) << 4
				       : (unsigned)hi >> 2;
		if (c == 0 || c > sizeof(plate_alphabet) - 1)
			break;
		out[n++] = plate_alphabet[c - 1];
	}
	out[n] = 0;
}

/* A plate field of the file or an argument: at most 12 printable ASCII
 * characters; in a 12-byte field, zero-padded. Its length, or -1. */
static int
plate_check(const char *p, size_t field)
{
	size_t n = 0;
	while (n < field && p[n] != 0) {
		if (p[n] < 0x20 || p[n] > 0x7E)
			return -1;
		n++;
	}
	for (size_t i = n; i < field; i++)
		if (p[i] != 0)
			return -1;
	return (int)n;
}

/* ---- the update layer: records and tables --------------------------------- */

/* What readers rely on (the update side is serialised by l->umu):
 * - a record is filled before the release store that publishes its pointer
 *   in a table slot, and its key (tags) or id (accounts) never changes;
 * - a table is filled before the release store that publishes it; the one
 *   it replaces stays allocated (and still correct for what it held) until
 *   lane_taglist_free;
 * - a tag record's state words are rewritten under its sequence count:
 *   odd while the writer is in them; every state store is a release and
 *   every state load an acquire, so a reader that read any word of a
 *   rewrite reads the odd count (or later) when it checks the count again
 *   and copies the state again;
 * - a base entry's X_UPDATED bit is set (release) after its record is
 *   published, and a base account's debit word becomes DEBIT_MOVED
 *   (exchange, release) after its account record is: a reader that sees
 *   either (acquire) finds the record. */

#define NO_BASE UINT32_MAX
#define DEBIT_MOVED (-1) /* debits are never negative */
#define PTAB_MIN 1024	 /* slots in a first table; at most half are used */
#define UBLOCK 1024	 /* records per allocation */
#define SEQ_SPINS 64	 /* copies of a busy record before the reader yields */

/* tag state words */
enum { ST_INFO, ST_PASS, ST_PLATE_LO, ST_PLATE_HI, ST_ACCT, ST_WORDS };
/* ST_INFO: entry.info (class, status, I_EXEMPT, I_PASS, I_TID) | reason << 8 |
 *          TID fingerprint << 32
 * ST_PASS: station | last day << 32
 * ST_PLATE_LO, ST_PLATE_HI: the 12 plate bytes, zero-padded, byte i at bit 8 (i % 8)
 * ST_ACCT: an account reference: base index << 1 | 1, or a struct uacct pointer */

struct utag {
	uint64_t h;
	uint8_t epc[32]; /* zero past bits */
	uint16_t bits;
	uint32_t base;	/* the base entry it replaces, or NO_BASE */
	uint32_t seq;	/* atomic; odd while st is being rewritten */
	uint64_t st[ST_WORDS]; /* atomic */
	uint8_t tid[LANE_TID_BYTES]; /* the TID as given, for save: update side only */
};

struct uacct {
	uint32_t id;
	uint32_t base;	/* the base account it takes over, or NO_BASE */
	uint64_t state; /* atomic: balance (int32) << 32 | this process's debits (int32, >= 0) */
	int64_t given;	/* central's balance as given, for save: update side only */
	uint32_t merged; /* save's scratch */
};

struct ptab {
	struct ptab *retired; /* the table this one replaced: update side only */
	size_t mask;
	void *slot[]; /* atomic pointers, NULL for empty */
};

struct tblock {
	struct tblock *next;
	size_t used;
	struct utag rec[UBLOCK];
};

struct ablock {
	struct ablock *next;
	size_t used;
	struct uacct rec[UBLOCK];
};

static inline uint64_t
acct_hash(uint32_t id)
{
	return fmix64((uint64_t)id ^ HASH_SEED);
}

static const struct utag *
utag_find(const struct lane_taglist *l, uint64_t h, unsigned bits, const uint8_t k[32])
{
	const struct ptab *t = __atomic_load_n(&l->utab, __ATOMIC_ACQUIRE);
	if (t == NULL)
		return NULL;
	for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
		const struct utag *u = __atomic_load_n(&t->slot[i], __ATOMIC_ACQUIRE);
		if (u == NULL)
			return NULL;
		if (u->h == h && u->bits == bits && memcmp(u->epc, k, 32) == 0)
			return u;
	}
}

static const struct uacct *
uacct_find(const struct lane_taglist *l, uint32_t id)
{
	const struct ptab *t = __atomic_load_n(&l->atab, __ATOMIC_ACQUIRE);
	if (t == NULL)
		return NULL;
	for (size_t i = acct_hash(id) & t->mask;; i = (i + 1) & t->mask) {
		const struct uacct *u = __atomic_load_n(&t->slot[i], __ATOMIC_ACQUIRE);
		if (u == NULL)
			return NULL;
		if (u->id == id)
			return u;
	}
}

/* A consistent copy of a tag record's state. */
static void
utag_read(const struct utag *u, uint64_t st[ST_WORDS])
{
	for (unsigned tries = 1;; tries++) {
		uint32_t s = __atomic_load_n(&u->seq, __ATOMIC_ACQUIRE);
		if (!(s & 1)) {
			for (int w = 0; w < ST_WORDS; w++)
				st[w] = __atomic_load_n(&u->st[w], __ATOMIC_ACQUIRE);
			if (__atomic_load_n(&u->seq, __ATOMIC_RELAXED) == s)
				return;
		}
		if (tries % SEQ_SPINS == 0)
			sched_yield(); /* the writer was preempted inside this record */
	}
}

static inline int64_t
state_balance(uint64_t s)
{
	return (int64_t)(int32_t)(uint32_t)(s >> 32) - (int64_t)(int32_t)(uint32_t)s;
}

static inline uint64_t
state_of(int64_t balance_vnd)
{
	int32_t b = balance_vnd > INT32_MAX ? INT32_MAX : balance_vnd < INT32_MIN ? INT32_MIN : (int32_t)balance_vnd;
	return (uint64_t)(uint32_t)b << 32;
}

static inline uint64_t
base_ref(uint32_t acct)
{
	return (uint64_t)acct << 1 | 1;
}

/* The id and balance (minus this process's debits) of an account reference. */
static void
account_of(const struct lane_taglist *l, uint64_t ref, uint64_t *id, int64_t *balance_vnd)
{
	const struct uacct *u;

	if (ref & 1) {
		const struct account *a = &l->accts[ref >> 1];
		int32_t d = __atomic_load_n(&a->debit_vnd, __ATOMIC_ACQUIRE);
		*id = a->id;
		if (d >= 0) {
			*balance_vnd = (int64_t)a->balance_vnd - d;
			return;
		}
		u = uacct_find(l, a->id);
		assert(u != NULL); /* published before the debit word moved */
	} else {
		u = (const struct uacct *)(uintptr_t)ref;
		*id = u->id;
	}
	*balance_vnd = state_balance(__atomic_load_n(&u->state, __ATOMIC_ACQUIRE));
}

/* ---- lookups ---------------------------------------------------------------- */

/* An EPC as the lists key it: its bytes, zero past its bits, and its hash. */
static uint64_t
epc_key(const uint8_t *epc, unsigned bits, uint8_t k[32])
{
	size_t n = (bits + 7) / 8;

	memset(k, 0, 32);
	memcpy(k, epc, n);
	if (bits % 8)
		k[n - 1] &= (uint8_t)(0xFF << (8 - bits % 8));
	return bits == 96 ? epc_hash96(k) : epc_hash(HASH_SEED, k, bits);
}

static inline uint8_t
entry_x(const struct entry *e)
{
	return __atomic_load_n(&e->x, __ATOMIC_ACQUIRE);
}

/* The base entry of a 96-bit EPC with hash h, or NULL: the lookups' hot path. */
static inline const struct entry *
find96(const struct lane_taglist *l, uint64_t h, const uint8_t *epc)
{
	uint32_t b = bucket_of(h, l->nb);
	for (uint32_t i = l->dir[b], end = l->dir[b + 1]; i < end; i++) {
		const struct entry *e = &l->tags[i];
		if (!(entry_x(e) & X_LONG) && memcmp(e->key, epc, 12) == 0)
			return e;
	}
	return NULL;
}

static const struct entry *
find_long(const struct lane_taglist *l, uint64_t h, unsigned bits, const uint8_t k[32])
{
	uint32_t b = bucket_of(h, l->nb);
	for (uint32_t i = l->dir[b], end = l->dir[b + 1]; i < end; i++) {
		const struct entry *e = &l->tags[i];
		uint32_t li;
		if (!(entry_x(e) & X_LONG))
			continue;
		memcpy(&li, e->key, 4);
		if (l->longs[li].bits == bits && memcmp(l->longs[li].epc, k, 32) == 0)
			return e;
	}
	return NULL;
}

/* The base entry of a keyed EPC (epc_key), or NULL. */
static const struct entry *
find_base(const struct lane_taglist *l, uint64_t h, unsigned bits, const uint8_t k[32])
{
	return bits == 96 ? find96(l, h, k) : find_long(l, h, bits, k);
}

static const struct pass *
find_pass(const struct lane_taglist *l, uint32_t tag)
{
	uint64_t k = tag >> PASS_SHIFT;
	uint32_t lo = l->pdir[k], hi = l->pdir[k + 1];
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (l->passes[mid].tag < tag)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < l->pdir[k + 1] && l->passes[lo].tag == tag ? &l->passes[lo] : NULL;
}

static void
info_fields(unsigned info, unsigned reason, struct lane_tag_info *out)
{
	out->vclass = info & I_CLASS;
	out->status = (info >> I_STATUS_SHIFT) & 3;
	out->reason = reason;
	out->flags = (info & I_EXEMPT ? LANE_TAG_F_EXEMPT : 0) | (info & I_PASS ? LANE_TAG_F_PASS : 0);
}

static inline void
lookup_base(const struct lane_taglist *l, const struct entry *e, uint8_t x, const uint8_t *tid,
	    struct lane_tag_info *out)
{
	const struct account *a = &l->accts[e->acct];
	int32_t d = __atomic_load_n(&a->debit_vnd, __ATOMIC_ACQUIRE);
	if (__builtin_expect(d >= 0, 1)) { /* account_of, inline for the usual case */
		out->account_id = a->id;
		out->balance_vnd = (int64_t)a->balance_vnd - d;
	} else {
		account_of(l, base_ref(e->acct), &out->account_id, &out->balance_vnd);
	}
	info_fields(e->info, e->reason, out);
	if (x & X_PLATE) {
		memcpy(out->plate, l->plates[e->plate], LANE_PLATE_MAX);
		out->plate[LANE_PLATE_MAX] = 0;
	} else {
		plate_unpack(e->plate, e->plate_hi, out->plate);
	}
	if (e->info & I_TID) {
		out->tid_listed = 1;
		out->tid_mismatch = tid != NULL && tid_fingerprint(tid) != e->tidfp;
	}
	if (e->info & I_PASS) {
		const struct pass *p = find_pass(l, (uint32_t)(e - l->tags));
		if (p != NULL) {
			out->pass_station = p->station;
			out->pass_until_day = p->until_day;
		}
	}
}

static void
plate_of_state(const uint64_t st[ST_WORDS], char out[LANE_PLATE_MAX + 1])
{
	for (int i = 0; i < LANE_PLATE_MAX; i++)
		out[i] = (char)(st[ST_PLATE_LO + i / 8] >> (8 * (i % 8)));
	out[LANE_PLATE_MAX] = 0;
}

static void
lookup_update(const struct lane_taglist *l, const struct utag *u, const uint8_t *tid, struct lane_tag_info *out)
{
	uint64_t st[ST_WORDS];
	unsigned info;

	utag_read(u, st);
	info = (unsigned)st[ST_INFO] & 0xFF;
	account_of(l, st[ST_ACCT], &out->account_id, &out->balance_vnd);
	info_fields(info, (unsigned)(st[ST_INFO] >> 8) & 0xFF, out);
	plate_of_state(st, out->plate);
	if (info & I_TID) {
		out->tid_listed = 1;
		out->tid_mismatch = tid != NULL && tid_fingerprint(tid) != (uint32_t)(st[ST_INFO] >> 32);
	}
	if (info & I_PASS) {
		out->pass_station = (uint32_t)st[ST_PASS];
		out->pass_until_day = (uint32_t)(st[ST_PASS] >> 32);
	}
}

int
lane_taglist_lookup(const struct lane_taglist *l, const uint8_t *epc, unsigned epc_bits,
		    const uint8_t *tid, struct lane_tag_info *out)
{
	const struct entry *e;
	const struct utag *u;
	uint8_t k[32];
	uint64_t h;

	if (out == NULL)
		return TOLL_EINVAL;
	memset(out, 0, sizeof(*out));
	if (l == NULL || (epc == NULL && epc_bits != 0))
		return TOLL_EINVAL;
	if (epc_bits == 0 || epc_bits > LANE_EPC_MAX_BITS)
		return TOLL_ENOTFOUND;
	if (epc_bits == 96) {
		/* the caller's bytes as they are; the 32-byte key only for the update layer */
		h = epc_hash96(epc);
		e = find96(l, h, epc);
	} else {
		h = epc_key(epc, epc_bits, k);
		e = find_long(l, h, epc_bits, k);
	}
	if (e != NULL) {
		uint8_t x = entry_x(e);
		if (!(x & X_UPDATED)) {
			lookup_base(l, e, x, tid, out);
			return 0;
		}
	} else if (__atomic_load_n(&l->n_newtags, __ATOMIC_ACQUIRE) == 0) {
		return TOLL_ENOTFOUND;
	}
	if (epc_bits == 96) {
		memcpy(k, epc, 12);
		memset(k + 12, 0, 20);
	}
	u = utag_find(l, h, epc_bits, k);
	assert(u != NULL || e == NULL); /* published before X_UPDATED was set */
	if (u == NULL)
		return TOLL_ENOTFOUND;
	lookup_update(l, u, tid, out);
	return 0;
}

static int64_t
find_account(const struct lane_taglist *l, uint64_t id)
{
	if (l->naccts == 0 || id < l->amin || id - l->amin >= l->aspan)
		return -1;
	uint32_t b = (uint32_t)((id - l->amin) * l->nab / l->aspan);
	uint32_t lo = l->adir[b], hi = l->adir[b + 1];
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (l->accts[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < l->adir[b + 1] && l->accts[lo].id == id ? (int64_t)lo : -1;
}

/* debits + delta, kept in 0..INT32_MAX: saturating at INT32_MAX; a credit
 * larger than the debits recorded (central's balance replaced them since)
 * ends at 0.  debits >= 0. */
static inline int32_t
debit_add(int32_t debits, int64_t delta_vnd)
{
	if (delta_vnd > (int64_t)INT32_MAX - debits)
		return INT32_MAX;
	if (delta_vnd < -(int64_t)debits)
		return 0;
	return (int32_t)(debits + delta_vnd);
}

static int debit_by(struct lane_taglist *l, uint64_t account_id, int64_t delta_vnd);

int
lane_taglist_debit(struct lane_taglist *l, uint64_t account_id, int64_t fee_vnd)
{
	if (l == NULL || fee_vnd < 0)
		return TOLL_EINVAL;
	return debit_by(l, account_id, fee_vnd);
}

int
lane_taglist_credit(struct lane_taglist *l, uint64_t account_id, int64_t fee_vnd)
{
	if (l == NULL || fee_vnd < 0)
		return TOLL_EINVAL;
	return debit_by(l, account_id, -fee_vnd);
}

static int
debit_by(struct lane_taglist *l, uint64_t account_id, int64_t delta_vnd)
{
	int64_t a = find_account(l, account_id);
	if (a >= 0) {
		int32_t *d = &l->accts[a].debit_vnd;
		int32_t old = __atomic_load_n(d, __ATOMIC_ACQUIRE), nw;
		while (old >= 0) {
			nw = debit_add(old, delta_vnd);
			if (__atomic_compare_exchange_n(d, &old, nw, 1, __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE))
				return 0;
		}
		/* DEBIT_MOVED: the update layer holds the account */
	}
	if (account_id == 0 || account_id > UINT32_MAX)
		return TOLL_ENOTFOUND;
	struct uacct *u = (struct uacct *)(uintptr_t)uacct_find(l, (uint32_t)account_id);
	if (u == NULL)
		return TOLL_ENOTFOUND;
	uint64_t old = __atomic_load_n(&u->state, __ATOMIC_RELAXED), nw;
	do {
		nw = (old & ~(uint64_t)UINT32_MAX) | (uint32_t)debit_add((int32_t)(uint32_t)old, delta_vnd);
	} while (!__atomic_compare_exchange_n(&u->state, &old, nw, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	return 0;
}

/* ---- loading ---------------------------------------------------------------- */

/* Where the bytes come from: memory, or a file read a chunk at a time so a
 * list costs its own memory, not its file's size on top. */
struct src {
	const uint8_t *mem;
	int fd;
	uint8_t *buf;
	uint64_t off, len;
	uint32_t crc; /* of every byte taken */
	int sys_errno;
};

static int
src_take(struct src *s, size_t n, const uint8_t **p)
{
	if (n > s->len - s->off)
		return TOLL_ESHORT;
	if (s->mem != NULL) {
		*p = s->mem + s->off;
	} else {
		size_t got = 0;
		while (got < n) {
			ssize_t r = read(s->fd, s->buf + got, n - got);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				s->sys_errno = errno;
				return TOLL_ESYS;
			}
			if (r == 0)
				return TOLL_ESHORT; /* shrank while being read */
			got += (size_t)r;
		}
		*p = s->buf;
	}
	s->off += n;
	s->crc = toll_crc32c(s->crc, *p, n);
	return 0;
}

struct loader {
	struct lane_taglist *l;
	uint64_t naccts, ntags, nlongs, npasses;
	uint64_t longs_used, passes_used;
	uint64_t prev_h;
	unsigned prev_bits;
	uint8_t prev_key[32];
	uint32_t bucket_next; /* the first directory word not yet set */
	char *why;
	size_t whylen;
};

#define bad_record(c, ...) toll_errf((c)->why, (c)->whylen, __VA_ARGS__)

static int
zero_bytes(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

static int
account_record(struct loader *c, uint64_t i, const uint8_t *p)
{
	struct toll_rd r;
	uint64_t id;
	int64_t bal;

	toll_rd_init(&r, p, ACCT_REC);
	if (toll_rd_u64(&r, &id) != 0 || toll_rd_i64(&r, &bal) != 0)
		return bad_record(c, TOLL_EFORMAT, "account %" PRIu64 ": short record", i);
	if (id == 0)
		return bad_record(c, TOLL_EFORMAT, "account %" PRIu64 ": id 0", i);
	if (id > UINT32_MAX)
		return bad_record(c, TOLL_ERANGE, "account %" PRIu64 ": id %" PRIu64 " above 2^32-1, the lane's bound", i, id);
	if (i > 0 && id <= c->l->accts[i - 1].id)
		return bad_record(c, TOLL_EFORMAT, "account %" PRIu64 ": id %" PRIu64 " not above the one before (%" PRIu32 ")",
			   i, id, c->l->accts[i - 1].id);
	c->l->accts[i].id = (uint32_t)id;
	c->l->accts[i].balance_vnd = bal > INT32_MAX ? INT32_MAX : bal < INT32_MIN ? INT32_MIN : (int32_t)bal;
	return 0;
}

static int
long_record(struct loader *c, uint64_t i, const uint8_t *p)
{
	struct toll_rd r;
	uint16_t bits;
	uint8_t epc[32];

	toll_rd_init(&r, p, LONG_REC);
	if (toll_rd_u16(&r, &bits) != 0 || toll_rd_bytes(&r, epc, 32) != 0)
		return bad_record(c, TOLL_EFORMAT, "long EPC %" PRIu64 ": short record", i);
	if (bits == 0 || bits > LANE_EPC_MAX_BITS || bits == 96)
		return bad_record(c, TOLL_EFORMAT, "long EPC %" PRIu64 ": %u bits (want 1-256, 96-bit EPCs go inline)", i,
			   (unsigned)bits);
	size_t n = (bits + 7u) / 8;
	if (!zero_bytes(epc + n, 32 - n) || (bits % 8 && (epc[n - 1] & (0xFF >> (bits % 8)))))
		return bad_record(c, TOLL_EFORMAT, "long EPC %" PRIu64 ": bits set past its %u bits", i, (unsigned)bits);
	c->l->longs[i].bits = bits;
	memcpy(c->l->longs[i].epc, epc, 32);
	return 0;
}

static int
tag_record(struct loader *c, uint64_t i, const uint8_t *p)
{
	struct lane_taglist *l = c->l;
	struct toll_rd r;
	uint8_t epc[12], tid[12], cls, status, reason, flags;
	char plate[LANE_PLATE_MAX];
	uint32_t ai, pst, pday;
	int rc = 0;

	toll_rd_init(&r, p, TAG_REC);
	rc |= toll_rd_bytes(&r, epc, 12);
	rc |= toll_rd_bytes(&r, tid, 12);
	rc |= toll_rd_u32(&r, &ai);
	rc |= toll_rd_u8(&r, &cls);
	rc |= toll_rd_u8(&r, &status);
	rc |= toll_rd_u8(&r, &reason);
	rc |= toll_rd_u8(&r, &flags);
	rc |= toll_rd_bytes(&r, plate, sizeof(plate));
	rc |= toll_rd_u32(&r, &pst);
	rc |= toll_rd_u32(&r, &pday);
	if (rc != 0)
		return bad_record(c, TOLL_EFORMAT, "tag %" PRIu64 ": short record", i);
	if (flags & ~(FF_TID | FF_EXEMPT | FF_PASS | FF_LONG))
		return bad_record(c, TOLL_EFORMAT, "tag %" PRIu64 ": unknown flags 0x%02x", i, flags);
	if (!(flags & FF_TID) && !zero_bytes(tid, 12))
		return bad_record(c, TOLL_EFORMAT, "tag %" PRIu64 ": TID bytes without the TID flag", i);
	if (ai >= c->naccts)
		return bad_record(c, TOLL_EFORMAT, "tag %" PRIu64 ": account index %" PRIu32 " past the %" PRIu64 " accounts", i,
			   ai, c->naccts);
	if (cls < 1 || cls > 5)
		return bad_record(c, TOLL_EFORMAT, "tag %" PRIu64 ": class %u (want 1-5)", i, cls);
	if (status > LANE_TAG_INVALID)
		return bad_record(c, TOLL_EFORMAT, "tag %" PRIu64 ": status %u (want 0-2)", i, status);
	int plen = plate_check(plate, sizeof(plate));
	if (plen < 0)
		return bad_record(c, TOLL_EFORMAT, "tag %" PRIu64 ": plate not printable ASCII, zero-padded", i);
	if (!(flags & FF_PASS) && (pst != 0 || pday != 0))
		return bad_record(c, TOLL_EFORMAT, "tag %" PRIu64 ": pass station or day without the pass flag", i);

	/* the key, and the order: strictly increasing, so no EPC twice */
	struct entry *e = &l->tags[i];
	uint8_t k[32] = {0};
	unsigned bits;
	uint64_t h;
	memset(e, 0, sizeof(*e));
	if (flags & FF_LONG) {
		if (!zero_bytes(epc, 12))
			return bad_record(c, TOLL_EFORMAT, "tag %" PRIu64 ": EPC bytes in a long-EPC tag", i);
		if (c->longs_used >= c->nlongs)
			return bad_record(c, TOLL_EFORMAT, "tag %" PRIu64 ": more long-EPC tags than the %" PRIu64 " long EPCs",
				   i, c->nlongs);
		uint32_t li = (uint32_t)c->longs_used++;
		bits = l->longs[li].bits;
		memcpy(k, l->longs[li].epc, 32);
		h = epc_hash(HASH_SEED, k, bits);
		memcpy(e->key, &li, 4);
		e->x |= X_LONG;
	} else {
		bits = 96;
		memcpy(k, epc, 12);
		h = epc_hash96(epc);
		memcpy(e->key, epc, 12);
	}
	if (i > 0) {
		int cmp = key_cmp(c->prev_h, c->prev_bits, c->prev_key, h, bits, k);
		if (cmp == 0)
			return bad_record(c, TOLL_EFORMAT, "tag %" PRIu64 ": EPC listed twice", i);
		if (cmp > 0)
			return bad_record(c, TOLL_EFORMAT, "tag %" PRIu64 ": out of order (the file must be sorted by hash)", i);
	}
	c->prev_h = h;
	c->prev_bits = bits;
	memcpy(c->prev_key, k, sizeof(k));
	uint32_t b = bucket_of(h, l->nb);
	while (c->bucket_next <= b)
		l->dir[c->bucket_next++] = (uint32_t)i;
	if (i - l->dir[b] >= MAX_BUCKET)
		return bad_record(c, TOLL_EFORMAT, "tag %" PRIu64 ": more than %d tags share a hash bucket", i, MAX_BUCKET);

	e->acct = ai;
	e->reason = reason;
	e->info = (uint8_t)(cls | status << I_STATUS_SHIFT | (flags & FF_EXEMPT ? I_EXEMPT : 0) |
			    (flags & FF_PASS ? I_PASS : 0) | (flags & FF_TID ? I_TID : 0));
	if (flags & FF_TID)
		e->tidfp = tid_fingerprint(tid);
	if (plate_pack(plate, (size_t)plen, &e->plate, &e->plate_hi) != 0) {
		if (l->nplates == l->capplates) {
			size_t nc = l->capplates ? 2 * l->capplates : 64;
			char(*np)[LANE_PLATE_MAX] = realloc(l->plates, nc * sizeof(*np));
			if (np == NULL)
				return bad_record(c, TOLL_ENOMEM, "out of memory for plates");
			l->plates = np;
			l->capplates = nc;
		}
		memcpy(l->plates[l->nplates], plate, LANE_PLATE_MAX);
		e->plate = l->nplates++;
		e->plate_hi = 0;
		e->x |= X_PLATE;
	}
	if (flags & FF_PASS) {
		if (c->passes_used >= c->npasses)
			return bad_record(c, TOLL_EFORMAT, "tag %" PRIu64 ": more passes than the header's %" PRIu64, i,
				   c->npasses);
		struct pass *ps = &l->passes[c->passes_used++];
		ps->tag = (uint32_t)i;
		ps->station = pst;
		ps->until_day = pday;
	}
	return 0;
}

typedef int (*record_fn)(struct loader *c, uint64_t i, const uint8_t *p);

/* One section: its header, its records, its CRC.  A record that does not
 * check out stops the parsing, but the section is still read to its end so
 * that damage is reported as a checksum mismatch rather than as whatever
 * the damaged bytes happened to say. */
static int
load_section(struct src *s, struct loader *c, uint32_t type, uint32_t reclen, uint64_t count, const char *name,
	     record_fn fn, char *err, size_t errlen)
{
	const uint8_t *p;
	struct toll_rd r;
	uint32_t t, rl, want, crc;
	uint64_t n;
	int rc, bad = 0;
	char msg[200];

	c->why = msg;
	c->whylen = sizeof(msg);
	if ((rc = src_take(s, SEC_HDR_LEN, &p)) != 0)
		return rc;
	crc = toll_crc32c(0, p, SEC_HDR_LEN);
	toll_rd_init(&r, p, SEC_HDR_LEN);
	if (toll_rd_u32(&r, &t) != 0 || toll_rd_u32(&r, &rl) != 0 || toll_rd_u64(&r, &n) != 0)
		return TOLL_ESHORT;
	if (t != type || rl != reclen || n != count)
		bad = toll_errf(msg, sizeof(msg), TOLL_EFORMAT,
				"%s section header says type %" PRIu32 ", %" PRIu32 "-byte records, %" PRIu64
				" of them (want %" PRIu32 ", %" PRIu32 ", %" PRIu64 ")",
				name, t, rl, n, type, reclen, count);
	for (uint64_t i = 0; i < count;) {
		uint64_t k = count - i < CHUNK_RECS ? count - i : CHUNK_RECS;
		if ((rc = src_take(s, (size_t)k * reclen, &p)) != 0)
			return rc;
		crc = toll_crc32c(crc, p, (size_t)k * reclen);
		for (uint64_t j = 0; j < k && bad == 0; j++)
			bad = fn(c, i + j, p + j * reclen);
		i += k;
	}
	if ((rc = src_take(s, SEC_CRC_LEN, &p)) != 0)
		return rc;
	toll_rd_init(&r, p, SEC_CRC_LEN);
	if (toll_rd_u32(&r, &want) != 0)
		return TOLL_ESHORT;
	if (want != crc)
		return toll_errf(err, errlen, TOLL_ECRC, "%s section damaged (checksum mismatch)", name);
	if (bad != 0)
		return toll_errf(err, errlen, bad, "%s", msg);
	return 0;
}

static void
build_directories(struct lane_taglist *l, struct loader *c)
{
	while (c->bucket_next <= l->nb)
		l->dir[c->bucket_next++] = (uint32_t)l->ntags;

	uint32_t next = 0;
	for (uint64_t i = 0; i < l->naccts; i++) {
		uint32_t b = (uint32_t)((uint64_t)(l->accts[i].id - l->amin) * l->nab / l->aspan);
		while (next <= b)
			l->adir[next++] = (uint32_t)i;
	}
	while (next <= l->nab)
		l->adir[next++] = (uint32_t)l->naccts;

	uint64_t pnext = 0;
	for (uint64_t i = 0; i < l->npasses; i++) {
		uint64_t b = l->passes[i].tag >> PASS_SHIFT;
		while (pnext <= b)
			l->pdir[pnext++] = (uint32_t)i;
	}
	while (pnext <= l->npb)
		l->pdir[pnext++] = (uint32_t)l->npasses;
}

static int
load_from(struct src *s, struct lane_taglist **out, char *err, size_t errlen)
{
	const uint8_t *p;
	struct toll_rd r;
	uint8_t m[8];
	uint32_t fmt, hlen, zero, hcrc, fcrc;
	uint64_t lv, na, nt, nl, np;
	struct lane_taglist *l;
	struct loader c;
	int rc;

	if (s->len < HDR_LEN)
		return toll_errf(err, errlen, TOLL_ESHORT, "truncated: %" PRIu64 " bytes, a header alone is %d",
				 s->len, HDR_LEN);
	if ((rc = src_take(s, HDR_LEN, &p)) != 0)
		goto io;
	toll_rd_init(&r, p, HDR_LEN);
	rc = toll_rd_bytes(&r, m, 8) | toll_rd_u32(&r, &fmt) | toll_rd_u32(&r, &hlen) | toll_rd_u64(&r, &lv) |
	     toll_rd_u64(&r, &na) | toll_rd_u64(&r, &nt) | toll_rd_u64(&r, &nl) | toll_rd_u64(&r, &np) |
	     toll_rd_u32(&r, &zero) | toll_rd_u32(&r, &hcrc);
	if (rc != 0)
		return toll_errf(err, errlen, TOLL_ESHORT, "truncated header");
	if (memcmp(m, magic, 8) != 0)
		return toll_errf(err, errlen, TOLL_EFORMAT, "not a tag status list (bad magic)");
	if (fmt != FORMAT_VERSION)
		return toll_errf(err, errlen, TOLL_EVERSION,
				 "tag list format version %" PRIu32 "; this program reads version %d", fmt,
				 FORMAT_VERSION);
	if (hcrc != toll_crc32c(0, p, HDR_LEN - 4))
		return toll_errf(err, errlen, TOLL_ECRC, "header damaged (checksum mismatch)");
	if (hlen != HDR_LEN || zero != 0)
		return toll_errf(err, errlen, TOLL_EFORMAT, "header length %" PRIu32 " or reserved field not as version 2 has them", hlen);
	if (nt > LANE_TAGLIST_MAX_TAGS || na > LANE_TAGLIST_MAX_TAGS || nl > nt || np > nt)
		return toll_errf(err, errlen, TOLL_EFORMAT,
				 "counts out of bounds: %" PRIu64 " accounts, %" PRIu64 " tags, %" PRIu64
				 " long EPCs, %" PRIu64 " passes (at most %u tags)",
				 na, nt, nl, np, LANE_TAGLIST_MAX_TAGS);
	uint64_t want = FIXED_LEN + ACCT_REC * na + LONG_REC * nl + TAG_REC * nt;
	if (s->len < want)
		return toll_errf(err, errlen, TOLL_ESHORT, "truncated: %" PRIu64 " bytes, the header's counts need %" PRIu64,
				 s->len, want);
	if (s->len > want)
		return toll_errf(err, errlen, TOLL_EFORMAT, "%" PRIu64 " bytes past the end the header's counts give",
				 s->len - want);

	/* everything allocated here is bounded by the file's size */
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return toll_errf(err, errlen, TOLL_ENOMEM, "out of memory");
	if (pthread_mutex_init(&l->umu, NULL) != 0) {
		free(l);
		return toll_errf(err, errlen, TOLL_ENOMEM, "out of memory");
	}
	l->version_now = lv;
	l->ntags = nt;
	l->naccts = na;
	l->npasses = np;
	l->nlongs = nl;
	l->nb = buckets_for(nt);
	l->nab = (uint32_t)(na / ACCTS_PER_BUCKET + 1);
	l->npb = (nt >> PASS_SHIFT) + 1;
	l->tags = region_alloc(l, R_TAGS, nt * sizeof(*l->tags));
	l->dir = region_alloc(l, R_DIR, ((size_t)l->nb + 1) * sizeof(*l->dir));
	l->accts = region_alloc(l, R_ACCTS, na * sizeof(*l->accts));
	l->adir = region_alloc(l, R_ADIR, ((size_t)l->nab + 1) * sizeof(*l->adir));
	l->passes = region_alloc(l, R_PASSES, np * sizeof(*l->passes));
	l->pdir = region_alloc(l, R_PDIR, (l->npb + 1) * sizeof(*l->pdir));
	l->longs = region_alloc(l, R_LONGS, nl * sizeof(*l->longs));
	if (!l->tags || !l->dir || !l->accts || !l->adir || !l->passes || !l->pdir || !l->longs) {
		lane_taglist_free(l);
		return toll_errf(err, errlen, TOLL_ENOMEM, "out of memory for %" PRIu64 " tags", nt);
	}

	memset(&c, 0, sizeof(c));
	c.l = l;
	c.naccts = na;
	c.ntags = nt;
	c.nlongs = nl;
	c.npasses = np;
	if ((rc = load_section(s, &c, SEC_ACCOUNTS, ACCT_REC, na, "accounts", account_record, err, errlen)) != 0 ||
	    (rc = load_section(s, &c, SEC_LONG, LONG_REC, nl, "long EPCs", long_record, err, errlen)) != 0 ||
	    (rc = load_section(s, &c, SEC_TAGS, TAG_REC, nt, "tags", tag_record, err, errlen)) != 0)
		goto bad;
	fcrc = s->crc;
	if ((rc = src_take(s, TRAILER_LEN, &p)) != 0)
		goto bad;
	toll_rd_init(&r, p, TRAILER_LEN);
	uint32_t tcrc;
	if (toll_rd_u32(&r, &tcrc) != 0 || toll_rd_bytes(&r, m, 8) != 0 || memcmp(m, endmagic, 8) != 0) {
		rc = toll_errf(err, errlen, TOLL_EFORMAT, "no end marker");
		goto bad;
	}
	if (tcrc != fcrc) {
		rc = toll_errf(err, errlen, TOLL_ECRC, "file damaged (whole-file checksum mismatch)");
		goto bad;
	}
	if (c.longs_used != nl || c.passes_used != np) {
		rc = toll_errf(err, errlen, TOLL_EFORMAT,
			       "%" PRIu64 " long-EPC tags and %" PRIu64 " passes, the header says %" PRIu64 " and %" PRIu64,
			       c.longs_used, c.passes_used, nl, np);
		goto bad;
	}
	if (na > 0) {
		l->amin = l->accts[0].id;
		l->aspan = (uint64_t)l->accts[na - 1].id - l->amin + 1;
	}
	build_directories(l, &c);
	*out = l;
	return 0;
bad:
	lane_taglist_free(l);
	if (rc == TOLL_ESHORT || rc == TOLL_ESYS)
		goto io;
	return rc;
io:
	if (rc == TOLL_ESYS)
		return toll_errf(err, errlen, rc, "read failed: %s", strerror(s->sys_errno));
	return toll_errf(err, errlen, rc, "truncated at byte %" PRIu64 " (changed while being read?)", s->off);
}

int
lane_taglist_load_mem(const uint8_t *buf, size_t len, struct lane_taglist **out, char *err, size_t errlen)
{
	struct src s;

	if (out == NULL)
		return TOLL_EINVAL;
	*out = NULL;
	memset(&s, 0, sizeof(s));
	s.mem = buf != NULL ? buf : (const uint8_t *)"";
	s.len = buf != NULL ? len : 0;
	s.fd = -1;
	return load_from(&s, out, err, errlen);
}

int
lane_taglist_load(const char *path, struct lane_taglist **out, char *err, size_t errlen)
{
	struct src s;
	struct stat st;
	char msg[256];
	int rc;

	if (out == NULL || path == NULL)
		return TOLL_EINVAL;
	*out = NULL;
	memset(&s, 0, sizeof(s));
	s.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s.fd < 0)
		return toll_errf(err, errlen, TOLL_ESYS, "%s: %s", path, strerror(errno));
	if (fstat(s.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = toll_errf(err, errlen, TOLL_ESYS, "%s: %s", path, errno ? strerror(errno) : "not a regular file");
		close(s.fd);
		return rc;
	}
	s.len = (uint64_t)st.st_size;
	s.buf = malloc((size_t)CHUNK_RECS * TAG_REC);
	if (s.buf == NULL) {
		close(s.fd);
		return toll_errf(err, errlen, TOLL_ENOMEM, "%s: out of memory", path);
	}
	(void)posix_fadvise(s.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	rc = load_from(&s, out, msg, sizeof(msg));
	if (rc != 0)
		toll_errf(err, errlen, rc, "%s: %s", path, msg);
	free(s.buf);
	close(s.fd);
	return rc;
}

/* ---- writing ---------------------------------------------------------------- */

struct wtag {
	uint64_t h;
	uint8_t epc[12]; /* 96-bit EPC; zero for a long one */
	uint8_t tid[12];
	char plate[LANE_PLATE_MAX];
	uint32_t account, acct_index;
	uint32_t long_index; /* into w->longs */
	uint32_t ordinal;
	uint32_t pass_station, pass_until;
	uint16_t bits;
	uint8_t cls, status, reason, flags; /* flags as in the file */
};

struct waccount {
	uint32_t id, ordinal;
	int64_t balance;
};

struct lane_taglist_writer {
	uint64_t version;
	struct wtag *tags;
	size_t ntags, captags, npasses;
	struct waccount *accts;
	size_t naccts, capaccts;
	struct longepc *longs;
	size_t nlongs, caplongs;
	char error[256];
	/* what the last finish found, by ordinals, for the CSV importer */
	int problem;
	size_t first, second;
};

static int
grow(void **p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 1024;
	while (nc < need)
		nc *= 2;
	void *n = realloc(*p, nc * size);
	if (n == NULL)
		return TOLL_ENOMEM;
	*p = n;
	*cap = nc;
	return 0;
}

int
lane_taglist_writer_new(uint64_t list_version, struct lane_taglist_writer **out)
{
	struct lane_taglist_writer *w;

	if (out == NULL)
		return TOLL_EINVAL;
	w = calloc(1, sizeof(*w));
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
	free(w->longs);
	free(w);
}

const char *
lane_taglist_writer_error(const struct lane_taglist_writer *w)
{
	return w != NULL ? w->error : "";
}

int
lane_taglist_writer_account(struct lane_taglist_writer *w, uint64_t account_id, int64_t balance_vnd)
{
	if (w == NULL)
		return TOLL_EINVAL;
	if (account_id == 0 || account_id > UINT32_MAX)
		return TOLL_ERANGE;
	if (w->naccts >= LANE_TAGLIST_MAX_TAGS)
		return TOLL_EFULL;
	if (grow((void **)&w->accts, &w->capaccts, w->naccts + 1, sizeof(*w->accts)) != 0)
		return TOLL_ENOMEM;
	w->accts[w->naccts].id = (uint32_t)account_id;
	w->accts[w->naccts].ordinal = (uint32_t)w->naccts;
	w->accts[w->naccts].balance = balance_vnd;
	w->naccts++;
	return 0;
}

int
lane_taglist_writer_tag(struct lane_taglist_writer *w, const uint8_t *epc, unsigned epc_bits, const uint8_t *tid,
			uint64_t account_id, unsigned vclass, const char *plate, unsigned status, unsigned reason,
			unsigned flags, uint32_t pass_station, uint32_t pass_until_day)
{
	struct wtag t;
	size_t plen = plate != NULL ? strnlen(plate, LANE_PLATE_MAX + 1) : 0;

	if (w == NULL || epc == NULL || epc_bits == 0 || epc_bits > LANE_EPC_MAX_BITS || vclass < 1 || vclass > 5 ||
	    status > LANE_TAG_INVALID || reason > 255 || (flags & ~(unsigned)(LANE_TAG_F_EXEMPT | LANE_TAG_F_PASS)) ||
	    plen > LANE_PLATE_MAX || (plen > 0 && plate_check(plate, plen) < 0) ||
	    (!(flags & LANE_TAG_F_PASS) && (pass_station != 0 || pass_until_day != 0)))
		return TOLL_EINVAL;
	if (account_id == 0 || account_id > UINT32_MAX)
		return TOLL_ERANGE;
	if (w->ntags >= LANE_TAGLIST_MAX_TAGS)
		return TOLL_EFULL;
	memset(&t, 0, sizeof(t));
	t.bits = (uint16_t)epc_bits;
	if (epc_bits == 96) {
		memcpy(t.epc, epc, 12);
		t.h = epc_hash96(t.epc);
	} else {
		struct longepc le;
		size_t n = (epc_bits + 7) / 8;
		memset(&le, 0, sizeof(le));
		le.bits = (uint16_t)epc_bits;
		memcpy(le.epc, epc, n);
		if (epc_bits % 8)
			le.epc[n - 1] &= (uint8_t)(0xFF << (8 - epc_bits % 8));
		if (grow((void **)&w->longs, &w->caplongs, w->nlongs + 1, sizeof(*w->longs)) != 0)
			return TOLL_ENOMEM;
		t.long_index = (uint32_t)w->nlongs;
		w->longs[w->nlongs++] = le;
		t.h = epc_hash(HASH_SEED, le.epc, epc_bits);
		t.flags |= FF_LONG;
	}
	if (tid != NULL) {
		memcpy(t.tid, tid, 12);
		t.flags |= FF_TID;
	}
	memcpy(t.plate, plate != NULL ? plate : "", plen);
	t.account = (uint32_t)account_id;
	t.ordinal = (uint32_t)w->ntags;
	t.cls = (uint8_t)vclass;
	t.status = (uint8_t)status;
	t.reason = (uint8_t)reason;
	t.flags |= (uint8_t)((flags & LANE_TAG_F_EXEMPT ? FF_EXEMPT : 0) | (flags & LANE_TAG_F_PASS ? FF_PASS : 0));
	t.pass_station = pass_station;
	t.pass_until = pass_until_day;
	if (grow((void **)&w->tags, &w->captags, w->ntags + 1, sizeof(*w->tags)) != 0) {
		if (t.flags & FF_LONG)
			w->nlongs--;
		return TOLL_ENOMEM;
	}
	w->tags[w->ntags++] = t;
	if (flags & LANE_TAG_F_PASS)
		w->npasses++;
	return 0;
}

static const uint8_t *
wtag_key(const struct lane_taglist_writer *w, const struct wtag *t)
{
	return t->flags & FF_LONG ? w->longs[t->long_index].epc : t->epc;
}

static int
wtag_cmp(const void *a, const void *b, void *arg)
{
	const struct lane_taglist_writer *w = arg;
	const struct wtag *x = a, *y = b;
	return key_cmp(x->h, x->bits, wtag_key(w, x), y->h, y->bits, wtag_key(w, y));
}

static int
wacct_cmp(const void *a, const void *b)
{
	const struct waccount *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Bytes to the file and to both running checksums. */
struct out {
	FILE *f;
	uint32_t file_crc, sec_crc;
	int ok;
};

static void
put(struct out *o, const void *p, size_t n)
{
	o->file_crc = toll_crc32c(o->file_crc, p, n);
	o->sec_crc = toll_crc32c(o->sec_crc, p, n);
	if (o->ok && fwrite(p, 1, n, o->f) != n)
		o->ok = 0;
}

static void
put_section_header(struct out *o, uint32_t type, uint32_t reclen, uint64_t count)
{
	uint8_t b[SEC_HDR_LEN];
	struct toll_wr wr;

	toll_wr_init(&wr, b, sizeof(b));
	toll_wr_u32(&wr, type);
	toll_wr_u32(&wr, reclen);
	toll_wr_u64(&wr, count);
	o->sec_crc = 0;
	put(o, b, sizeof(b));
}

static void
put_section_crc(struct out *o)
{
	uint8_t b[SEC_CRC_LEN];
	struct toll_wr wr;

	toll_wr_init(&wr, b, sizeof(b));
	toll_wr_u32(&wr, o->sec_crc);
	put(o, b, sizeof(b));
}

/* One tag as the file has it, from whatever is being written. */
struct ftag {
	uint64_t h;
	uint8_t epc[32]; /* zero past bits */
	uint8_t tid[12]; /* zero without FF_TID */
	char plate[LANE_PLATE_MAX]; /* zero-padded */
	uint32_t acct_index, pass_station, pass_until;
	uint16_t bits;
	uint8_t cls, status, reason, flags; /* flags as in the file, FF_LONG included */
};

/* What a list file is written from: the writer's sorted entries, or a
 * loaded list with its updates.  rewind starts the accounts and the tags
 * again; each is then asked for in file order. */
struct wsrc {
	uint64_t version, naccts, ntags, nlongs, npasses;
	void *ctx;
	void (*rewind)(void *ctx);
	void (*account)(void *ctx, uint64_t *id, int64_t *balance_vnd);
	void (*tag)(void *ctx, struct ftag *t);
};

static void
write_records(const struct wsrc *s, struct out *o)
{
	uint8_t b[64];
	struct toll_wr wr;
	struct ftag t;

	toll_wr_init(&wr, b, HDR_LEN);
	toll_wr_bytes(&wr, magic, 8);
	toll_wr_u32(&wr, FORMAT_VERSION);
	toll_wr_u32(&wr, HDR_LEN);
	toll_wr_u64(&wr, s->version);
	toll_wr_u64(&wr, s->naccts);
	toll_wr_u64(&wr, s->ntags);
	toll_wr_u64(&wr, s->nlongs);
	toll_wr_u64(&wr, s->npasses);
	toll_wr_u32(&wr, 0);
	toll_wr_u32(&wr, toll_crc32c(0, b, HDR_LEN - 4));
	put(o, b, HDR_LEN);

	s->rewind(s->ctx);
	put_section_header(o, SEC_ACCOUNTS, ACCT_REC, s->naccts);
	for (uint64_t i = 0; i < s->naccts; i++) {
		uint64_t id;
		int64_t bal;
		s->account(s->ctx, &id, &bal);
		toll_wr_init(&wr, b, ACCT_REC);
		toll_wr_u64(&wr, id);
		toll_wr_u64(&wr, (uint64_t)bal);
		put(o, b, ACCT_REC);
	}
	put_section_crc(o);

	/* long EPCs in the order of the (sorted) tags that use them */
	s->rewind(s->ctx);
	put_section_header(o, SEC_LONG, LONG_REC, s->nlongs);
	for (uint64_t i = 0; i < s->ntags; i++) {
		s->tag(s->ctx, &t);
		if (!(t.flags & FF_LONG))
			continue;
		toll_wr_init(&wr, b, LONG_REC);
		toll_wr_u16(&wr, t.bits);
		toll_wr_bytes(&wr, t.epc, 32);
		put(o, b, LONG_REC);
	}
	put_section_crc(o);

	s->rewind(s->ctx);
	put_section_header(o, SEC_TAGS, TAG_REC, s->ntags);
	for (uint64_t i = 0; i < s->ntags; i++) {
		static const uint8_t zero12[12];
		s->tag(s->ctx, &t);
		toll_wr_init(&wr, b, TAG_REC);
		toll_wr_bytes(&wr, t.flags & FF_LONG ? zero12 : t.epc, 12);
		toll_wr_bytes(&wr, t.tid, 12);
		toll_wr_u32(&wr, t.acct_index);
		toll_wr_u8(&wr, t.cls);
		toll_wr_u8(&wr, t.status);
		toll_wr_u8(&wr, t.reason);
		toll_wr_u8(&wr, t.flags);
		toll_wr_bytes(&wr, t.plate, LANE_PLATE_MAX);
		toll_wr_u32(&wr, t.pass_station);
		toll_wr_u32(&wr, t.pass_until);
		put(o, b, TAG_REC);
	}
	put_section_crc(o);

	uint32_t crc = o->file_crc;
	toll_wr_init(&wr, b, TRAILER_LEN);
	toll_wr_u32(&wr, crc);
	toll_wr_bytes(&wr, endmagic, 8);
	put(o, b, TRAILER_LEN);
}

/* The folder of path, for its fsync after the rename. */
static void
sync_dir_of(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	size_t n = slash == NULL ? 0 : (size_t)(slash - path);

	if (n >= sizeof(dir))
		return;
	if (slash == NULL)
		strcpy(dir, ".");
	else if (n == 0)
		strcpy(dir, "/");
	else {
		memcpy(dir, path, n);
		dir[n] = 0;
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

enum { P_NONE, P_DUP_ACCOUNT, P_NO_ACCOUNT, P_DUP_EPC, P_OTHER };

static int
writer_problem(struct lane_taglist_writer *w, int code, int problem, size_t first, size_t second, const char *fmt,
	       ...) __attribute__((format(printf, 6, 7)));

static int
writer_problem(struct lane_taglist_writer *w, int code, int problem, size_t first, size_t second, const char *fmt,
	       ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->error, sizeof(w->error), fmt, ap);
	va_end(ap);
	w->problem = problem;
	w->first = first;
	w->second = second;
	return code;
}

/* The writer's entries, sorted, as a record source. */
struct writer_cursor {
	const struct lane_taglist_writer *w;
	size_t account, tag;
};

static void
writer_rewind(void *ctx)
{
	struct writer_cursor *c = ctx;
	c->account = c->tag = 0;
}

static void
writer_account(void *ctx, uint64_t *id, int64_t *balance_vnd)
{
	struct writer_cursor *c = ctx;
	const struct waccount *a = &c->w->accts[c->account++];
	*id = a->id;
	*balance_vnd = a->balance;
}

static void
writer_tag(void *ctx, struct ftag *t)
{
	struct writer_cursor *c = ctx;
	const struct wtag *s = &c->w->tags[c->tag++];

	memset(t, 0, sizeof(*t));
	t->h = s->h;
	memcpy(t->epc, wtag_key(c->w, s), s->flags & FF_LONG ? 32 : 12);
	memcpy(t->tid, s->tid, 12);
	memcpy(t->plate, s->plate, LANE_PLATE_MAX);
	t->acct_index = s->acct_index;
	t->pass_station = s->pass_station;
	t->pass_until = s->pass_until;
	t->bits = s->bits;
	t->cls = s->cls;
	t->status = s->status;
	t->reason = s->reason;
	t->flags = s->flags;
}

/* Write a list file: a temporary file next to path, fsync, rename over
 * path, fsync of the folder.  0, or a code with msg saying what failed. */
static int
write_file(const char *path, const struct wsrc *src, char *msg, size_t msglen)
{
	char tmp[4200];
	struct out o;
	int fd;

	int n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return toll_errf(msg, msglen, TOLL_EINVAL, "path too long: %s", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return toll_errf(msg, msglen, TOLL_ESYS, "could not create %s: %s", tmp, strerror(errno));
	memset(&o, 0, sizeof(o));
	o.ok = 1;
	o.f = fdopen(fd, "w");
	if (o.f == NULL) {
		int e = errno;
		close(fd);
		unlink(tmp);
		return toll_errf(msg, msglen, TOLL_ESYS, "could not write %s: %s", tmp, strerror(e));
	}
	(void)setvbuf(o.f, NULL, _IOFBF, 1 << 20);
	write_records(src, &o);
	int e = 0;
	if (!o.ok || fflush(o.f) != 0 || fsync(fd) != 0)
		e = errno ? errno : EIO;
	if (fclose(o.f) != 0 && e == 0)
		e = errno;
	if (e == 0 && rename(tmp, path) != 0)
		e = errno;
	if (e != 0) {
		unlink(tmp);
		return toll_errf(msg, msglen, TOLL_ESYS, "could not write %s: %s", path, strerror(e));
	}
	sync_dir_of(path);
	return 0;
}

int
lane_taglist_writer_finish(struct lane_taglist_writer *w, const char *path)
{
	struct writer_cursor wc;

	if (w == NULL || path == NULL)
		return TOLL_EINVAL;
	w->error[0] = 0;
	w->problem = P_NONE;

	if (w->naccts > 1)
		qsort(w->accts, w->naccts, sizeof(*w->accts), wacct_cmp);
	for (size_t i = 1; i < w->naccts; i++)
		if (w->accts[i].id == w->accts[i - 1].id) {
			uint32_t a = w->accts[i - 1].ordinal, b = w->accts[i].ordinal;
			return writer_problem(w, TOLL_EEXIST, P_DUP_ACCOUNT, a < b ? a : b, a < b ? b : a,
					      "account %" PRIu32 " added twice", w->accts[i].id);
		}
	/* tags in the order they were added: the first without an account is the one reported */
	for (size_t i = 0; i < w->ntags; i++) {
		struct wtag *t = &w->tags[i];
		size_t lo = 0, hi = w->naccts;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (w->accts[mid].id < t->account)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == w->naccts || w->accts[lo].id != t->account)
			return writer_problem(w, TOLL_ENOTFOUND, P_NO_ACCOUNT, t->ordinal, t->ordinal,
					      "tag %" PRIu32 " names account %" PRIu32 ", never added", t->ordinal,
					      t->account);
		t->acct_index = (uint32_t)lo;
	}
	if (w->ntags > 1)
		qsort_r(w->tags, w->ntags, sizeof(*w->tags), wtag_cmp, w);
	/* duplicates are neighbours now; report the pair added earliest */
	size_t dup_a = SIZE_MAX, dup_b = SIZE_MAX;
	for (size_t i = 0; i < w->ntags;) {
		size_t j = i + 1, a = w->tags[i].ordinal, b = SIZE_MAX;
		for (; j < w->ntags && wtag_cmp(&w->tags[i], &w->tags[j], w) == 0; j++) {
			size_t o2 = w->tags[j].ordinal;
			if (o2 < a) {
				b = a;
				a = o2;
			} else if (o2 < b) {
				b = o2;
			}
		}
		if (b < dup_b) {
			dup_a = a;
			dup_b = b;
		}
		i = j;
	}
	if (dup_b != SIZE_MAX)
		return writer_problem(w, TOLL_EEXIST, P_DUP_EPC, dup_a, dup_b, "tag %zu has the EPC of tag %zu", dup_b,
				      dup_a);

	/* the loader's bound on a lookup */
	uint32_t nb = buckets_for(w->ntags);
	for (size_t i = 0, start = 0; i < w->ntags; i++) {
		if (i > 0 && bucket_of(w->tags[i].h, nb) != bucket_of(w->tags[i - 1].h, nb))
			start = i;
		if (i - start >= MAX_BUCKET)
			return writer_problem(w, TOLL_ERANGE, P_OTHER, 0, 0, "more than %d tags share a hash bucket",
					      MAX_BUCKET);
	}

	struct wsrc src = {w->version, w->naccts, w->ntags, w->nlongs, w->npasses, &wc, writer_rewind, writer_account,
			   writer_tag};
	wc.w = w;
	int rc = write_file(path, &src, w->error, sizeof(w->error));
	if (rc != 0) {
		w->problem = P_OTHER;
		w->first = w->second = 0;
	}
	return rc;
}

/* ---- updates after load ----------------------------------------------------- */

static void
ubytes_add(struct lane_taglist *l, size_t n)
{
	__atomic_fetch_add(&l->ubytes, n, __ATOMIC_RELAXED);
}

static void
updates_free(struct lane_taglist *l)
{
	struct ptab *tabs[2] = {l->utab, l->atab};
	for (int k = 0; k < 2; k++)
		while (tabs[k] != NULL) {
			struct ptab *next = tabs[k]->retired;
			free(tabs[k]);
			tabs[k] = next;
		}
	while (l->tblocks != NULL) {
		struct tblock *next = l->tblocks->next;
		free(l->tblocks);
		l->tblocks = next;
	}
	while (l->ablocks != NULL) {
		struct ablock *next = l->ablocks->next;
		free(l->ablocks);
		l->ablocks = next;
	}
	l->utab = l->atab = NULL;
}

static uint64_t
utag_hash(const void *rec)
{
	return ((const struct utag *)rec)->h;
}

static uint64_t
uacct_hash(const void *rec)
{
	return acct_hash(((const struct uacct *)rec)->id);
}

static void
ptab_put(struct ptab *t, uint64_t h, void *rec)
{
	size_t i = h & t->mask;
	while (t->slot[i] != NULL) /* only the update side stores slots */
		i = (i + 1) & t->mask;
	__atomic_store_n(&t->slot[i], rec, __ATOMIC_RELEASE);
}

/* Room in *pub for one more record (of n held), at most half the slots
 * used: a bigger table, filled, then published; the old one is kept for
 * readers still in it. */
static int
ptab_reserve(struct lane_taglist *l, struct ptab **pub, uint64_t n, uint64_t (*hash)(const void *))
{
	struct ptab *old = *pub;
	size_t slots = old != NULL ? old->mask + 1 : 0;

	if (2 * (n + 1) <= slots)
		return 0;
	size_t ns = slots ? 2 * slots : PTAB_MIN;
	struct ptab *t = calloc(1, sizeof(*t) + ns * sizeof(t->slot[0]));
	if (t == NULL)
		return TOLL_ENOMEM;
	t->mask = ns - 1;
	t->retired = old;
	for (size_t i = 0; i < slots; i++)
		if (old->slot[i] != NULL)
			ptab_put(t, hash(old->slot[i]), old->slot[i]);
	__atomic_store_n(pub, t, __ATOMIC_RELEASE);
	ubytes_add(l, sizeof(*t) + ns * sizeof(t->slot[0]));
	return 0;
}

static int
tblock_reserve(struct lane_taglist *l)
{
	if (l->tblocks != NULL && l->tblocks->used < UBLOCK)
		return 0;
	struct tblock *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return TOLL_ENOMEM;
	b->next = l->tblocks;
	l->tblocks = b;
	ubytes_add(l, sizeof(*b));
	return 0;
}

static int
ablock_reserve(struct lane_taglist *l)
{
	if (l->ablocks != NULL && l->ablocks->used < UBLOCK)
		return 0;
	struct ablock *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return TOLL_ENOMEM;
	b->next = l->ablocks;
	l->ablocks = b;
	ubytes_add(l, sizeof(*b));
	return 0;
}

/* Room for one new account record; TOLL_EFULL past the bound on accounts. */
static int
account_room(struct lane_taglist *l, int in_base)
{
	if (!in_base && l->naccts + l->n_newaccts >= LANE_TAGLIST_MAX_TAGS)
		return TOLL_EFULL;
	if (ptab_reserve(l, &l->atab, l->n_uaccts, uacct_hash) != 0 || ablock_reserve(l) != 0)
		return TOLL_ENOMEM;
	return 0;
}

/* A new account record (room reserved), published; a base account's own
 * debit word then moves to it: the debits recorded there are forgotten. */
static struct uacct *
account_add(struct lane_taglist *l, uint32_t id, int64_t base, int64_t balance_vnd)
{
	struct uacct *u = &l->ablocks->rec[l->ablocks->used++];

	u->id = id;
	u->base = base >= 0 ? (uint32_t)base : NO_BASE;
	u->given = balance_vnd;
	__atomic_store_n(&u->state, state_of(balance_vnd), __ATOMIC_RELAXED);
	ptab_put(__atomic_load_n(&l->atab, __ATOMIC_RELAXED), uacct_hash(u), u);
	__atomic_store_n(&l->n_uaccts, l->n_uaccts + 1, __ATOMIC_RELAXED);
	if (base >= 0)
		(void)__atomic_exchange_n(&l->accts[base].debit_vnd, DEBIT_MOVED, __ATOMIC_RELEASE);
	else
		__atomic_store_n(&l->n_newaccts, l->n_newaccts + 1, __ATOMIC_RELAXED);
	return u;
}

int
lane_taglist_set_account(struct lane_taglist *l, uint64_t account_id, int64_t balance_vnd)
{
	int rc = 0;

	if (l == NULL)
		return TOLL_EINVAL;
	if (account_id == 0 || account_id > UINT32_MAX)
		return TOLL_ERANGE;
	pthread_mutex_lock(&l->umu);
	struct uacct *u = (struct uacct *)(uintptr_t)uacct_find(l, (uint32_t)account_id);
	if (u != NULL) {
		/* one store: the new balance and no debits; a debit racing with
		 * it lands on the old word (forgotten) or on the new one */
		u->given = balance_vnd;
		__atomic_store_n(&u->state, state_of(balance_vnd), __ATOMIC_RELEASE);
	} else {
		int64_t base = find_account(l, account_id);
		rc = account_room(l, base >= 0);
		if (rc == 0)
			(void)account_add(l, (uint32_t)account_id, base, balance_vnd);
	}
	pthread_mutex_unlock(&l->umu);
	return rc;
}

void
lane_taglist_set_version(struct lane_taglist *l, uint64_t version)
{
	if (l != NULL)
		__atomic_store_n(&l->version_now, version, __ATOMIC_RELAXED);
}

size_t
lane_taglist_update_count(const struct lane_taglist *l)
{
	return (size_t)(__atomic_load_n(&l->n_utags, __ATOMIC_RELAXED) + __atomic_load_n(&l->n_uaccts, __ATOMIC_RELAXED));
}

/* The bounds of lane_taglist_writer_tag. */
static int
update_check(const struct lane_tag_update *u)
{
	size_t plen = strnlen(u->plate, LANE_PLATE_MAX + 1);

	if (u->epc_bits == 0 || u->epc_bits > LANE_EPC_MAX_BITS || u->vclass < 1 || u->vclass > 5 ||
	    u->status > LANE_TAG_INVALID || u->reason > 255 ||
	    (u->flags & ~(unsigned)(LANE_TAG_F_EXEMPT | LANE_TAG_F_PASS)) || plen > LANE_PLATE_MAX ||
	    (plen > 0 && plate_check(u->plate, plen) < 0) ||
	    (!(u->flags & LANE_TAG_F_PASS) && (u->pass_station != 0 || u->pass_until_day != 0)))
		return TOLL_EINVAL;
	if (u->account_id == 0 || u->account_id > UINT32_MAX)
		return TOLL_ERANGE;
	return 0;
}

int
lane_taglist_upsert_tag(struct lane_taglist *l, const struct lane_tag_update *u)
{
	uint64_t st[ST_WORDS] = {0};
	uint8_t k[32];
	int rc;

	if (l == NULL || u == NULL)
		return TOLL_EINVAL;
	if ((rc = update_check(u)) != 0)
		return rc;
	uint64_t h = epc_key(u->epc, u->epc_bits, k);
	uint32_t id = (uint32_t)u->account_id;

	pthread_mutex_lock(&l->umu);
	const struct entry *e = find_base(l, h, u->epc_bits, k);
	struct utag *t = (struct utag *)(uintptr_t)utag_find(l, h, u->epc_bits, k);
	const struct uacct *ua = uacct_find(l, id);
	int64_t abase = ua == NULL ? find_account(l, id) : -1;

	/* everything that can fail, before anything changes */
	if (t == NULL && e == NULL && l->ntags + l->n_newtags >= LANE_TAGLIST_MAX_TAGS)
		rc = TOLL_EFULL;
	else if (t == NULL &&
		 (ptab_reserve(l, &l->utab, l->n_utags, utag_hash) != 0 || tblock_reserve(l) != 0))
		rc = TOLL_ENOMEM;
	else if (ua == NULL && abase < 0)
		rc = account_room(l, 0);
	if (rc != 0) {
		pthread_mutex_unlock(&l->umu);
		return rc;
	}
	if (ua == NULL && abase < 0)
		ua = account_add(l, id, -1, 0); /* central's balance comes with set_account */

	unsigned info = u->vclass | u->status << I_STATUS_SHIFT | (u->flags & LANE_TAG_F_EXEMPT ? I_EXEMPT : 0) |
			(u->flags & LANE_TAG_F_PASS ? I_PASS : 0) | (u->tid_valid ? I_TID : 0);
	st[ST_INFO] = info | (uint64_t)u->reason << 8 |
		      (u->tid_valid ? (uint64_t)tid_fingerprint(u->tid) << 32 : 0);
	st[ST_PASS] = u->pass_station | (uint64_t)u->pass_until_day << 32;
	for (int i = 0; i < LANE_PLATE_MAX && u->plate[i] != 0; i++)
		st[ST_PLATE_LO + i / 8] |= (uint64_t)(uint8_t)u->plate[i] << (8 * (i % 8));
	st[ST_ACCT] = ua != NULL ? (uint64_t)(uintptr_t)ua : base_ref((uint32_t)abase);

	if (t != NULL) {
		uint32_t s = __atomic_load_n(&t->seq, __ATOMIC_RELAXED);
		__atomic_store_n(&t->seq, s + 1, __ATOMIC_RELAXED);
		for (int w = 0; w < ST_WORDS; w++)
			__atomic_store_n(&t->st[w], st[w], __ATOMIC_RELEASE);
		__atomic_store_n(&t->seq, s + 2, __ATOMIC_RELEASE);
	} else {
		t = &l->tblocks->rec[l->tblocks->used++];
		t->h = h;
		memcpy(t->epc, k, 32);
		t->bits = (uint16_t)u->epc_bits;
		t->base = e != NULL ? (uint32_t)(e - l->tags) : NO_BASE;
		for (int w = 0; w < ST_WORDS; w++)
			__atomic_store_n(&t->st[w], st[w], __ATOMIC_RELAXED);
		ptab_put(__atomic_load_n(&l->utab, __ATOMIC_RELAXED), h, t);
		__atomic_store_n(&l->n_utags, l->n_utags + 1, __ATOMIC_RELAXED);
		if (e != NULL)
			__atomic_fetch_or((uint8_t *)(uintptr_t)&e->x, X_UPDATED, __ATOMIC_RELEASE);
		else
			__atomic_store_n(&l->n_newtags, l->n_newtags + 1, __ATOMIC_RELEASE);
	}
	memset(t->tid, 0, sizeof(t->tid));
	if (u->tid_valid)
		memcpy(t->tid, u->tid, sizeof(t->tid));
	pthread_mutex_unlock(&l->umu);
	return 0;
}

/* ---- save: the merged list as a list file ------------------------------------ */

/* fmix64's multipliers' inverses mod 2^64 */
#define FMIX_INV1 0x4F74430C22A54005ull
#define FMIX_INV2 0x9CB4B2F8129337DBull
_Static_assert(0xFF51AFD7ED558CCDull * FMIX_INV1 == 1 && 0xC4CEB9FE1A85EC53ull * FMIX_INV2 == 1,
	       "fmix64's inverse multipliers");

static uint64_t
fmix64_inverse(uint64_t x)
{
	x ^= x >> 33;
	x *= FMIX_INV2;
	x ^= x >> 33;
	x *= FMIX_INV1;
	x ^= x >> 33;
	return x;
}

/* A TID whose fingerprint is fp: the hash runs backwards from fp << 32
 * (h = fmix64(fmix64(seed ^ g0) ^ g1), g1's low half zero). */
static void
tid_for_fingerprint(uint32_t fp, uint8_t tid[12])
{
	uint64_t y = fmix64_inverse((uint64_t)fp << 32);
	uint64_t h1 = y & UINT32_MAX, g1 = y ^ h1;
	uint64_t g0 = fmix64_inverse(h1) ^ (TID_SEED ^ 96);
	for (int i = 0; i < 8; i++)
		tid[i] = (uint8_t)(g0 >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		tid[8 + i] = (uint8_t)(g1 >> (56 - 8 * i));
	assert(tid_fingerprint(tid) == fp);
}

/* The base and the update layer merged, in file order. */
struct merge {
	const struct lane_taglist *l;
	const struct uacct **newa; /* accounts the base does not have, by id */
	size_t nnewa, ai, ni_a;
	const struct utag **newt; /* tags the base does not have, in file order */
	size_t nnewt, ni;
	uint64_t bi;
	uint32_t *b2m; /* base account index -> index in the file */
};

static int
uacct_ptr_cmp(const void *a, const void *b)
{
	const struct uacct *x = *(const struct uacct *const *)a, *y = *(const struct uacct *const *)b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int
utag_ptr_cmp(const void *a, const void *b)
{
	const struct utag *x = *(const struct utag *const *)a, *y = *(const struct utag *const *)b;
	return key_cmp(x->h, x->bits, x->epc, y->h, y->bits, y->epc);
}

static void
merge_rewind(void *ctx)
{
	struct merge *m = ctx;
	m->ai = m->ni_a = 0;
	m->bi = m->ni = 0;
}

static void
merge_account(void *ctx, uint64_t *id, int64_t *balance_vnd)
{
	struct merge *m = ctx;
	const struct lane_taglist *l = m->l;

	if (m->ai < l->naccts && (m->ni_a == m->nnewa || l->accts[m->ai].id < m->newa[m->ni_a]->id)) {
		const struct account *a = &l->accts[m->ai++];
		*id = a->id;
		if (__atomic_load_n(&a->debit_vnd, __ATOMIC_ACQUIRE) >= 0) {
			*balance_vnd = a->balance_vnd;
		} else {
			const struct uacct *u = uacct_find(l, a->id);
			assert(u != NULL);
			*balance_vnd = u->given;
		}
		return;
	}
	const struct uacct *u = m->newa[m->ni_a++];
	*id = u->id;
	*balance_vnd = u->given;
}

static uint32_t
merged_account(const struct merge *m, uint64_t ref)
{
	if (ref & 1)
		return m->b2m[ref >> 1];
	const struct uacct *u = (const struct uacct *)(uintptr_t)ref;
	return u->base != NO_BASE ? m->b2m[u->base] : u->merged;
}

static void
ftag_of_update(const struct merge *m, const struct utag *u, struct ftag *t)
{
	uint64_t st[ST_WORDS];
	unsigned info;

	utag_read(u, st);
	info = (unsigned)st[ST_INFO] & 0xFF;
	t->cls = (uint8_t)(info & I_CLASS);
	t->status = (uint8_t)((info >> I_STATUS_SHIFT) & 3);
	t->reason = (uint8_t)(st[ST_INFO] >> 8);
	t->flags |= (uint8_t)((info & I_EXEMPT ? FF_EXEMPT : 0) | (info & I_PASS ? FF_PASS : 0) |
			      (info & I_TID ? FF_TID : 0));
	if (info & I_TID)
		memcpy(t->tid, u->tid, 12);
	for (int i = 0; i < LANE_PLATE_MAX; i++)
		t->plate[i] = (char)(st[ST_PLATE_LO + i / 8] >> (8 * (i % 8)));
	if (info & I_PASS) {
		t->pass_station = (uint32_t)st[ST_PASS];
		t->pass_until = (uint32_t)(st[ST_PASS] >> 32);
	}
	t->acct_index = merged_account(m, st[ST_ACCT]);
}

static void
ftag_of_base(const struct merge *m, uint64_t i, struct ftag *t)
{
	const struct lane_taglist *l = m->l;
	const struct entry *e = &l->tags[i];
	uint8_t x = entry_x(e);

	if (x & X_UPDATED) {
		const struct utag *u = utag_find(l, t->h, t->bits, t->epc);
		assert(u != NULL);
		ftag_of_update(m, u, t);
		return;
	}
	t->cls = (uint8_t)(e->info & I_CLASS);
	t->status = (uint8_t)((e->info >> I_STATUS_SHIFT) & 3);
	t->reason = e->reason;
	t->flags |= (uint8_t)((e->info & I_EXEMPT ? FF_EXEMPT : 0) | (e->info & I_PASS ? FF_PASS : 0) |
			      (e->info & I_TID ? FF_TID : 0));
	if (e->info & I_TID)
		tid_for_fingerprint(e->tidfp, t->tid);
	if (x & X_PLATE) {
		memcpy(t->plate, l->plates[e->plate], LANE_PLATE_MAX);
	} else {
		char p[LANE_PLATE_MAX + 1];
		plate_unpack(e->plate, e->plate_hi, p);
		memcpy(t->plate, p, strlen(p));
	}
	if (e->info & I_PASS) {
		const struct pass *p = find_pass(l, (uint32_t)i);
		assert(p != NULL);
		t->pass_station = p->station;
		t->pass_until = p->until_day;
	}
	t->acct_index = m->b2m[e->acct];
}

/* The key of base entry i into t. */
static void
base_key(const struct lane_taglist *l, uint64_t i, struct ftag *t)
{
	const struct entry *e = &l->tags[i];

	memset(t, 0, sizeof(*t));
	if (entry_x(e) & X_LONG) {
		uint32_t li;
		memcpy(&li, e->key, 4);
		t->bits = l->longs[li].bits;
		memcpy(t->epc, l->longs[li].epc, 32);
		t->h = epc_hash(HASH_SEED, t->epc, t->bits);
		t->flags = FF_LONG;
	} else {
		t->bits = 96;
		memcpy(t->epc, e->key, 12);
		t->h = epc_hash96(t->epc);
	}
}

static void
merge_tag(void *ctx, struct ftag *t)
{
	struct merge *m = ctx;
	const struct lane_taglist *l = m->l;

	if (m->bi < l->ntags) {
		base_key(l, m->bi, t);
		const struct utag *n = m->ni < m->nnewt ? m->newt[m->ni] : NULL;
		if (n == NULL || key_cmp(t->h, t->bits, t->epc, n->h, n->bits, n->epc) < 0) {
			ftag_of_base(m, m->bi++, t);
			return;
		}
	}
	const struct utag *u = m->newt[m->ni++];
	memset(t, 0, sizeof(*t));
	t->h = u->h;
	t->bits = u->bits;
	memcpy(t->epc, u->epc, 32);
	if (u->bits != 96)
		t->flags = FF_LONG;
	ftag_of_update(m, u, t);
}

static int
save_locked(const struct lane_taglist *l, const char *path, char *err, size_t errlen)
{
	struct merge m;
	struct ftag t;
	int rc = 0;

	memset(&m, 0, sizeof(m));
	m.l = l;
	m.newa = malloc((l->n_newaccts + 1) * sizeof(*m.newa));
	m.newt = malloc((l->n_newtags + 1) * sizeof(*m.newt));
	m.b2m = malloc((l->naccts + 1) * sizeof(*m.b2m));
	if (m.newa == NULL || m.newt == NULL || m.b2m == NULL) {
		rc = toll_errf(err, errlen, TOLL_ENOMEM, "%s: out of memory", path);
		goto done;
	}
	for (const struct ablock *b = l->ablocks; b != NULL; b = b->next)
		for (size_t i = 0; i < b->used; i++)
			if (b->rec[i].base == NO_BASE)
				m.newa[m.nnewa++] = &b->rec[i];
	for (const struct tblock *b = l->tblocks; b != NULL; b = b->next)
		for (size_t i = 0; i < b->used; i++)
			if (b->rec[i].base == NO_BASE)
				m.newt[m.nnewt++] = &b->rec[i];
	assert(m.nnewa == l->n_newaccts && m.nnewt == l->n_newtags);
	qsort(m.newa, m.nnewa, sizeof(*m.newa), uacct_ptr_cmp);
	qsort(m.newt, m.nnewt, sizeof(*m.newt), utag_ptr_cmp);
	/* where each account lands in the file */
	for (uint64_t i = 0, j = 0, k = 0; i < l->naccts || j < m.nnewa; k++) {
		if (i < l->naccts && (j == m.nnewa || l->accts[i].id < m.newa[j]->id))
			m.b2m[i++] = (uint32_t)k;
		else
			((struct uacct *)(uintptr_t)m.newa[j++])->merged = (uint32_t)k;
	}

	struct wsrc src = {lane_taglist_version(l), l->naccts + m.nnewa, l->ntags + m.nnewt, 0, 0, &m,
			   merge_rewind, merge_account, merge_tag};
	/* the counts the header needs, and the loader's bound on a bucket */
	uint32_t nb = buckets_for(src.ntags), prev = 0;
	unsigned run = 0;
	merge_rewind(&m);
	for (uint64_t i = 0; i < src.ntags; i++) {
		merge_tag(&m, &t);
		src.nlongs += (t.flags & FF_LONG) != 0;
		src.npasses += (t.flags & FF_PASS) != 0;
		uint32_t b = bucket_of(t.h, nb);
		run = i > 0 && b == prev ? run + 1 : 1;
		prev = b;
		if (run > MAX_BUCKET) {
			rc = toll_errf(err, errlen, TOLL_ERANGE, "%s: more than %d tags share a hash bucket", path,
				       MAX_BUCKET);
			goto done;
		}
	}
	rc = write_file(path, &src, err, errlen);
done:
	free(m.newa);
	free(m.newt);
	free(m.b2m);
	return rc;
}

int
lane_taglist_save(const struct lane_taglist *l, const char *path, char *err, size_t errlen)
{
	if (l == NULL || path == NULL)
		return TOLL_EINVAL;
	/* the mutex is the update side's, not part of the list's value */
	pthread_mutex_t *mu = (pthread_mutex_t *)(uintptr_t)&l->umu;
	pthread_mutex_lock(mu);
	int rc = save_locked(l, path, err, errlen);
	pthread_mutex_unlock(mu);
	return rc;
}

/* ---- CSV import ------------------------------------------------------------- */

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 1..2*max hex digits into out (zeroed to max bytes); bits = 4 * digits */
static int
hex_field(const char *s, uint8_t *out, size_t max, unsigned *bits)
{
	size_t n = strlen(s);
	if (n == 0 || n > 2 * max)
		return -1;
	memset(out, 0, max);
	for (size_t i = 0; i < n; i++) {
		int d = hex_digit(s[i]);
		if (d < 0)
			return -1;
		out[i / 2] |= (uint8_t)(i % 2 ? d : d << 4);
	}
	*bits = (unsigned)(4 * n);
	return 0;
}

/* decimal, digits only, at most max */
static int
uint_field(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (*s == 0 || strlen(s) > 20)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		unsigned d = (unsigned)(*s - '0');
		if (d > max || v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int
int_field(const char *s, int64_t *out)
{
	uint64_t v;
	int neg = *s == '-';
	if (uint_field(s + neg, neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX, &v) != 0)
		return -1;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

/* Days since 1970-01-01 of a civil date (H. Hinnant's days_from_civil). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* "YYYY-MM-DD", 1970-01-01 .. 9999-12-31 */
static int
date_field(const char *s, uint32_t *day)
{
	static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned y = 0, m, d;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return -1;
	for (int i = 0; i < 4; i++)
		y = y * 10 + (unsigned)(s[i] - '0');
	m = (unsigned)(s[5] - '0') * 10 + (unsigned)(s[6] - '0');
	d = (unsigned)(s[8] - '0') * 10 + (unsigned)(s[9] - '0');
	if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return -1;
	if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -1;
	*day = (uint32_t)days_from_civil(y, m, d);
	return 0;
}

struct csv {
	const char *path;
	unsigned *tag_line, *acct_line;
	size_t captl, capal;
	char *err;
	size_t errlen;
};

#define csv_fail(c, ln, ...) csv_failf((c), (ln), __VA_ARGS__)

static int
csv_failf(struct csv *c, unsigned ln, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
csv_failf(struct csv *c, unsigned ln, const char *fmt, ...)
{
	char msg[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ln > 0)
		return toll_errf(c->err, c->errlen, TOLL_EFORMAT, "%s:%u: %s", c->path, ln, msg);
	return toll_errf(c->err, c->errlen, TOLL_EFORMAT, "%s: %s", c->path, msg);
}

static int
csv_account(struct csv *c, struct lane_taglist_writer *w, unsigned ln, char **fld, int nf)
{
	uint64_t id;
	int64_t bal;

	if (nf != 3)
		return csv_fail(c, ln, "%d fields; an account line is account,ID,BALANCE_VND", nf);
	if (uint_field(fld[1], UINT32_MAX, &id) != 0 || id == 0)
		return csv_fail(c, ln, "account id '%s': want 1..4294967295", fld[1]);
	if (int_field(fld[2], &bal) != 0)
		return csv_fail(c, ln, "balance '%s': want whole VND", fld[2]);
	if (grow((void **)&c->acct_line, &c->capal, w->naccts + 1, sizeof(*c->acct_line)) != 0)
		return toll_errf(c->err, c->errlen, TOLL_ENOMEM, "out of memory");
	c->acct_line[w->naccts] = ln;
	int rc = lane_taglist_writer_account(w, id, bal);
	return rc == 0 ? 0 : csv_fail(c, ln, "account refused: %s", toll_strerror(rc));
}

static int
csv_tag(struct csv *c, struct lane_taglist_writer *w, unsigned ln, char **fld, int nf)
{
	uint8_t epc[32], tid[12];
	unsigned bits, tbits = 0, status, flags = 0;
	uint64_t acct, cls, reason, station = 0;
	uint32_t until = 0;

	if (nf != 10)
		return csv_fail(c, ln, "%d fields; a tag line has 10: EPC,TID,ACCOUNT,CLASS,PLATE,STATUS,REASON,FLAGS,"
				"PASS_STATION,PASS_UNTIL", nf);
	if (hex_field(fld[0], epc, sizeof(epc), &bits) != 0)
		return csv_fail(c, ln, "EPC '%s': want 1 to 64 hex digits", fld[0]);
	if (fld[1][0] != 0 && (hex_field(fld[1], tid, sizeof(tid), &tbits) != 0 || tbits != 96))
		return csv_fail(c, ln, "TID '%s': want 24 hex digits or nothing", fld[1]);
	if (uint_field(fld[2], UINT32_MAX, &acct) != 0 || acct == 0)
		return csv_fail(c, ln, "account '%s': want 1..4294967295", fld[2]);
	if (uint_field(fld[3], 5, &cls) != 0 || cls < 1)
		return csv_fail(c, ln, "class '%s': want 1..5", fld[3]);
	if (strlen(fld[4]) > LANE_PLATE_MAX || plate_check(fld[4], strlen(fld[4])) < 0)
		return csv_fail(c, ln, "plate '%s': want at most %d printable ASCII characters", fld[4],
				LANE_PLATE_MAX);
	if (strcmp(fld[5], "valid") == 0)
		status = LANE_TAG_VALID;
	else if (strcmp(fld[5], "low") == 0)
		status = LANE_TAG_LOW_BALANCE;
	else if (strcmp(fld[5], "invalid") == 0)
		status = LANE_TAG_INVALID;
	else
		return csv_fail(c, ln, "status '%s': want valid, low or invalid", fld[5]);
	if (uint_field(fld[6], 255, &reason) != 0)
		return csv_fail(c, ln, "reason '%s': want 0..255", fld[6]);
	if (strcmp(fld[7], "exempt") == 0)
		flags = LANE_TAG_F_EXEMPT;
	else if (strcmp(fld[7], "pass") == 0)
		flags = LANE_TAG_F_PASS;
	else if (strcmp(fld[7], "exempt+pass") == 0 || strcmp(fld[7], "pass+exempt") == 0)
		flags = LANE_TAG_F_EXEMPT | LANE_TAG_F_PASS;
	else if (fld[7][0] != 0)
		return csv_fail(c, ln, "flags '%s': want exempt, pass, exempt+pass or nothing", fld[7]);
	if (flags & LANE_TAG_F_PASS) {
		if (uint_field(fld[8], UINT32_MAX, &station) != 0)
			return csv_fail(c, ln, "pass station '%s': want 0..4294967295", fld[8]);
		if (date_field(fld[9], &until) != 0)
			return csv_fail(c, ln, "pass until '%s': want a date YYYY-MM-DD", fld[9]);
	} else if (fld[8][0] != 0 || fld[9][0] != 0) {
		return csv_fail(c, ln, "pass station and date without the pass flag");
	}
	if (grow((void **)&c->tag_line, &c->captl, w->ntags + 1, sizeof(*c->tag_line)) != 0)
		return toll_errf(c->err, c->errlen, TOLL_ENOMEM, "out of memory");
	c->tag_line[w->ntags] = ln;
	int rc = lane_taglist_writer_tag(w, epc, bits, tbits ? tid : NULL, acct, (unsigned)cls, fld[4], status,
					 (unsigned)reason, flags, (uint32_t)station, until);
	return rc == 0 ? 0 : csv_fail(c, ln, "tag refused: %s", toll_strerror(rc));
}

int
lane_taglist_import_csv(const char *csv_path, const char *out_path, uint64_t list_version, char *err, size_t errlen)
{
	struct lane_taglist_writer *w = NULL;
	struct csv c;
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	unsigned ln = 0;
	int rc = 0, header = 0;
	FILE *f;

	if (csv_path == NULL || out_path == NULL)
		return TOLL_EINVAL;
	memset(&c, 0, sizeof(c));
	c.path = csv_path;
	c.err = err;
	c.errlen = errlen;
	f = fopen(csv_path, "r");
	if (f == NULL)
		return toll_errf(err, errlen, TOLL_ESYS, "could not open %s: %s", csv_path, strerror(errno));
	if (lane_taglist_writer_new(list_version, &w) != 0) {
		fclose(f);
		return TOLL_ENOMEM;
	}
	while (rc == 0 && (got = getline(&line, &cap, f)) >= 0) {
		char *fld[12], *p = line;
		int nf = 0;

		ln++;
		if ((size_t)got != strlen(line)) {
			rc = csv_fail(&c, ln, "NUL byte in the line");
			break;
		}
		if (got > CSV_LINE_MAX) {
			rc = csv_fail(&c, ln, "line longer than %d bytes", CSV_LINE_MAX);
			break;
		}
		line[strcspn(line, "\r\n")] = 0;
		if (line[0] == 0 || line[0] == '#')
			continue;
		if (!header) {
			if (strcmp(line, "toll-taglist-csv 1") != 0) {
				rc = csv_fail(&c, ln, "want the header 'toll-taglist-csv 1'");
				break;
			}
			header = 1;
			continue;
		}
		for (const char *q = line; *q; q++)
			nf += *q == ',';
		if (++nf > 10) {
			rc = csv_fail(&c, ln, "%d fields; a line has at most 10", nf);
			break;
		}
		for (int i = 0; i < nf; i++) {
			fld[i] = p;
			p += strcspn(p, ",");
			*p++ = 0;
		}
		if (strcmp(fld[0], "account") == 0)
			rc = csv_account(&c, w, ln, fld, nf);
		else
			rc = csv_tag(&c, w, ln, fld, nf);
	}
	if (rc == 0 && ferror(f))
		rc = toll_errf(err, errlen, TOLL_ESYS, "could not read %s", csv_path);
	free(line);
	fclose(f);
	if (rc == 0 && !header)
		rc = csv_fail(&c, 0, "empty; want the header 'toll-taglist-csv 1'");
	if (rc == 0) {
		int wr = lane_taglist_writer_finish(w, out_path);
		if (wr != 0) {
			switch (w->problem) {
			case P_DUP_ACCOUNT:
				rc = toll_errf(err, errlen, TOLL_EFORMAT, "%s:%u: account listed twice (first at line %u)",
					       csv_path, c.acct_line[w->second], c.acct_line[w->first]);
				break;
			case P_NO_ACCOUNT:
				rc = csv_fail(&c, c.tag_line[w->first], "unknown account (no account line lists it)");
				break;
			case P_DUP_EPC:
				rc = toll_errf(err, errlen, TOLL_EFORMAT, "%s:%u: EPC listed twice (first at line %u)",
					       csv_path, c.tag_line[w->second], c.tag_line[w->first]);
				break;
			default:
				rc = toll_errf(err, errlen, wr, "%s", lane_taglist_writer_error(w));
			}
		}
	}
	free(c.tag_line);
	free(c.acct_line);
	lane_taglist_writer_free(w);
	return rc;
}

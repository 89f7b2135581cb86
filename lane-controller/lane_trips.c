/* lane_trips.c: see lane_trips.h.  An open-addressing table (linear
 * probing) of fixed records keyed by (EPC bits, EPC bytes); nothing is
 * deleted in place: prune rebuilds the table without the dropped ones. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "crc.h"
#include "err.h"
#include "lane_trips.h"
#include "tslmsg.h"

#define REC_BYTES 47
#define HDR_BYTES 16
#define SKEW_MS   60000 /* an entry up to a minute "in the future": plaza clocks */

struct trip {
	uint16_t bits; /* 0: empty slot */
	uint8_t state;
	uint8_t epc[32];
	uint32_t station;
	int64_t time_ms;
};

struct lane_trips {
	pthread_mutex_t mu;
	struct trip *v;
	size_t cap; /* a power of two */
	size_t n;
};

static uint64_t
hash(const uint8_t *epc, unsigned bits)
{
	uint64_t h = 1469598103934665603ULL ^ bits;
	for (unsigned i = 0; i < (bits + 7) / 8; i++) {
		h ^= epc[i];
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 29);
}

/* The key as stored: bits past the length cleared, the rest zero. */
static void
key_of(const uint8_t *epc, unsigned bits, uint8_t out[32])
{
	unsigned nbytes = (bits + 7) / 8;
	memset(out, 0, 32);
	memcpy(out, epc, nbytes);
	if (bits % 8)
		out[nbytes - 1] &= (uint8_t)(0xFF << (8 - bits % 8));
}

static struct trip *
slot(struct trip *v, size_t cap, const uint8_t key[32], unsigned bits)
{
	size_t i = (size_t)hash(key, bits) & (cap - 1);
	for (;;) {
		struct trip *t = &v[i];
		if (t->bits == 0 || (t->bits == bits && memcmp(t->epc, key, 32) == 0))
			return t;
		i = (i + 1) & (cap - 1);
	}
}

static int
grow(struct lane_trips *t, size_t want)
{
	size_t cap = t->cap ? t->cap : 1024;
	while (want * 10 > cap * 7)
		cap *= 2;
	if (cap == t->cap)
		return 0;
	struct trip *nv = calloc(cap, sizeof(*nv));
	if (nv == NULL)
		return TOLL_ENOMEM;
	for (size_t i = 0; i < t->cap; i++)
		if (t->v[i].bits != 0)
			*slot(nv, cap, t->v[i].epc, t->v[i].bits) = t->v[i];
	free(t->v);
	t->v = nv;
	t->cap = cap;
	return 0;
}

int
lane_trips_new(struct lane_trips **out)
{
	struct lane_trips *t = calloc(1, sizeof(*t));
	*out = NULL;
	if (t == NULL)
		return TOLL_ENOMEM;
	pthread_mutex_init(&t->mu, NULL);
	if (grow(t, 1) != 0) {
		pthread_mutex_destroy(&t->mu);
		free(t);
		return TOLL_ENOMEM;
	}
	*out = t;
	return 0;
}

void
lane_trips_free(struct lane_trips *t)
{
	if (t == NULL)
		return;
	pthread_mutex_destroy(&t->mu);
	free(t->v);
	free(t);
}

static int
put_locked(struct lane_trips *t, const uint8_t key[32], unsigned bits, uint32_t station, int64_t time_ms,
	   unsigned state)
{
	struct trip *s = slot(t->v, t->cap, key, bits);
	if (s->bits != 0) {
		if (time_ms < s->time_ms || (time_ms == s->time_ms && state <= s->state))
			return 0; /* an older trip, or no news of this one */
		s->station = station;
		s->time_ms = time_ms;
		s->state = (uint8_t)state;
		return 0;
	}
	if (t->n >= LANE_TRIPS_MAX)
		return TOLL_EFULL;
	if ((t->n + 1) * 10 > t->cap * 7) {
		int rc = grow(t, t->n + 1);
		if (rc != 0)
			return rc;
		s = slot(t->v, t->cap, key, bits);
	}
	s->bits = (uint16_t)bits;
	memcpy(s->epc, key, 32);
	s->station = station;
	s->time_ms = time_ms;
	s->state = (uint8_t)state;
	t->n++;
	return 0;
}

int
lane_trips_put(struct lane_trips *t, const uint8_t *epc, unsigned bits, uint32_t station, int64_t time_ms,
	       unsigned state)
{
	uint8_t key[32];
	if (bits < 1 || bits > 256 || state < TOLL_TSL_ENTRY_OPEN || state > TOLL_TSL_ENTRY_EXPIRED)
		return TOLL_EINVAL;
	key_of(epc, bits, key);
	pthread_mutex_lock(&t->mu);
	int rc = put_locked(t, key, bits, station, time_ms, state);
	pthread_mutex_unlock(&t->mu);
	return rc;
}

int
lane_trips_find(struct lane_trips *t, const uint8_t *epc, unsigned bits, int64_t now_ms, int64_t max_age_ms,
		uint32_t *station, int64_t *time_ms)
{
	uint8_t key[32];
	int rc = TOLL_ENOTFOUND;
	if (bits < 1 || bits > 256)
		return TOLL_ENOTFOUND;
	key_of(epc, bits, key);
	pthread_mutex_lock(&t->mu);
	const struct trip *s = slot(t->v, t->cap, key, bits);
	if (s->bits != 0 && s->state == TOLL_TSL_ENTRY_OPEN && s->time_ms >= now_ms - max_age_ms &&
	    s->time_ms <= now_ms + SKEW_MS) {
		*station = s->station;
		*time_ms = s->time_ms;
		rc = 0;
	}
	pthread_mutex_unlock(&t->mu);
	return rc;
}

void
lane_trips_used(struct lane_trips *t, const uint8_t *epc, unsigned bits, int64_t time_ms)
{
	uint8_t key[32];
	if (bits < 1 || bits > 256)
		return;
	key_of(epc, bits, key);
	pthread_mutex_lock(&t->mu);
	struct trip *s = slot(t->v, t->cap, key, bits);
	if (s->bits != 0 && s->time_ms == time_ms && s->state == TOLL_TSL_ENTRY_OPEN)
		s->state = TOLL_TSL_ENTRY_CLOSED;
	pthread_mutex_unlock(&t->mu);
}

size_t
lane_trips_prune(struct lane_trips *t, int64_t now_ms, int64_t max_age_ms)
{
	pthread_mutex_lock(&t->mu);
	size_t keep = 0;
	for (size_t i = 0; i < t->cap; i++)
		keep += t->v[i].bits != 0 && t->v[i].state == TOLL_TSL_ENTRY_OPEN &&
			t->v[i].time_ms >= now_ms - max_age_ms;
	size_t cap = 1024;
	while (keep * 10 > cap * 7)
		cap *= 2;
	struct trip *nv = calloc(cap, sizeof(*nv));
	size_t dropped = 0;
	if (nv != NULL) {
		for (size_t i = 0; i < t->cap; i++) {
			const struct trip *s = &t->v[i];
			if (s->bits == 0)
				continue;
			if (s->state == TOLL_TSL_ENTRY_OPEN && s->time_ms >= now_ms - max_age_ms)
				*slot(nv, cap, s->epc, s->bits) = *s;
			else
				dropped++;
		}
		free(t->v);
		t->v = nv;
		t->cap = cap;
		t->n = keep;
	}
	pthread_mutex_unlock(&t->mu);
	return dropped;
}

void
lane_trips_count(struct lane_trips *t, size_t *kept, size_t *open)
{
	size_t o = 0;
	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < t->cap; i++)
		o += t->v[i].bits != 0 && t->v[i].state == TOLL_TSL_ENTRY_OPEN;
	*kept = t->n;
	*open = o;
	pthread_mutex_unlock(&t->mu);
}

/* ---- the file ---------------------------------------------------------------- */

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return TOLL_ESYS;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
lane_trips_save(struct lane_trips *t, const char *path, char *err, size_t errlen)
{
	char part[PATH_MAX];
	if (snprintf(part, sizeof(part), "%s.part", path) >= (int)sizeof(part)) {
		snprintf(err, errlen, "%s: path too long", path);
		return TOLL_ESYS;
	}
	pthread_mutex_lock(&t->mu);
	size_t n = t->n, len = HDR_BYTES + n * REC_BYTES + 4;
	uint8_t *b = malloc(len);
	if (b == NULL) {
		pthread_mutex_unlock(&t->mu);
		snprintf(err, errlen, "%s: out of memory", path);
		return TOLL_ENOMEM;
	}
	struct toll_wr w;
	toll_wr_init(&w, b, len);
	(void)toll_wr_bytes(&w, "TOLLTRIP", 8);
	(void)toll_wr_u32(&w, LANE_TRIPS_FILE_VERSION);
	(void)toll_wr_u32(&w, (uint32_t)n);
	for (size_t i = 0; i < t->cap; i++) {
		const struct trip *s = &t->v[i];
		if (s->bits == 0)
			continue;
		(void)toll_wr_u16(&w, s->bits);
		(void)toll_wr_bytes(&w, s->epc, 32);
		(void)toll_wr_u32(&w, s->station);
		(void)toll_wr_u64(&w, (uint64_t)s->time_ms);
		(void)toll_wr_u8(&w, s->state);
	}
	pthread_mutex_unlock(&t->mu);
	int rc = toll_wr_u32(&w, toll_crc32c(0, b, len - 4));
	if (rc != 0 || w.off != len) {
		free(b);
		snprintf(err, errlen, "%s: record count changed while writing (a bug)", path);
		return TOLL_ESYS;
	}
	int fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	rc = fd < 0 ? TOLL_ESYS : write_all(fd, b, len);
	if (rc == 0 && fsync(fd) != 0)
		rc = TOLL_ESYS;
	if (fd >= 0 && close(fd) != 0 && rc == 0)
		rc = TOLL_ESYS;
	free(b);
	if (rc == 0 && rename(part, path) != 0)
		rc = TOLL_ESYS;
	if (rc == 0) {
		/* the folder's entry for the new file */
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s", path);
		char *slash = strrchr(dir, '/');
		if (slash != NULL)
			*slash = 0;
		int dfd = open(slash != NULL ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || fsync(dfd) != 0)
			rc = TOLL_ESYS;
		if (dfd >= 0)
			close(dfd);
	}
	if (rc != 0)
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	return rc;
}

int
lane_trips_load(struct lane_trips *t, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return e == ENOENT ? TOLL_ENOTFOUND : TOLL_ESYS;
	}
	struct stat sb;
	if (fstat(fd, &sb) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return TOLL_ESYS;
	}
	if (sb.st_size < HDR_BYTES + 4 || (uint64_t)sb.st_size > HDR_BYTES + 4 + (uint64_t)LANE_TRIPS_MAX * REC_BYTES) {
		snprintf(err, errlen, "%s: %lld bytes is no trips file", path, (long long)sb.st_size);
		close(fd);
		return TOLL_ECORRUPT;
	}
	size_t len = (size_t)sb.st_size;
	uint8_t *b = malloc(len);
	if (b == NULL) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		return TOLL_ENOMEM;
	}
	size_t got = 0;
	while (got < len) {
		ssize_t r = read(fd, b + got, len - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	int rc;
	if (got != len) {
		snprintf(err, errlen, "%s: short read", path);
		rc = TOLL_ESYS;
	} else {
		char e2[200];
		rc = lane_trips_load_mem(t, b, len, e2, sizeof(e2));
		if (rc != 0)
			snprintf(err, errlen, "%s: %s", path, e2);
	}
	free(b);
	return rc;
}

int
lane_trips_load_mem(struct lane_trips *t, const uint8_t *b, size_t len, char *err, size_t errlen)
{
	struct toll_rd rd;
	uint8_t magic[8];
	uint32_t version = 0, count = 0, crc = 0;
	int rc = 0;
	toll_rd_init(&rd, b, len);
	if (len < HDR_BYTES + 4 || len > HDR_BYTES + 4 + (size_t)LANE_TRIPS_MAX * REC_BYTES) {
		snprintf(err, errlen, "%zu bytes is no trips file", len);
		rc = TOLL_ECORRUPT;
	} else if (toll_rd_bytes(&rd, magic, 8) != 0 || memcmp(magic, "TOLLTRIP", 8) != 0) {
		snprintf(err, errlen, "not a trips file (magic)");
		rc = TOLL_ECORRUPT;
	} else if (toll_rd_u32(&rd, &version) != 0 || version != LANE_TRIPS_FILE_VERSION) {
		snprintf(err, errlen, "format version %u, this lane reads %u", version, LANE_TRIPS_FILE_VERSION);
		rc = TOLL_EVERSION;
	} else if (toll_rd_u32(&rd, &count) != 0 || count > LANE_TRIPS_MAX ||
		   len != HDR_BYTES + (size_t)count * REC_BYTES + 4) {
		snprintf(err, errlen, "%u records do not make %zu bytes", count, len);
		rc = TOLL_ECORRUPT;
	} else {
		struct toll_rd c;
		toll_rd_init(&c, b + len - 4, 4);
		(void)toll_rd_u32(&c, &crc);
		if (crc != toll_crc32c(0, b, len - 4)) {
			snprintf(err, errlen, "CRC-32C does not match");
			rc = TOLL_ECORRUPT;
		}
	}
	struct lane_trips *nt = NULL;
	if (rc == 0)
		rc = lane_trips_new(&nt);
	for (uint32_t i = 0; rc == 0 && i < count; i++) {
		uint16_t bits;
		uint8_t epc[32], state, key[32];
		uint32_t station;
		uint64_t tm;
		(void)toll_rd_u16(&rd, &bits);
		(void)toll_rd_bytes(&rd, epc, 32);
		(void)toll_rd_u32(&rd, &station);
		(void)toll_rd_u64(&rd, &tm);
		(void)toll_rd_u8(&rd, &state);
		if (bits >= 1 && bits <= 256)
			key_of(epc, bits, key);
		if (bits < 1 || bits > 256 || memcmp(key, epc, 32) != 0 || station < 1 ||
		    station > TOLL_TSL_STATION_MAX || (int64_t)tm <= 0 || state < TOLL_TSL_ENTRY_OPEN ||
		    state > TOLL_TSL_ENTRY_EXPIRED) {
			snprintf(err, errlen, "record %u out of range", i);
			rc = TOLL_ECORRUPT;
			break;
		}
		if (grow(nt, nt->n + 1) != 0) {
			rc = TOLL_ENOMEM;
			break;
		}
		struct trip *s = slot(nt->v, nt->cap, key, bits);
		if (s->bits != 0) {
			snprintf(err, errlen, "record %u repeats an EPC", i);
			rc = TOLL_ECORRUPT;
			break;
		}
		*s = (struct trip){.bits = bits, .state = state, .station = station, .time_ms = (int64_t)tm};
		memcpy(s->epc, key, 32);
		nt->n++;
	}
	if (rc != 0) {
		lane_trips_free(nt);
		return rc;
	}
	/* swap the contents, keep the handle */
	pthread_mutex_lock(&t->mu);
	struct trip *ov = t->v;
	t->v = nt->v;
	t->cap = nt->cap;
	t->n = nt->n;
	pthread_mutex_unlock(&t->mu);
	nt->v = ov;
	lane_trips_free(nt);
	return 0;
}

/* journal.c: segment files, framing, recovery.
 *
 * Format version 1 (docs/journal-format.md), big-endian:
 *   segment file "<first seq, 20 digits>.seg":
 *     header, 32 bytes: magic "TOLLJNL\0", u32 version = 1, u32 0,
 *       u64 first seq, u32 CRC-32C of the 24 bytes before, u32 0
 *     frames: u32 payload length | u32 CRC-32C over length, seq, type and
 *       payload | u64 seq | u8 type | payload
 *   "cursor": magic "TOLLCUR\0", u32 version = 1, u32 0, u64 acked seq,
 *     u32 CRC-32C of the 24 bytes before, u32 0; replaced by rename.
 * Seqs are contiguous across segments. */
#include <dirent.h>
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
#include "err.h"
#include "journal.h"
#include "log.h"

#define HDR_BYTES 32
#define FRAME_HDR 17
#define VERSION 1
#define MAX_SEGMENTS 100000

static const uint8_t seg_magic[8] = {'T', 'O', 'L', 'L', 'J', 'N', 'L', 0};
static const uint8_t cur_magic[8] = {'T', 'O', 'L', 'L', 'C', 'U', 'R', 0};

struct segment {
	uint64_t first_seq;
	uint64_t bytes;
};

struct toll_journal {
	char *dir;
	int dirfd;
	struct toll_journal_opts o;
	struct segment *segs;
	size_t nsegs, capsegs;
	int fd;		  /* the newest segment, open for appends */
	uint64_t end;	  /* its size */
	uint64_t next_seq, durable_seq, acked;
	uint64_t used;	  /* bytes of all segments */
	int dir_dirty;	  /* a segment was created since the last sync */
	int broken;	  /* a failed write could not be undone */
};

struct toll_journal_iter {
	char *dir;
	struct segment *segs;
	size_t nsegs, cur;
	uint8_t *buf;
	size_t len, off;
	uint64_t from, until, next_seq;
	int started;
};

static void
detail(struct toll_journal_recovery *rep, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
detail(struct toll_journal_recovery *rep, const char *fmt, ...)
{
	va_list ap;
	if (rep == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(rep->detail, sizeof(rep->detail), fmt, ap);
	va_end(ap);
}

static void
seg_name(const char *dir, uint64_t first, char *out, size_t len)
{
	snprintf(out, len, "%s/%020" PRIu64 ".seg", dir, first);
}

static void
put_header(uint8_t h[HDR_BYTES], const uint8_t magic[8], uint64_t value)
{
	struct toll_wr w;
	toll_wr_init(&w, h, HDR_BYTES);
	toll_wr_bytes(&w, magic, 8);
	toll_wr_u32(&w, VERSION);
	toll_wr_u32(&w, 0);
	toll_wr_u64(&w, value);
	toll_wr_u32(&w, toll_crc32c(0, h, 24));
	toll_wr_u32(&w, 0);
}

/* 0, TOLL_EFORMAT (not a header), TOLL_EVERSION. */
static int
get_header(const uint8_t *h, size_t len, const uint8_t magic[8], uint64_t *value)
{
	struct toll_rd r;
	uint8_t m[8];
	uint32_t version, zero, crc, zero2;

	if (len < HDR_BYTES)
		return TOLL_EFORMAT;
	toll_rd_init(&r, h, HDR_BYTES);
	toll_rd_bytes(&r, m, 8);
	toll_rd_u32(&r, &version);
	toll_rd_u32(&r, &zero);
	toll_rd_u64(&r, value);
	toll_rd_u32(&r, &crc);
	toll_rd_u32(&r, &zero2);
	if (memcmp(m, magic, 8) != 0 || crc != toll_crc32c(0, h, 24) || zero != 0 || zero2 != 0)
		return TOLL_EFORMAT;
	return version == VERSION ? 0 : TOLL_EVERSION;
}

/* Parse the frame at off: 0 and its fields, or TOLL_ESHORT (incomplete),
 * TOLL_EFORMAT (damaged). */
static int
frame_at(const uint8_t *b, size_t len, size_t off, uint64_t *seq, uint8_t *type,
	 const uint8_t **payload, uint32_t *plen)
{
	struct toll_rd r;
	uint32_t n, crc, c;

	if (len - off < FRAME_HDR)
		return TOLL_ESHORT;
	toll_rd_init(&r, b + off, len - off);
	toll_rd_u32(&r, &n);
	toll_rd_u32(&r, &crc);
	toll_rd_u64(&r, seq);
	toll_rd_u8(&r, type);
	if (n == 0 || n > TOLL_JOURNAL_PAYLOAD_MAX || *type == 0)
		return TOLL_EFORMAT;
	if (toll_rd_left(&r) < n)
		return TOLL_ESHORT;
	c = toll_crc32c(0, b + off, 4);
	c = toll_crc32c(c, b + off + 8, 9 + (size_t)n);
	if (c != crc)
		return TOLL_EFORMAT;
	*payload = b + off + FRAME_HDR;
	*plen = n;
	return 0;
}

static int
read_file(int dirfd, const char *name, uint8_t **out, size_t *len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *b;
	size_t got = 0;

	if (fd < 0)
		return TOLL_ESYS;
	if (fstat(fd, &st) != 0 || st.st_size < 0) {
		close(fd);
		return TOLL_ESYS;
	}
	b = malloc((size_t)st.st_size + 1);
	if (b == NULL) {
		close(fd);
		return TOLL_ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, b + got, (size_t)st.st_size - got);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	*out = b;
	*len = got;
	return 0;
}

static int
seg_cmp(const void *a, const void *b)
{
	const struct segment *x = a, *y = b;
	return x->first_seq < y->first_seq ? -1 : x->first_seq > y->first_seq;
}

/* The segment files of dir, sorted by first seq. */
static int
list_segments(const char *dir, struct segment **out, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct segment *s = NULL;
	size_t k = 0, cap = 0;

	if (d == NULL)
		return errno == ENOENT ? TOLL_ENOTFOUND : TOLL_ESYS;
	while ((e = readdir(d)) != NULL) {
		char *end;
		size_t l = strlen(e->d_name);
		if (l != 24 || strcmp(e->d_name + 20, ".seg") != 0)
			continue;
		errno = 0;
		uint64_t first = strtoull(e->d_name, &end, 10);
		if (errno != 0 || end != e->d_name + 20 || first == 0)
			continue;
		if (k == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct segment *ns;
			if (nc > MAX_SEGMENTS || (ns = realloc(s, nc * sizeof(*ns))) == NULL) {
				free(s);
				closedir(d);
				return TOLL_ENOMEM;
			}
			s = ns;
			cap = nc;
		}
		s[k].first_seq = first;
		s[k].bytes = 0;
		k++;
	}
	closedir(d);
	if (k > 0)
		qsort(s, k, sizeof(*s), seg_cmp);
	*out = s;
	*n = k;
	return 0;
}

static int
read_cursor(int dirfd, uint64_t *acked, struct toll_journal_recovery *rep)
{
	uint8_t *b;
	size_t len;
	int rc;

	*acked = 0;
	if (faccessat(dirfd, "cursor", F_OK, 0) != 0)
		return 0;
	rc = read_file(dirfd, "cursor", &b, &len);
	if (rc != 0)
		return rc;
	rc = len == HDR_BYTES ? get_header(b, len, cur_magic, acked) : TOLL_EFORMAT;
	free(b);
	if (rc == TOLL_EFORMAT) {
		detail(rep, "cursor file damaged");
		return TOLL_ECORRUPT;
	}
	if (rc == TOLL_EVERSION)
		detail(rep, "cursor file of an unknown version");
	return rc;
}

/* Is there a valid frame anywhere after off (damage followed by data)? */
static int
valid_frame_after(const uint8_t *b, size_t len, size_t off, uint64_t min_seq)
{
	for (size_t p = off + 1; p + FRAME_HDR <= len; p++) {
		uint64_t seq;
		uint8_t type;
		const uint8_t *pl;
		uint32_t n;
		if (frame_at(b, len, p, &seq, &type, &pl, &n) == 0 && seq >= min_seq)
			return 1;
	}
	return 0;
}

static int
fsync_dir(struct toll_journal *j)
{
	if (j->o.no_sync)
		return 0;
	return fsync(j->dirfd) == 0 ? 0 : TOLL_ESYS;
}

static int
all_zero(const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

/* Check one segment; cut a torn tail of the last one. */
static int
recover_segment(struct toll_journal *j, size_t idx, struct toll_journal_recovery *rep)
{
	char name[32];
	uint8_t *b;
	size_t len, off = HDR_BYTES;
	uint64_t first;
	int last = idx == j->nsegs - 1, rc;

	snprintf(name, sizeof(name), "%020" PRIu64 ".seg", j->segs[idx].first_seq);
	rc = read_file(j->dirfd, name, &b, &len);
	if (rc != 0)
		return rc;
	rc = get_header(b, len, seg_magic, &first);
	if (rc != 0) {
		if (last && ((len < HDR_BYTES && rc == TOLL_EFORMAT) || (rc != TOLL_EVERSION && all_zero(b, len)))) {
			/* created, then the power went before its first sync
			 * completed (a short header, or a size that reached the
			 * disk before the data): nothing in it was acknowledged,
			 * and a cursor pointing into it is refused below */
			free(b);
			if (unlinkat(j->dirfd, name, 0) != 0)
				return TOLL_ESYS;
			j->nsegs--;
			toll_warn("journal %s: removed segment %s with a torn header", j->dir, name);
			return fsync_dir(j);
		}
		free(b);
		detail(rep, "segment %s: %s header", name, rc == TOLL_EVERSION ? "unknown version of" : "damaged");
		return rc == TOLL_EVERSION ? TOLL_EVERSION : TOLL_ECORRUPT;
	}
	if (first != j->segs[idx].first_seq || (idx > 0 && first != j->next_seq)) {
		free(b);
		detail(rep, "segment %s starts at seq %" PRIu64 ", expected %" PRIu64, name, first, j->next_seq);
		return TOLL_ECORRUPT;
	}
	j->next_seq = first;
	while (off < len) {
		uint64_t seq;
		uint8_t type;
		const uint8_t *pl;
		uint32_t n;
		rc = frame_at(b, len, off, &seq, &type, &pl, &n);
		if (rc == 0 && seq != j->next_seq)
			rc = TOLL_ESEQ;
		if (rc != 0) {
			/* a frame whose CRC holds but whose seq is wrong was
			 * written whole: never a torn write */
			if (rc == TOLL_ESEQ || !last || valid_frame_after(b, len, off, j->next_seq)) {
				detail(rep, "segment %s offset %zu (after seq %" PRIu64 "): %s, with valid records after it",
				       name, off, j->next_seq - 1,
				       rc == TOLL_ESEQ ? "seq out of order" : "damaged record");
				if (rep != NULL)
					rep->corrupt_after_seq = j->next_seq - 1;
				free(b);
				return TOLL_ECORRUPT;
			}
			/* a torn tail: cut it */
			int fd = openat(j->dirfd, name, O_WRONLY | O_CLOEXEC);
			if (fd < 0 || ftruncate(fd, (off_t)off) != 0 || (!j->o.no_sync && fsync(fd) != 0)) {
				if (fd >= 0)
					close(fd);
				free(b);
				return TOLL_ESYS;
			}
			close(fd);
			toll_warn("journal %s: cut a torn tail of %zu bytes after seq %" PRIu64, j->dir,
				  len - off, j->next_seq - 1);
			if (rep != NULL)
				rep->torn_bytes_cut += len - off;
			len = off;
			break;
		}
		if (rep != NULL)
			rep->records++;
		j->next_seq++;
		off += FRAME_HDR + n;
	}
	j->segs[idx].bytes = len;
	j->used += len;
	free(b);
	return 0;
}

int
toll_journal_open(const struct toll_journal_opts *o, struct toll_journal **out,
		  struct toll_journal_recovery *rep)
{
	struct toll_journal *j;
	int rc;

	if (rep != NULL)
		memset(rep, 0, sizeof(*rep));
	if (o->dir == NULL)
		return TOLL_EINVAL;
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return TOLL_ENOMEM;
	j->o = *o;
	if (j->o.segment_bytes == 0)
		j->o.segment_bytes = 16u << 20;
	if (j->o.max_bytes == 0)
		j->o.max_bytes = 1u << 30;
	if (j->o.warn_percent == 0)
		j->o.warn_percent = 80;
	j->fd = -1;
	j->dirfd = -1;
	j->dir = strdup(o->dir);
	if (j->dir == NULL) {
		free(j);
		return TOLL_ENOMEM;
	}
	if (mkdir(j->dir, 0700) != 0 && errno != EEXIST) {
		toll_err("could not create journal directory %s: %s", j->dir, strerror(errno));
		rc = TOLL_ESYS;
		goto fail;
	}
	j->dirfd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dirfd < 0) {
		rc = TOLL_ESYS;
		goto fail;
	}
	rc = read_cursor(j->dirfd, &j->acked, rep);
	if (rc != 0)
		goto fail;
	rc = list_segments(j->dir, &j->segs, &j->nsegs);
	if (rc != 0)
		goto fail;
	j->capsegs = j->nsegs;
	/* acknowledging deletes only segments wholly at or below the cursor:
	 * the first one left must hold the record after it */
	if (j->nsegs > 0 && j->segs[0].first_seq > j->acked + 1) {
		detail(rep, "the first segment starts at seq %" PRIu64 " but the cursor is at %" PRIu64
		       ": records %" PRIu64 "..%" PRIu64 " are missing",
		       j->segs[0].first_seq, j->acked, j->acked + 1, j->segs[0].first_seq - 1);
		if (rep != NULL)
			rep->corrupt_after_seq = j->acked;
		rc = TOLL_ECORRUPT;
		goto fail;
	}
	j->next_seq = j->nsegs > 0 ? j->segs[0].first_seq : j->acked + 1;
	for (size_t i = 0; i < j->nsegs; i++) {
		rc = recover_segment(j, i, rep);
		if (rc != 0)
			goto fail;
	}
	if (j->nsegs == 0)
		j->next_seq = j->acked + 1;
	if (j->acked >= j->next_seq) {
		detail(rep, "cursor at seq %" PRIu64 " past the last record %" PRIu64, j->acked, j->next_seq - 1);
		rc = TOLL_ECORRUPT;
		goto fail;
	}
	if (j->nsegs > 0) {
		char path[600];
		seg_name(j->dir, j->segs[j->nsegs - 1].first_seq, path, sizeof(path));
		j->fd = open(path, O_WRONLY | O_CLOEXEC);
		if (j->fd < 0) {
			rc = TOLL_ESYS;
			goto fail;
		}
		j->end = j->segs[j->nsegs - 1].bytes;
	}
	j->durable_seq = j->next_seq - 1;
	if (rep != NULL) {
		rep->last_seq = j->next_seq - 1;
		rep->acked_seq = j->acked;
	}
	*out = j;
	return 0;
fail:
	if (rc == TOLL_ECORRUPT || rc == TOLL_EVERSION)
		toll_err("journal %s: %s: refusing to start", j->dir, rep != NULL ? rep->detail : "damaged");
	toll_journal_close(j);
	return rc;
}

void
toll_journal_close(struct toll_journal *j)
{
	if (j == NULL)
		return;
	if (j->fd >= 0)
		close(j->fd);
	if (j->dirfd >= 0)
		close(j->dirfd);
	free(j->segs);
	free(j->dir);
	free(j);
}

static int
new_segment(struct toll_journal *j)
{
	char path[600];
	uint8_t h[HDR_BYTES];
	int fd;

	if (j->nsegs == j->capsegs) {
		size_t nc = j->capsegs ? 2 * j->capsegs : 16;
		struct segment *ns = realloc(j->segs, nc * sizeof(*ns));
		if (ns == NULL)
			return TOLL_ENOMEM;
		j->segs = ns;
		j->capsegs = nc;
	}
	seg_name(j->dir, j->next_seq, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		toll_err("could not create journal segment %s: %s", path, strerror(errno));
		return TOLL_ESYS;
	}
	put_header(h, seg_magic, j->next_seq);
	if (write(fd, h, sizeof(h)) != (ssize_t)sizeof(h)) {
		close(fd);
		unlink(path);
		return TOLL_ESYS;
	}
	if (j->fd >= 0) {
		/* the old segment is complete: make it durable before moving on */
		if (!j->o.no_sync && fdatasync(j->fd) != 0) {
			close(fd);
			unlink(path);
			return TOLL_ESYS;
		}
		close(j->fd);
	}
	j->fd = fd;
	j->end = HDR_BYTES;
	j->segs[j->nsegs].first_seq = j->next_seq;
	j->segs[j->nsegs].bytes = HDR_BYTES;
	j->nsegs++;
	j->used += HDR_BYTES;
	j->dir_dirty = 1;
	return 0;
}

int
toll_journal_append(struct toll_journal *j, uint8_t type, const void *payload, size_t len,
		    uint64_t *seq)
{
	uint8_t hdr[FRAME_HDR];
	struct toll_wr w;
	uint32_t crc;
	int rc;

	if (j->broken)
		return TOLL_ESYS;
	if (type == 0 || len == 0 || len > TOLL_JOURNAL_PAYLOAD_MAX || payload == NULL)
		return TOLL_EINVAL;
	if (j->used + FRAME_HDR + len + HDR_BYTES > j->o.max_bytes) {
		toll_err("journal %s full (%" PRIu64 " of %" PRIu64 " bytes): record refused", j->dir,
			 j->used, j->o.max_bytes);
		return TOLL_EFULL;
	}
	if (j->fd < 0 || j->end + FRAME_HDR + len > j->o.segment_bytes) {
		rc = new_segment(j);
		if (rc != 0)
			return rc;
	}
	toll_wr_init(&w, hdr, sizeof(hdr));
	toll_wr_u32(&w, (uint32_t)len);
	toll_wr_u32(&w, 0);
	toll_wr_u64(&w, j->next_seq);
	toll_wr_u8(&w, type);
	crc = toll_crc32c(0, hdr, 4);
	crc = toll_crc32c(crc, hdr + 8, 9);
	crc = toll_crc32c(crc, payload, len);
	hdr[4] = (uint8_t)(crc >> 24);
	hdr[5] = (uint8_t)(crc >> 16);
	hdr[6] = (uint8_t)(crc >> 8);
	hdr[7] = (uint8_t)crc;

	struct part {
		const void *base;
		size_t len;
	} parts[2] = {{hdr, sizeof(hdr)}, {payload, len}};
	uint64_t at = j->end;
	for (int i = 0; i < 2; i++) {
		const uint8_t *p = parts[i].base;
		size_t left = parts[i].len;
		while (left > 0) {
			ssize_t n = pwrite(j->fd, p, left, (off_t)at);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				int e = errno;
				/* undo the partial frame, or stop appending */
				if (ftruncate(j->fd, (off_t)j->end) != 0)
					j->broken = 1;
				toll_err("could not write journal %s: %s", j->dir, strerror(e));
				return e == ENOSPC ? TOLL_EFULL : TOLL_ESYS;
			}
			p += n;
			left -= (size_t)n;
			at += (uint64_t)n;
		}
	}
	j->end = at;
	j->segs[j->nsegs - 1].bytes = at;
	j->used += FRAME_HDR + len;
	if (seq != NULL)
		*seq = j->next_seq;
	j->next_seq++;
	return 0;
}

int
toll_journal_sync(struct toll_journal *j)
{
	if (j->broken)
		return TOLL_ESYS;
	if (j->durable_seq == j->next_seq - 1 && !j->dir_dirty)
		return 0;
	if (j->fd >= 0 && !j->o.no_sync && fdatasync(j->fd) != 0) {
		toll_err("could not sync journal %s: %s", j->dir, strerror(errno));
		/* after a failed fsync the page cache may have dropped the data:
		 * nothing since the last good sync can be trusted */
		j->broken = 1;
		return TOLL_ESYS;
	}
	if (j->dir_dirty) {
		if (fsync_dir(j) != 0)
			return TOLL_ESYS;
		j->dir_dirty = 0;
	}
	j->durable_seq = j->next_seq - 1;
	return 0;
}

uint64_t toll_journal_last_seq(const struct toll_journal *j) { return j->next_seq - 1; }
uint64_t toll_journal_durable_seq(const struct toll_journal *j) { return j->durable_seq; }
uint64_t toll_journal_acked(const struct toll_journal *j) { return j->acked; }

int
toll_journal_set_acked(struct toll_journal *j, uint64_t seq)
{
	uint8_t h[HDR_BYTES];
	int fd;

	if (seq < j->acked)
		return TOLL_ESEQ;
	if (seq > j->durable_seq)
		return TOLL_EINVAL;
	if (seq == j->acked)
		return 0;
	put_header(h, cur_magic, seq);
	fd = openat(j->dirfd, "cursor.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return TOLL_ESYS;
	if (write(fd, h, sizeof(h)) != (ssize_t)sizeof(h) || (!j->o.no_sync && fsync(fd) != 0)) {
		close(fd);
		return TOLL_ESYS;
	}
	close(fd);
	if (renameat(j->dirfd, "cursor.tmp", j->dirfd, "cursor") != 0 || fsync_dir(j) != 0)
		return TOLL_ESYS;
	j->acked = seq;
	/* delete whole segments below the cursor, never the newest */
	size_t drop = 0;
	while (drop + 1 < j->nsegs && j->segs[drop + 1].first_seq <= seq + 1) {
		char name[32];
		snprintf(name, sizeof(name), "%020" PRIu64 ".seg", j->segs[drop].first_seq);
		if (unlinkat(j->dirfd, name, 0) != 0)
			break;
		j->used -= j->segs[drop].bytes;
		drop++;
	}
	if (drop > 0) {
		memmove(j->segs, j->segs + drop, (j->nsegs - drop) * sizeof(*j->segs));
		j->nsegs -= drop;
		(void)fsync_dir(j);
	}
	return 0;
}

void
toll_journal_usage(const struct toll_journal *j, uint64_t *bytes, int *warn)
{
	*bytes = j->used;
	*warn = j->used * 100 >= j->o.max_bytes * j->o.warn_percent;
}

static int
iter_new(const char *dir, uint64_t from, uint64_t until, struct toll_journal_iter **out)
{
	struct toll_journal_iter *it = calloc(1, sizeof(*it));
	int rc;

	if (it == NULL)
		return TOLL_ENOMEM;
	it->dir = strdup(dir);
	if (it->dir == NULL) {
		free(it);
		return TOLL_ENOMEM;
	}
	rc = list_segments(dir, &it->segs, &it->nsegs);
	if (rc != 0) {
		toll_journal_iter_close(it);
		return rc;
	}
	it->from = from;
	it->until = until;
	/* start at the last segment whose first seq <= from */
	while (it->cur + 1 < it->nsegs && it->segs[it->cur + 1].first_seq <= from)
		it->cur++;
	*out = it;
	return 0;
}

int
toll_journal_iter_open(struct toll_journal *j, uint64_t from, struct toll_journal_iter **out)
{
	return iter_new(j->dir, from, j->durable_seq, out);
}

int
toll_journal_iter_open_dir(const char *dir, uint64_t from, struct toll_journal_iter **out)
{
	return iter_new(dir, from, UINT64_MAX, out);
}

static int
load_segment(struct toll_journal_iter *it)
{
	char path[600];
	uint64_t first;
	int dfd, rc;

	free(it->buf);
	it->buf = NULL;
	seg_name(it->dir, it->segs[it->cur].first_seq, path, sizeof(path));
	dfd = open(it->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return TOLL_ESYS;
	rc = read_file(dfd, strrchr(path, '/') + 1, &it->buf, &it->len);
	close(dfd);
	if (rc != 0)
		return rc;
	rc = get_header(it->buf, it->len, seg_magic, &first);
	if (rc != 0)
		return rc == TOLL_EVERSION ? rc : TOLL_ECORRUPT;
	if (first != it->segs[it->cur].first_seq || (it->started && first != it->next_seq))
		return TOLL_ECORRUPT;
	it->next_seq = first;
	it->started = 1;
	it->off = HDR_BYTES;
	return 0;
}

int
toll_journal_iter_next(struct toll_journal_iter *it, uint64_t *seq, uint8_t *type,
		       const uint8_t **payload, size_t *len)
{
	for (;;) {
		if (it->buf == NULL) {
			if (it->cur >= it->nsegs)
				return TOLL_EEMPTY;
			int rc = load_segment(it);
			if (rc != 0)
				return rc;
		}
		if (it->off >= it->len) {
			it->cur++;
			free(it->buf);
			it->buf = NULL;
			continue;
		}
		uint32_t n;
		int rc = frame_at(it->buf, it->len, it->off, seq, type, payload, &n);
		if (rc != 0 || *seq != it->next_seq)
			return TOLL_ECORRUPT;
		if (*seq > it->until)
			return TOLL_EEMPTY;
		it->off += FRAME_HDR + n;
		it->next_seq++;
		*len = n;
		if (*seq >= it->from)
			return 0;
	}
}

void
toll_journal_iter_close(struct toll_journal_iter *it)
{
	if (it == NULL)
		return;
	free(it->buf);
	free(it->segs);
	free(it->dir);
	free(it);
}

/* ---- tail: follow a journal another thread appends to ----------------- */

#define TAIL_BUF (TOLL_JOURNAL_PAYLOAD_MAX + FRAME_HDR + (64u << 10))

struct toll_journal_tail {
	char *dir;
	int fd;		  /* the segment being read, -1 none yet */
	uint64_t seg_first;
	uint64_t pos;	  /* file offset of the next frame */
	uint64_t next_seq;
	uint64_t from;
	uint8_t *buf;
	uint64_t buf_off; /* file offset of buf[0] */
	size_t buf_len;
};

/* Open the segment that starts at first; 0 or TOLL_ENOTFOUND / ECORRUPT. */
static int
tail_open_seg(struct toll_journal_tail *t, uint64_t first)
{
	char path[600];
	uint8_t h[HDR_BYTES];
	uint64_t v;

	seg_name(t->dir, first, path, sizeof(path));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? TOLL_ENOTFOUND : TOLL_ESYS;
	ssize_t n = pread(fd, h, sizeof(h), 0);
	if (n != (ssize_t)sizeof(h)) {
		close(fd);
		return n < 0 ? TOLL_ESYS : TOLL_EEMPTY; /* header not written yet */
	}
	int rc = get_header(h, sizeof(h), seg_magic, &v);
	if (rc != 0 || v != first) {
		close(fd);
		return rc == TOLL_EVERSION ? rc : TOLL_ECORRUPT;
	}
	if (t->fd >= 0)
		close(t->fd);
	t->fd = fd;
	t->seg_first = first;
	t->pos = HDR_BYTES;
	t->next_seq = first;
	t->buf_len = 0;
	t->buf_off = 0;
	return 0;
}

int
toll_journal_tail_open(const char *dir, uint64_t from, struct toll_journal_tail **out)
{
	struct toll_journal_tail *t = calloc(1, sizeof(*t));
	struct segment *segs = NULL;
	size_t nsegs = 0, cur = 0;
	int rc;

	*out = NULL;
	if (t == NULL)
		return TOLL_ENOMEM;
	t->fd = -1;
	t->from = from;
	t->dir = strdup(dir);
	t->buf = malloc(TAIL_BUF);
	if (t->dir == NULL || t->buf == NULL) {
		toll_journal_tail_close(t);
		return TOLL_ENOMEM;
	}
	rc = list_segments(dir, &segs, &nsegs);
	if (rc != 0) {
		toll_journal_tail_close(t);
		return rc;
	}
	if (nsegs == 0) {
		/* nothing written yet: the first segment will start at from */
		free(segs);
		t->next_seq = from;
		*out = t;
		return 0;
	}
	while (cur + 1 < nsegs && segs[cur + 1].first_seq <= from)
		cur++;
	uint64_t first = segs[cur].first_seq;
	free(segs);
	rc = tail_open_seg(t, first);
	if (rc == TOLL_EEMPTY) {
		t->next_seq = first;
		rc = 0;
	}
	if (rc != 0) {
		toll_journal_tail_close(t);
		return rc;
	}
	*out = t;
	return 0;
}

int
toll_journal_tail_next(struct toll_journal_tail *t, uint64_t until, uint64_t *seq, uint8_t *type,
		       const uint8_t **payload, size_t *len)
{
	for (;;) {
		if (t->next_seq > until)
			return TOLL_EEMPTY;
		if (t->fd < 0) {
			/* the segment that holds next_seq is being made */
			int rc = tail_open_seg(t, t->next_seq);
			if (rc == TOLL_ENOTFOUND || rc == TOLL_EEMPTY)
				return TOLL_EEMPTY;
			if (rc != 0)
				return rc;
		}
		size_t in = (size_t)(t->pos - t->buf_off);
		uint32_t n = 0;
		int rc = t->pos >= t->buf_off && t->pos <= t->buf_off + t->buf_len
				 ? frame_at(t->buf, t->buf_len, in, seq, type, payload, &n)
				 : TOLL_ESHORT;
		if (rc == TOLL_ESHORT) {
			/* refill from pos: the frame may be whole in the file */
			ssize_t got = pread(t->fd, t->buf, TAIL_BUF, (off_t)t->pos);
			if (got < 0)
				return TOLL_ESYS;
			t->buf_off = t->pos;
			t->buf_len = (size_t)got;
			rc = frame_at(t->buf, t->buf_len, 0, seq, type, payload, &n);
			if (rc == TOLL_ESHORT && got == 0) {
				/* the end of this segment: the writer rolled to
				 * the next one, which starts at next_seq */
				rc = tail_open_seg(t, t->next_seq);
				if (rc == TOLL_ENOTFOUND || rc == TOLL_EEMPTY)
					return TOLL_ECORRUPT; /* durable, yet nowhere */
				if (rc != 0)
					return rc;
				continue;
			}
			if (rc == TOLL_ESHORT)
				return TOLL_ECORRUPT; /* a durable record cut short */
		}
		if (rc != 0)
			return TOLL_ECORRUPT;
		if (*seq != t->next_seq)
			return TOLL_ECORRUPT;
		t->pos += FRAME_HDR + n;
		t->next_seq++;
		*len = n;
		if (*seq >= t->from)
			return 0;
	}
}

uint64_t
toll_journal_tail_position(const struct toll_journal_tail *t)
{
	return t->next_seq;
}

void
toll_journal_tail_close(struct toll_journal_tail *t)
{
	if (t == NULL)
		return;
	if (t->fd >= 0)
		close(t->fd);
	free(t->buf);
	free(t->dir);
	free(t);
}

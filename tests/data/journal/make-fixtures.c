/* make-fixtures.c: regenerates the journal recovery fixtures in
 * tests/data/journal/<case>/ (see README.md there).
 *
 * Not built by make.  From the top of the tree:
 *   cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Icommon \
 *      -o /tmp/make-fixtures tests/data/journal/make-fixtures.c \
 *      common/journal.c common/crc.c common/buf.c common/log.c common/err.c -pthread
 *   /tmp/make-fixtures tests/data/journal
 *
 * Every journal is written through the journal API (common/journal.h) with
 * the fixed payloads of fixture_payload() and segments rolled at 256 bytes;
 * the damaged cases are then edited here, byte by byte, never by hand.
 * tests/unit/test_journal_fixtures.c holds a copy of fixture_payload() and
 * the report recovery must give for each case.
 *
 * With 256-byte segments the records fall as: segment 1 holds seqs 1-4
 * (246 bytes), segment 5 seqs 5-8 (238 bytes), segment 9 seqs 9-11 (232
 * bytes), segment 12 seq 12 (73 bytes). */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc.h"
#include "err.h"
#include "journal.h"

#define SEGMENT_BYTES 256
#define HDR_BYTES 32
#define FRAME_HDR 17

static const char *top;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "make-fixtures: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

/* The payload of record seq in every fixture (test_journal_fixtures.c has
 * the same function): type 1 for even seqs, 2 for odd ones; text that reads
 * in a hex dump, 19..59 bytes.  Returns the length; out holds >= 64 bytes. */
static size_t
fixture_payload(uint64_t seq, uint8_t *type, uint8_t *out)
{
	char head[32];
	int n = snprintf(head, sizeof(head), "fixture record %" PRIu64 " ", seq);
	size_t len = (size_t)n + 2 + (size_t)(seq * 7 % 40);

	memcpy(out, head, (size_t)n);
	for (size_t k = (size_t)n; k < len; k++)
		out[k] = (uint8_t)('a' + (seq + k) % 26);
	*type = (uint8_t)(1 + seq % 2);
	return len;
}

static void
case_dir(const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", top, name);
}

static void
file_in(const char *name, const char *file, char *out, size_t len)
{
	snprintf(out, len, "%s/%s/%s", top, name, file);
}

static void
seg_file(const char *name, uint64_t first, char *out, size_t len)
{
	char f[32];
	snprintf(f, sizeof(f), "%020" PRIu64 ".seg", first);
	file_in(name, f, out, len);
}

/* Empty the case folder (journal files only; it holds nothing else). */
static void
wipe(const char *name)
{
	char dir[512], p[800];
	DIR *d;
	struct dirent *e;

	case_dir(name, dir, sizeof(dir));
	d = opendir(dir);
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (unlink(p) != 0)
			die("could not remove %s", p);
	}
	closedir(d);
}

/* A journal of records 1..n, synced; the cursor at acked when not 0. */
static void
build(const char *name, uint64_t n, uint64_t acked)
{
	char dir[512];
	struct toll_journal_opts o = {.dir = dir, .segment_bytes = SEGMENT_BYTES};
	struct toll_journal *j;
	struct toll_journal_recovery rep;
	int rc;

	wipe(name);
	case_dir(name, dir, sizeof(dir));
	rc = toll_journal_open(&o, &j, &rep);
	if (rc != 0)
		die("could not open journal %s: %s", dir, toll_strerror(rc));
	if (rep.records != 0)
		die("%s was not empty", dir);
	for (uint64_t s = 1; s <= n; s++) {
		uint8_t p[64], type;
		uint64_t seq;
		size_t len = fixture_payload(s, &type, p);
		rc = toll_journal_append(j, type, p, len, &seq);
		if (rc != 0 || seq != s)
			die("could not append record %" PRIu64 " to %s: %s", s, dir, toll_strerror(rc));
	}
	rc = toll_journal_sync(j);
	if (rc == 0 && acked != 0)
		rc = toll_journal_set_acked(j, acked);
	if (rc != 0)
		die("could not sync %s: %s", dir, toll_strerror(rc));
	toll_journal_close(j);
}

static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		die("could not read %s", path);
	b = malloc((size_t)n + 1);
	if (b == NULL || fread(b, 1, (size_t)n, f) != (size_t)n)
		die("could not read %s", path);
	fclose(f);
	*len = (size_t)n;
	return b;
}

static void
spit(const char *path, const uint8_t *b, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(b, 1, len, f) != len || fclose(f) != 0)
		die("could not write %s", path);
}

static uint64_t
be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* The segment of case name holding seq: its first seq and the offset and
 * size of that record's frame, found by walking the frames. */
static uint64_t
locate(const char *name, uint64_t seq, size_t *off, size_t *frame)
{
	static const uint64_t firsts[] = {1, 5, 9, 12};
	uint64_t first = 0;
	char path[800];
	uint8_t *b;
	size_t len, p = HDR_BYTES;

	for (size_t i = 0; i < sizeof(firsts) / sizeof(firsts[0]); i++)
		if (firsts[i] <= seq)
			first = firsts[i];
	seg_file(name, first, path, sizeof(path));
	b = slurp(path, &len);
	if (len < HDR_BYTES || be(b + 16, 8) != first)
		die("%s: not the segment of seq %" PRIu64, path, first);
	while (p + FRAME_HDR <= len) {
		size_t n = (size_t)be(b + p, 4);
		if (be(b + p + 8, 8) == seq) {
			*off = p;
			*frame = FRAME_HDR + n;
			free(b);
			return first;
		}
		p += FRAME_HDR + n;
	}
	die("%s: no record %" PRIu64, path, seq);
}

static void
flip(const char *path, size_t at)
{
	size_t len;
	uint8_t *b = slurp(path, &len);
	if (at >= len)
		die("%s: offset %zu past the end", path, at);
	b[at] ^= 0x40;
	spit(path, b, len);
	free(b);
}

static void
cut(const char *path, size_t len)
{
	if (truncate(path, (off_t)len) != 0)
		die("could not truncate %s", path);
}

static void
rm(const char *path)
{
	if (unlink(path) != 0)
		die("could not remove %s", path);
}

/* clean: records 1-8 over segments 1 and 5. */
static void
make_clean(void)
{
	build("clean", 8, 0);
}

/* torn-tail-header: record 8 cut 9 bytes into its 17-byte frame header. */
static void
make_torn_tail_header(void)
{
	char p[800];
	size_t off, frame;
	build("torn-tail-header", 8, 0);
	seg_file("torn-tail-header", locate("torn-tail-header", 8, &off, &frame), p, sizeof(p));
	cut(p, off + 9);
}

/* torn-tail-payload: record 8 cut 20 bytes into its payload. */
static void
make_torn_tail_payload(void)
{
	char p[800];
	size_t off, frame;
	build("torn-tail-payload", 8, 0);
	seg_file("torn-tail-payload", locate("torn-tail-payload", 8, &off, &frame), p, sizeof(p));
	cut(p, off + FRAME_HDR + 20);
}

/* zero-filled-tail: record 8's frame zeroed and the segment padded with
 * zeros to 512 bytes: the file grew but its data never reached the disk. */
static void
make_zero_filled_tail(void)
{
	char p[800];
	size_t off, frame, len;
	uint8_t *b;
	build("zero-filled-tail", 8, 0);
	seg_file("zero-filled-tail", locate("zero-filled-tail", 8, &off, &frame), p, sizeof(p));
	b = slurp(p, &len);
	if (off + frame != len || len > 512)
		die("%s: record 8 is not last", p);
	b = realloc(b, 512);
	if (b == NULL)
		die("out of memory");
	memset(b + off, 0, 512 - off);
	spit(p, b, 512);
	free(b);
}

/* corrupt-middle: a byte of record 6's payload flipped, records 7 and 8
 * good after it, in the last segment. */
static void
make_corrupt_middle(void)
{
	char p[800];
	size_t off, frame;
	build("corrupt-middle", 8, 0);
	seg_file("corrupt-middle", locate("corrupt-middle", 6, &off, &frame), p, sizeof(p));
	flip(p, off + FRAME_HDR + 2);
}

/* corrupt-last: the last byte of record 8 (the last record) flipped. */
static void
make_corrupt_last(void)
{
	char p[800];
	size_t off, frame;
	build("corrupt-last", 8, 0);
	seg_file("corrupt-last", locate("corrupt-last", 8, &off, &frame), p, sizeof(p));
	flip(p, off + frame - 1);
}

/* corrupt-first-segment: a byte of record 4's payload flipped; record 4
 * ends segment 1, segment 5 follows intact. */
static void
make_corrupt_first_segment(void)
{
	char p[800];
	size_t off, frame;
	build("corrupt-first-segment", 8, 0);
	seg_file("corrupt-first-segment", locate("corrupt-first-segment", 4, &off, &frame), p, sizeof(p));
	flip(p, off + FRAME_HDR + 2);
}

/* bad-segment-header: a byte of segment 1's magic flipped. */
static void
make_bad_segment_header(void)
{
	char p[800];
	build("bad-segment-header", 8, 0);
	seg_file("bad-segment-header", 1, p, sizeof(p));
	flip(p, 3);
}

/* bad-version: both segment headers say version 2, their CRC recomputed
 * (a journal written by a later format). */
static void
make_bad_version(void)
{
	build("bad-version", 8, 0);
	for (uint64_t first = 1; first <= 5; first += 4) {
		char p[800];
		size_t len;
		uint8_t *b;
		seg_file("bad-version", first, p, sizeof(p));
		b = slurp(p, &len);
		b[11] = 2;
		uint32_t crc = toll_crc32c(0, b, 24);
		b[24] = (uint8_t)(crc >> 24);
		b[25] = (uint8_t)(crc >> 16);
		b[26] = (uint8_t)(crc >> 8);
		b[27] = (uint8_t)crc;
		spit(p, b, len);
		free(b);
	}
}

/* cursor: records 1-12 over segments 1, 5, 9, 12; acknowledged up to 6,
 * which deleted segment 1. */
static void
make_cursor(void)
{
	build("cursor", 12, 6);
}

/* cursor-damaged: as cursor, a byte of the cursor's seq flipped. */
static void
make_cursor_damaged(void)
{
	char p[800];
	build("cursor-damaged", 12, 6);
	file_in("cursor-damaged", "cursor", p, sizeof(p));
	flip(p, 20);
}

/* cursor-past-end: records 1-8 acknowledged up to 8 (segment 1 deleted),
 * then record 8 torn 20 bytes into its payload. */
static void
make_cursor_past_end(void)
{
	char p[800];
	size_t off, frame;
	build("cursor-past-end", 8, 8);
	seg_file("cursor-past-end", locate("cursor-past-end", 8, &off, &frame), p, sizeof(p));
	cut(p, off + FRAME_HDR + 20);
}

/* missing-segment: records 1-12, segment 5 (seqs 5-8) removed. */
static void
make_missing_segment(void)
{
	char p[800];
	build("missing-segment", 12, 0);
	seg_file("missing-segment", 5, p, sizeof(p));
	rm(p);
}

/* missing-first-segment: records 1-12, segment 1 (seqs 1-4, never
 * acknowledged: no cursor) removed. */
static void
make_missing_first_segment(void)
{
	char p[800];
	build("missing-first-segment", 12, 0);
	seg_file("missing-first-segment", 1, p, sizeof(p));
	rm(p);
}

/* torn-segment-header: records 1-9; segment 9, just created, cut to 20
 * bytes of its header. */
static void
make_torn_segment_header(void)
{
	char p[800];
	build("torn-segment-header", 9, 0);
	seg_file("torn-segment-header", 9, p, sizeof(p));
	cut(p, 20);
}

/* zero-filled-new-segment: records 1-9; segment 9 (header and record 9)
 * all zeros, its size kept. */
static void
make_zero_filled_new_segment(void)
{
	char p[800];
	size_t len;
	uint8_t *b;
	build("zero-filled-new-segment", 9, 0);
	seg_file("zero-filled-new-segment", 9, p, sizeof(p));
	b = slurp(p, &len);
	memset(b, 0, len);
	spit(p, b, len);
	free(b);
}

/* seq-out-of-order: records 6 and 7 swapped in segment 5, each frame
 * intact. */
static void
make_seq_out_of_order(void)
{
	char p[800];
	size_t o6, f6, o7, f7, len;
	uint8_t *b, *c;
	build("seq-out-of-order", 8, 0);
	seg_file("seq-out-of-order", locate("seq-out-of-order", 6, &o6, &f6), p, sizeof(p));
	locate("seq-out-of-order", 7, &o7, &f7);
	b = slurp(p, &len);
	c = malloc(len);
	if (c == NULL || o7 != o6 + f6)
		die("seq-out-of-order: records 6 and 7 not adjacent");
	memcpy(c, b, len);
	memcpy(c + o6, b + o7, f7);
	memcpy(c + o6 + f7, b + o6, f6);
	spit(p, c, len);
	free(b);
	free(c);
}

/* duplicate-last: records 1-8, then record 8's frame written a second
 * time at the end of segment 5. */
static void
make_duplicate_last(void)
{
	char p[800];
	size_t off, frame, len;
	uint8_t *b;
	build("duplicate-last", 8, 0);
	seg_file("duplicate-last", locate("duplicate-last", 8, &off, &frame), p, sizeof(p));
	b = slurp(p, &len);
	b = realloc(b, len + frame);
	if (b == NULL)
		die("out of memory");
	memcpy(b + len, b + off, frame);
	spit(p, b, len + frame);
	free(b);
}

int
main(int argc, char **argv)
{
	struct stat st;

	if (argc != 2) {
		fprintf(stderr, "usage: make-fixtures DIR (tests/data/journal)\n");
		return 2;
	}
	top = argv[1];
	if (stat(top, &st) != 0 || !S_ISDIR(st.st_mode))
		die("%s is not a directory", top);
	make_clean();
	make_torn_tail_header();
	make_torn_tail_payload();
	make_zero_filled_tail();
	make_corrupt_middle();
	make_corrupt_last();
	make_corrupt_first_segment();
	make_bad_segment_header();
	make_bad_version();
	make_cursor();
	make_cursor_damaged();
	make_cursor_past_end();
	make_missing_segment();
	make_missing_first_segment();
	make_torn_segment_header();
	make_zero_filled_new_segment();
	make_seq_out_of_order();
	make_duplicate_last();
	return 0;
}

/* buf.c: bounds-checked big-endian readers and writers. */
#include <string.h>

#include "buf.h"
#include "err.h"

void
toll_rd_init(struct toll_rd *rd, const void *p, size_t len)
{
	rd->p = p;
	rd->len = p == NULL ? 0 : len;
	rd->off = 0;
}

size_t
toll_rd_left(const struct toll_rd *rd)
{
	return rd->len - rd->off;
}

static int
rd_take(struct toll_rd *rd, size_t n, const uint8_t **at)
{
	if (toll_rd_left(rd) < n)
		return TOLL_ESHORT;
	*at = rd->p + rd->off;
	rd->off += n;
	return 0;
}

int
toll_rd_u8(struct toll_rd *rd, uint8_t *v)
{
	const uint8_t *b;
	int r = rd_take(rd, 1, &b);
	if (r == 0)
		*v = b[0];
	return r;
}

int
toll_rd_u16(struct toll_rd *rd, uint16_t *v)
{
	const uint8_t *b;
	int r = rd_take(rd, 2, &b);
	if (r == 0)
		*v = (uint16_t)((b[0] << 8) | b[1]);
	return r;
}

int
toll_rd_i16(struct toll_rd *rd, int16_t *v)
{
	uint16_t u;
	int r = toll_rd_u16(rd, &u);
	if (r == 0)
		*v = (int16_t)u;
	return r;
}

int
toll_rd_u32(struct toll_rd *rd, uint32_t *v)
{
	const uint8_t *b;
	int r = rd_take(rd, 4, &b);
	if (r == 0)
		*v = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) |
		     ((uint32_t)b[2] << 8) | b[3];
	return r;
}

int
toll_rd_u64(struct toll_rd *rd, uint64_t *v)
{
	const uint8_t *b;
	int r = rd_take(rd, 8, &b);
	if (r == 0) {
		uint64_t x = 0;
		for (int i = 0; i < 8; i++)
			x = (x << 8) | b[i];
		*v = x;
	}
	return r;
}

int
toll_rd_i64(struct toll_rd *rd, int64_t *v)
{
	uint64_t u;
	int r = toll_rd_u64(rd, &u);
	if (r == 0)
		*v = (int64_t)u;
	return r;
}

int
toll_rd_bytes(struct toll_rd *rd, void *dst, size_t n)
{
	const uint8_t *b;
	int r = rd_take(rd, n, &b);
	if (r == 0 && n > 0)
		memcpy(dst, b, n);
	return r;
}

int
toll_rd_skip(struct toll_rd *rd, size_t n)
{
	const uint8_t *b;
	return rd_take(rd, n, &b);
}

void
toll_wr_init(struct toll_wr *wr, void *p, size_t cap)
{
	wr->p = p;
	wr->cap = p == NULL ? 0 : cap;
	wr->off = 0;
}

static int
wr_take(struct toll_wr *wr, size_t n, uint8_t **at)
{
	if (wr->cap - wr->off < n)
		return TOLL_ENOSPACE;
	*at = wr->p + wr->off;
	wr->off += n;
	return 0;
}

int
toll_wr_u8(struct toll_wr *wr, uint8_t v)
{
	uint8_t *b;
	int r = wr_take(wr, 1, &b);
	if (r == 0)
		b[0] = v;
	return r;
}

int
toll_wr_u16(struct toll_wr *wr, uint16_t v)
{
	uint8_t *b;
	int r = wr_take(wr, 2, &b);
	if (r == 0) {
		b[0] = (uint8_t)(v >> 8);
		b[1] = (uint8_t)v;
	}
	return r;
}

int
toll_wr_u32(struct toll_wr *wr, uint32_t v)
{
	uint8_t *b;
	int r = wr_take(wr, 4, &b);
	if (r == 0)
		for (int i = 0; i < 4; i++)
			b[i] = (uint8_t)(v >> (24 - 8 * i));
	return r;
}

int
toll_wr_u64(struct toll_wr *wr, uint64_t v)
{
	uint8_t *b;
	int r = wr_take(wr, 8, &b);
	if (r == 0)
		for (int i = 0; i < 8; i++)
			b[i] = (uint8_t)(v >> (56 - 8 * i));
	return r;
}

int
toll_wr_bytes(struct toll_wr *wr, const void *src, size_t n)
{
	uint8_t *b;
	int r = wr_take(wr, n, &b);
	if (r == 0 && n > 0)
		memcpy(b, src, n);
	return r;
}

int
toll_wr_zero(struct toll_wr *wr, size_t n)
{
	uint8_t *b;
	int r = wr_take(wr, n, &b);
	if (r == 0 && n > 0)
		memset(b, 0, n);
	return r;
}

void
toll_words_to_bytes(const uint16_t *words, size_t nwords, uint8_t *bytes)
{
	for (size_t i = 0; i < nwords; i++) {
		bytes[2 * i] = (uint8_t)(words[i] >> 8);
		bytes[2 * i + 1] = (uint8_t)words[i];
	}
}

void
toll_bytes_to_words(const uint8_t *bytes, size_t nwords, uint16_t *words)
{
	for (size_t i = 0; i < nwords; i++)
		words[i] = (uint16_t)((bytes[2 * i] << 8) | bytes[2 * i + 1]);
}

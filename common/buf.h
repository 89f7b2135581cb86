/* buf.h: bounds-checked reading and writing of big-endian byte buffers.
 *
 * Every byte that comes from outside (registers, wire, journal, files) is
 * read through a toll_rd, never by casting a pointer onto the buffer.  A read
 * past the end returns TOLL_ESHORT and leaves the cursor where it was.  The
 * caller owns the buffers. */
#ifndef TOLL_BUF_H
#define TOLL_BUF_H

#include <stddef.h>
#include <stdint.h>

struct toll_rd {
	const uint8_t *p;
	size_t len;
	size_t off;
};

struct toll_wr {
	uint8_t *p;
	size_t cap;
	size_t off;
};

void toll_rd_init(struct toll_rd *rd, const void *p, size_t len);
size_t toll_rd_left(const struct toll_rd *rd);
int toll_rd_u8(struct toll_rd *rd, uint8_t *v);
int toll_rd_u16(struct toll_rd *rd, uint16_t *v);
int toll_rd_i16(struct toll_rd *rd, int16_t *v);
int toll_rd_u32(struct toll_rd *rd, uint32_t *v);
int toll_rd_u64(struct toll_rd *rd, uint64_t *v);
int toll_rd_i64(struct toll_rd *rd, int64_t *v);
int toll_rd_bytes(struct toll_rd *rd, void *dst, size_t n);
int toll_rd_skip(struct toll_rd *rd, size_t n);

void toll_wr_init(struct toll_wr *wr, void *p, size_t cap);
int toll_wr_u8(struct toll_wr *wr, uint8_t v);
int toll_wr_u16(struct toll_wr *wr, uint16_t v);
int toll_wr_u32(struct toll_wr *wr, uint32_t v);
int toll_wr_u64(struct toll_wr *wr, uint64_t v);
int toll_wr_bytes(struct toll_wr *wr, const void *src, size_t n);
int toll_wr_zero(struct toll_wr *wr, size_t n);

/* Modbus registers as libmodbus hands them over (host-order uint16_t) to and
 * from the big-endian byte stream the device sent: word i is bytes 2i, 2i+1. */
void toll_words_to_bytes(const uint16_t *words, size_t nwords, uint8_t *bytes);
void toll_bytes_to_words(const uint8_t *bytes, size_t nwords, uint16_t *words);

#endif

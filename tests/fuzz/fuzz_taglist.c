/* fuzz_taglist.c: the tag status list loader takes any bytes without a
 * crash, a leak or an allocation its input does not pay for; what it
 * accepts answers lookups and debits.
 *
 * Each input is loaded twice: as it is (so the checksums are exercised),
 * then with every checksum recomputed from the header's counts, so that
 * mutations reach the checks behind the checksums (record fields, order,
 * counts) instead of stopping at a CRC mismatch. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc.h"
#include "lane_taglist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t
get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Format 2: header 64, then accounts (16-byte records), long EPCs (34),
 * tags (52), each section a 16-byte header, records and a CRC; trailer 12. */
static void
fix_crcs(uint8_t *b, size_t len)
{
	static const uint64_t rec[3] = {16, 34, 52};
	uint64_t count[3], off = 64;

	if (len < 64)
		return;
	put_be32(b + 60, toll_crc32c(0, b, 60));
	count[0] = get_be(b + 24, 8);
	count[1] = get_be(b + 40, 8);
	count[2] = get_be(b + 32, 8);
	for (int s = 0; s < 3; s++) {
		if (count[s] > len)
			return;
		uint64_t end = off + 16 + count[s] * rec[s];
		if (end + 4 > len)
			return;
		put_be32(b + end, toll_crc32c(0, b + off, (size_t)(end - off)));
		off = end + 4;
	}
	if (off + 12 == len)
		put_be32(b + off, toll_crc32c(0, b, (size_t)off));
}

static void
exercise(struct lane_taglist *l, const uint8_t *data, size_t size)
{
	struct lane_tag_info info;
	uint8_t epc[32] = {0x30};

	/* EPCs and TIDs from the input's tag records, and some that are not */
	for (size_t off = 64; off + 52 <= size && off < 64 + 52 * 64; off += 52) {
		const uint8_t *tid = data + off + 12;
		if (lane_taglist_lookup(l, data + off, 96, tid, &info) == 0) {
			if (info.vclass < 1 || info.vclass > 5 || info.status > 2 || strlen(info.plate) > 12)
				abort();
			if (lane_taglist_debit(l, info.account_id, 1) != 0)
				abort();
		}
	}
	for (unsigned bits = 1; bits <= 256; bits += 7)
		(void)lane_taglist_lookup(l, size >= 32 ? data + size - 32 : epc, bits, NULL, &info);
	(void)lane_taglist_debit(l, size > 0 ? data[0] : 1, 1);
	(void)lane_taglist_version(l);
	if (lane_taglist_memory_bytes(l) < lane_taglist_count(l) * 32)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lane_taglist *l;
	char err[256];
	uint8_t *copy;

	err[0] = 0;
	if (lane_taglist_load_mem(data, size, &l, err, sizeof(err)) == 0) {
		exercise(l, data, size);
		lane_taglist_free(l);
	} else if (l != NULL || err[0] == 0) {
		abort();
	}
	copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	fix_crcs(copy, size);
	err[0] = 0;
	if (lane_taglist_load_mem(copy, size, &l, err, sizeof(err)) == 0) {
		exercise(l, copy, size);
		lane_taglist_free(l);
	} else if (l != NULL || err[0] == 0) {
		abort();
	}
	free(copy);
	return 0;
}

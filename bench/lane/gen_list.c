/* gen_list.c: a seeded national-scale tag status list for the lane
 * benchmark (N tags, one account per 1.2 tags, every balance ample), and
 * the simulator's tag file for the first K of them. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "lane_taglist.h"

static void
epc_of(uint64_t i, uint8_t e[12])
{
	uint64_t x = i * 0x9E3779B97F4A7C15ull;
	e[0] = 0x30;
	e[1] = 0x34;
	for (int k = 0; k < 8; k++)
		e[2 + k] = (uint8_t)(x >> (8 * k));
	e[10] = (uint8_t)(i >> 8);
	e[11] = (uint8_t)i;
}

int
main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: gen_list N LIST K SIMTAGS\n");
		return 2;
	}
	uint64_t n = strtoull(argv[1], NULL, 10), k = strtoull(argv[3], NULL, 10);
	uint64_t naccts = n * 10 / 12 + 1;
	struct lane_taglist_writer *w;
	char plate[16];
	uint8_t e[12];
	FILE *f = fopen(argv[4], "w");

	if (f == NULL || lane_taglist_writer_new(1, &w) != 0)
		return 1;
	for (uint64_t a = 1; a <= naccts; a++)
		lane_taglist_writer_account(w, a, 50000000);
	for (uint64_t i = 0; i < n; i++) {
		unsigned cls = 1 + (unsigned)(i % 5);
		epc_of(i, e);
		snprintf(plate, sizeof(plate), "%02" PRIu64 "B%05" PRIu64, i % 99, i % 100000);
		if (lane_taglist_writer_tag(w, e, 96, NULL, 1 + i % naccts, cls, plate, LANE_TAG_VALID, 0, 0, 0, 0) != 0)
			return 1;
		if (i < k) {
			for (int b = 0; b < 12; b++)
				fprintf(f, "%02x", e[b]);
			fprintf(f, " - %u %s\n", cls, plate);
		}
	}
	fclose(f);
	return lane_taglist_writer_finish(w, argv[2]) == 0 ? 0 : 1;
}

/* fuzz_taglist.c: the tag status list loader takes any bytes without a
 * crash or a leak. */
#include <stdint.h>
#include <stdlib.h>

#include "lane_taglist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lane_taglist *l;
	struct lane_tag_info info;
	char err[256];
	uint8_t epc[12] = {0x30};

	if (lane_taglist_load_mem(data, size, &l, err, sizeof(err)) != 0)
		return 0;
	(void)lane_taglist_lookup(l, epc, 96, NULL, &info);
	lane_taglist_free(l);
	return 0;
}

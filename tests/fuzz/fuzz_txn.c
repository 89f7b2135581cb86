/* fuzz_txn.c: the transaction decoder takes any bytes; whatever it accepts
 * encodes back to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "txn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct toll_txn t;
	uint8_t out[TOLL_TXN_BYTES];

	if (toll_txn_decode(data, size, &t) == 0) {
		if (toll_txn_encode(&t, out) != 0 || memcmp(out, data, TOLL_TXN_BYTES) != 0)
			abort();
	}
	return 0;
}

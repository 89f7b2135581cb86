/* fuzz_umsg.c: the uplink decoder takes any bytes; whatever it accepts
 * encodes back to the same bytes (a BATCH from the decoded record pointers,
 * an ACK from the decoded fields). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "umsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* large: static, not on the stack */
	static struct toll_umsg m;
	static const uint8_t *recs[TOLL_UMSG_BATCH_MAX];
	static size_t lens[TOLL_UMSG_BATCH_MAX];
	static uint8_t out[TOLL_UMSG_MAX_BYTES];
	size_t outlen, total = 0;

	if (toll_umsg_decode(data, size, &m) != 0)
		return 0;
	switch (m.type) {
	case TOLL_UMSG_BATCH:
		if (m.count > TOLL_UMSG_BATCH_MAX)
			abort();
		for (unsigned i = 0; i < m.count; i++) {
			recs[i] = toll_umsg_record(&m, i, &lens[i]);
			if (recs[i] == NULL || recs[i] < data || recs[i] + lens[i] > data + size)
				abort();
			total += lens[i];
		}
		if (toll_umsg_record(&m, m.count, &outlen) != NULL)
			abort();
		if (toll_umsg_batch_bytes(m.count, total) != size)
			abort();
		if (toll_umsg_encode_batch(out, sizeof(out), m.station_id, m.lane_id, recs, lens, m.count,
					   &outlen) != 0 ||
		    outlen != size || memcmp(out, data, size) != 0)
			abort();
		break;
	case TOLL_UMSG_ACK:
		if (size != TOLL_UMSG_ACK_BYTES || m.count != 0)
			abort();
		if (toll_umsg_encode_ack(out, &m.ack) != 0 || memcmp(out, data, size) != 0)
			abort();
		break;
	default:
		abort();
	}
	return 0;
}

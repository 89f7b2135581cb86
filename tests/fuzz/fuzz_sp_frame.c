/* fuzz_sp_frame.c: the relay's SP-over-TCP frame parser takes any bytes,
 * fed whole or byte by byte with the same result; what it emits (the
 * header, then each message with its length prefix) is the input, byte for
 * byte, up to where it stopped. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim_relay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parse data in pieces of `step` bytes (0: all at once); the bytes emitted
 * into out, the number of messages, the final result. */
static int
parse(const uint8_t *data, size_t size, size_t step, uint8_t *out, size_t *outlen, unsigned *msgs)
{
	struct sim_sp_parser p;
	size_t off = 0;
	char err[200];
	int rc = 0;

	*outlen = 0;
	*msgs = 0;
	sim_sp_parser_init(&p, 1024);
	while (off < size) {
		size_t piece = step == 0 || step > size - off ? size - off : step;
		size_t at = 0;
		while (at < piece) {
			uint8_t hdr[SIM_SP_HEADER_BYTES];
			struct sim_sp_frame f;
			size_t used;
			int ev = sim_sp_feed(&p, data + off + at, piece - at, &used, hdr, &f, err, sizeof(err));
			if (used > piece - at)
				abort();
			at += used;
			if (ev < 0) {
				rc = ev;
				goto done;
			}
			if (ev == SIM_SP_HEADER) {
				memcpy(out + *outlen, hdr, SIM_SP_HEADER_BYTES);
				*outlen += SIM_SP_HEADER_BYTES;
			} else if (ev == SIM_SP_MESSAGE) {
				if (f.len < SIM_SP_LENGTH_BYTES || f.len > SIM_SP_LENGTH_BYTES + 1024)
					abort();
				memcpy(out + *outlen, f.bytes, f.len);
				*outlen += f.len;
				(*msgs)++;
				free(f.bytes);
			} else if (at != piece) {
				abort();
			}
		}
		off += piece;
	}
	rc = sim_sp_finish(&p);
done:
	sim_sp_parser_clear(&p);
	if (*outlen > size || memcmp(out, data, *outlen) != 0)
		abort();
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t a[1 << 20], b[1 << 20];
	size_t alen, blen;
	unsigned am, bm;

	if (size > sizeof(a))
		return 0;
	int ra = parse(data, size, 0, a, &alen, &am);
	int rb = parse(data, size, 1, b, &blen, &bm);
	if (ra != rb || alen != blen || am != bm || memcmp(a, b, alen) != 0)
		abort();
	return 0;
}

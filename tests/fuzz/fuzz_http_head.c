/* fuzz_http_head.c: the webhook client's response head parser takes any
 * bytes; a head it accepts lies inside them, has a status from 100 to
 * 599, and parses the same from its own bytes alone; any shorter prefix
 * of it asks for more (TOLL_ESHORT) or is refused, never accepted. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct toll_http_head h, h2;

	if (size > TOLL_HTTP_HEAD_MAX)
		size = TOLL_HTTP_HEAD_MAX;
	int rc = toll_http_parse_head(data, size, &h);
	if (rc != 0) {
		if (rc != TOLL_ESHORT && rc != TOLL_EFORMAT)
			abort();
		return 0;
	}
	if (h.head_len == 0 || h.head_len > size || h.status < 100 || h.status > 599 || h.content_length < -1)
		abort();
	if (toll_http_parse_head(data, h.head_len, &h2) != 0 || memcmp(&h, &h2, sizeof(h)) != 0)
		abort();
	if (h.head_len > 0 && toll_http_parse_head(data, h.head_len - 1, &h2) == 0)
		abort();
	return 0;
}

/* fuzz_fwi_record.c: the record and mini-header decoders take any bytes
 * without a crash; whatever the record decoder accepts encodes back to the
 * same 80 bytes.  The input is decoded twice: as it is, and with its CRC
 * fixed up, so the field checks behind the CRC are reached too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc.h"
#include "err.h"
#include "fwi_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_record(const uint8_t *bytes, size_t size)
{
	struct fwi_record rec;
	uint8_t again[FWI_RECORD_BYTES];
	char epc[65], tid[25];
	int rc = fwi_record_decode(bytes, size, &rec);

	switch (rc) {
	case 0:
		break;
	case TOLL_ESHORT:
		if (size >= FWI_RECORD_BYTES)
			abort();
		return;
	case TOLL_EEMPTY:
	case TOLL_ECRC:
	case TOLL_EFORMAT:
		if (size < FWI_RECORD_BYTES)
			abort();
		return;
	default:
		abort();
	}
	if (size < FWI_RECORD_BYTES || rec.seq == 0 ||
	    !(rec.flags & FWI_RF_VALID) || rec.epc_bits == 0 ||
	    rec.epc_bits > FWI_EPC_MAX_BITS ||
	    rec.antenna != rec.flags >> FWI_RF_ANTENNA_SHIFT)
		abort();
	if (fwi_record_encode(&rec, again) != 0 ||
	    memcmp(again, bytes, FWI_RECORD_BYTES) != 0)
		abort();
	fwi_epc_hex(&rec, epc);
	fwi_tid_hex(&rec, tid);
	if (strlen(epc) != 2 * (size_t)((rec.epc_bits + 7) / 8) ||
	    strlen(tid) != 2 * FWI_TID_BYTES)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fwi_mini_header hdr;
	uint8_t out[10];
	uint8_t fixed[FWI_RECORD_BYTES];
	int rc;

	check_record(data, size);

	if (size >= FWI_RECORD_BYTES) {
		uint16_t crc;
		memcpy(fixed, data, sizeof(fixed));
		crc = toll_crc16_modbus(fixed, FWI_RECORD_BYTES - 2);
		fixed[FWI_RECORD_BYTES - 2] = (uint8_t)(crc >> 8);
		fixed[FWI_RECORD_BYTES - 1] = (uint8_t)crc;
		check_record(fixed, sizeof(fixed));
	}

	rc = fwi_mini_header_decode(data, size, &hdr);
	if (rc == 0) {
		if (size < sizeof(out))
			abort();
		fwi_mini_header_encode(&hdr, out);
		if (memcmp(out, data, sizeof(out)) != 0)
			abort();
	} else if (rc != TOLL_ESHORT || size >= sizeof(out)) {
		abort();
	}
	return 0;
}

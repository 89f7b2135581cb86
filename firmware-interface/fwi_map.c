/* fwi_map.c: the register tables made from the X-macros of fwi_map.h. */
#include "fwi_map.h"

#define FWI_X_FIELD(name, addr, words, access, kind, text) \
	{#name, (addr), (words), access, kind, text},
#define FWI_X_BIT3(name, bit, text) {#name, (bit), text},
#define FWI_X_BIT4(name, bit, latched, text) {#name, (bit), text},
#define FWI_COUNT(table) (sizeof(table) / sizeof((table)[0]))

const struct fwi_field fwi_reader_fields[] = {FWI_READER_REGS(FWI_X_FIELD)};
const size_t fwi_reader_field_count = FWI_COUNT(fwi_reader_fields);

const struct fwi_field fwi_io_input_reg_fields[] = {FWI_IO_INPUT_REGS(FWI_X_FIELD)};
const size_t fwi_io_input_reg_field_count = FWI_COUNT(fwi_io_input_reg_fields);

const struct fwi_field fwi_io_holding_fields[] = {FWI_IO_HOLDING_REGS(FWI_X_FIELD)};
const size_t fwi_io_holding_field_count = FWI_COUNT(fwi_io_holding_fields);

const struct fwi_field fwi_display_fields[] = {FWI_DISPLAY_REGS(FWI_X_FIELD)};
const size_t fwi_display_field_count = FWI_COUNT(fwi_display_fields);

const struct fwi_bit fwi_reader_status_bits[] = {FWI_READER_STATUS_BITS(FWI_X_BIT4)};
const size_t fwi_reader_status_bit_count = FWI_COUNT(fwi_reader_status_bits);

const struct fwi_bit fwi_record_flag_bits[] = {FWI_RECORD_FLAG_BITS(FWI_X_BIT3)};
const size_t fwi_record_flag_bit_count = FWI_COUNT(fwi_record_flag_bits);

const struct fwi_bit fwi_io_input_bits[] = {FWI_IO_INPUTS(FWI_X_BIT3)};
const size_t fwi_io_input_bit_count = FWI_COUNT(fwi_io_input_bits);

const struct fwi_bit fwi_io_coil_bits[] = {FWI_IO_COILS(FWI_X_BIT3)};
const size_t fwi_io_coil_bit_count = FWI_COUNT(fwi_io_coil_bits);

const struct fwi_bit fwi_display_messages[] = {FWI_DISPLAY_MESSAGES(FWI_X_BIT3)};
const size_t fwi_display_message_count = FWI_COUNT(fwi_display_messages);

const struct fwi_field *
fwi_field_at(const struct fwi_field *fields, size_t count, uint16_t addr)
{
	for (size_t i = 0; i < count; i++)
		if (addr >= fields[i].addr &&
		    addr < (uint32_t)fields[i].addr + fields[i].words)
			return &fields[i];
	return NULL;
}

int
fwi_check_write(const struct fwi_field *fields, size_t count,
		uint16_t hr_count, int fc, uint16_t addr, uint16_t nb)
{
	uint32_t end = (uint32_t)addr + nb;

	if (nb == 0 || end > hr_count)
		return FWI_EXCEPTION_ILLEGAL_ADDRESS;
	for (uint32_t a = addr; a < end;) {
		const struct fwi_field *f = fwi_field_at(fields, count, (uint16_t)a);
		if (f == NULL || f->access == FWI_R)
			return FWI_EXCEPTION_ILLEGAL_ADDRESS;
		/* every word of a W_WHOLE field in this one FC16 */
		if (f->access == FWI_W_WHOLE &&
		    (fc != FWI_FC_WRITE_MULTIPLE_REGISTERS || addr > f->addr ||
		     end < (uint32_t)f->addr + f->words))
			return FWI_EXCEPTION_ILLEGAL_ADDRESS;
		a++;
	}
	return 0;
}

const char *
fwi_message_text(unsigned code)
{
	for (size_t i = 0; i < fwi_display_message_count; i++)
		if (fwi_display_messages[i].bit == code)
			return fwi_display_messages[i].text;
	return NULL;
}

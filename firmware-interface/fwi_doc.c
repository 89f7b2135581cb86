/* fwi_doc.c: fwi-doc prints the Markdown reference of the register map
 * (firmware-interface/REGISTERS.md) from the tables of fwi_map.h, so the
 * documentation cannot drift from the code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fwi_map.h"

#ifndef TOLL_VERSION
#define TOLL_VERSION "unknown"
#endif

static const char *const fc_names[] = {
	[FWI_FC_READ_COILS] = "read coils",
	[FWI_FC_READ_DISCRETE_INPUTS] = "read discrete inputs",
	[FWI_FC_READ_HOLDING_REGISTERS] = "read holding registers",
	[FWI_FC_READ_INPUT_REGISTERS] = "read input registers",
	[FWI_FC_WRITE_SINGLE_COIL] = "write single coil",
	[FWI_FC_WRITE_SINGLE_REGISTER] = "write single register",
	[FWI_FC_WRITE_MULTIPLE_COILS] = "write multiple coils",
	[FWI_FC_WRITE_MULTIPLE_REGISTERS] = "write multiple registers",
};
#define FC_NAME_COUNT (sizeof(fc_names) / sizeof(fc_names[0]))

static const char *
access_text(enum fwi_access a)
{
	switch (a) {
	case FWI_R:
		return "R";
	case FWI_RW:
		return "RW";
	case FWI_W:
		return "W";
	case FWI_W_WHOLE:
		return "W (whole FC16)";
	}
	return "?";
}

static const char *
kind_text(enum fwi_kind k)
{
	switch (k) {
	case FWI_U16:
		return "u16";
	case FWI_S16:
		return "s16";
	case FWI_U32:
		return "u32";
	case FWI_S32:
		return "s32";
	case FWI_U64:
		return "u64";
	case FWI_TEXT:
		return "text";
	case FWI_U16_ARRAY:
		return "u16 array";
	case FWI_BLOCK:
		return "block";
	}
	return "?";
}

/* Table cell text: a '|' would end the cell. */
static void
put_cell(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '|')
			fputs("\\|", stdout);
		else
			putchar(*s);
	}
}

static void
put_range(unsigned first, unsigned last)
{
	if (first == last)
		printf("0x%04X", first);
	else
		printf("0x%04X-0x%04X", first, last);
}

/* A register table with the reserved gaps between its fields (inside a map
 * of count registers) shown as rows of their own. */
static void
print_fields(const struct fwi_field *fields, size_t n, unsigned count)
{
	unsigned next = 0;

	printf("| addr | words | access | kind | name | content |\n");
	printf("|---|---|---|---|---|---|\n");
	for (size_t i = 0; i <= n; i++) {
		unsigned at = i < n ? fields[i].addr : count;
		if (at > next) {
			printf("| ");
			put_range(next, at - 1);
			printf(" | %u | | | | reserved: reads 0, writes refused |\n",
			       at - next);
		}
		if (i == n)
			break;
		printf("| 0x%04X | %u | %s | %s | %s | ", fields[i].addr,
		       fields[i].words, access_text(fields[i].access),
		       kind_text(fields[i].kind), fields[i].name);
		put_cell(fields[i].text);
		printf(" |\n");
		next = (unsigned)fields[i].addr + fields[i].words;
	}
	printf("\n");
}

static void
print_bits(const char *what, const struct fwi_bit *bits, size_t n)
{
	printf("| %s | name | meaning |\n", what);
	printf("|---|---|---|\n");
	for (size_t i = 0; i < n; i++) {
		printf("| %u | %s | ", bits[i].bit, bits[i].name);
		put_cell(bits[i].text);
		printf(" |\n");
	}
	printf("\n");
}

static void
print_fcs(unsigned mask)
{
	int first = 1;

	for (unsigned fc = 0; fc < FC_NAME_COUNT; fc++) {
		if (!(mask & FWI_FC_BIT(fc)))
			continue;
		printf("%s%02X %s", first ? "" : ", ", fc,
		       fc_names[fc] != NULL ? fc_names[fc] : "?");
		first = 0;
	}
}

static void
print_units(void)
{
	printf("## Units\n\n");
	printf("Requests to other unit ids are not answered.  A function a unit "
	       "does not have answers exception %02X; an address outside the "
	       "unit's map, a write to a read-only or reserved register, or a "
	       "forbidden partial write answers exception %02X.\n\n",
	       FWI_EXCEPTION_ILLEGAL_FUNCTION, FWI_EXCEPTION_ILLEGAL_ADDRESS);
	printf("| unit id | device | map | function codes |\n");
	printf("|---|---|---|---|\n");
	printf("| %d | UHF RFID reader | holding registers 0x0000-0x%04X | ",
	       FWI_UNIT_READER, FWI_READER_HR_COUNT - 1);
	print_fcs(FWI_READER_FCS);
	printf(" |\n");
	printf("| %d | roadside I/O | discrete inputs 0-%d, coils 0-%d, "
	       "input registers 0-%d, holding registers 0x0000-0x%04X | ",
	       FWI_UNIT_IO, FWI_IO_INPUT_COUNT - 1, FWI_IO_COIL_COUNT - 1,
	       FWI_IO_IR_COUNT - 1, FWI_IO_HR_COUNT - 1);
	print_fcs(FWI_IO_FCS);
	printf(" |\n");
	printf("| %d | driver display | holding registers 0x0000-0x%04X | ",
	       FWI_UNIT_DISPLAY, FWI_DISPLAY_HR_COUNT - 1);
	print_fcs(FWI_DISPLAY_FCS);
	printf(" |\n\n");
}

static void
print_reader(void)
{
	printf("## UHF RFID reader (unit %d), holding registers\n\n",
	       FWI_UNIT_READER);
	printf("Magic 0x%04X, map version %d.  Access: R read only; RW read and "
	       "write, any word alone; W write only (reads back the last value "
	       "written, 0 after boot); W (whole FC16) write only, and only one "
	       "FC16 that writes every word of the field is accepted.\n\n",
	       FWI_READER_MAGIC, FWI_MAP_VERSION);
	print_fields(fwi_reader_fields, fwi_reader_field_count,
		     FWI_READER_HR_COUNT);
	printf("The poll: one read of %d registers from 0x%04X (mini-header and "
	       "window).\n\n", FWI_POLL_WORDS, FWI_POLL_ADDR);

	printf("### Configuration after every boot\n\n");
	printf("| register | value |\n|---|---|\n");
	printf("| MODE | %d |\n", FWI_DEFAULT_MODE);
	printf("| ANTENNA_ENABLE | all antennas |\n");
	printf("| TX_POWER | %d on each antenna |\n", FWI_DEFAULT_TX_POWER);
	printf("| RSSI_FLOOR | %d |\n", FWI_DEFAULT_RSSI_FLOOR);
	printf("| REREPORT_S | %d |\n", FWI_DEFAULT_REREPORT_S);
	printf("| WATCHDOG_TIMEOUT_MS | %d |\n\n", FWI_DEFAULT_WATCHDOG_MS);

	printf("### Status bits (register 0x%04X)\n\n", FWI_RD_STATUS);
	printf("Latched bits stay set until the host writes them to "
	       "CLEAR_STATUS (0x%04X).\n\n", FWI_RD_CLEAR_STATUS);
	printf("| bit | name | latched | meaning |\n");
	printf("|---|---|---|---|\n");
#define FWI_DOC_STATUS(name, bit, latched, text) \
	printf("| %d | %s | %s | ", (bit), #name, (latched) ? "yes" : "no"); \
	put_cell(text); \
	printf(" |\n");
	FWI_READER_STATUS_BITS(FWI_DOC_STATUS)
#undef FWI_DOC_STATUS
	printf("\n");

	printf("### Tag-read record (%d words)\n\n", FWI_RECORD_WORDS);
	printf("The window at 0x%04X holds the %d oldest unacknowledged records, "
	       "record k at 0x%04X + %d k.  An empty slot reads as all zeros "
	       "(valid = 0).\n\n", FWI_RD_WINDOW, FWI_WINDOW_RECORDS,
	       FWI_RD_WINDOW, FWI_RECORD_WORDS);
	printf("| offset | words | name | content |\n");
	printf("|---|---|---|---|\n");
#define FWI_DOC_REC(name, offset, words, text) \
	printf("| +%d | %d | %s | ", (offset), (words), #name); \
	put_cell(text); \
	printf(" |\n");
	FWI_RECORD_FIELDS(FWI_DOC_REC)
#undef FWI_DOC_REC
	printf("\n");

	printf("### Record flags (offset +%d)\n\n", FWI_REC_FLAGS);
	printf("| bit | name | meaning |\n");
	printf("|---|---|---|\n");
	for (size_t i = 0; i < fwi_record_flag_bit_count; i++) {
		const struct fwi_bit *b = &fwi_record_flag_bits[i];
		printf("| %u | %s | ", b->bit, b->name);
		put_cell(b->text);
		printf(" |\n");
	}
	printf("| %d-15 | ANTENNA | antenna number, from 0 |\n\n",
	       FWI_RF_ANTENNA_SHIFT);
	printf("A record is refused unless: valid is set, seq is not 0, no other "
	       "flag bit is set, the EPC length is 1-%d bits and the EPC is zero "
	       "past it, the TID is zero unless TID valid is set, the reserved "
	       "words are zero and the CRC matches.\n\n", FWI_EPC_MAX_BITS);
}

static void
print_io(void)
{
	printf("## Roadside I/O (unit %d)\n\n", FWI_UNIT_IO);
	printf("### Discrete inputs (FC02)\n\n");
	print_bits("addr", fwi_io_input_bits, fwi_io_input_bit_count);
	printf("### Coils (FC01 read, FC05/FC15 write)\n\n");
	printf("Coils are levels, not pulses: repeating a write is harmless.\n\n");
	print_bits("addr", fwi_io_coil_bits, fwi_io_coil_bit_count);
	printf("### Input registers (FC04)\n\n");
	print_fields(fwi_io_input_reg_fields, fwi_io_input_reg_field_count,
		     FWI_IO_IR_COUNT);
	printf("### Holding registers (FC03 read, FC06/FC16 write)\n\n");
	print_fields(fwi_io_holding_fields, fwi_io_holding_field_count,
		     FWI_IO_HR_COUNT);
}

static void
print_display(void)
{
	printf("## Driver display (unit %d), holding registers\n\n",
	       FWI_UNIT_DISPLAY);
	print_fields(fwi_display_fields, fwi_display_field_count,
		     FWI_DISPLAY_HR_COUNT);
	printf("### Message codes (register 0x%04X)\n\n", FWI_DSP_MESSAGE);
	print_bits("code", fwi_display_messages, fwi_display_message_count);
}

static void
print_doc(void)
{
	printf("<!-- generated by fwi-doc from firmware-interface/fwi_map.h: "
	       "do not edit by hand -->\n");
	printf("# Roadside firmware interface, version %d: register reference\n\n",
	       FWI_MAP_VERSION);
	printf("Generated by fwi-doc from the tables in "
	       "firmware-interface/fwi_map.h; do not edit by hand.  To change the "
	       "map, edit fwi_map.h and run "
	       "`make build/bin/fwi-doc && build/bin/fwi-doc > "
	       "firmware-interface/REGISTERS.md`.\n\n");
	printf("Conventions: 0-based register addresses; 16-bit registers "
	       "big-endian as Modbus sends them; 32- and 64-bit values high word "
	       "first; text is ASCII, NUL-padded, two characters per register, "
	       "first character in the high byte.  Reserved addresses inside a "
	       "map read as 0 and refuse writes.\n\n");
	print_units();
	print_reader();
	print_io();
	print_display();
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: fwi-doc [--help] [--version]\n"
		   "print the Markdown reference of the firmware interface "
		   "register map to stdout\n");
}

int
main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("fwi-doc %s (map version %d)\n", TOLL_VERSION,
			       FWI_MAP_VERSION);
			return 0;
		}
		fprintf(stderr, "fwi-doc: unknown argument %s\n", argv[i]);
		usage(stderr);
		return 2;
	}
	print_doc();
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "fwi-doc: could not write output\n");
		return 1;
	}
	return 0;
}

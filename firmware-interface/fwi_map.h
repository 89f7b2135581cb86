/* fwi_map.h: the roadside firmware interface, version 1, written once.
 *
 * This is the single source of the Modbus register contract between lane
 * controllers and roadside devices (reader, I/O unit, driver display).  The
 * X-macro tables below produce the address constants, the access tables used
 * by the simulator and the controller, and the generated reference
 * (firmware-interface/REGISTERS.md, made by fwi-doc).  Addresses never move:
 * a later version may only add registers in reserved space.
 *
 * Conventions: 0-based addresses; 32- and 64-bit values high word first; text
 * is ASCII, NUL-padded, two characters per register, first in the high byte. */
#ifndef FWI_MAP_H
#define FWI_MAP_H

#include <stddef.h>
#include <stdint.h>

#define FWI_MAP_VERSION 1

/* Unit ids of the three devices of a lane. */
#define FWI_UNIT_READER 1
#define FWI_UNIT_IO 2
#define FWI_UNIT_DISPLAY 3

/* Modbus function codes a unit may have; a unit answers exception 01 to the
 * others, 02 to an address outside its map or a forbidden write. */
#define FWI_FC_READ_COILS 0x01
#define FWI_FC_READ_DISCRETE_INPUTS 0x02
#define FWI_FC_READ_HOLDING_REGISTERS 0x03
#define FWI_FC_READ_INPUT_REGISTERS 0x04
#define FWI_FC_WRITE_SINGLE_COIL 0x05
#define FWI_FC_WRITE_SINGLE_REGISTER 0x06
#define FWI_FC_WRITE_MULTIPLE_COILS 0x0F
#define FWI_FC_WRITE_MULTIPLE_REGISTERS 0x10
#define FWI_FC_BIT(fc) (1u << (fc))
#define FWI_READER_FCS                                                     \
	(FWI_FC_BIT(FWI_FC_READ_HOLDING_REGISTERS) |                       \
	 FWI_FC_BIT(FWI_FC_WRITE_SINGLE_REGISTER) |                        \
	 FWI_FC_BIT(FWI_FC_WRITE_MULTIPLE_REGISTERS))
#define FWI_IO_FCS                                                         \
	(FWI_FC_BIT(FWI_FC_READ_COILS) |                                   \
	 FWI_FC_BIT(FWI_FC_READ_DISCRETE_INPUTS) |                         \
	 FWI_FC_BIT(FWI_FC_READ_HOLDING_REGISTERS) |                       \
	 FWI_FC_BIT(FWI_FC_READ_INPUT_REGISTERS) |                         \
	 FWI_FC_BIT(FWI_FC_WRITE_SINGLE_COIL) |                            \
	 FWI_FC_BIT(FWI_FC_WRITE_SINGLE_REGISTER) |                        \
	 FWI_FC_BIT(FWI_FC_WRITE_MULTIPLE_COILS) |                         \
	 FWI_FC_BIT(FWI_FC_WRITE_MULTIPLE_REGISTERS))
#define FWI_DISPLAY_FCS FWI_READER_FCS

#define FWI_EXCEPTION_ILLEGAL_FUNCTION 0x01
#define FWI_EXCEPTION_ILLEGAL_ADDRESS 0x02
#define FWI_EXCEPTION_ILLEGAL_VALUE 0x03

/* Access of a register field.
 * R: read only.  RW: read and write, any word alone.  W: write only (reads
 * back the last value written, 0 after boot).  W_WHOLE: write only, and only
 * one FC16 that writes every word of the field is accepted. */
enum fwi_access { FWI_R, FWI_RW, FWI_W, FWI_W_WHOLE };

/* How a field's words are read. */
enum fwi_kind {
	FWI_U16,
	FWI_S16,
	FWI_U32,
	FWI_S32,
	FWI_U64,
	FWI_TEXT,
	FWI_U16_ARRAY, /* one u16 per word, each its own item */
	FWI_BLOCK      /* a structured block described elsewhere */
};

/* ---- UHF RFID reader, unit 1, holding registers ---------------------- */

/* X(NAME, addr, words, access, kind, text) */
#define FWI_READER_REGS(X)                                                             \
	X(MAGIC, 0x0000, 1, FWI_R, FWI_U16, "magic 0x5246 (\"RF\")")                   \
	X(MAP_VERSION, 0x0001, 1, FWI_R, FWI_U16, "map version = 1")                   \
	X(VENDOR, 0x0002, 8, FWI_R, FWI_TEXT, "vendor (16 chars)")                     \
	X(MODEL, 0x000A, 8, FWI_R, FWI_TEXT, "model (16 chars)")                       \
	X(FIRMWARE, 0x0012, 4, FWI_R, FWI_TEXT, "firmware version (8 chars)")          \
	X(ANTENNA_COUNT, 0x0016, 1, FWI_R, FWI_U16, "antenna count")                   \
	X(FIFO_CAPACITY, 0x0017, 1, FWI_R, FWI_U16, "FIFO capacity in records")        \
	X(RECORD_WORDS, 0x0018, 1, FWI_R, FWI_U16, "record size in words = 40")        \
	X(WINDOW_RECORDS, 0x0019, 1, FWI_R, FWI_U16, "window size in records = 3")     \
	X(HEARTBEAT, 0x0020, 1, FWI_R, FWI_U16, "heartbeat, +1 every 100 ms, wraps")   \
	X(STATUS, 0x0021, 1, FWI_R, FWI_U16, "status (bits below)")                    \
	X(FAULT_CODE, 0x0022, 1, FWI_R, FWI_U16, "fault code (0 = none)")              \
	X(ANTENNA_FAULTS, 0x0023, 1, FWI_R, FWI_U16,                                   \
	  "antenna fault mask (bit n = antenna n)")                                    \
	X(BOOT_ID, 0x0024, 2, FWI_R, FWI_U32, "boot id, u32, random at every boot")    \
	X(UPTIME_S, 0x0026, 2, FWI_R, FWI_U32, "uptime, s, u32")                       \
	X(FIFO_COUNT, 0x0028, 1, FWI_R, FWI_U16,                                       \
	  "FIFO count (unacknowledged records)")                                       \
	X(HEAD_SEQ, 0x002A, 2, FWI_R, FWI_U32,                                         \
	  "head seq, u32 (oldest unacknowledged record; 0 if none)")                   \
	X(LAST_SEQ, 0x002C, 2, FWI_R, FWI_U32,                                         \
	  "last seq, u32 (newest record ever made; 0 before the first)")               \
	X(ACKED_SEQ, 0x002E, 2, FWI_R, FWI_U32, "acked seq, u32")                      \
	X(DROPPED, 0x0030, 2, FWI_R, FWI_U32,                                          \
	  "dropped records since boot, u32 (FIFO overflow)")                           \
	X(CLOCK_MS, 0x0036, 4, FWI_R, FWI_U64,                                         \
	  "reader clock, ms since the Unix epoch, u64")                                \
	X(ACK, 0x0040, 2, FWI_W_WHOLE, FWI_U32,                                        \
	  "ACK: seq u32, cumulative; only one FC16 of both registers")                 \
	X(WATCHDOG, 0x0042, 1, FWI_W, FWI_U16,                                         \
	  "host watchdog: the host writes any changing value")                         \
	X(SET_CLOCK, 0x0049, 4, FWI_W_WHOLE, FWI_U64,                                  \
	  "set reader clock, ms since the Unix epoch, u64; only one FC16 of all 4")    \
	X(CLEAR_STATUS, 0x004D, 1, FWI_W, FWI_U16,                                     \
	  "write 1 bits to clear latched status bits")                                 \
	X(MODE, 0x0080, 1, FWI_RW, FWI_U16,                                            \
	  "mode: 0 off, 1 continuous, 2 triggered by the entry loop")                  \
	X(ANTENNA_ENABLE, 0x0081, 1, FWI_RW, FWI_U16, "antenna enable mask")           \
	X(TX_POWER, 0x0082, 4, FWI_RW, FWI_U16_ARRAY,                                  \
	  "transmit power per antenna, dBm x 10")                                      \
	X(RSSI_FLOOR, 0x0086, 1, FWI_RW, FWI_S16,                                      \
	  "RSSI floor, dBm x 10, signed (reads below are ignored)")                    \
	X(REREPORT_S, 0x0087, 1, FWI_RW, FWI_U16,                                      \
	  "re-report window, s: a tag is reported again only after it was out of "     \
	  "the field this long")                                                       \
	X(WATCHDOG_TIMEOUT_MS, 0x0088, 1, FWI_RW, FWI_U16,                             \
	  "host watchdog timeout, ms (0 = off)")                                       \
	X(MINI_HEADER, 0x00FB, 5, FWI_R, FWI_BLOCK,                                    \
	  "mini-header: copies of heartbeat, status, FIFO count, head seq (2 words)")  \
	X(WINDOW, 0x0100, 120, FWI_R, FWI_BLOCK,                                       \
	  "window: the 3 oldest unacknowledged records, 40 words each")

enum {
#define FWI_X_ADDR(name, addr, words, access, kind, text) \
	FWI_RD_##name = (addr), FWI_RD_##name##_WORDS = (words),
	FWI_READER_REGS(FWI_X_ADDR)
#undef FWI_X_ADDR
};

#define FWI_READER_MAGIC 0x5246
#define FWI_READER_HR_COUNT 0x0178 /* holding registers 0x0000-0x0177 */
#define FWI_RECORD_WORDS 40
#define FWI_RECORD_BYTES (2 * FWI_RECORD_WORDS)
#define FWI_WINDOW_RECORDS 3
#define FWI_MAX_ANTENNAS 4 /* TX_POWER has one word per antenna */
/* The poll: mini-header and window in one read of 125 registers. */
#define FWI_POLL_ADDR FWI_RD_MINI_HEADER
#define FWI_POLL_WORDS (FWI_RD_MINI_HEADER_WORDS + FWI_RD_WINDOW_WORDS)

/* Reader modes. */
#define FWI_MODE_OFF 0
#define FWI_MODE_CONTINUOUS 1
#define FWI_MODE_TRIGGERED 2

/* Configuration after every boot. */
#define FWI_DEFAULT_MODE FWI_MODE_CONTINUOUS
#define FWI_DEFAULT_TX_POWER 300     /* 30.0 dBm on each antenna */
#define FWI_DEFAULT_RSSI_FLOOR (-800) /* -80.0 dBm */
#define FWI_DEFAULT_REREPORT_S 10
#define FWI_DEFAULT_WATCHDOG_MS 0

/* X(NAME, bit, latched, text): reader status register. */
#define FWI_READER_STATUS_BITS(X)                                          \
	X(READY, 0, 0, "ready")                                            \
	X(RF_ON, 1, 0, "RF on")                                            \
	X(TAG_IN_FIELD, 2, 0, "tag in field")                              \
	X(FIFO_NOT_EMPTY, 3, 0, "FIFO not empty")                          \
	X(FIFO_HIGH, 4, 0, "FIFO above high water (75 %)")                 \
	X(OVERFLOW, 5, 1, "overflow (latched)")                            \
	X(ANTENNA_FAULT, 6, 0, "antenna fault")                            \
	X(OVER_TEMPERATURE, 8, 0, "over temperature")                      \
	X(CONFIG_INVALID, 9, 0, "configuration invalid")                   \
	X(CLOCK_UNSYNCED, 10, 0, "clock not synchronised")                 \
	X(WATCHDOG_EXPIRED, 11, 0, "host watchdog expired")                \
	X(REBOOTED, 14, 1, "rebooted (latched)")                           \
	X(FATAL, 15, 0, "fatal")

enum {
#define FWI_X_BIT(name, bit, latched, text) FWI_ST_##name = 1u << (bit),
	FWI_READER_STATUS_BITS(FWI_X_BIT)
#undef FWI_X_BIT
};

/* Bits that stay set until the host clears them through CLEAR_STATUS. */
#define FWI_ST_LATCHED (FWI_ST_OVERFLOW | FWI_ST_REBOOTED)

/* X(NAME, offset, words, text): the 40-word tag-read record. */
#define FWI_RECORD_FIELDS(X)                                                     \
	X(SEQ, 0, 2, "seq, u32, starts at 1, +1 per record, never reused within "  \
		     "a boot")                                                     \
	X(FLAGS, 2, 1, "flags: bit 0 valid, bit 1 TID valid, bit 2 clock "         \
		       "synchronised, bit 3 gap before this record (records were " \
		       "dropped); bits 12-15 antenna number")                      \
	X(RSSI, 3, 1, "RSSI, dBm x 10, signed")                                    \
	X(PC, 4, 1, "PC word from the tag")                                        \
	X(EPC_BITS, 5, 1, "EPC length in bits (96 typical, 256 at most)")          \
	X(EPC, 6, 16, "EPC, zero-padded")                                          \
	X(TID, 22, 6, "TID, 96 bits")                                              \
	X(FIRST_SEEN_MS, 28, 4, "first seen, ms since the Unix epoch, u64")        \
	X(DWELL_MS, 32, 1, "dwell time in the field when the record was made, ms " \
			   "(saturates at 65535; 0 when made at first sight)")     \
	X(READ_COUNT, 33, 1, "read count when the record was made (1 when made "   \
			     "at first sight)")                                    \
	X(RESERVED, 34, 5, "reserved, 0")                                          \
	X(CRC, 39, 1, "CRC-16/MODBUS over words +0..+38, high byte first")

enum {
#define FWI_X_REC(name, offset, words, text) \
	FWI_REC_##name = (offset), FWI_REC_##name##_WORDS = (words),
	FWI_RECORD_FIELDS(FWI_X_REC)
#undef FWI_X_REC
};

#define FWI_EPC_MAX_BITS 256
#define FWI_EPC_MAX_BYTES (FWI_EPC_MAX_BITS / 8)
#define FWI_TID_BYTES 12

/* X(NAME, bit, text): record flag bits. */
#define FWI_RECORD_FLAG_BITS(X)                                            \
	X(VALID, 0, "valid")                                               \
	X(TID_VALID, 1, "TID valid")                                       \
	X(CLOCK_SYNCED, 2, "clock synchronised")                           \
	X(GAP, 3, "gap before this record (records were dropped)")

enum {
#define FWI_X_FLAG(name, bit, text) FWI_RF_##name = 1u << (bit),
	FWI_RECORD_FLAG_BITS(FWI_X_FLAG)
#undef FWI_X_FLAG
};
#define FWI_RF_ANTENNA_SHIFT 12
#define FWI_RF_ANTENNA_MASK 0xF000u
#define FWI_RF_KNOWN                                                       \
	(FWI_RF_VALID | FWI_RF_TID_VALID | FWI_RF_CLOCK_SYNCED | FWI_RF_GAP | \
	 FWI_RF_ANTENNA_MASK)

/* ---- Roadside I/O, unit 2 ---------------------------------------------- */

/* X(NAME, addr, text): discrete inputs (FC02). */
#define FWI_IO_INPUTS(X)                                                   \
	X(ENTRY_LOOP, 0, "entry loop occupied")                            \
	X(ENTRY_LOOP_FAULT, 1, "entry loop fault")                         \
	X(EXIT_LOOP, 2, "exit loop occupied")                              \
	X(EXIT_LOOP_FAULT, 3, "exit loop fault")                           \
	X(BARRIER_OPEN, 4, "barrier open limit")                           \
	X(BARRIER_CLOSED, 5, "barrier closed limit")                       \
	X(BARRIER_FAULT, 6, "barrier fault")                               \
	X(RED_LAMP, 7, "red lamp current")                                 \
	X(GREEN_LAMP, 8, "green lamp current")                             \
	X(WATCHDOG_EXPIRED, 9, "host watchdog expired")

/* X(NAME, addr, text): coils (FC01, FC05, FC15); levels, not pulses. */
#define FWI_IO_COILS(X)                                                        \
	X(BARRIER, 0, "barrier open (1 = open and stay open, 0 = close)")      \
	X(RESERVED1, 1, "reserved")                                            \
	X(RED, 2, "red light (interlocked with green; if one FC15 sets both, " \
		  "red wins)")                                                 \
	X(GREEN, 3, "green light (setting one clears the other)")              \
	X(LANE_CLOSED, 4, "lane closed sign")                                  \
	X(BUZZER, 5, "buzzer")

/* X(NAME, addr, words, access, kind, text): input registers (FC04). */
#define FWI_IO_INPUT_REGS(X) \
	X(VEHICLE_COUNT, 0, 2, FWI_R, FWI_U32, "vehicle counter, u32 (exit loop rising edges)")

/* X(NAME, addr, words, access, kind, text): holding registers. */
#define FWI_IO_HOLDING_REGS(X)                                             \
	X(WATCHDOG_TIMEOUT_MS, 0x0010, 1, FWI_RW, FWI_U16,                 \
	  "host watchdog timeout, ms (0 = off, the default)")              \
	X(WATCHDOG, 0x0011, 1, FWI_W, FWI_U16,                             \
	  "host watchdog: the host writes any changing value")

enum {
#define FWI_X_IO_BIT(name, addr, text) FWI_DI_##name = (addr),
	FWI_IO_INPUTS(FWI_X_IO_BIT)
#undef FWI_X_IO_BIT
#define FWI_X_IO_COIL(name, addr, text) FWI_CO_##name = (addr),
	FWI_IO_COILS(FWI_X_IO_COIL)
#undef FWI_X_IO_COIL
#define FWI_X_IO_REG(name, addr, words, access, kind, text) \
	FWI_IR_##name = (addr), FWI_IR_##name##_WORDS = (words),
	FWI_IO_INPUT_REGS(FWI_X_IO_REG)
#undef FWI_X_IO_REG
#define FWI_X_IO_REG(name, addr, words, access, kind, text) \
	FWI_IOH_##name = (addr), FWI_IOH_##name##_WORDS = (words),
	FWI_IO_HOLDING_REGS(FWI_X_IO_REG)
#undef FWI_X_IO_REG
};

#define FWI_IO_INPUT_COUNT 10
#define FWI_IO_COIL_COUNT 6
#define FWI_IO_IR_COUNT 2
#define FWI_IO_HR_COUNT 0x0012

/* ---- Driver display, unit 3, holding registers ------------------------ */

/* X(NAME, addr, words, access, kind, text) */
#define FWI_DISPLAY_REGS(X)                                                \
	X(FEE, 0x0000, 2, FWI_RW, FWI_U32, "fee, VND, u32")                \
	X(BALANCE, 0x0002, 2, FWI_RW, FWI_S32,                             \
	  "balance after the debit, VND, s32")                             \
	X(MESSAGE, 0x0004, 1, FWI_RW, FWI_U16, "message code (below)")     \
	X(PLATE, 0x0005, 6, FWI_RW, FWI_TEXT, "plate, 12 chars")           \
	X(UPDATE_SEQ, 0x000B, 1, FWI_RW, FWI_U16,                          \
	  "update seq: written last; the display shows the new content "   \
	  "when it changes")

enum {
#define FWI_X_DSP(name, addr, words, access, kind, text) \
	FWI_DSP_##name = (addr), FWI_DSP_##name##_WORDS = (words),
	FWI_DISPLAY_REGS(FWI_X_DSP)
#undef FWI_X_DSP
};
#define FWI_DISPLAY_HR_COUNT 0x000C
#define FWI_PLATE_CHARS 12

/* X(NAME, code, text): display message codes. */
#define FWI_DISPLAY_MESSAGES(X)                                            \
	X(BLANK, 0, "blank")                                               \
	X(THANK_YOU, 1, "thank you")                                       \
	X(LOW_BALANCE, 2, "low balance")                                   \
	X(INSUFFICIENT, 3, "insufficient balance: use another lane")       \
	X(TAG_INVALID, 4, "tag invalid")                                   \
	X(TAG_NOT_READ, 5, "tag not read")                                 \
	X(LANE_CLOSED, 6, "lane closed")

enum fwi_message {
#define FWI_X_MSG(name, code, text) FWI_MSG_##name = (code),
	FWI_DISPLAY_MESSAGES(FWI_X_MSG)
#undef FWI_X_MSG
};
#define FWI_MSG_COUNT 7

/* ---- Tables for code that walks the map ------------------------------- */

struct fwi_field {
	const char *name;
	uint16_t addr;
	uint16_t words;
	enum fwi_access access;
	enum fwi_kind kind;
	const char *text;
};

struct fwi_bit {
	const char *name;
	uint16_t bit;
	const char *text;
};

extern const struct fwi_field fwi_reader_fields[];
extern const size_t fwi_reader_field_count;
extern const struct fwi_field fwi_io_input_reg_fields[];
extern const size_t fwi_io_input_reg_field_count;
extern const struct fwi_field fwi_io_holding_fields[];
extern const size_t fwi_io_holding_field_count;
extern const struct fwi_field fwi_display_fields[];
extern const size_t fwi_display_field_count;
extern const struct fwi_bit fwi_reader_status_bits[];
extern const size_t fwi_reader_status_bit_count;
extern const struct fwi_bit fwi_record_flag_bits[];
extern const size_t fwi_record_flag_bit_count;
extern const struct fwi_bit fwi_io_input_bits[];
extern const size_t fwi_io_input_bit_count;
extern const struct fwi_bit fwi_io_coil_bits[];
extern const size_t fwi_io_coil_bit_count;
extern const struct fwi_bit fwi_display_messages[];
extern const size_t fwi_display_message_count;

/* The field that holds register addr in a table, or NULL (reserved). */
const struct fwi_field *fwi_field_at(const struct fwi_field *fields,
				     size_t count, uint16_t addr);

/* Whether a write of nb registers at addr (function fc: 6 or 16) is allowed
 * by a holding-register map of hr_count registers: every word must belong to
 * a writable field, and a W_WHOLE field must be covered whole by one FC16.
 * Returns 0 or FWI_EXCEPTION_ILLEGAL_ADDRESS. */
int fwi_check_write(const struct fwi_field *fields, size_t count,
		    uint16_t hr_count, int fc, uint16_t addr, uint16_t nb);

/* Text for a display message code, or NULL when unknown. */
const char *fwi_message_text(unsigned code);

#endif

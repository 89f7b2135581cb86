/* test_sim_devices.c: the simulator presents the firmware interface exactly,
 * checked from outside with a libmodbus client, over TCP and RTU:
 * identity, the FIFO contract (no read lost or repeated across repeated,
 * stale and future ACKs; overflow drops the newest read, counts it, and
 * flags the gap; reboot detected by boot id), write rules and exceptions,
 * unknown unit ids unanswered, host watchdogs, barrier, lights and display. */
#include <errno.h>
#include <inttypes.h>
#include <modbus.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "fwi_codec.h"
#include "itest.h"

static char ctl_path[512];
static char workdir[256];

#define ctl(...) itest_sim_ctl(ctl_path, workdir, __VA_ARGS__)

static uint32_t
u32_at(const uint16_t *r, int i)
{
	return ((uint32_t)r[i] << 16) | r[i + 1];
}

struct poll_result {
	struct fwi_mini_header hdr;
	struct fwi_record rec[FWI_WINDOW_RECORDS];
	int nrec;
	int bad; /* slots that failed to decode (neither valid nor empty) */
};

static int
poll_window(modbus_t *ctx, struct poll_result *pr)
{
	uint16_t regs[FWI_POLL_WORDS];
	uint8_t bytes[2 * FWI_POLL_WORDS];

	memset(pr, 0, sizeof(*pr));
	if (modbus_read_registers(ctx, FWI_POLL_ADDR, FWI_POLL_WORDS, regs) != FWI_POLL_WORDS)
		return -1;
	toll_words_to_bytes(regs, FWI_POLL_WORDS, bytes);
	if (fwi_mini_header_decode(bytes, 10, &pr->hdr) != 0)
		return -1;
	for (int i = 0; i < FWI_WINDOW_RECORDS; i++) {
		int rc = fwi_record_decode(bytes + 10 + i * FWI_RECORD_BYTES, FWI_RECORD_BYTES,
					   &pr->rec[pr->nrec]);
		if (rc == 0)
			pr->nrec++;
		else if (rc != TOLL_EEMPTY)
			pr->bad++;
	}
	return 0;
}

static int
write_ack(modbus_t *ctx, uint32_t seq)
{
	uint16_t w[2];
	fwi_ack_encode(seq, w);
	return modbus_write_registers(ctx, FWI_RD_ACK, 2, w);
}

static int
read_reg(modbus_t *ctx, int addr, int n, uint16_t *out)
{
	return modbus_read_registers(ctx, addr, n, out) == n ? 0 : -1;
}

/* Wait until the reader's last seq reaches want. */
static int
wait_last_seq(modbus_t *ctx, uint32_t want, int timeout_ms)
{
	int64_t deadline = itest_now_ms() + timeout_ms;
	uint16_t r[2];
	while (itest_now_ms() < deadline) {
		if (read_reg(ctx, FWI_RD_LAST_SEQ, 2, r) == 0 && u32_at(r, 0) >= want)
			return 0;
		itest_sleep_ms(20);
	}
	return -1;
}

static modbus_t *
connect_tcp(int port, int unit)
{
	modbus_t *ctx = modbus_new_tcp("127.0.0.1", port);
	if (ctx == NULL)
		return NULL;
	modbus_set_slave(ctx, unit);
	modbus_set_response_timeout(ctx, 0, 500000);
	if (modbus_connect(ctx) != 0) {
		modbus_free(ctx);
		return NULL;
	}
	return ctx;
}

/* Store-then-ACK drain, with every kind of ACK misuse in between. */
static void
drain_with_misused_acks(modbus_t *ctx, uint32_t expect_first, uint32_t expect_n,
			const char *epc_prefix)
{
	uint32_t next = expect_first, got = 0;
	int64_t deadline = itest_now_ms() + 10000;
	int repeats = 0;

	while (got < expect_n && itest_now_ms() < deadline) {
		struct poll_result pr;
		if (poll_window(ctx, &pr) != 0) {
			ITEST_CHECK(0, "poll failed: %s", modbus_strerror(errno));
			return;
		}
		ITEST_CHECK(pr.bad == 0, "%d undecodable slots", pr.bad);
		if (pr.nrec == 0) {
			itest_sleep_ms(10);
			continue;
		}
		ITEST_CHECK(pr.hdr.head_seq == pr.rec[0].seq, "head seq %" PRIu32 " vs window %" PRIu32,
			    pr.hdr.head_seq, pr.rec[0].seq);
		uint32_t high = 0;
		for (int i = 0; i < pr.nrec; i++) {
			char epc[65];
			fwi_epc_hex(&pr.rec[i], epc);
			ITEST_CHECK(pr.rec[i].seq == next, "record seq %" PRIu32 ", expected %" PRIu32
				    " (lost or repeated)", pr.rec[i].seq, next);
			ITEST_CHECK(strncmp(epc, epc_prefix, strlen(epc_prefix)) == 0,
				    "record %" PRIu32 " epc %s", pr.rec[i].seq, epc);
			next = pr.rec[i].seq + 1;
			high = pr.rec[i].seq;
			got++;
		}
		/* ACK, then the same ACK again as after a lost response, a stale
		 * one, and one from the future: only the first may act. */
		ITEST_CHECK(write_ack(ctx, high) == 2, "ack: %s", modbus_strerror(errno));
		ITEST_CHECK(write_ack(ctx, high) == 2, "repeated ack: %s", modbus_strerror(errno));
		if (high > 1)
			ITEST_CHECK(write_ack(ctx, high - 1) == 2, "stale ack refused");
		ITEST_CHECK(write_ack(ctx, high + 1000) == 2, "future ack refused");
		repeats++;
	}
	ITEST_CHECK(got == expect_n, "drained %" PRIu32 " of %" PRIu32 " records", got, expect_n);
	uint16_t r[8];
	ITEST_CHECK(read_reg(ctx, FWI_RD_FIFO_COUNT, 8, r) == 0, "read counters");
	ITEST_CHECK(r[0] == 0, "fifo count %u after drain", r[0]);
	ITEST_CHECK(u32_at(r, FWI_RD_ACKED_SEQ - FWI_RD_FIFO_COUNT) == expect_first + expect_n - 1,
		    "acked seq %" PRIu32, u32_at(r, FWI_RD_ACKED_SEQ - FWI_RD_FIFO_COUNT));
}

static void
test_identity(modbus_t *ctx, unsigned fifo_cap)
{
	uint16_t r[0x1A];
	ITEST_CHECK(read_reg(ctx, 0, 0x1A, r) == 0, "identity read: %s", modbus_strerror(errno));
	ITEST_CHECK(r[FWI_RD_MAGIC] == FWI_READER_MAGIC, "magic 0x%04x", r[FWI_RD_MAGIC]);
	ITEST_CHECK(r[FWI_RD_MAP_VERSION] == 1, "map version %u", r[FWI_RD_MAP_VERSION]);
	ITEST_CHECK(r[FWI_RD_RECORD_WORDS] == 40, "record words %u", r[FWI_RD_RECORD_WORDS]);
	ITEST_CHECK(r[FWI_RD_WINDOW_RECORDS] == 3, "window %u", r[FWI_RD_WINDOW_RECORDS]);
	ITEST_CHECK(r[FWI_RD_FIFO_CAPACITY] == fifo_cap, "fifo cap %u", r[FWI_RD_FIFO_CAPACITY]);
	/* a block read across reserved space reads zeros; past the end fails */
	uint16_t big[125];
	ITEST_CHECK(read_reg(ctx, 0x0100 - 125 + 0x78, 125, big) == 0, "read across reserved");
	ITEST_CHECK(modbus_read_registers(ctx, 0x0170, 10, big) == -1 && errno == EMBXILADD,
		    "read past the map: %s", modbus_strerror(errno));
	uint16_t cfg[9];
	ITEST_CHECK(read_reg(ctx, FWI_RD_MODE, 9, cfg) == 0, "config read");
	ITEST_CHECK(cfg[0] == 1 && cfg[2] == 300 && (int16_t)cfg[6] == -800 && cfg[7] == 10 && cfg[8] == 0,
		    "boot configuration mode=%u power=%u floor=%d rereport=%u wd=%u",
		    cfg[0], cfg[2], (int16_t)cfg[6], cfg[7], cfg[8]);
}

static void
test_write_rules(modbus_t *ctx, int port)
{
	uint16_t one = 1;
	/* ACK by FC06 or half of it: exception 02 */
	ITEST_CHECK(modbus_write_register(ctx, FWI_RD_ACK, 1) == -1 && errno == EMBXILADD,
		    "FC06 ACK: %s", modbus_strerror(errno));
	ITEST_CHECK(modbus_write_registers(ctx, FWI_RD_ACK + 1, 1, &one) == -1 && errno == EMBXILADD,
		    "partial ACK: %s", modbus_strerror(errno));
	/* read-only and reserved */
	ITEST_CHECK(modbus_write_register(ctx, FWI_RD_MAGIC, 1) == -1 && errno == EMBXILADD,
		    "write magic: %s", modbus_strerror(errno));
	ITEST_CHECK(modbus_write_register(ctx, 0x0043, 1) == -1 && errno == EMBXILADD,
		    "write reserved: %s", modbus_strerror(errno));
	/* a function the reader does not have */
	uint8_t bits[4];
	ITEST_CHECK(modbus_read_bits(ctx, 0, 1, bits) == -1 && errno == EMBXILFUN,
		    "FC01 to reader: %s", modbus_strerror(errno));
	/* values out of bounds */
	ITEST_CHECK(modbus_write_register(ctx, FWI_RD_MODE, 7) == -1 && errno == EMBXILVAL,
		    "mode 7: %s", modbus_strerror(errno));
	/* write-only registers read back the last value written */
	ITEST_CHECK(modbus_write_register(ctx, FWI_RD_WATCHDOG, 0x1234) == 1, "watchdog write");
	uint16_t r;
	ITEST_CHECK(read_reg(ctx, FWI_RD_WATCHDOG, 1, &r) == 0 && r == 0x1234, "watchdog read back %u", r);

	/* a unit id nobody has is not answered */
	modbus_t *c9 = connect_tcp(port, 9);
	ITEST_CHECK(c9 != NULL, "connect for unit 9");
	if (c9) {
		modbus_set_response_timeout(c9, 0, 200000);
		ITEST_CHECK(modbus_read_registers(c9, 0, 1, &r) == -1 && errno == ETIMEDOUT,
			    "unit 9 answered: %s", modbus_strerror(errno));
		modbus_close(c9);
		modbus_free(c9);
	}
}

static void
test_fifo(modbus_t *ctx)
{
	/* 7 reads, drained through the window with misused ACKs */
	for (int i = 0; i < 7; i++)
		ITEST_CHECK(ctl("tag lane=0 epc=aa00000000000000000000%02x ms=60", i) == 0, "ctl tag %d", i);
	ITEST_CHECK(wait_last_seq(ctx, 7, 5000) == 0, "7 records made");
	drain_with_misused_acks(ctx, 1, 7, "aa");

	/* overflow: capacity 8, 11 reads, no ACK: 3 dropped, newest first */
	for (int i = 0; i < 11; i++) {
		ITEST_CHECK(ctl("tag lane=0 epc=bb00000000000000000000%02x ms=40", i) == 0, "ctl tag");
		itest_sleep_ms(60); /* one presence after the other, in order */
	}
	uint16_t r[24];
	int64_t deadline = itest_now_ms() + 5000;
	while (itest_now_ms() < deadline) {
		if (read_reg(ctx, FWI_RD_DROPPED, 2, r) == 0 && u32_at(r, 0) >= 3)
			break;
		itest_sleep_ms(20);
	}
	ITEST_CHECK(read_reg(ctx, FWI_RD_HEARTBEAT, 24, r) == 0, "counters");
	uint16_t st = r[FWI_RD_STATUS - FWI_RD_HEARTBEAT];
	ITEST_CHECK(u32_at(r, FWI_RD_DROPPED - FWI_RD_HEARTBEAT) == 3, "dropped %" PRIu32,
		    u32_at(r, FWI_RD_DROPPED - FWI_RD_HEARTBEAT));
	ITEST_CHECK(r[FWI_RD_FIFO_COUNT - FWI_RD_HEARTBEAT] == 8, "fifo count %u",
		    r[FWI_RD_FIFO_COUNT - FWI_RD_HEARTBEAT]);
	ITEST_CHECK(st & FWI_ST_OVERFLOW, "overflow bit, status 0x%04x", st);
	ITEST_CHECK(st & FWI_ST_FIFO_HIGH, "high water bit, status 0x%04x", st);
	ITEST_CHECK(u32_at(r, FWI_RD_LAST_SEQ - FWI_RD_HEARTBEAT) == 15, "dropped reads take no seq: last %" PRIu32,
		    u32_at(r, FWI_RD_LAST_SEQ - FWI_RD_HEARTBEAT));
	/* the records kept are the oldest 8: bb..00 to bb..07 */
	drain_with_misused_acks(ctx, 8, 8, "bb");
	/* the next record carries the gap flag */
	ITEST_CHECK(ctl("tag lane=0 epc=cc0000000000000000000001 ms=60") == 0, "ctl tag");
	ITEST_CHECK(wait_last_seq(ctx, 16, 5000) == 0, "record after overflow");
	struct poll_result pr;
	ITEST_CHECK(poll_window(ctx, &pr) == 0 && pr.nrec == 1, "one record");
	ITEST_CHECK(pr.nrec == 1 && (pr.rec[0].flags & FWI_RF_GAP), "gap flag after overflow");
	ITEST_CHECK(write_ack(ctx, 16) == 2, "ack");
	/* clear the latched overflow bit */
	ITEST_CHECK(modbus_write_register(ctx, FWI_RD_CLEAR_STATUS, FWI_ST_OVERFLOW | FWI_ST_REBOOTED) == 1,
		    "clear status");
	ITEST_CHECK(read_reg(ctx, FWI_RD_STATUS, 1, r) == 0 && !(r[0] & FWI_ST_OVERFLOW), "overflow cleared");
}

static void
test_reboot(modbus_t *ctx)
{
	uint16_t r[2], r2[2];
	ITEST_CHECK(read_reg(ctx, FWI_RD_BOOT_ID, 2, r) == 0, "boot id");
	ITEST_CHECK(ctl("tag lane=0 epc=dd0000000000000000000001 ms=60") == 0, "ctl tag");
	ITEST_CHECK(wait_last_seq(ctx, 17, 5000) == 0, "record before reboot");
	ITEST_CHECK(ctl("reboot lane=0") == 0, "ctl reboot");
	/* silent while booting, then a new boot id, empty FIFO, seq from 0 */
	int64_t deadline = itest_now_ms() + 10000;
	int silent = 0;
	modbus_set_response_timeout(ctx, 0, 100000);
	while (itest_now_ms() < deadline) {
		if (read_reg(ctx, FWI_RD_BOOT_ID, 2, r2) == 0 && u32_at(r2, 0) != u32_at(r, 0))
			break;
		silent++;
		modbus_flush(ctx);
	}
	modbus_set_response_timeout(ctx, 0, 500000);
	ITEST_CHECK(silent > 0, "reader answered while booting");
	ITEST_CHECK(u32_at(r2, 0) != u32_at(r, 0), "boot id unchanged after reboot");
	uint16_t c[24];
	ITEST_CHECK(read_reg(ctx, FWI_RD_HEARTBEAT, 24, c) == 0, "counters after reboot");
	ITEST_CHECK(c[FWI_RD_STATUS - FWI_RD_HEARTBEAT] & FWI_ST_REBOOTED, "rebooted bit");
	ITEST_CHECK(c[FWI_RD_FIFO_COUNT - FWI_RD_HEARTBEAT] == 0, "FIFO lost at reboot");
	ITEST_CHECK(u32_at(c, FWI_RD_LAST_SEQ - FWI_RD_HEARTBEAT) == 0, "seq restarts");
	/* a stale ACK from before the reboot is harmless */
	ITEST_CHECK(write_ack(ctx, 17) == 2, "stale ack");
	ITEST_CHECK(ctl("tag lane=0 epc=ee0000000000000000000001 ms=60") == 0, "ctl tag");
	ITEST_CHECK(wait_last_seq(ctx, 1, 5000) == 0, "first record after reboot");
	struct poll_result pr;
	ITEST_CHECK(poll_window(ctx, &pr) == 0 && pr.nrec == 1 && pr.rec[0].seq == 1,
		    "seq 1 after reboot");
	ITEST_CHECK(write_ack(ctx, 1) == 2, "ack");
}

static void
test_reader_watchdog(modbus_t *ctx)
{
	uint16_t st;
	ITEST_CHECK(modbus_write_register(ctx, FWI_RD_WATCHDOG_TIMEOUT_MS, 200) == 1, "set wd");
	int64_t deadline = itest_now_ms() + 3000;
	while (itest_now_ms() < deadline) {
		if (read_reg(ctx, FWI_RD_STATUS, 1, &st) == 0 && (st & FWI_ST_WATCHDOG_EXPIRED))
			break;
		itest_sleep_ms(20);
	}
	ITEST_CHECK(st & FWI_ST_WATCHDOG_EXPIRED, "reader watchdog expired bit");
	/* it keeps reading into its FIFO */
	uint16_t r[2];
	ITEST_CHECK(read_reg(ctx, FWI_RD_LAST_SEQ, 2, r) == 0, "last seq");
	uint32_t before = u32_at(r, 0);
	ITEST_CHECK(ctl("tag lane=0 epc=ff0000000000000000000001 ms=60") == 0, "ctl tag");
	ITEST_CHECK(wait_last_seq(ctx, before + 1, 5000) == 0, "reads buffered while expired");
	ITEST_CHECK(modbus_write_register(ctx, FWI_RD_WATCHDOG, 0x4321) == 1, "feed");
	ITEST_CHECK(read_reg(ctx, FWI_RD_STATUS, 1, &st) == 0 && !(st & FWI_ST_WATCHDOG_EXPIRED),
		    "fed watchdog clears the bit");
	ITEST_CHECK(modbus_write_register(ctx, FWI_RD_WATCHDOG_TIMEOUT_MS, 0) == 1, "wd off");
}

static void
test_io(int port)
{
	modbus_t *io = connect_tcp(port, FWI_UNIT_IO);
	uint8_t di[10], co[6];
	uint16_t r;

	ITEST_CHECK(io != NULL, "connect io");
	if (io == NULL)
		return;
	ITEST_CHECK(modbus_read_input_bits(io, 0, 10, di) == 10, "inputs");
	ITEST_CHECK(di[FWI_DI_BARRIER_CLOSED] == 1 && di[FWI_DI_BARRIER_OPEN] == 0, "barrier closed at start");
	/* reserved coil and registers refuse writes */
	ITEST_CHECK(modbus_write_bit(io, FWI_CO_RESERVED1, 1) == -1 && errno == EMBXILADD, "coil 1 reserved");
	ITEST_CHECK(modbus_write_register(io, 0x0000, 1) == -1 && errno == EMBXILADD, "io hr 0 reserved");
	ITEST_CHECK(modbus_read_registers(io, 0, 0x12, (uint16_t[0x12]){0}) == 0x12, "io hr read");
	/* red and green are interlocked; one FC15 setting both: red wins */
	uint8_t both[2] = {1, 1};
	ITEST_CHECK(modbus_write_bits(io, FWI_CO_RED, 2, both) == 2, "fc15: %s", modbus_strerror(errno));
	ITEST_CHECK(modbus_write_bits(io, 0, 4, (uint8_t[4]){0}) == -1 && errno == EMBXILADD,
		    "fc15 over the reserved coil: %s", modbus_strerror(errno));
	ITEST_CHECK(modbus_read_bits(io, 0, 6, co) == 6 && co[FWI_CO_RED] == 1 && co[FWI_CO_GREEN] == 0,
		    "red wins: red=%u green=%u", co[2], co[3]);
	ITEST_CHECK(modbus_write_bit(io, FWI_CO_GREEN, 1) == 1, "green");
	ITEST_CHECK(modbus_read_bits(io, 0, 6, co) == 6 && co[FWI_CO_RED] == 0 && co[FWI_CO_GREEN] == 1,
		    "green clears red");
	/* the barrier takes time to reach its open limit */
	ITEST_CHECK(modbus_write_bit(io, FWI_CO_BARRIER, 1) == 1, "open barrier");
	ITEST_CHECK(modbus_read_input_bits(io, 0, 10, di) == 10 && di[FWI_DI_BARRIER_OPEN] == 0,
		    "barrier open at once");
	int64_t t0 = itest_now_ms(), deadline = t0 + 5000;
	while (itest_now_ms() < deadline) {
		if (modbus_read_input_bits(io, 0, 10, di) == 10 && di[FWI_DI_BARRIER_OPEN])
			break;
		itest_sleep_ms(10);
	}
	ITEST_CHECK(di[FWI_DI_BARRIER_OPEN] == 1 && di[FWI_DI_BARRIER_CLOSED] == 0, "barrier opened");
	ITEST_CHECK(di[FWI_DI_GREEN_LAMP] == 1, "green lamp current");
	/* the host watchdog: red, barrier forced closed and held */
	ITEST_CHECK(modbus_write_register(io, FWI_IOH_WATCHDOG_TIMEOUT_MS, 200) == 1, "io wd");
	deadline = itest_now_ms() + 3000;
	while (itest_now_ms() < deadline) {
		if (modbus_read_input_bits(io, 0, 10, di) == 10 && di[FWI_DI_WATCHDOG_EXPIRED])
			break;
		itest_sleep_ms(20);
	}
	ITEST_CHECK(di[FWI_DI_WATCHDOG_EXPIRED] == 1, "io watchdog expired");
	ITEST_CHECK(modbus_read_bits(io, 0, 6, co) == 6 && co[FWI_CO_BARRIER] == 0 && co[FWI_CO_RED] == 1 &&
		    co[FWI_CO_GREEN] == 0, "watchdog: barrier=%u red=%u green=%u", co[0], co[2], co[3]);
	ITEST_CHECK(modbus_write_bit(io, FWI_CO_BARRIER, 1) == 1, "open accepted");
	ITEST_CHECK(modbus_read_bits(io, 0, 6, co) == 6 && co[FWI_CO_BARRIER] == 0,
		    "open ignored while the watchdog has expired");
	ITEST_CHECK(modbus_write_register(io, FWI_IOH_WATCHDOG, 7) == 1, "feed io wd");
	ITEST_CHECK(modbus_write_bit(io, FWI_CO_BARRIER, 1) == 1 &&
		    modbus_read_bits(io, 0, 6, co) == 6 && co[FWI_CO_BARRIER] == 1,
		    "open works again after a new watchdog value");
	ITEST_CHECK(modbus_write_register(io, FWI_IOH_WATCHDOG_TIMEOUT_MS, 0) == 1, "io wd off");
	ITEST_CHECK(modbus_write_bit(io, FWI_CO_BARRIER, 0) == 1, "close");
	ITEST_CHECK(modbus_read_registers(io, FWI_IOH_WATCHDOG, 1, &r) == 1 && r == 7, "io wd read back");
	modbus_close(io);
	modbus_free(io);
}

static void
test_vehicle_through(modbus_t *rd, int port)
{
	/* A vehicle: the tag is read before the loop, the vehicle stops at the
	 * closed barrier, passes when it opens, and counts on the exit loop. */
	modbus_t *io = connect_tcp(port, FWI_UNIT_IO);
	modbus_t *dsp = connect_tcp(port, FWI_UNIT_DISPLAY);
	uint16_t r[2], ir[2];
	uint8_t di[10];

	ITEST_CHECK(io && dsp, "connect io and display");
	if (!io || !dsp)
		return;
	ITEST_CHECK(modbus_read_input_registers(io, 0, 2, ir) == 2, "vehicle counter");
	uint32_t count0 = u32_at(ir, 0);
	ITEST_CHECK(read_reg(rd, FWI_RD_LAST_SEQ, 2, r) == 0, "last seq");
	uint32_t last = u32_at(r, 0);
	ITEST_CHECK(ctl("vehicle lane=0 epc=3034257bf7194e4000001a85 tid=e2801160200074cf085609bc class=2 speed=30") == 0,
		    "ctl vehicle");
	ITEST_CHECK(wait_last_seq(rd, last + 1, 10000) == 0, "vehicle's tag read");
	struct poll_result pr;
	ITEST_CHECK(poll_window(rd, &pr) == 0 && pr.nrec >= 1, "window");
	if (pr.nrec >= 1) {
		char epc[65], tid[25];
		fwi_epc_hex(&pr.rec[pr.nrec - 1], epc);
		fwi_tid_hex(&pr.rec[pr.nrec - 1], tid);
		ITEST_CHECK(strcmp(epc, "3034257bf7194e4000001a85") == 0, "epc %s", epc);
		ITEST_CHECK(strcmp(tid, "e2801160200074cf085609bc") == 0, "tid %s", tid);
		ITEST_CHECK(pr.rec[pr.nrec - 1].read_count == 1, "read count");
		write_ack(rd, pr.rec[pr.nrec - 1].seq);
	}
	/* wait for the entry loop */
	int64_t deadline = itest_now_ms() + 10000;
	while (itest_now_ms() < deadline) {
		if (modbus_read_input_bits(io, 0, 10, di) == 10 && di[FWI_DI_ENTRY_LOOP])
			break;
		itest_sleep_ms(10);
	}
	ITEST_CHECK(di[FWI_DI_ENTRY_LOOP] == 1, "entry loop occupied");
	/* display first, update seq last */
	/* fee 35,000; balance 120,000 (0x0001D4C0); thank you; plate "51A12345" */
	uint16_t d[11] = {0, 35000, 0x0001, 0xD4C0, FWI_MSG_THANK_YOU,
			  0x3531, 0x4131, 0x3233, 0x3435, 0, 0};
	ITEST_CHECK(modbus_write_registers(dsp, 0, 11, d) == 11, "display content");
	uint16_t seq = 1;
	ITEST_CHECK(modbus_write_registers(dsp, FWI_DSP_UPDATE_SEQ, 1, &seq) == 1, "display seq");
	ITEST_CHECK(modbus_write_bit(io, FWI_CO_GREEN, 1) == 1, "green");
	ITEST_CHECK(modbus_write_bit(io, FWI_CO_BARRIER, 1) == 1, "open");
	/* exit loop rising edge counts the vehicle; then close */
	deadline = itest_now_ms() + 15000;
	while (itest_now_ms() < deadline) {
		if (modbus_read_input_registers(io, 0, 2, ir) == 2 && u32_at(ir, 0) == count0 + 1)
			break;
		itest_sleep_ms(20);
	}
	ITEST_CHECK(u32_at(ir, 0) == count0 + 1, "vehicle counted: %" PRIu32, u32_at(ir, 0));
	ITEST_CHECK(modbus_write_bit(io, FWI_CO_BARRIER, 0) == 1, "close");
	ITEST_CHECK(ctl("wait-idle ms=20000") == 0, "road empty");
	modbus_close(io);
	modbus_free(io);
	modbus_close(dsp);
	modbus_free(dsp);
}

/* Collect every record of a reader until it has been quiet for quiet_ms
 * (bounded by timeout_ms), acknowledging as it goes. */
static int
collect(modbus_t *rd, struct fwi_record *out, int max, int quiet_ms, int timeout_ms)
{
	int n = 0;
	int64_t deadline = itest_now_ms() + timeout_ms, last = itest_now_ms();

	while (itest_now_ms() < deadline && itest_now_ms() - last < quiet_ms) {
		struct poll_result pr;
		if (poll_window(rd, &pr) != 0)
			return -1;
		for (int i = 0; i < pr.nrec && n < max; i++)
			out[n++] = pr.rec[i];
		if (pr.nrec > 0) {
			write_ack(rd, pr.rec[pr.nrec - 1].seq);
			last = itest_now_ms();
		}
		itest_sleep_ms(20);
	}
	return n;
}

static int
count_epc(const struct fwi_record *r, int n, const char *epc)
{
	int k = 0;
	for (int i = 0; i < n; i++) {
		char e[65];
		fwi_epc_hex(&r[i], e);
		k += strcmp(e, epc) == 0;
	}
	return k;
}

/* Field faults from the scenario language: a tag also read by the
 * neighbouring lane (weaker), a tag reported again after the re-report
 * window, an unreadable tag, a reader that goes offline. */
static void
test_faults(int port)
{
	modbus_t *rd0 = connect_tcp(port, FWI_UNIT_READER);
	modbus_t *rd1 = connect_tcp(port + 1, FWI_UNIT_READER);
	modbus_t *io0 = connect_tcp(port, FWI_UNIT_IO);
	modbus_t *io1 = connect_tcp(port + 1, FWI_UNIT_IO);
	struct fwi_record r0[32], r1[32];
	uint16_t one = 1, r;

	ITEST_CHECK(rd0 && rd1 && io0 && io1, "connect both lanes");
	if (!rd0 || !rd1 || !io0 || !io1)
		return;
	/* both barriers up, so vehicles drive through; re-report window 1 s */
	ITEST_CHECK(modbus_write_bit(io0, FWI_CO_BARRIER, 1) == 1, "open lane 0");
	ITEST_CHECK(modbus_write_bit(io1, FWI_CO_BARRIER, 1) == 1, "open lane 1");
	ITEST_CHECK(modbus_write_register(rd0, FWI_RD_REREPORT_S, one) == 1, "rereport 1 s");
	collect(rd0, r0, 32, 100, 2000);
	collect(rd1, r1, 32, 100, 2000);

	ITEST_CHECK(ctl("vehicle lane=0 epc=a100000000000000000000a1 speed=40 rssi=-500 neighbour=1 repeat=2") == 0,
		    "ctl vehicle");
	ITEST_CHECK(ctl("vehicle lane=1 epc=b100000000000000000000b1 speed=40 unreadable") == 0, "ctl vehicle");
	ITEST_CHECK(ctl("wait-idle ms=30000") == 0, "road empty");
	int n0 = collect(rd0, r0, 32, 2500, 10000);
	int n1 = collect(rd1, r1, 32, 500, 5000);
	ITEST_CHECK(count_epc(r0, n0, "a100000000000000000000a1") == 2,
		    "lane 0 reports its tag twice (repeat=2), got %d of %d", count_epc(r0, n0, "a100000000000000000000a1"), n0);
	ITEST_CHECK(count_epc(r1, n1, "a100000000000000000000a1") == 1, "lane 1 reads the neighbour's tag once");
	for (int i = 0; i < n1; i++)
		if (count_epc(&r1[i], 1, "a100000000000000000000a1"))
			ITEST_CHECK(r1[i].rssi_dbm_x10 == -620, "neighbour read weaker: %d", r1[i].rssi_dbm_x10);
	ITEST_CHECK(count_epc(r1, n1, "b100000000000000000000b1") == 0, "unreadable tag not read");
	uint16_t ir[2];
	ITEST_CHECK(modbus_read_input_registers(io1, 0, 2, ir) == 2 && u32_at(ir, 0) >= 1,
		    "the unreadable vehicle passed lane 1's exit loop");

	/* offline: the reader stops answering, the I/O unit does not */
	ITEST_CHECK(ctl("offline lane=1 unit=reader ms=1500") == 0, "ctl offline");
	modbus_set_response_timeout(rd1, 0, 200000);
	ITEST_CHECK(modbus_read_registers(rd1, 0, 1, &r) == -1 && errno == ETIMEDOUT, "offline reader silent");
	ITEST_CHECK(modbus_read_registers(io1, FWI_IOH_WATCHDOG_TIMEOUT_MS, 1, &r) == 1, "io answers");
	int64_t deadline = itest_now_ms() + 5000;
	int back = 0;
	while (!back && itest_now_ms() < deadline) {
		modbus_flush(rd1);
		back = modbus_read_registers(rd1, 0, 1, &r) == 1 && r == FWI_READER_MAGIC;
	}
	ITEST_CHECK(back, "reader back after offline");

	ITEST_CHECK(modbus_write_bit(io0, FWI_CO_BARRIER, 0) == 1, "close lane 0");
	ITEST_CHECK(modbus_write_bit(io1, FWI_CO_BARRIER, 0) == 1, "close lane 1");
	modbus_t *all[] = {rd0, rd1, io0, io1};
	for (int i = 0; i < 4; i++) {
		modbus_close(all[i]);
		modbus_free(all[i]);
	}
}

static void
test_rtu(void)
{
	char dir[300], log[400], lane0[320], ctlsock[320];
	snprintf(dir, sizeof(dir), "%s/rtu", workdir);
	mkdir(dir, 0755);
	snprintf(log, sizeof(log), "%s/sim-rtu.log", workdir);
	snprintf(ctlsock, sizeof(ctlsock), "%s/rtu.sock", workdir);
	int port = itest_free_ports(1);
	char portarg[64];
	snprintf(portarg, sizeof(portarg), "127.0.0.1:%d", port);
	char *argv[] = {(char *)itest_bin("toll-sim"), "devices", "--listen", portarg, "--rtu", dir,
			"--ctl", ctlsock, "--fifo", "16", "--seed", "7", NULL};
	static struct itest_proc p;
	ITEST_CHECK(itest_start(&p, log, argv) == 0, "start rtu sim");
	ITEST_CHECK(itest_wait_port(port, 10000) == 0, "rtu sim ready");
	snprintf(lane0, sizeof(lane0), "%s/lane0", dir);

	modbus_t *ctx = modbus_new_rtu(lane0, 115200, 'N', 8, 1);
	ITEST_CHECK(ctx != NULL, "rtu ctx");
	if (ctx == NULL) {
		itest_stop(&p, 5000);
		return;
	}
	modbus_set_slave(ctx, FWI_UNIT_READER);
	modbus_set_response_timeout(ctx, 0, 500000);
	ITEST_CHECK(modbus_connect(ctx) == 0, "rtu connect %s: %s", lane0, modbus_strerror(errno));
	test_identity(ctx, 16);
	snprintf(ctl_path, sizeof(ctl_path), "%s", ctlsock);
	for (int i = 0; i < 5; i++)
		ITEST_CHECK(ctl("tag lane=0 epc=aa00000000000000000000%02x ms=60", i) == 0, "ctl tag");
	ITEST_CHECK(wait_last_seq(ctx, 5, 5000) == 0, "5 records over rtu");
	drain_with_misused_acks(ctx, 1, 5, "aa");
	ITEST_CHECK(modbus_write_register(ctx, FWI_RD_ACK, 1) == -1 && errno == EMBXILADD,
		    "FC06 ACK over rtu: %s", modbus_strerror(errno));
	/* other units on the same bus */
	modbus_set_slave(ctx, FWI_UNIT_IO);
	uint8_t di[10];
	ITEST_CHECK(modbus_read_input_bits(ctx, 0, 10, di) == 10 && di[FWI_DI_BARRIER_CLOSED], "io over rtu");
	modbus_set_slave(ctx, 9);
	modbus_set_response_timeout(ctx, 0, 200000);
	uint16_t r;
	ITEST_CHECK(modbus_read_registers(ctx, 0, 1, &r) == -1 && errno == ETIMEDOUT, "unit 9 silent on rtu");
	modbus_close(ctx);
	modbus_free(ctx);
	ITEST_CHECK(itest_stop(&p, 5000) == 0, "rtu sim stops cleanly on SIGTERM");
}

int
main(void)
{
	char log[400], portarg[64];
	const char *tmp = getenv("TMPDIR");

	snprintf(workdir, sizeof(workdir), "%s/toll-itest-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(workdir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	printf("work dir %s\n", workdir);
	snprintf(log, sizeof(log), "%s/sim.log", workdir);
	snprintf(ctl_path, sizeof(ctl_path), "%s/sim.sock", workdir);
	int port = itest_free_ports(2);
	snprintf(portarg, sizeof(portarg), "127.0.0.1:%d", port);
	char *argv[] = {(char *)itest_bin("toll-sim"), "devices", "--listen", portarg, "--lanes", "2",
			"--ctl", ctl_path, "--fifo", "8", "--boot-ms", "300", "--seed", "1", NULL};
	static struct itest_proc p;
	if (itest_start(&p, log, argv) != 0 || itest_wait_port(port, 10000) != 0) {
		fprintf(stderr, "simulator did not start; log %s\n", log);
		return 1;
	}
	modbus_t *ctx = connect_tcp(port, FWI_UNIT_READER);
	ITEST_CHECK(ctx != NULL, "connect reader: %s", modbus_strerror(errno));
	if (ctx != NULL) {
		test_identity(ctx, 8);
		test_write_rules(ctx, port);
		test_fifo(ctx);
		test_reboot(ctx);
		test_reader_watchdog(ctx);
		test_io(port);
		test_vehicle_through(ctx, port);
		test_faults(port);
		modbus_close(ctx);
		modbus_free(ctx);
	}
	ITEST_CHECK(itest_alive(&p), "simulator still running");
	ITEST_CHECK(itest_stop(&p, 5000) == 0, "simulator stops cleanly on SIGTERM");
	test_rtu();
	if (itest_failed)
		fprintf(stderr, "logs in %s\n", workdir);
	return itest_finish();
}

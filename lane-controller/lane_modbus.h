/* lane_modbus.h: one Modbus connection of the lane controller (a TCP
 * endpoint or an RTU serial line), the only file that talks to libmodbus as
 * a client and translates its errors.
 *
 * Every call is bounded by the link's response timeout.  A link error
 * (refused, reset, timeout, garbled answer) closes the connection and backs
 * off (100 ms doubling to 5 s) before the next attempt; while backing off
 * calls fail at once with TOLL_ECLOSED, so a dead device costs its lane one
 * timeout per backoff period, never a stall.  On RTU a timeout only flushes
 * the line (one silent unit says nothing about the others on the bus); the
 * device layer backs off per unit.  TCP devices each get their own link
 * even behind one endpoint, so a silent unit never closes another's.  MODBUS_ERROR_RECOVERY_LINK is never used (it can block for
 * seconds).  A Modbus exception from the device is TOLL_EEXCEPTION and does
 * not close the link.  Not thread-safe: one thread per link. */
#ifndef LANE_MODBUS_H
#define LANE_MODBUS_H

#include <stdint.h>

#define LANE_ENDPOINT_MAX 128

struct lane_link;

struct lane_link_stats {
	uint64_t requests, errors, timeouts, exceptions, connects, connect_failures;
};

/* endpoint: "tcp:HOST:PORT" or "rtu:DEVICE[:BAUD[:8N1]]" */
int lane_link_new(const char *endpoint, int timeout_ms, struct lane_link **out);
void lane_link_free(struct lane_link *k);
/* Check an endpoint string; 0 or TOLL_EINVAL. */
int lane_endpoint_check(const char *endpoint);

int lane_link_read_regs(struct lane_link *k, int unit, int addr, int n, uint16_t *out);
int lane_link_write_regs(struct lane_link *k, int unit, int addr, int n, const uint16_t *v);
int lane_link_write_reg(struct lane_link *k, int unit, int addr, uint16_t v);
int lane_link_read_inputs(struct lane_link *k, int unit, int addr, int n, uint8_t *out);
int lane_link_read_coils(struct lane_link *k, int unit, int addr, int n, uint8_t *out);
int lane_link_read_input_regs(struct lane_link *k, int unit, int addr, int n, uint16_t *out);
int lane_link_write_coil(struct lane_link *k, int unit, int addr, int on);

/* 1 when connected (or connectable now), 0 while backing off. */
int lane_link_up(const struct lane_link *k);
const char *lane_link_endpoint(const struct lane_link *k);
const struct lane_link_stats *lane_link_stats(const struct lane_link *k);
/* The last Modbus exception code (after TOLL_EEXCEPTION). */
int lane_link_last_exception(const struct lane_link *k);

#endif

/* lane_modbus.c: Modbus client links with timeouts, backoff and error
 * translation. */
#include <errno.h>
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "lane_modbus.h"
#include "log.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

struct lane_link {
	char endpoint[LANE_ENDPOINT_MAX];
	int rtu;
	modbus_t *ctx;
	int connected;
	int timeout_ms;
	int64_t retry_at_ms;
	int64_t backoff_ms;
	int last_exception;
	int logged_down;
	struct lane_link_stats stats;
};

struct endpoint {
	int rtu;
	char host[LANE_ENDPOINT_MAX];
	int port;
	int baud;
	char parity;
	int data_bits, stop_bits;
};

static int
parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != 0 || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

static int
parse_endpoint(const char *s, struct endpoint *e)
{
	char buf[LANE_ENDPOINT_MAX];
	char *p, *q;

	if (strlen(s) >= sizeof(buf))
		return TOLL_EINVAL;
	memset(e, 0, sizeof(*e));
	strcpy(buf, s);
	if (strncmp(buf, "tcp:", 4) == 0) {
		p = buf + 4;
		q = strrchr(p, ':');
		if (q == NULL || q == p)
			return TOLL_EINVAL;
		*q = 0;
		if (parse_int(q + 1, 1, 65535, &e->port) != 0)
			return TOLL_EINVAL;
		strcpy(e->host, p);
		return 0;
	}
	if (strncmp(buf, "rtu:", 4) == 0) {
		e->rtu = 1;
		e->baud = 115200;
		e->parity = 'N';
		e->data_bits = 8;
		e->stop_bits = 1;
		p = buf + 4;
		q = strchr(p, ':');
		if (q != NULL)
			*q++ = 0;
		if (*p == 0)
			return TOLL_EINVAL;
		strcpy(e->host, p);
		if (q == NULL)
			return 0;
		p = q;
		q = strchr(p, ':');
		if (q != NULL)
			*q++ = 0;
		if (parse_int(p, 1200, 4000000, &e->baud) != 0)
			return TOLL_EINVAL;
		if (q == NULL)
			return 0;
		if (strlen(q) != 3 || (q[0] != '7' && q[0] != '8') ||
		    (q[1] != 'N' && q[1] != 'E' && q[1] != 'O') || (q[2] != '1' && q[2] != '2'))
			return TOLL_EINVAL;
		e->data_bits = q[0] - '0';
		e->parity = q[1];
		e->stop_bits = q[2] - '0';
		return 0;
	}
	return TOLL_EINVAL;
}

int
lane_endpoint_check(const char *endpoint)
{
	struct endpoint e;
	return parse_endpoint(endpoint, &e);
}

int
lane_link_new(const char *endpoint, int timeout_ms, struct lane_link **out)
{
	struct endpoint e;
	struct lane_link *k;

	if (parse_endpoint(endpoint, &e) != 0 || timeout_ms < 1 || timeout_ms > 60000)
		return TOLL_EINVAL;
	k = calloc(1, sizeof(*k));
	if (k == NULL)
		return TOLL_ENOMEM;
	snprintf(k->endpoint, sizeof(k->endpoint), "%s", endpoint);
	k->rtu = e.rtu;
	k->timeout_ms = timeout_ms;
	if (e.rtu)
		k->ctx = modbus_new_rtu(e.host, e.baud, e.parity, e.data_bits, e.stop_bits);
	else
		k->ctx = modbus_new_tcp(e.host, e.port);
	if (k->ctx == NULL) {
		free(k);
		return TOLL_ENOMEM;
	}
	modbus_set_error_recovery(k->ctx, MODBUS_ERROR_RECOVERY_NONE);
	modbus_set_response_timeout(k->ctx, (uint32_t)(timeout_ms / 1000),
				    (uint32_t)(timeout_ms % 1000) * 1000);
	/* between bytes of one answer: a fraction of the whole */
	modbus_set_byte_timeout(k->ctx, 0, (uint32_t)(timeout_ms > 20 ? timeout_ms / 2 : 10) * 1000);
	k->backoff_ms = BACKOFF_MIN_MS;
	*out = k;
	return 0;
}

void
lane_link_free(struct lane_link *k)
{
	if (k == NULL)
		return;
	if (k->connected)
		modbus_close(k->ctx);
	modbus_free(k->ctx);
	free(k);
}

static void
link_down(struct lane_link *k, int err)
{
	int64_t now = toll_mono_ms();

	if (k->connected) {
		if (k->rtu)
			modbus_flush(k->ctx);
		modbus_close(k->ctx);
		k->connected = 0;
	}
	k->retry_at_ms = now + k->backoff_ms;
	k->backoff_ms *= 2;
	if (k->backoff_ms > BACKOFF_MAX_MS)
		k->backoff_ms = BACKOFF_MAX_MS;
	if (!k->logged_down) {
		toll_warn("modbus %s: link down: %s", k->endpoint, modbus_strerror(err));
		k->logged_down = 1;
	}
}

/* Connect if needed; 0 when the link can be used now. */
static int
link_ready(struct lane_link *k)
{
	if (k->connected)
		return 0;
	if (toll_mono_ms() < k->retry_at_ms)
		return TOLL_ECLOSED;
	k->stats.connects++;
	if (modbus_connect(k->ctx) != 0) {
		k->stats.connect_failures++;
		link_down(k, errno);
		return TOLL_ECLOSED;
	}
	k->connected = 1;
	if (k->logged_down) {
		toll_notice("modbus %s: link up", k->endpoint);
		k->logged_down = 0;
	}
	return 0;
}

/* Translate the result of one libmodbus call. */
static int
link_result(struct lane_link *k, int rc, int want)
{
	int err = errno;

	k->stats.requests++;
	if (rc == want) {
		k->backoff_ms = BACKOFF_MIN_MS;
		return 0;
	}
	k->stats.errors++;
	if (rc >= 0) {
		link_down(k, EMBBADDATA);
		return TOLL_EMODBUS;
	}
	if (err >= EMBXILFUN && err <= EMBXGTAR) {
		/* the device answered with an exception: the link is fine */
		k->stats.exceptions++;
		k->last_exception = err - MODBUS_ENOBASE;
		return TOLL_EEXCEPTION;
	}
	if (err == ETIMEDOUT) {
		k->stats.timeouts++;
		if (k->rtu) {
			/* one silent unit on a bus says nothing about the
			 * others: drop any late bytes and go on */
			modbus_flush(k->ctx);
			return TOLL_ETIMEDOUT;
		}
		/* TCP: a late answer would arrive in the next exchange */
		link_down(k, err);
		return TOLL_ETIMEDOUT;
	}
	link_down(k, err);
	return TOLL_EMODBUS;
}

#define LINK_CALL(k, unit, want, call)                                    \
	do {                                                              \
		int r_ = link_ready(k);                                   \
		if (r_ != 0)                                              \
			return r_;                                        \
		modbus_set_slave((k)->ctx, (unit));                       \
		return link_result((k), (call), (want));                  \
	} while (0)

int
lane_link_read_regs(struct lane_link *k, int unit, int addr, int n, uint16_t *out)
{
	LINK_CALL(k, unit, n, modbus_read_registers(k->ctx, addr, n, out));
}

int
lane_link_write_regs(struct lane_link *k, int unit, int addr, int n, const uint16_t *v)
{
	LINK_CALL(k, unit, n, modbus_write_registers(k->ctx, addr, n, v));
}

int
lane_link_write_reg(struct lane_link *k, int unit, int addr, uint16_t v)
{
	LINK_CALL(k, unit, 1, modbus_write_register(k->ctx, addr, v));
}

int
lane_link_read_inputs(struct lane_link *k, int unit, int addr, int n, uint8_t *out)
{
	LINK_CALL(k, unit, n, modbus_read_input_bits(k->ctx, addr, n, out));
}

int
lane_link_read_coils(struct lane_link *k, int unit, int addr, int n, uint8_t *out)
{
	LINK_CALL(k, unit, n, modbus_read_bits(k->ctx, addr, n, out));
}

int
lane_link_read_input_regs(struct lane_link *k, int unit, int addr, int n, uint16_t *out)
{
	LINK_CALL(k, unit, n, modbus_read_input_registers(k->ctx, addr, n, out));
}

int
lane_link_write_coil(struct lane_link *k, int unit, int addr, int on)
{
	LINK_CALL(k, unit, 1, modbus_write_bit(k->ctx, addr, on ? 1 : 0));
}

int
lane_link_up(const struct lane_link *k)
{
	return k->connected || toll_mono_ms() >= k->retry_at_ms;
}

const char *lane_link_endpoint(const struct lane_link *k) { return k->endpoint; }
const struct lane_link_stats *lane_link_stats(const struct lane_link *k) { return &k->stats; }
int lane_link_last_exception(const struct lane_link *k) { return k->last_exception; }

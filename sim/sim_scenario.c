/* sim_scenario.c: parsing, writing and generating roadside commands. */
#include <errno.h>
#include <math.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "sim_io.h"
#include "sim_scenario.h"

#define fail(err, errlen, ...) toll_errf((err), (errlen), TOLL_EFORMAT, __VA_ARGS__)

static int
parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == 0)
		return -1;
	errno = 0;
	v = strtoll(s, &end, 0);
	if (errno != 0 || *end != 0 || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int
sim_hex_parse(const char *hex, uint8_t *out, size_t max, uint16_t *bits)
{
	size_t n = strlen(hex);

	if (n == 0 || n > 2 * max)
		return TOLL_ERANGE;
	memset(out, 0, max);
	for (size_t i = 0; i < n; i++) {
		char c = hex[i];
		int d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return TOLL_EFORMAT;
		out[i / 2] |= (uint8_t)(i % 2 == 0 ? d << 4 : d);
	}
	*bits = (uint16_t)(4 * n);
	return 0;
}

void
sim_hex_format(const uint8_t *in, size_t nbytes, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < nbytes; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * nbytes] = 0;
}

static const char *const io_fault_names[SIM_IO_FAULT_COUNT] = {
	[SIM_IO_FAULT_ENTRY_LOOP] = "entry-loop",
	[SIM_IO_FAULT_EXIT_LOOP] = "exit-loop",
	[SIM_IO_FAULT_BARRIER] = "barrier",
	[SIM_IO_FAULT_RED_LAMP] = "red-lamp",
	[SIM_IO_FAULT_GREEN_LAMP] = "green-lamp",
};

static const struct {
	const char *name;
	enum sim_cmd_kind kind;
	int ctl_only;
} cmd_names[] = {
	{"vehicle", SIM_CMD_VEHICLE, 0},
	{"tag", SIM_CMD_TAG, 0},
	{"reboot", SIM_CMD_REBOOT, 0},
	{"offline", SIM_CMD_OFFLINE, 0},
	{"io-fault", SIM_CMD_IO_FAULT, 0},
	{"reader-fault", SIM_CMD_READER_FAULT, 0},
	{"status", SIM_CMD_STATUS, 1},
	{"stats", SIM_CMD_STATS, 1},
	{"wait-idle", SIM_CMD_WAIT_IDLE, 1},
	{"quit", SIM_CMD_QUIT, 1},
};

static void
vehicle_defaults(struct sim_vehicle_spec *v)
{
	memset(v, 0, sizeof(*v));
	v->vclass = 1;
	v->speed_kmh = 30;
	v->rssi_dbm_x10 = -550;
	v->neighbour = -1;
	v->repeat = 1;
}

int
sim_cmd_parse(const char *line, int with_time, unsigned nlanes,
	      struct sim_cmd *cmd, char *err, size_t errlen)
{
	char buf[SIM_LINE_MAX];
	char *save = NULL, *tok;
	size_t len = strlen(line);
	int neighbour_next = 0;
	int have_epc = 0;

	if (len >= sizeof(buf))
		return fail(err, errlen, "line longer than %d characters", SIM_LINE_MAX - 1);
	memcpy(buf, line, len + 1);
	memset(cmd, 0, sizeof(*cmd));
	cmd->lane = -1;
	vehicle_defaults(&cmd->v);

	tok = strtok_r(buf, " \t\r\n", &save);
	if (tok == NULL)
		return fail(err, errlen, "empty command");
	if (with_time) {
		if (parse_i64(tok, 0, INT64_MAX / 2, &cmd->at_ms) != 0)
			return fail(err, errlen, "bad time '%s': want ms from the start", tok);
		tok = strtok_r(NULL, " \t\r\n", &save);
		if (tok == NULL)
			return fail(err, errlen, "missing command after the time");
	}
	size_t k;
	for (k = 0; k < sizeof(cmd_names) / sizeof(cmd_names[0]); k++)
		if (strcmp(tok, cmd_names[k].name) == 0)
			break;
	if (k == sizeof(cmd_names) / sizeof(cmd_names[0]))
		return fail(err, errlen, "unknown command '%s'", tok);
	if (with_time && cmd_names[k].ctl_only)
		return fail(err, errlen, "'%s' is a control command, not a scenario event", tok);
	cmd->kind = cmd_names[k].kind;
	if (cmd->kind == SIM_CMD_TAG)
		cmd->ms = 200;

	while ((tok = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
		char *eq = strchr(tok, '=');
		const char *key = tok, *val = NULL;
		int64_t n;

		if (eq != NULL) {
			*eq = 0;
			val = eq + 1;
		}
#define NEED_VAL()                                                                   \
	do {                                                                         \
		if (val == NULL || *val == 0)                                        \
			return fail(err, errlen, "'%s' needs a value (%s=...)", key, key); \
	} while (0)
		if (strcmp(key, "lane") == 0) {
			NEED_VAL();
			if (parse_i64(val, 0, (int64_t)nlanes - 1, &n) != 0)
				return fail(err, errlen, "bad lane '%s': lanes are 0..%u", val, nlanes - 1);
			cmd->lane = (int)n;
		} else if (strcmp(key, "epc") == 0) {
			NEED_VAL();
			if (sim_hex_parse(val, cmd->v.epc, sizeof(cmd->v.epc), &cmd->v.epc_bits) != 0)
				return fail(err, errlen, "bad epc '%s': want 1 to 64 hex digits", val);
			have_epc = 1;
		} else if (strcmp(key, "tid") == 0) {
			uint16_t bits;
			NEED_VAL();
			if (sim_hex_parse(val, cmd->v.tid, sizeof(cmd->v.tid), &bits) != 0 ||
			    bits != 8 * FWI_TID_BYTES)
				return fail(err, errlen, "bad tid '%s': want 24 hex digits", val);
			cmd->v.has_tid = 1;
		} else if (strcmp(key, "class") == 0) {
			NEED_VAL();
			if (parse_i64(val, 1, 5, &n) != 0)
				return fail(err, errlen, "bad class '%s': classes are 1..5", val);
			cmd->v.vclass = (unsigned)n;
		} else if (strcmp(key, "speed") == 0) {
			NEED_VAL();
			if (parse_i64(val, 1, 150, &n) != 0)
				return fail(err, errlen, "bad speed '%s': want 1..150 km/h", val);
			cmd->v.speed_kmh = (unsigned)n;
		} else if (strcmp(key, "rssi") == 0) {
			NEED_VAL();
			if (parse_i64(val, -1000, 0, &n) != 0)
				return fail(err, errlen, "bad rssi '%s': want -1000..0 (dBm x 10)", val);
			cmd->v.rssi_dbm_x10 = (int16_t)n;
		} else if (strcmp(key, "plate") == 0) {
			NEED_VAL();
			if (strlen(val) > FWI_PLATE_CHARS)
				return fail(err, errlen, "plate '%s' longer than %d characters", val, FWI_PLATE_CHARS);
			for (const char *c = val; *c; c++)
				if (*c < 0x21 || *c > 0x7E)
					return fail(err, errlen, "plate '%s': printable ASCII only", val);
			strcpy(cmd->v.plate, val);
		} else if (strcmp(key, "notag") == 0 && val == NULL) {
			cmd->v.epc_bits = 0;
			have_epc = -1;
		} else if (strcmp(key, "unreadable") == 0 && val == NULL) {
			cmd->v.unreadable = 1;
		} else if (strcmp(key, "neighbour") == 0) {
			if (val == NULL) {
				neighbour_next = 1;
			} else {
				if (parse_i64(val, 0, (int64_t)nlanes - 1, &n) != 0)
					return fail(err, errlen, "bad neighbour lane '%s'", val);
				cmd->v.neighbour = (int)n;
			}
		} else if (strcmp(key, "repeat") == 0) {
			NEED_VAL();
			if (parse_i64(val, 1, 10, &n) != 0)
				return fail(err, errlen, "bad repeat '%s': want 1..10", val);
			cmd->v.repeat = (unsigned)n;
		} else if (strcmp(key, "ms") == 0) {
			NEED_VAL();
			if (parse_i64(val, 0, 24LL * 3600 * 1000, &n) != 0)
				return fail(err, errlen, "bad ms '%s'", val);
			cmd->ms = n;
		} else if (strcmp(key, "unit") == 0) {
			NEED_VAL();
			if (strcmp(val, "reader") == 0)
				cmd->units = SIM_UNIT_READER;
			else if (strcmp(val, "io") == 0)
				cmd->units = SIM_UNIT_IO;
			else if (strcmp(val, "display") == 0)
				cmd->units = SIM_UNIT_DISPLAY;
			else if (strcmp(val, "all") == 0)
				cmd->units = SIM_UNIT_ALL;
			else
				return fail(err, errlen, "bad unit '%s': reader, io, display or all", val);
		} else if (strcmp(key, "what") == 0) {
			NEED_VAL();
			int f;
			for (f = 0; f < SIM_IO_FAULT_COUNT; f++)
				if (strcmp(val, io_fault_names[f]) == 0)
					break;
			if (f == SIM_IO_FAULT_COUNT)
				return fail(err, errlen, "bad io fault '%s': entry-loop, exit-loop, barrier, red-lamp or green-lamp", val);
			cmd->io_fault = f;
		} else if ((strcmp(key, "on") == 0 || strcmp(key, "off") == 0) && val == NULL) {
			cmd->on = strcmp(key, "on") == 0;
		} else if (strcmp(key, "code") == 0) {
			NEED_VAL();
			if (parse_i64(val, 0, 65535, &n) != 0)
				return fail(err, errlen, "bad fault code '%s'", val);
			cmd->fault_code = (uint16_t)n;
		} else if (strcmp(key, "antennas") == 0) {
			NEED_VAL();
			if (parse_i64(val, 0, 15, &n) != 0)
				return fail(err, errlen, "bad antenna mask '%s': want 0..15", val);
			cmd->antenna_faults = (uint16_t)n;
		} else if (strcmp(key, "overtemp") == 0 && val == NULL) {
			cmd->overtemp = 1;
		} else if (strcmp(key, "fatal") == 0 && val == NULL) {
			cmd->fatal = 1;
		} else {
			return fail(err, errlen, "unknown argument '%s'", key);
		}
#undef NEED_VAL
	}

	switch (cmd->kind) {
	case SIM_CMD_VEHICLE:
	case SIM_CMD_TAG:
		if (cmd->lane < 0)
			return fail(err, errlen, "missing lane=N");
		if (have_epc <= 0 && cmd->kind == SIM_CMD_TAG)
			return fail(err, errlen, "a tag needs epc=HEX");
		if (have_epc == 0)
			return fail(err, errlen, "missing epc=HEX (or notag)");
		if (have_epc < 0 && (cmd->v.unreadable || cmd->v.has_tid))
			return fail(err, errlen, "notag with tid or unreadable");
		if (neighbour_next) {
			if (nlanes < 2)
				return fail(err, errlen, "neighbour needs at least 2 lanes");
			cmd->v.neighbour = cmd->lane + 1 < (int)nlanes ? cmd->lane + 1 : cmd->lane - 1;
		}
		if (cmd->v.neighbour == cmd->lane)
			return fail(err, errlen, "neighbour lane is the vehicle's own lane");
		break;
	case SIM_CMD_REBOOT:
	case SIM_CMD_READER_FAULT:
		if (cmd->lane < 0)
			return fail(err, errlen, "missing lane=N");
		break;
	case SIM_CMD_OFFLINE:
		if (cmd->lane < 0 || cmd->units == 0)
			return fail(err, errlen, "offline needs lane=N unit=reader|io|display|all ms=N");
		break;
	case SIM_CMD_IO_FAULT:
		if (cmd->lane < 0)
			return fail(err, errlen, "missing lane=N");
		break;
	case SIM_CMD_WAIT_IDLE:
		if (cmd->ms == 0)
			cmd->ms = 60000;
		break;
	default:
		break;
	}
	return 0;
}

int
sim_cmd_format(const struct sim_cmd *c, char *out, size_t outlen)
{
	char epc[2 * FWI_EPC_MAX_BYTES + 1], tid[2 * FWI_TID_BYTES + 1];
	int n;

	epc[0] = tid[0] = 0;
	if (c->v.epc_bits > 0)
		sim_hex_format(c->v.epc, (c->v.epc_bits + 7) / 8, epc);
	/* epc_bits from hex is a multiple of 4: print exactly that many digits */
	epc[c->v.epc_bits / 4] = 0;
	if (c->v.has_tid)
		sim_hex_format(c->v.tid, FWI_TID_BYTES, tid);

	switch (c->kind) {
	case SIM_CMD_VEHICLE:
		n = snprintf(out, outlen, "%" PRId64 " vehicle lane=%d %s%s%s%s class=%u speed=%u rssi=%d",
			     c->at_ms, c->lane,
			     c->v.epc_bits ? "epc=" : "notag", epc,
			     c->v.has_tid ? " tid=" : "", tid,
			     c->v.vclass, c->v.speed_kmh, c->v.rssi_dbm_x10);
		if (n > 0 && c->v.plate[0])
			n += snprintf(out + n, outlen > (size_t)n ? outlen - (size_t)n : 0, " plate=%s", c->v.plate);
		if (n > 0 && c->v.unreadable)
			n += snprintf(out + n, outlen > (size_t)n ? outlen - (size_t)n : 0, " unreadable");
		if (n > 0 && c->v.neighbour >= 0)
			n += snprintf(out + n, outlen > (size_t)n ? outlen - (size_t)n : 0, " neighbour=%d", c->v.neighbour);
		if (n > 0 && c->v.repeat > 1)
			n += snprintf(out + n, outlen > (size_t)n ? outlen - (size_t)n : 0, " repeat=%u", c->v.repeat);
		if (n > 0)
			n += snprintf(out + n, outlen > (size_t)n ? outlen - (size_t)n : 0, "\n");
		break;
	case SIM_CMD_TAG:
		n = snprintf(out, outlen, "%" PRId64 " tag lane=%d epc=%s%s%s rssi=%d ms=%" PRId64 "\n",
			     c->at_ms, c->lane, epc, c->v.has_tid ? " tid=" : "", tid,
			     c->v.rssi_dbm_x10, c->ms);
		break;
	case SIM_CMD_REBOOT:
		n = snprintf(out, outlen, "%" PRId64 " reboot lane=%d\n", c->at_ms, c->lane);
		break;
	case SIM_CMD_OFFLINE:
		n = snprintf(out, outlen, "%" PRId64 " offline lane=%d unit=%s ms=%" PRId64 "\n",
			     c->at_ms, c->lane,
			     c->units == SIM_UNIT_READER ? "reader" :
			     c->units == SIM_UNIT_IO ? "io" :
			     c->units == SIM_UNIT_DISPLAY ? "display" : "all",
			     c->ms);
		break;
	case SIM_CMD_IO_FAULT:
		n = snprintf(out, outlen, "%" PRId64 " io-fault lane=%d what=%s %s\n",
			     c->at_ms, c->lane, io_fault_names[c->io_fault], c->on ? "on" : "off");
		break;
	case SIM_CMD_READER_FAULT:
		n = snprintf(out, outlen, "%" PRId64 " reader-fault lane=%d code=%u antennas=%u%s%s\n",
			     c->at_ms, c->lane, c->fault_code, c->antenna_faults,
			     c->overtemp ? " overtemp" : "", c->fatal ? " fatal" : "");
		break;
	default:
		return TOLL_EINVAL;
	}
	if (n < 0 || (size_t)n >= outlen)
		return TOLL_ENOSPACE;
	return 0;
}

void
sim_scenario_init(struct sim_scenario *s)
{
	memset(s, 0, sizeof(*s));
}

void
sim_scenario_clear(struct sim_scenario *s)
{
	free(s->cmds);
	sim_scenario_init(s);
}

int
sim_scenario_add(struct sim_scenario *s, const struct sim_cmd *cmd)
{
	if (s->n == SIM_SCENARIO_MAX_CMDS)
		return TOLL_ERANGE;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct sim_cmd *n = realloc(s->cmds, cap * sizeof(*n));
		if (n == NULL)
			return TOLL_ENOMEM;
		s->cmds = n;
		s->cap = cap;
	}
	s->cmds[s->n++] = *cmd;
	return 0;
}

struct order {
	int64_t at_ms;
	size_t idx;
};

static int
order_cmp(const void *a, const void *b)
{
	const struct order *x = a, *y = b;
	if (x->at_ms != y->at_ms)
		return x->at_ms < y->at_ms ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Sort by time, keeping file order for equal times. */
static int
scenario_sort(struct sim_scenario *s)
{
	struct order *o;
	struct sim_cmd *sorted;

	if (s->n < 2)
		return 0;
	o = malloc(s->n * sizeof(*o));
	sorted = malloc(s->n * sizeof(*sorted));
	if (o == NULL || sorted == NULL) {
		free(o);
		free(sorted);
		return TOLL_ENOMEM;
	}
	for (size_t i = 0; i < s->n; i++) {
		o[i].at_ms = s->cmds[i].at_ms;
		o[i].idx = i;
	}
	qsort(o, s->n, sizeof(*o), order_cmp);
	for (size_t i = 0; i < s->n; i++)
		sorted[i] = s->cmds[o[i].idx];
	free(o);
	free(s->cmds);
	s->cmds = sorted;
	s->cap = s->n;
	return 0;
}

/* One line of a scenario file; *have_header tracks the version line. */
static int
load_line(struct sim_scenario *s, char *p, const char *name, unsigned lineno,
	  unsigned nlanes, int *have_header, char *err, size_t errlen)
{
	struct sim_cmd cmd;
	char msg[256];
	int64_t n;

	if (!*have_header) {
		if (strncmp(p, "toll-sim-scenario ", 18) != 0)
			return fail(err, errlen, "%s:%u: not a toll-sim scenario (want 'toll-sim-scenario %d')",
				    name, lineno, SIM_SCENARIO_VERSION);
		if (parse_i64(p + 18, 1, 1000, &n) != 0 || n != SIM_SCENARIO_VERSION)
			return fail(err, errlen, "%s:%u: unsupported scenario version '%s' (this is version %d)",
				    name, lineno, p + 18, SIM_SCENARIO_VERSION);
		*have_header = 1;
		return 0;
	}
	if (strncmp(p, "seed ", 5) == 0) {
		char *end;
		errno = 0;
		s->seed = strtoull(p + 5, &end, 10);
		if (errno != 0 || *end != 0 || p[5] < '0' || p[5] > '9')
			return fail(err, errlen, "%s:%u: bad seed", name, lineno);
		s->has_seed = 1;
		return 0;
	}
	if (strncmp(p, "lanes ", 6) == 0) {
		if (parse_i64(p + 6, 1, 1024, &n) != 0)
			return fail(err, errlen, "%s:%u: bad lanes", name, lineno);
		if ((unsigned)n > nlanes)
			return fail(err, errlen, "%s:%u: scenario made for %d lanes, simulator has %u",
				    name, lineno, (int)n, nlanes);
		return 0;
	}
	if (sim_cmd_parse(p, 1, nlanes, &cmd, msg, sizeof(msg)) != 0)
		return fail(err, errlen, "%s:%u: %s", name, lineno, msg);
	if (sim_scenario_add(s, &cmd) != 0)
		return fail(err, errlen, "%s:%u: too many commands (at most %d)",
			    name, lineno, SIM_SCENARIO_MAX_CMDS);
	return 0;
}

int
sim_scenario_load(struct sim_scenario *s, FILE *f, const char *name,
		  unsigned nlanes, char *err, size_t errlen)
{
	char *line = NULL;
	size_t linecap = 0;
	ssize_t got;
	unsigned lineno = 0;
	int have_header = 0, rc = 0;

	while (rc == 0 && (got = getline(&line, &linecap, f)) >= 0) {
		char *p = line;

		lineno++;
		if (got > SIM_LINE_MAX) {
			rc = fail(err, errlen, "%s:%u: line longer than %d characters",
				  name, lineno, SIM_LINE_MAX);
			break;
		}
		if ((size_t)got != strlen(line)) {
			rc = fail(err, errlen, "%s:%u: NUL byte in the line", name, lineno);
			break;
		}
		line[strcspn(line, "\r\n")] = 0;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == 0)
			continue;
		rc = load_line(s, p, name, lineno, nlanes, &have_header, err, errlen);
	}
	free(line);
	if (rc != 0)
		return rc;
	if (ferror(f))
		return fail(err, errlen, "%s: read error", name);
	if (!have_header)
		return fail(err, errlen, "%s: empty, not a toll-sim scenario", name);
	return scenario_sort(s);
}

int
sim_scenario_write(const struct sim_scenario *s, FILE *f, unsigned nlanes)
{
	char line[SIM_LINE_MAX];

	fprintf(f, "toll-sim-scenario %d\n", SIM_SCENARIO_VERSION);
	if (s->has_seed)
		fprintf(f, "seed %" PRIu64 "\n", s->seed);
	fprintf(f, "lanes %u\n", nlanes);
	for (size_t i = 0; i < s->n; i++) {
		int rc = sim_cmd_format(&s->cmds[i], line, sizeof(line));
		if (rc != 0)
			return rc;
		fputs(line, f);
	}
	return ferror(f) ? TOLL_ESYS : 0;
}

void
sim_gen_defaults(struct sim_gen_params *p)
{
	memset(p, 0, sizeof(*p));
	p->lanes = 1;
	p->duration_ms = 60000;
	p->rate_vph = 600;
	p->notag_ppm = 5000;
	p->unreadable_ppm = 5000;
	p->neighbour_ppm = 30000;
	p->repeat_ppm = 10000;
}

/* Vehicle class shares at a typical plaza, per mille. */
static unsigned
draw_class(struct toll_rng *rng)
{
	static const unsigned share[5] = {700, 120, 80, 60, 40};
	uint64_t x = toll_rng_below(rng, 1000);
	for (unsigned c = 0; c < 5; c++) {
		if (x < share[c])
			return c + 1;
		x -= share[c];
	}
	return 1;
}

int
sim_scenario_generate(struct sim_scenario *s, uint64_t seed,
		      const struct sim_gen_params *p)
{
	struct toll_rng rng;

	if (p->lanes == 0 || p->rate_vph == 0 || p->duration_ms <= 0)
		return TOLL_EINVAL;
	toll_rng_seed(&rng, seed);
	s->seed = seed;
	s->has_seed = 1;
	/* Poisson arrivals per lane, merged by time at the end. */
	for (unsigned lane = 0; lane < p->lanes; lane++) {
		double mean_gap_ms = 3600000.0 / p->rate_vph;
		double t = 0;
		for (;;) {
			/* exponential gap from a uniform in (0,1] */
			double u = (double)(toll_rng_below(&rng, 1u << 30) + 1) / (double)(1u << 30);
			double gap;
			gap = -mean_gap_ms * log(u);
			t += gap;
			if (t >= (double)p->duration_ms)
				break;

			struct sim_cmd c;
			memset(&c, 0, sizeof(c));
			c.kind = SIM_CMD_VEHICLE;
			c.at_ms = (int64_t)t;
			c.lane = (int)lane;
			vehicle_defaults(&c.v);
			if (p->ntags > 0) {
				const struct sim_vehicle_spec *tag = &p->tags[toll_rng_below(&rng, p->ntags)];
				c.v = *tag;
				c.v.neighbour = -1;
				c.v.repeat = 1;
			} else {
				c.v.epc_bits = 96;
				c.v.epc[0] = 0x30;
				for (int i = 1; i < 12; i++)
					c.v.epc[i] = (uint8_t)toll_rng_next(&rng);
				c.v.has_tid = 1;
				c.v.tid[0] = 0xE2;
				c.v.tid[1] = 0x80;
				c.v.tid[2] = 0x11;
				c.v.tid[3] = 0x60;
				for (int i = 4; i < FWI_TID_BYTES; i++)
					c.v.tid[i] = (uint8_t)toll_rng_next(&rng);
				c.v.vclass = draw_class(&rng);
			}
			c.v.speed_kmh = (unsigned)toll_rng_range(&rng, 20, 40);
			c.v.rssi_dbm_x10 = (int16_t)toll_rng_range(&rng, -650, -450);
			if (toll_rng_chance(&rng, p->notag_ppm)) {
				c.v.epc_bits = 0;
				c.v.has_tid = 0;
				memset(c.v.epc, 0, sizeof(c.v.epc));
				memset(c.v.tid, 0, sizeof(c.v.tid));
			} else if (toll_rng_chance(&rng, p->unreadable_ppm)) {
				c.v.unreadable = 1;
			}
			if (p->lanes > 1 && toll_rng_chance(&rng, p->neighbour_ppm))
				c.v.neighbour = lane + 1 < p->lanes ? (int)lane + 1 : (int)lane - 1;
			if (toll_rng_chance(&rng, p->repeat_ppm))
				c.v.repeat = 2;
			int rc = sim_scenario_add(s, &c);
			if (rc != 0)
				return rc;
		}
	}
	return scenario_sort(s);
}

int
sim_tags_load(FILE *f, const char *name, struct sim_vehicle_spec **tags,
	      size_t *ntags, char *err, size_t errlen)
{
	char line[SIM_LINE_MAX + 2];
	unsigned lineno = 0;
	struct sim_vehicle_spec *v = NULL;
	size_t n = 0, cap = 0;

	while (fgets(line, sizeof(line), f) != NULL) {
		char *save = NULL, *epc, *tid, *cls, *plate;
		struct sim_vehicle_spec t;
		int64_t c;

		lineno++;
		line[strcspn(line, "\r\n")] = 0;
		epc = strtok_r(line, " \t,", &save);
		if (epc == NULL || epc[0] == '#')
			continue;
		tid = strtok_r(NULL, " \t,", &save);
		cls = strtok_r(NULL, " \t,", &save);
		plate = strtok_r(NULL, " \t,", &save);
		vehicle_defaults(&t);
		if (sim_hex_parse(epc, t.epc, sizeof(t.epc), &t.epc_bits) != 0)
			goto bad;
		if (tid != NULL && strcmp(tid, "-") != 0) {
			uint16_t bits;
			if (sim_hex_parse(tid, t.tid, sizeof(t.tid), &bits) != 0 || bits != 96)
				goto bad;
			t.has_tid = 1;
		}
		if (cls != NULL && strcmp(cls, "-") != 0) {
			if (parse_i64(cls, 1, 5, &c) != 0)
				goto bad;
			t.vclass = (unsigned)c;
		}
		if (plate != NULL && strcmp(plate, "-") != 0) {
			if (strlen(plate) > FWI_PLATE_CHARS)
				goto bad;
			strcpy(t.plate, plate);
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 1024;
			struct sim_vehicle_spec *nv;
			if (ncap > SIM_SCENARIO_MAX_CMDS) {
				free(v);
				return fail(err, errlen, "%s: more than %d tags", name, SIM_SCENARIO_MAX_CMDS);
			}
			nv = realloc(v, ncap * sizeof(*nv));
			if (nv == NULL) {
				free(v);
				return TOLL_ENOMEM;
			}
			v = nv;
			cap = ncap;
		}
		v[n++] = t;
	}
	if (n == 0) {
		free(v);
		return fail(err, errlen, "%s: no tags", name);
	}
	*tags = v;
	*ntags = n;
	return 0;
bad:
	free(v);
	return fail(err, errlen, "%s:%u: want 'EPC [TID|- [CLASS|- [PLATE]]]' with hex EPC (1-64 digits), 24-digit TID, class 1..5",
		    name, lineno);
}

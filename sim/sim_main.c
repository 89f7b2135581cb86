/* sim_main.c: toll-sim, the roadside simulator.
 *
 *   toll-sim devices   Modbus servers for N lanes of reader, I/O unit and
 *                      display, driven by a scenario or live commands
 *   toll-sim ctl       send one command to a running simulator
 *   toll-sim gen       write a seeded scenario file
 *   toll-sim relay     a fault-injecting relay for the NNG links (sim_relay.h) */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "log.h"
#include "sim_ctl.h"
#include "sim_relay.h"
#include "sim_scenario.h"
#include "sim_server.h"
#include "sim_world.h"

static volatile sig_atomic_t stop_signal;

static void
on_signal(int sig)
{
	stop_signal = sig;
}

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: toll-sim devices [options]   run the simulated roadside devices\n"
		"       toll-sim ctl [--ctl PATH | --port BASE] COMMAND [ARGS...]\n"
		"       toll-sim gen [options]       write a seeded scenario to stdout\n"
		"       toll-sim relay [options]     fault-injecting relay for NNG links\n"
		"       toll-sim --help | --version\n"
		"\n"
		"devices options:\n"
		"  --listen HOST:BASE     Modbus TCP, lane k on port BASE+k (127.0.0.1:1502)\n"
		"  --lanes N              lanes, 1..%d (1)\n"
		"  --rtu DIR              also Modbus RTU on a pseudo-terminal per lane,\n"
		"                         linked as DIR/laneK\n"
		"  --ctl PATH             control socket (${TMPDIR:-/tmp}/toll-sim-BASE.sock)\n"
		"  --scenario FILE        play a scenario file (see toll-sim gen)\n"
		"  --traffic VPH          generate seeded traffic, vehicles an hour per lane\n"
		"  --duration S           length of generated traffic in seconds (60)\n"
		"  --warmup S             generated traffic starts after S seconds (0), the\n"
		"                         time for a lane controller to start and connect\n"
		"  --tags FILE            draw generated vehicles' tags from FILE\n"
		"  --seed N               seed for boot ids and generated traffic (random,\n"
		"                         always printed)\n"
		"  --exit-when-done       stop once the scenario has played and the road is\n"
		"                         empty\n"
		"  --free-flow            lanes without barriers: vehicles never stop\n"
		"  --time-scale K         compress roadside time K times, 1..100 (1): vehicles\n"
		"                         K times faster, barrier travel and --max-wait-ms\n"
		"                         divided by K (load tests)\n"
		"  --fifo N               reader FIFO capacity in records (64)\n"
		"  --antennas N           antennas per reader, 1..4 (2)\n"
		"  --boot-ms MS           reader boot time after a reboot (1500)\n"
		"  --clock-skew-ms MS     reader clock offset at boot (0)\n"
		"  --max-wait-ms MS       wait at a closed barrier before backing out (15000)\n"
		"  --barrier-open-ms MS   barrier travel, closed to open (700)\n"
		"  --barrier-close-ms MS  barrier travel, open to closed (900)\n"
		"  --quiet                no event lines on stdout\n"
		"  --log-level LEVEL      err, warning, notice, info, debug (info)\n"
		"\n"
		"Commands (scenario lines without the time, or live through ctl):\n"
		"  vehicle lane=N epc=HEX [tid=HEX] [class=1..5] [speed=KMH] [rssi=DBMx10]\n"
		"          [plate=TEXT] [notag] [unreadable] [neighbour[=LANE]] [repeat=N]\n"
		"  tag lane=N epc=HEX [tid=HEX] [rssi=DBMx10] [ms=DURATION]\n"
		"  reboot lane=N\n"
		"  offline lane=N unit=reader|io|display|all ms=DURATION\n"
		"  io-fault lane=N what=entry-loop|exit-loop|barrier|red-lamp|green-lamp on|off\n"
		"  reader-fault lane=N [code=N] [antennas=MASK] [overtemp] [fatal]\n"
		"  status [lane=N] | stats | wait-idle [ms=TIMEOUT] | quit\n"
		"\n"
		"gen options: --seed N --lanes N --duration S --rate VPH [--tags FILE]\n"
		"  [--notag PPM] [--unreadable PPM] [--neighbour PPM] [--repeat PPM]\n"
		"\n"
		"relay options (NNG SP-over-TCP, message by message):\n"
		"  --listen HOST:PORT     where the dialer (a lane) connects; repeat --listen\n"
		"  --connect HOST:PORT    and --connect for more routes (paired in order, at most %d)\n"
		"  --seed N               seed for the faults (random, always printed)\n"
		"  --drop PCT             drop this share of messages (0; e.g. 10 or 2.5)\n"
		"  --dup PCT              send this share twice (0)\n"
		"  --reorder PCT          hold this share back to go after the next one (0)\n"
		"  --delay-ms MAX         delay each message 0..MAX ms, order kept (0)\n"
		"  --hold-ms MS           a held message goes anyway after MS (3000)\n"
		"  --max-bytes N          longest message; longer closes the connection (64 MiB)\n"
		"  --down-after-ms A      with --down-ms D: D ms after A ms from the start, cut\n"
		"  --down-ms D            every connection and refuse new ones (central away)\n"
		"  --ctl PATH             control socket: toll-sim ctl --ctl PATH stats |\n"
		"                         down [ms=N] | up | set drop=PCT dup=PCT reorder=PCT\n"
		"                         delay=MS | quit\n"
		"  The counters (forwarded, dropped, duplicated, reordered, per direction)\n"
		"  are printed on SIGTERM and by the stats command.\n",
		SIM_MAX_LANES, SIM_RELAY_MAX_ROUTES);
}

static int
parse_num(const char *opt, const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != 0 || end == s || v < lo || v > hi) {
		toll_err("bad value for %s: '%s' (want %lld..%lld)", opt, s, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

static int
parse_listen(const char *s, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(s, ':');
	long long p;

	if (colon == NULL || (size_t)(colon - s) >= hostlen || colon == s) {
		toll_err("bad --listen '%s': want HOST:PORT", s);
		return -1;
	}
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	if (parse_num("--listen", colon + 1, 1, 65535 - SIM_MAX_LANES, &p) != 0)
		return -1;
	*port = (int)p;
	return 0;
}

static void
default_ctl_path(int port, char *out, size_t len)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(out, len, "%s/toll-sim-%d.sock", tmp && *tmp ? tmp : "/tmp", port);
}

static uint64_t
random_seed(void)
{
	uint64_t seed = 0;
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)toll_real_ms() ^ (uint64_t)getpid();
	return seed % 1000000000000ull; /* short enough to type */
}

static int
load_tags(const char *path, struct sim_vehicle_spec **tags, size_t *ntags)
{
	char err[256];
	FILE *f = fopen(path, "r");
	int rc;

	if (f == NULL) {
		toll_err("could not open tag file %s: %s", path, strerror(errno));
		return -1;
	}
	rc = sim_tags_load(f, path, tags, ntags, err, sizeof(err));
	fclose(f);
	if (rc != 0) {
		toll_err("%s", rc == TOLL_ENOMEM ? "out of memory" : err);
		return -1;
	}
	return 0;
}

enum {
	OPT_LISTEN = 1000, OPT_LANES, OPT_RTU, OPT_CTL, OPT_SCENARIO, OPT_TRAFFIC,
	OPT_DURATION, OPT_TAGS, OPT_SEED, OPT_EXIT_WHEN_DONE, OPT_FREE_FLOW, OPT_FIFO,
	OPT_ANTENNAS, OPT_BOOT_MS, OPT_SKEW, OPT_MAX_WAIT, OPT_BOPEN, OPT_BCLOSE,
	OPT_QUIET, OPT_LOG_LEVEL, OPT_PORT, OPT_RATE, OPT_NOTAG, OPT_UNREADABLE,
	OPT_NEIGHBOUR, OPT_REPEAT, OPT_TIMEOUT, OPT_TIME_SCALE, OPT_WARMUP,
	OPT_CONNECT, OPT_DROP, OPT_DUP, OPT_REORDER, OPT_DELAY, OPT_HOLD, OPT_MAX_BYTES,
	OPT_DOWN_AFTER, OPT_DOWN_MS
};

static const struct option devices_opts[] = {
	{"listen", required_argument, NULL, OPT_LISTEN},
	{"lanes", required_argument, NULL, OPT_LANES},
	{"rtu", required_argument, NULL, OPT_RTU},
	{"ctl", required_argument, NULL, OPT_CTL},
	{"scenario", required_argument, NULL, OPT_SCENARIO},
	{"traffic", required_argument, NULL, OPT_TRAFFIC},
	{"duration", required_argument, NULL, OPT_DURATION},
	{"tags", required_argument, NULL, OPT_TAGS},
	{"seed", required_argument, NULL, OPT_SEED},
	{"exit-when-done", no_argument, NULL, OPT_EXIT_WHEN_DONE},
	{"free-flow", no_argument, NULL, OPT_FREE_FLOW},
	{"time-scale", required_argument, NULL, OPT_TIME_SCALE},
	{"warmup", required_argument, NULL, OPT_WARMUP},
	{"fifo", required_argument, NULL, OPT_FIFO},
	{"antennas", required_argument, NULL, OPT_ANTENNAS},
	{"boot-ms", required_argument, NULL, OPT_BOOT_MS},
	{"clock-skew-ms", required_argument, NULL, OPT_SKEW},
	{"max-wait-ms", required_argument, NULL, OPT_MAX_WAIT},
	{"barrier-open-ms", required_argument, NULL, OPT_BOPEN},
	{"barrier-close-ms", required_argument, NULL, OPT_BCLOSE},
	{"quiet", no_argument, NULL, OPT_QUIET},
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static int
cmd_devices(int argc, char **argv)
{
	struct sim_world_params wp;
	struct sim_gen_params gp;
	struct sim_scenario sc;
	char host[64] = "127.0.0.1", ctl_path[256] = "";
	const char *rtu_dir = NULL, *scenario_path = NULL, *tags_path = NULL;
	int port = 1502, quiet = 0, exit_when_done = 0, have_seed = 0, opt;
	long long v, traffic = 0, duration_s = 60, warmup_s = 0;
	uint64_t seed = 0;
	struct sim_vehicle_spec *tags = NULL;
	size_t ntags = 0, next_cmd = 0;
	struct sim_world *w = NULL;
	struct sim_server *srv = NULL;
	struct sim_ctl *ctl = NULL;
	int rc = 1;

	sim_world_defaults(&wp);
	sim_gen_defaults(&gp);
	sim_scenario_init(&sc);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", devices_opts, NULL)) != -1) {
		switch (opt) {
		case OPT_LISTEN:
			if (parse_listen(optarg, host, sizeof(host), &port) != 0)
				return 2;
			break;
		case OPT_LANES:
			if (parse_num("--lanes", optarg, 1, SIM_MAX_LANES, &v) != 0)
				return 2;
			wp.lanes = (unsigned)v;
			break;
		case OPT_RTU: rtu_dir = optarg; break;
		case OPT_CTL:
			if (strlen(optarg) >= sizeof(ctl_path)) {
				toll_err("--ctl path too long");
				return 2;
			}
			strcpy(ctl_path, optarg);
			break;
		case OPT_SCENARIO: scenario_path = optarg; break;
		case OPT_TRAFFIC:
			if (parse_num("--traffic", optarg, 1, 100000, &traffic) != 0)
				return 2;
			break;
		case OPT_DURATION:
			if (parse_num("--duration", optarg, 1, 30LL * 86400, &duration_s) != 0)
				return 2;
			break;
		case OPT_TAGS: tags_path = optarg; break;
		case OPT_SEED:
			if (parse_num("--seed", optarg, 0, INT64_MAX, &v) != 0)
				return 2;
			seed = (uint64_t)v;
			have_seed = 1;
			break;
		case OPT_EXIT_WHEN_DONE: exit_when_done = 1; break;
		case OPT_FREE_FLOW: wp.free_flow = 1; break;
		case OPT_WARMUP:
			if (parse_num("--warmup", optarg, 0, 3600, &v) != 0)
				return 2;
			warmup_s = v;
			break;
		case OPT_TIME_SCALE:
			if (parse_num("--time-scale", optarg, 1, 100, &v) != 0)
				return 2;
			wp.time_scale = (unsigned)v;
			break;
		case OPT_FIFO:
			if (parse_num("--fifo", optarg, 1, SIM_READER_FIFO_MAX, &v) != 0)
				return 2;
			wp.reader.fifo_capacity = (unsigned)v;
			break;
		case OPT_ANTENNAS:
			if (parse_num("--antennas", optarg, 1, FWI_MAX_ANTENNAS, &v) != 0)
				return 2;
			wp.reader.antenna_count = (unsigned)v;
			break;
		case OPT_BOOT_MS:
			if (parse_num("--boot-ms", optarg, 0, 600000, &v) != 0)
				return 2;
			wp.reader.boot_ms = v;
			break;
		case OPT_SKEW:
			if (parse_num("--clock-skew-ms", optarg, -86400000LL, 86400000LL, &v) != 0)
				return 2;
			wp.reader.clock_skew_ms = v;
			break;
		case OPT_MAX_WAIT:
			if (parse_num("--max-wait-ms", optarg, 100, 3600000, &v) != 0)
				return 2;
			wp.max_wait_ms = v;
			break;
		case OPT_BOPEN:
			if (parse_num("--barrier-open-ms", optarg, 50, 60000, &v) != 0)
				return 2;
			wp.io.barrier_open_ms = v;
			break;
		case OPT_BCLOSE:
			if (parse_num("--barrier-close-ms", optarg, 50, 60000, &v) != 0)
				return 2;
			wp.io.barrier_close_ms = v;
			break;
		case OPT_QUIET: quiet = 1; break;
		case OPT_LOG_LEVEL: {
			int lvl = toll_log_parse_level(optarg);
			if (lvl < 0) {
				toll_err("bad --log-level '%s'", optarg);
				return 2;
			}
			toll_log_set_level(lvl);
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		toll_err("unexpected argument '%s'", argv[optind]);
		return 2;
	}
	if (scenario_path != NULL && traffic > 0) {
		toll_err("--scenario and --traffic cannot be combined");
		return 2;
	}
	if (port + (int)wp.lanes - 1 > 65535) {
		toll_err("ports %d..%d do not fit", port, port + (int)wp.lanes - 1);
		return 2;
	}
	if (!have_seed)
		seed = random_seed();
	if (ctl_path[0] == 0)
		default_ctl_path(port, ctl_path, sizeof(ctl_path));
	wp.seed = seed;
	wp.events = quiet ? NULL : stdout;

	if (scenario_path != NULL) {
		char err[300];
		FILE *f = fopen(scenario_path, "r");
		if (f == NULL) {
			toll_err("could not open scenario %s: %s", scenario_path, strerror(errno));
			return 1;
		}
		int lrc = sim_scenario_load(&sc, f, scenario_path, wp.lanes, err, sizeof(err));
		fclose(f);
		if (lrc != 0) {
			toll_err("%s", lrc == TOLL_ENOMEM ? "out of memory" : err);
			sim_scenario_clear(&sc);
			return 1;
		}
	} else if (traffic > 0) {
		if (tags_path != NULL && load_tags(tags_path, &tags, &ntags) != 0)
			return 1;
		gp.lanes = wp.lanes;
		gp.rate_vph = (unsigned)traffic;
		gp.duration_ms = duration_s * 1000;
		gp.tags = tags;
		gp.ntags = ntags;
		if (sim_scenario_generate(&sc, seed, &gp) != 0) {
			toll_err("could not generate traffic");
			free(tags);
			return 1;
		}
		for (size_t k = 0; k < sc.n; k++)
			sc.cmds[k].at_ms += warmup_s * 1000;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	int64_t start = toll_mono_ms();
	w = sim_world_new(&wp, start, toll_real_ms());
	if (w == NULL) {
		toll_err("could not create the simulated plaza");
		goto out;
	}
	srv = sim_server_new(w, host, port, rtu_dir);
	if (srv == NULL)
		goto out;
	ctl = sim_ctl_new(ctl_path, w, srv);
	if (ctl == NULL)
		goto out;

	printf("toll-sim %s: %u lane%s, seed %" PRIu64 " (replay with --seed %" PRIu64 ")\n",
	       TOLL_VERSION, wp.lanes, wp.lanes == 1 ? "" : "s", seed, seed);
	for (unsigned i = 0; i < wp.lanes; i++) {
		printf("lane %u: modbus tcp %s:%d", i, host, port + (int)i);
		if (sim_server_rtu_path(srv, i) != NULL)
			printf(", modbus rtu %s", sim_server_rtu_path(srv, i));
		printf("\n");
	}
	printf("control: toll-sim ctl --ctl %s status\n", ctl_path);
	if (sc.n > 0)
		printf("scenario: %zu events%s%s\n", sc.n, scenario_path ? " from " : " generated",
		       scenario_path ? scenario_path : "");
	fflush(stdout);

	struct pollfd fds[SIM_SERVER_MAX_CLIENTS + 2 * SIM_MAX_LANES + SIM_CTL_MAX_CLIENTS + 2];
	while (!stop_signal && !sim_ctl_quit_requested(ctl)) {
		int64_t now = toll_mono_ms();
		int nsrv = sim_server_pollfds(srv, fds, (int)(sizeof(fds) / sizeof(fds[0])));
		int nctl = sim_ctl_pollfds(ctl, fds + nsrv, (int)(sizeof(fds) / sizeof(fds[0])) - nsrv);
		int timeout = SIM_STEP_MS;

		if (poll(fds, (nfds_t)(nsrv + nctl), timeout) < 0 && errno != EINTR) {
			toll_err("poll failed: %s", strerror(errno));
			goto out;
		}
		now = toll_mono_ms();
		int64_t real = toll_real_ms();
		sim_world_advance(w, now, real);
		while (next_cmd < sc.n && sc.cmds[next_cmd].at_ms <= now - start) {
			int arc = sim_world_apply(w, &sc.cmds[next_cmd], now, real);
			if (arc != 0)
				toll_warn("scenario event %zu at %" PRId64 " ms not applied: %s",
					  next_cmd, sc.cmds[next_cmd].at_ms, toll_strerror(arc));
			next_cmd++;
		}
		sim_server_dispatch(srv, fds, nsrv, now, real);
		sim_ctl_dispatch(ctl, fds + nsrv, nctl, now, real);
		sim_server_tick(srv, now, real);
		int done = next_cmd == sc.n;
		sim_ctl_tick(ctl, now, done);
		if (exit_when_done && done && sim_world_vehicles_active(w) == 0)
			break;
	}
	if (!quiet || exit_when_done) {
		printf("toll-sim: stopping%s\n", stop_signal ? " on signal" : "");
		sim_world_print_stats(w, stdout);
	}
	rc = 0;
out:
	sim_ctl_free(ctl);
	sim_server_free(srv);
	sim_world_free(w);
	sim_scenario_clear(&sc);
	free(tags);
	return rc;
}

static const struct option ctl_opts[] = {
	{"ctl", required_argument, NULL, OPT_CTL},
	{"port", required_argument, NULL, OPT_PORT},
	{"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static int
cmd_ctl(int argc, char **argv)
{
	char path[256] = "", line[SIM_LINE_MAX];
	int port = 1502, opt;
	long long v, timeout = 0;
	size_t len = 0;

	optind = 1;
	/* Stop at the first non-option: the command's own words follow. */
	while ((opt = getopt_long(argc, argv, "+h", ctl_opts, NULL)) != -1) {
		switch (opt) {
		case OPT_CTL:
			snprintf(path, sizeof(path), "%s", optarg);
			break;
		case OPT_PORT:
			if (parse_num("--port", optarg, 1, 65535, &v) != 0)
				return 2;
			port = (int)v;
			break;
		case OPT_TIMEOUT:
			if (parse_num("--timeout-ms", optarg, 1, 3600000, &timeout) != 0)
				return 2;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		toll_err("ctl needs a command, e.g. toll-sim ctl status");
		return 2;
	}
	if (path[0] == 0)
		default_ctl_path(port, path, sizeof(path));
	line[0] = 0;
	for (int i = optind; i < argc; i++) {
		size_t l = strlen(argv[i]);
		if (len + l + 2 > sizeof(line)) {
			toll_err("command too long");
			return 2;
		}
		if (len > 0)
			line[len++] = ' ';
		memcpy(line + len, argv[i], l + 1);
		len += l;
	}
	if (timeout == 0) {
		/* wait-idle waits up to its own ms=; give the answer time */
		timeout = 10000;
		const char *ms = strstr(line, "ms=");
		if (strncmp(line, "wait-idle", 9) == 0)
			timeout = (ms ? atoll(ms + 3) : 60000) + 5000;
	}
	int rc = sim_ctl_request(path, line, (int)timeout, stdout);
	if (rc == 2)
		toll_err("could not talk to the simulator on %s", path);
	return rc;
}

static const struct option gen_opts[] = {
	{"seed", required_argument, NULL, OPT_SEED},
	{"lanes", required_argument, NULL, OPT_LANES},
	{"duration", required_argument, NULL, OPT_DURATION},
	{"rate", required_argument, NULL, OPT_RATE},
	{"tags", required_argument, NULL, OPT_TAGS},
	{"notag", required_argument, NULL, OPT_NOTAG},
	{"unreadable", required_argument, NULL, OPT_UNREADABLE},
	{"neighbour", required_argument, NULL, OPT_NEIGHBOUR},
	{"repeat", required_argument, NULL, OPT_REPEAT},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static int
cmd_gen(int argc, char **argv)
{
	struct sim_gen_params gp;
	struct sim_scenario sc;
	struct sim_vehicle_spec *tags = NULL;
	const char *tags_path = NULL;
	uint64_t seed = 0;
	int have_seed = 0, opt, rc;
	long long v;

	sim_gen_defaults(&gp);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", gen_opts, NULL)) != -1) {
		switch (opt) {
		case OPT_SEED:
			if (parse_num("--seed", optarg, 0, INT64_MAX, &v) != 0)
				return 2;
			seed = (uint64_t)v;
			have_seed = 1;
			break;
		case OPT_LANES:
			if (parse_num("--lanes", optarg, 1, SIM_MAX_LANES, &v) != 0)
				return 2;
			gp.lanes = (unsigned)v;
			break;
		case OPT_DURATION:
			if (parse_num("--duration", optarg, 1, 30LL * 86400, &v) != 0)
				return 2;
			gp.duration_ms = v * 1000;
			break;
		case OPT_RATE:
			if (parse_num("--rate", optarg, 1, 100000, &v) != 0)
				return 2;
			gp.rate_vph = (unsigned)v;
			break;
		case OPT_TAGS: tags_path = optarg; break;
		case OPT_NOTAG:
		case OPT_UNREADABLE:
		case OPT_NEIGHBOUR:
		case OPT_REPEAT:
			if (parse_num("--notag/--unreadable/--neighbour/--repeat", optarg, 0, 1000000, &v) != 0)
				return 2;
			if (opt == OPT_NOTAG) gp.notag_ppm = (uint32_t)v;
			if (opt == OPT_UNREADABLE) gp.unreadable_ppm = (uint32_t)v;
			if (opt == OPT_NEIGHBOUR) gp.neighbour_ppm = (uint32_t)v;
			if (opt == OPT_REPEAT) gp.repeat_ppm = (uint32_t)v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!have_seed)
		seed = random_seed();
	if (tags_path != NULL) {
		if (load_tags(tags_path, &tags, &gp.ntags) != 0)
			return 1;
		gp.tags = tags;
	}
	sim_scenario_init(&sc);
	rc = sim_scenario_generate(&sc, seed, &gp);
	if (rc == 0)
		rc = sim_scenario_write(&sc, stdout, gp.lanes);
	if (rc != 0)
		toll_err("could not write the scenario: %s", toll_strerror(rc));
	fprintf(stderr, "toll-sim gen: seed %" PRIu64 ", %zu events\n", seed, sc.n);
	sim_scenario_clear(&sc);
	free(tags);
	return rc == 0 ? 0 : 1;
}

static const struct option relay_opts[] = {
	{"listen", required_argument, NULL, OPT_LISTEN},
	{"connect", required_argument, NULL, OPT_CONNECT},
	{"seed", required_argument, NULL, OPT_SEED},
	{"drop", required_argument, NULL, OPT_DROP},
	{"dup", required_argument, NULL, OPT_DUP},
	{"reorder", required_argument, NULL, OPT_REORDER},
	{"delay-ms", required_argument, NULL, OPT_DELAY},
	{"hold-ms", required_argument, NULL, OPT_HOLD},
	{"max-bytes", required_argument, NULL, OPT_MAX_BYTES},
	{"down-after-ms", required_argument, NULL, OPT_DOWN_AFTER},
	{"down-ms", required_argument, NULL, OPT_DOWN_MS},
	{"ctl", required_argument, NULL, OPT_CTL},
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* HOST:PORT, any port 1..65535. */
static int
parse_hostport(const char *opt, const char *s, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(s, ':');
	long long p;

	if (colon == NULL || colon == s || (size_t)(colon - s) >= hostlen) {
		toll_err("bad %s '%s': want HOST:PORT", opt, s);
		return -1;
	}
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	if (parse_num(opt, colon + 1, 1, 65535, &p) != 0)
		return -1;
	*port = (int)p;
	return 0;
}

static int
cmd_relay(int argc, char **argv)
{
	static struct sim_relay_cfg c;
	unsigned nlisten = 0, nconnect = 0;
	int have_seed = 0, opt;
	long long v;

	sim_relay_cfg_defaults(&c);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", relay_opts, NULL)) != -1) {
		switch (opt) {
		case OPT_LISTEN:
		case OPT_CONNECT: {
			unsigned *k = opt == OPT_LISTEN ? &nlisten : &nconnect;
			if (*k == SIM_RELAY_MAX_ROUTES) {
				toll_err("at most %d routes", SIM_RELAY_MAX_ROUTES);
				return 2;
			}
			struct sim_relay_route *r = &c.routes[*k];
			if (opt == OPT_LISTEN ? parse_hostport("--listen", optarg, r->listen_host,
							       sizeof(r->listen_host), &r->listen_port) != 0
					      : parse_hostport("--connect", optarg, r->connect_host,
							       sizeof(r->connect_host), &r->connect_port) != 0)
				return 2;
			(*k)++;
			break;
		}
		case OPT_SEED:
			if (parse_num("--seed", optarg, 0, INT64_MAX, &v) != 0)
				return 2;
			c.seed = (uint64_t)v;
			have_seed = 1;
			break;
		case OPT_DROP:
		case OPT_DUP:
		case OPT_REORDER: {
			uint32_t *ppm = opt == OPT_DROP ? &c.faults.drop_ppm
					: opt == OPT_DUP ? &c.faults.dup_ppm
							 : &c.faults.reorder_ppm;
			if (sim_relay_parse_pct(optarg, ppm) != 0) {
				toll_err("bad percentage '%s': want 0..100, e.g. 10 or 2.5", optarg);
				return 2;
			}
			break;
		}
		case OPT_DELAY:
			if (parse_num("--delay-ms", optarg, 0, 600000, &v) != 0)
				return 2;
			c.faults.delay_ms_max = v;
			break;
		case OPT_HOLD:
			if (parse_num("--hold-ms", optarg, 1, 600000, &v) != 0)
				return 2;
			c.hold_ms = v;
			break;
		case OPT_MAX_BYTES:
			if (parse_num("--max-bytes", optarg, 0, 1LL << 30, &v) != 0)
				return 2;
			c.max_bytes = (uint64_t)v;
			break;
		case OPT_DOWN_AFTER:
			if (parse_num("--down-after-ms", optarg, 0, 86400000LL, &v) != 0)
				return 2;
			c.down_after_ms = v;
			break;
		case OPT_DOWN_MS:
			if (parse_num("--down-ms", optarg, 0, 86400000LL, &v) != 0)
				return 2;
			c.down_ms = v;
			break;
		case OPT_CTL:
			if (strlen(optarg) >= sizeof(c.ctl_path)) {
				toll_err("--ctl path too long");
				return 2;
			}
			strcpy(c.ctl_path, optarg);
			break;
		case OPT_LOG_LEVEL: {
			int lvl = toll_log_parse_level(optarg);
			if (lvl < 0) {
				toll_err("bad --log-level '%s'", optarg);
				return 2;
			}
			toll_log_set_level(lvl);
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		toll_err("unexpected argument '%s'", argv[optind]);
		return 2;
	}
	if (nlisten == 0 || nlisten != nconnect) {
		toll_err("relay wants --listen HOST:PORT and --connect HOST:PORT, as many of one as of the other");
		return 2;
	}
	c.nroutes = nlisten;
	if (!have_seed)
		c.seed = random_seed();

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return sim_relay_run(&c, &stop_signal);
}

int
main(int argc, char **argv)
{
	toll_log_init("toll-sim", LOG_INFO);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("toll-sim %s (firmware interface %d)\n", TOLL_VERSION, FWI_MAP_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "devices") == 0)
		return cmd_devices(argc - 1, argv + 1);
	if (strcmp(argv[1], "ctl") == 0)
		return cmd_ctl(argc - 1, argv + 1);
	if (strcmp(argv[1], "gen") == 0)
		return cmd_gen(argc - 1, argv + 1);
	if (strcmp(argv[1], "relay") == 0)
		return cmd_relay(argc - 1, argv + 1);
	toll_err("unknown command '%s' (devices, ctl, gen, relay)", argv[1]);
	usage(stderr);
	return 2;
}

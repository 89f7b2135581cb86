/* lane_main.c: toll-lane, the lane controller daemon and its tools.
 *
 *   toll-lane run [-c FILE] [--set KEY=VALUE]...   run the lanes
 *   toll-lane --check-config [-c FILE]             validate and print, exit
 *   toll-lane keygen FILE                          new Ed25519 lane key
 *   toll-lane journal verify|dump DIR ...          check / print a journal
 *   toll-lane taglist import CSV OUT               build a tag status list
 *   toll-lane status [--socket PATH]               ask a running daemon */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "buf.h"
#include "cfg.h"
#include "clock.h"
#include "crypto.h"
#include "err.h"
#include "journal.h"
#include "lane_decide.h"
#include "lane_run.h"
#include "lane_sync.h"
#include "log.h"
#include "txn.h"

#define MAX_LANES 64
#define PATH_LEN 511
#define EP_LEN (LANE_ENDPOINT_MAX - 1)

struct lane_conf {
	int64_t lanes;
	int64_t station_id;
	char station_role[16];
	int64_t utc_offset_min;
	char key_file[PATH_LEN + 1];
	char state_dir[PATH_LEN + 1];
	char taglist_file[PATH_LEN + 1];
	char tariff_file[PATH_LEN + 1];
	char control_socket[PATH_LEN + 1];
	char log_level[16];
	int64_t journal_max;
	int64_t device_timeout_ms, poll_ms, io_watchdog_ms, reader_watchdog_ms;
	int64_t reader_rereport_s, reader_power, reader_rssi_floor;
	int64_t read_hold_ms, tag_wait_ms, recheck_ms, head_expire_ms, suppress_ms, vote_ms;
	char central_url[LANE_URL_MAX];
	char central_tls_ca[LANE_TLS_PATH_MAX], central_tls_cert[LANE_TLS_PATH_MAX];
	char central_tls_name[128];
	int64_t central_batch, central_timeout_ms;
	char list_key[65], list_subscribe[LANE_URL_MAX], list_request[LANE_URL_MAX], list_dir[PATH_LEN + 1];
	int64_t list_stale_ms, list_compact, entry_expiry_ms;
	struct {
		int64_t id;
		char reader[EP_LEN + 1], io[EP_LEN + 1], display[EP_LEN + 1];
		char key[PATH_LEN + 1];
		int64_t reader_unit, io_unit, display_unit;
		int free_flow;
	} lane[MAX_LANES];
};

#define F(field) offsetof(struct lane_conf, field)
#define L(field) offsetof(struct lane_conf, lane[0].field), sizeof(((struct lane_conf *)0)->lane[0]), MAX_LANES

static const struct toll_cfg_key lane_keys[] = {
	{"lanes", TOLL_CFG_INT, 1, MAX_LANES, "1", F(lanes), 0, 0, 0, "lanes this process runs (lane.0 .. lane.N-1)"},
	{"station.id", TOLL_CFG_INT, 1, 2147483647, "101", F(station_id), 0, 0, 0, "station id, as central knows it"},
	{"station.role", TOLL_CFG_STRING, 0, 15, "open", F(station_role), 0, 0, 0, "open, entry (closed network) or exit (closed network)"},
	{"station.utc_offset_min", TOLL_CFG_INT, -720, 840, "420", F(utc_offset_min), 0, 0, 0, "station time zone, minutes east of UTC (Asia/Ho_Chi_Minh: 420)"},
	{"key.file", TOLL_CFG_STRING, 0, PATH_LEN, "lane.key", F(key_file), 0, 0, 0, "the lane's Ed25519 private key (toll-lane keygen), mode 0600"},
	{"state.dir", TOLL_CFG_STRING, 0, PATH_LEN, "state", F(state_dir), 0, 0, 0, "journals live in STATE/lane-ID/journal"},
	{"journal.max", TOLL_CFG_BYTES, 1 << 20, INT64_MAX, "1GiB", F(journal_max), 0, 0, 0, "disk bound per lane journal (alarm at 80 %)"},
	{"taglist.file", TOLL_CFG_STRING, 0, PATH_LEN, "taglist.tsl", F(taglist_file), 0, 0, 0, "tag status list (toll-lane taglist import)"},
	{"tariff.file", TOLL_CFG_STRING, 0, PATH_LEN, "tariff.txt", F(tariff_file), 0, 0, 0, "tariff tables"},
	{"control.socket", TOLL_CFG_STRING, 0, 107, "toll-lane.sock", F(control_socket), 0, 0, 0, "status socket (toll-lane status)"},
	{"log.level", TOLL_CFG_STRING, 0, 15, "info", F(log_level), 0, 0, 0, "err, warning, notice, info, debug"},
	{"device.timeout", TOLL_CFG_MS, 5, 5000, "50ms", F(device_timeout_ms), 0, 0, 0, "Modbus response timeout"},
	{"poll.interval", TOLL_CFG_MS, 1, 1000, "10ms", F(poll_ms), 0, 0, 0, "reader and I/O poll period"},
	{"io.watchdog", TOLL_CFG_MS, 0, 60000, "2s", F(io_watchdog_ms), 0, 0, 0, "I/O unit host watchdog (0 off)"},
	{"reader.watchdog", TOLL_CFG_MS, 0, 60000, "2s", F(reader_watchdog_ms), 0, 0, 0, "reader host watchdog (0 off)"},
	{"reader.rereport", TOLL_CFG_INT, 0, 3600, "10", F(reader_rereport_s), 0, 0, 0, "reader re-report window, s"},
	{"reader.power", TOLL_CFG_INT, 0, 330, "300", F(reader_power), 0, 0, 0, "transmit power, dBm x 10"},
	{"reader.rssi_floor", TOLL_CFG_INT, -1000, 0, "-800", F(reader_rssi_floor), 0, 0, 0, "reads below are ignored, dBm x 10"},
	{"lane.read_hold", TOLL_CFG_MS, 0, 10000, "1s", F(read_hold_ms), 0, 0, 0, "a read before the loop waits this long for a vehicle"},
	{"lane.tag_wait", TOLL_CFG_MS, 100, 60000, "1500ms", F(tag_wait_ms), 0, 0, 0, "vehicle on the loop without a read: show tag not read"},
	{"lane.recheck", TOLL_CFG_MS, 100, 60000, "2s", F(recheck_ms), 0, 0, 0, "a refused vehicle still waiting is decided again"},
	{"lane.head_expire", TOLL_CFG_MS, 1000, 600000, "10s", F(head_expire_ms), 0, 0, 0, "a vehicle at the barrier without a read (since it came) or refused (since it was told) this long, with a decided one behind it, is taken as gone"},
	{"plaza.suppress", TOLL_CFG_MS, 0, 3600000, "300s", F(suppress_ms), 0, 0, 0, "a tag charged is not charged again in the plaza within this"},
	{"plaza.vote", TOLL_CFG_MS, 0, 1000, "50ms", F(vote_ms), 0, 0, 0, "a stronger read at another lane within this takes the tag; a read waits at most this long for the other lanes' reads"},
	{"central.url", TOLL_CFG_STRING, 0, LANE_URL_MAX - 1, "", F(central_url), 0, 0, 0, "toll-central's uplink: tcp://HOST:PORT or tls+tcp://HOST:PORT (empty: journal only)"},
	{"central.tls_ca", TOLL_CFG_STRING, 0, LANE_TLS_PATH_MAX - 1, "", F(central_tls_ca), 0, 0, 0, "tls+tcp: CA certificates (PEM) that central's certificate must chain to"},
	{"central.tls_cert", TOLL_CFG_STRING, 0, LANE_TLS_PATH_MAX - 1, "", F(central_tls_cert), 0, 0, 0, "tls+tcp: this lane's certificate and private key (PEM, one file), if central asks for one"},
	{"central.tls_server_name", TOLL_CFG_STRING, 0, 127, "", F(central_tls_name), 0, 0, 0, "tls+tcp: the DNS name central's certificate must carry (default: the URL's host; required when that is an IP address)"},
	{"central.batch", TOLL_CFG_INT, 1, 1024, "256", F(central_batch), 0, 0, 0, "transactions per batch to central"},
	{"central.timeout", TOLL_CFG_MS, 100, 600000, "5s", F(central_timeout_ms), 0, 0, 0, "no answer from central within this: send the batch again"},
	{"list.central_key", TOLL_CFG_STRING, 0, 64, "", F(list_key), 0, 0, 0, "central's list key (64 hex digits, as toll-central keygen prints it); empty: decide from taglist.file only"},
	{"list.subscribe", TOLL_CFG_STRING, 0, LANE_URL_MAX - 1, "tcp://127.0.0.1:7301", F(list_subscribe), 0, 0, 0, "central's list.publish: deltas and heartbeats"},
	{"list.request", TOLL_CFG_STRING, 0, LANE_URL_MAX - 1, "tcp://127.0.0.1:7302", F(list_request), 0, 0, 0, "central's list.listen: missed deltas and snapshots"},
	{"list.dir", TOLL_CFG_STRING, 0, PATH_LEN, "", F(list_dir), 0, 0, 0, "where the lane keeps its copy of the list (default: STATE/list)"},
	{"list.stale", TOLL_CFG_MS, 1000, 86400000, "10s", F(list_stale_ms), 0, 0, 0, "alarm when central has not been heard for this long"},
	{"list.entry_expiry", TOLL_CFG_MS, 1000, 2592000000LL, "24h", F(entry_expiry_ms), 0, 0, 0, "exit lanes: charge from a closed-road entry at most this old (central's trips.expiry)"},
	{"list.compact", TOLL_CFG_INT, 1, 10000000, "10000", F(list_compact), 0, 0, 0, "write the merged list after this many logged deltas"},
	{"lane.*.id", TOLL_CFG_INT, 1, 65535, NULL, L(id), 0, "lane id at the station (default: index + 1)"},
	{"lane.*.reader", TOLL_CFG_STRING, 0, EP_LEN, "", L(reader), 0, "reader endpoint: tcp:HOST:PORT or rtu:DEVICE[:BAUD[:8N1]] (default tcp:127.0.0.1:1502+index)"},
	{"lane.*.reader_unit", TOLL_CFG_INT, 1, 247, "1", L(reader_unit), 0, "reader unit id"},
	{"lane.*.io", TOLL_CFG_STRING, 0, EP_LEN, "", L(io), 0, "I/O unit endpoint (default: the reader's)"},
	{"lane.*.io_unit", TOLL_CFG_INT, 1, 247, "2", L(io_unit), 0, "I/O unit id"},
	{"lane.*.display", TOLL_CFG_STRING, 0, EP_LEN, "", L(display), 0, "display endpoint (default: the reader's)"},
	{"lane.*.display_unit", TOLL_CFG_INT, 1, 247, "3", L(display_unit), 0, "display unit id"},
	{"lane.*.key", TOLL_CFG_STRING, 0, PATH_LEN, "", L(key), 0, "this lane's own private key (default: key.file); central registers a key per lane"},
	{"lane.*.free_flow", TOLL_CFG_BOOL, 0, 1, "no", L(free_flow), 0, "no barrier (multi-lane free flow)"},
};
#define NKEYS (sizeof(lane_keys) / sizeof(lane_keys[0]))

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
		"usage: toll-lane run [-c FILE] [--set KEY=VALUE]...\n"
		"       toll-lane --check-config [-c FILE] [--set KEY=VALUE]...\n"
		"       toll-lane --help-config\n"
		"       toll-lane keygen KEYFILE\n"
		"       toll-lane journal verify DIR (--key KEYFILE | --pub HEX)\n"
		"       toll-lane journal dump DIR [--csv]\n"
		"       toll-lane taglist import CSV OUT [--list-version N]\n"
		"       toll-lane status [--socket PATH]\n"
		"       toll-lane --help | --version\n"
		"\n"
		"Runs the lanes of one station: reads tags through Modbus readers, decides\n"
		"within the lane's budget, signs and journals every passage.  Every\n"
		"option has a default (--help-config lists them); lane k's devices default\n"
		"to tcp:127.0.0.1:1502+k, units 1, 2, 3, as toll-sim devices serves them.\n");
}

static int
load_conf(struct lane_conf *c, const char *file, char **sets, int nsets)
{
	char err[512];

	if (toll_cfg_defaults(lane_keys, NKEYS, c) != 0)
		return -1;
	if (file != NULL && toll_cfg_load(lane_keys, NKEYS, c, file, err, sizeof(err)) != 0) {
		toll_err("%s", err);
		return -1;
	}
	for (int i = 0; i < nsets; i++) {
		char name[128];
		const char *eq = strchr(sets[i], '=');
		if (eq == NULL || (size_t)(eq - sets[i]) >= sizeof(name)) {
			toll_err("--set wants KEY=VALUE, not '%s'", sets[i]);
			return -1;
		}
		memcpy(name, sets[i], (size_t)(eq - sets[i]));
		name[eq - sets[i]] = 0;
		if (toll_cfg_set(lane_keys, NKEYS, c, name, eq + 1, err, sizeof(err)) != 0) {
			toll_err("--set %s", err);
			return -1;
		}
	}
	/* derived defaults and cross-key checks */
	if (strcmp(c->station_role, "open") != 0 && strcmp(c->station_role, "entry") != 0 &&
	    strcmp(c->station_role, "exit") != 0) {
		toll_err("station.role must be open, entry or exit, not '%s'", c->station_role);
		return -1;
	}
	if (toll_log_parse_level(c->log_level) < 0) {
		toll_err("log.level must be err, warning, notice, info or debug, not '%s'", c->log_level);
		return -1;
	}
	for (int i = 0; i < c->lanes; i++) {
		if (c->lane[i].id == 0)
			c->lane[i].id = i + 1;
		if (c->lane[i].reader[0] == 0)
			snprintf(c->lane[i].reader, sizeof(c->lane[i].reader), "tcp:127.0.0.1:%d", 1502 + i);
		if (c->lane[i].io[0] == 0)
			memcpy(c->lane[i].io, c->lane[i].reader, sizeof(c->lane[i].io));
		if (c->lane[i].display[0] == 0)
			memcpy(c->lane[i].display, c->lane[i].reader, sizeof(c->lane[i].display));
		const char *eps[3] = {c->lane[i].reader, c->lane[i].io, c->lane[i].display};
		for (int k = 0; k < 3; k++)
			if (lane_endpoint_check(eps[k]) != 0) {
				toll_err("lane.%d: bad endpoint '%s': want tcp:HOST:PORT or rtu:DEVICE[:BAUD[:8N1]]",
					 i, eps[k]);
				return -1;
			}
		for (int j = 0; j < i; j++)
			if (c->lane[j].id == c->lane[i].id) {
				toll_err("lane.%d.id and lane.%d.id are both %" PRId64, j, i, c->lane[i].id);
				return -1;
			}
	}
	return 0;
}

/* ---- the daemon ------------------------------------------------------- */

static struct lane_sync *sync_;
static struct lane_trips *trips_; /* an exit lane's closed-road entries */

static void
status_text(struct lane_run **runs, int n, FILE *out)
{
	static struct lane_proc_hist all; /* only the control thread prints */
	memset(&all, 0, sizeof(all));
	for (int i = 0; i < n; i++) {
		static struct lane_run_status s;
		lane_run_status(runs[i], &s);
		lane_proc_hist_merge(&all, &s.proc);
		fprintf(out,
			"lane %u %s%s queue=%u reader=%s io=%s txn_seq=%" PRIu64 " journal=%" PRIu64
			" acked=%" PRIu64 " journal_bytes=%" PRIu64 "%s\n",
			s.lane_id, lane_state_name(s.state), s.closed ? " CLOSED" : "", s.queue,
			s.reader_online ? "online" : "OFFLINE", s.io_online ? "online" : "OFFLINE",
			s.last_seq, s.journal_seq, s.journal_acked, s.journal_bytes,
			s.journal_warn ? " JOURNAL-NEAR-FULL" : "");
		fprintf(out,
			"  reads=%" PRIu64 " lost=%" PRIu64 " reboots=%" PRIu64 " paid=%" PRIu64
			" free=%" PRIu64 " refused=%" PRIu64 " no_tag=%" PRIu64 " passages=%" PRIu64
			" assumed=%" PRIu64 " expired=%" PRIu64 " unpaid=%" PRIu64 " suppressed=%" PRIu64 " no_vehicle=%" PRIu64
			" released=%" PRIu64 " charged_not_passed=%" PRIu64 "\n",
			s.reader.records, s.reader.lost_reads, s.reader.reboots, s.logic.vehicles_paid,
			s.logic.vehicles_free, s.logic.vehicles_refused, s.logic.vehicles_no_tag,
			s.logic.passages, s.logic.passages_assumed, s.logic.heads_expired, s.logic.unpaid_passages, s.logic.reads_suppressed,
			s.logic.reads_no_vehicle, s.logic.vehicles_released, s.logic.charged_not_passed);
		if (s.uplink_on)
			fprintf(out,
				"  uplink %s central_acked=%" PRIu64 " pending=%" PRIu64 " batches=%" PRIu64
				" acked_records=%" PRIu64 " timeouts=%" PRIu64 " retries=%" PRIu64 " quarantined=%" PRIu64 "\n",
				s.uplink.connected ? "connected" : "DISCONNECTED", s.uplink.central_acked,
				s.uplink.pending, s.uplink.batches_sent, s.uplink.records_acked, s.uplink.timeouts,
				s.uplink.retries, s.uplink.quarantined);
		fprintf(out, "  processing_us p50=%" PRId64 " p99=%" PRId64 " max=%" PRIu64 " n=%" PRIu64 "\n",
			lane_proc_hist_quantile(&s.proc, 0.50), lane_proc_hist_quantile(&s.proc, 0.99),
			s.proc.max_us, s.proc.n);
	}
	fprintf(out, "plaza processing_us p50=%" PRId64 " p99=%" PRId64 " max=%" PRIu64 " n=%" PRIu64 "\n",
		lane_proc_hist_quantile(&all, 0.50), lane_proc_hist_quantile(&all, 0.99), all.max_us, all.n);
	/* the plaza histogram itself, its non-empty buckets as INDEX:COUNT
	 * (bucket i holds [i, i+1) x bucket_us, the last one everything
	 * longer): two of these give the figures of the time between them */
	fprintf(out, "plaza processing_hist bucket_us=%d buckets=%d", LANE_PROC_BUCKET_US, LANE_PROC_BUCKETS);
	for (int i = 0; i < LANE_PROC_BUCKETS; i++)
		if (all.bucket[i] != 0)
			fprintf(out, " %d:%" PRIu32, i, all.bucket[i]);
	fprintf(out, "\n");
	if (sync_ != NULL) {
		struct lane_sync_stats ls;
		lane_sync_stats(sync_, &ls);
		fprintf(out,
			"list version=%" PRIu64 " latest=%" PRIu64 " heartbeat_age_ms=%" PRId64 "%s deltas=%" PRIu64
			" ranges=%" PRIu64 " snapshots=%" PRIu64 " compactions=%" PRIu64 " refused=%" PRIu64
			" errors=%" PRIu64 "\n",
			ls.version, ls.latest, ls.heartbeat_age_ms, ls.stale ? " STALE" : "", ls.deltas_applied,
			ls.ranges_fetched, ls.snapshots, ls.compactions, ls.refused, ls.errors);
	}
	if (trips_ != NULL) {
		size_t kept, open;
		lane_trips_count(trips_, &kept, &open);
		fprintf(out, "entries open=%zu kept=%zu\n", open, kept);
	}
}

static int
control_listen(const char *path)
{
	struct sockaddr_un sa;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 8) != 0) {
		toll_err("could not listen on control socket %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int
cmd_run(const struct lane_conf *c)
{
	struct lane_context ctx;
	struct toll_signer *signer = NULL, *own[MAX_LANES] = {NULL};
	struct lane_run *runs[MAX_LANES];
	int nruns = 0, rc = 1, ctl = -1;
	char err[512];

	memset(&ctx, 0, sizeof(ctx));
	pthread_mutex_init(&ctx.mu, NULL);
	toll_log_set_level(toll_log_parse_level(c->log_level));
	ctx.station_id = (uint32_t)c->station_id;
	ctx.role = strcmp(c->station_role, "open") == 0	 ? LANE_ROLE_OPEN
		   : strcmp(c->station_role, "entry") == 0 ? LANE_ROLE_CLOSED_ENTRY
							   : LANE_ROLE_CLOSED_EXIT;
	ctx.entry_expiry_ms = c->entry_expiry_ms;
	if (ctx.role == LANE_ROLE_CLOSED_EXIT && c->list_key[0] != 0) {
		/* entries come from central with the list */
		if (lane_trips_new(&ctx.trips) != 0)
			goto out;
		trips_ = ctx.trips;
	}
	for (int i = 0; i < c->lanes && signer == NULL; i++)
		if (c->lane[i].key[0] == 0 && toll_signer_load(c->key_file, &signer) != 0) {
			toll_err("could not load the lane key %s (make one with toll-lane keygen)", c->key_file);
			goto out;
		}
	int64_t t0 = toll_mono_ms();
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (c->list_key[0] != 0) {
		struct lane_sync_conf sc;
		char listdir[PATH_LEN + 16];
		memset(&sc, 0, sizeof(sc));
		if (strlen(c->list_key) != 64 || toll_hex_decode(c->list_key, sc.central_key, 32) != 0) {
			toll_err("list.central_key: 64 hex digits wanted (toll-central keygen prints them)");
			goto out;
		}
		if (mkdir(c->state_dir, 0700) != 0 && errno != EEXIST) {
			toll_err("could not create state directory %s: %s", c->state_dir, strerror(errno));
			goto out;
		}
		snprintf(listdir, sizeof(listdir), "%s", c->list_dir);
		if (listdir[0] == 0)
			snprintf(listdir, sizeof(listdir), "%.*s/list", PATH_LEN, c->state_dir);
		sc.subscribe_url = c->list_subscribe;
		sc.request_url = c->list_request;
		sc.dir = listdir;
		sc.station_id = (uint32_t)c->station_id;
		sc.lane_id = (uint16_t)c->lane[0].id;
		sc.stale_ms = c->list_stale_ms;
		sc.compact_deltas = c->list_compact;
		int src = lane_sync_open(&sc, &ctx, (volatile int *)&stop_signal, &sync_, err, sizeof(err));
		if (src != 0) {
			if (src != TOLL_ECLOSED)
				toll_err("tag status list: %s", err);
			goto out;
		}
		toll_notice("tag status list from central (key id %08" PRIx32 "), kept in %s: version %" PRIu64
			    ", %zu tags, ready in %" PRId64 " ms",
			    toll_key_id(sc.central_key), listdir, lane_taglist_version(ctx.list),
			    lane_taglist_count(ctx.list), toll_mono_ms() - t0);
	} else {
		if (lane_taglist_load(c->taglist_file, &ctx.list, err, sizeof(err)) != 0) {
			toll_err("could not load the tag status list: %s", err);
			goto out;
		}
		toll_notice("tag status list %s: version %" PRIu64 ", %zu tags, loaded in %" PRId64 " ms",
			    c->taglist_file, lane_taglist_version(ctx.list), lane_taglist_count(ctx.list),
			    toll_mono_ms() - t0);
	}
	if (lane_tariff_load(c->tariff_file, &ctx.tariff, err, sizeof(err)) != 0) {
		toll_err("could not load the tariff: %s", err);
		goto out;
	}
	if (lane_plaza_new((unsigned)c->lanes, c->suppress_ms, c->vote_ms, &ctx.plaza) != 0)
		goto out;
	if (mkdir(c->state_dir, 0700) != 0 && errno != EEXIST) {
		toll_err("could not create state directory %s: %s", c->state_dir, strerror(errno));
		goto out;
	}
	for (int i = 0; i < c->lanes; i++) {
		struct lane_run_cfg rc_;
		lane_run_cfg_defaults(&rc_);
		rc_.lane_id = (unsigned)c->lane[i].id;
		rc_.station_id = (uint32_t)c->station_id;
		rc_.utc_offset_min = (int16_t)c->utc_offset_min;
		snprintf(rc_.reader_ep, sizeof(rc_.reader_ep), "%s", c->lane[i].reader);
		snprintf(rc_.io_ep, sizeof(rc_.io_ep), "%s", c->lane[i].io);
		snprintf(rc_.display_ep, sizeof(rc_.display_ep), "%s", c->lane[i].display);
		rc_.reader_unit = (int)c->lane[i].reader_unit;
		rc_.io_unit = (int)c->lane[i].io_unit;
		rc_.display_unit = (int)c->lane[i].display_unit;
		rc_.timeout_ms = (int)c->device_timeout_ms;
		rc_.poll_ms = (int)c->poll_ms;
		rc_.io_watchdog_ms = (uint16_t)c->io_watchdog_ms;
		rc_.reader.unit = rc_.reader_unit;
		rc_.reader.watchdog_ms = (uint16_t)c->reader_watchdog_ms;
		rc_.reader.rereport_s = (uint16_t)c->reader_rereport_s;
		rc_.reader.tx_power = (uint16_t)c->reader_power;
		rc_.reader.rssi_floor = (int16_t)c->reader_rssi_floor;
		rc_.logic.free_flow = c->lane[i].free_flow;
		rc_.logic.read_hold_ms = c->read_hold_ms;
		rc_.logic.tag_wait_ms = c->tag_wait_ms;
		rc_.logic.recheck_ms = c->recheck_ms;
		rc_.logic.head_expire_ms = c->head_expire_ms;
		if (strlen(c->state_dir) > sizeof(rc_.journal_dir) - 32) {
			toll_err("state.dir too long");
			goto out;
		}
		char lanedir[sizeof(rc_.journal_dir)];
		snprintf(lanedir, sizeof(lanedir), "%.*s/lane-%u", (int)sizeof(rc_.journal_dir) - 32,
			 c->state_dir, rc_.lane_id);
		if (mkdir(lanedir, 0700) != 0 && errno != EEXIST) {
			toll_err("could not create %s: %s", lanedir, strerror(errno));
			goto out;
		}
		snprintf(rc_.journal_dir, sizeof(rc_.journal_dir), "%.*s/journal",
			 (int)sizeof(rc_.journal_dir) - 16, lanedir);
		rc_.journal_max_bytes = (uint64_t)c->journal_max;
		snprintf(rc_.uplink.url, sizeof(rc_.uplink.url), "%s", c->central_url);
		snprintf(rc_.uplink.tls_ca, sizeof(rc_.uplink.tls_ca), "%s", c->central_tls_ca);
		snprintf(rc_.uplink.tls_cert, sizeof(rc_.uplink.tls_cert), "%s", c->central_tls_cert);
		snprintf(rc_.uplink.tls_server_name, sizeof(rc_.uplink.tls_server_name), "%s", c->central_tls_name);
		rc_.uplink.batch_max = (unsigned)c->central_batch;
		rc_.uplink.timeout_ms = c->central_timeout_ms;
		if (c->lane[i].key[0] != 0 && toll_signer_load(c->lane[i].key, &own[i]) != 0) {
			toll_err("lane %u: could not load its key %s", rc_.lane_id, c->lane[i].key);
			goto out;
		}
		if (lane_run_new(&rc_, &ctx, own[i] != NULL ? own[i] : signer, &runs[nruns]) != 0) {
			toll_err("lane %u: could not start", rc_.lane_id);
			goto out;
		}
		nruns++;
	}
	ctl = control_listen(c->control_socket);
	if (sync_ != NULL && lane_sync_start(sync_) != 0) {
		toll_err("tag status list: could not start following central");
		goto out;
	}

	for (int i = 0; i < nruns; i++)
		if (lane_run_start(runs[i]) != 0) {
			toll_err("could not start lane threads");
			goto out;
		}
	toll_notice("running %d lane%s of station %" PRId64 " (%s)", nruns, nruns == 1 ? "" : "s",
		    c->station_id, c->station_role);
	while (!stop_signal) {
		struct pollfd pfd = {.fd = ctl, .events = POLLIN};
		if (poll(&pfd, ctl >= 0 ? 1 : 0, 200) > 0) {
			int fd = accept4(ctl, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0) {
				char *text = NULL;
				size_t len = 0;
				FILE *m = open_memstream(&text, &len);
				if (m != NULL) {
					status_text(runs, nruns, m);
					fclose(m);
					if (send(fd, text, len, MSG_NOSIGNAL) < 0)
						toll_debug("status client went away");
					free(text);
				}
				close(fd);
			}
		}
	}
	toll_notice("stopping on signal %d", (int)stop_signal);
	rc = 0;
out:
	for (int i = 0; i < nruns; i++)
		lane_run_stop(runs[i]); /* each finishes its step: nothing half-written */
	for (int i = 0; i < nruns; i++)
		lane_run_free(runs[i]);
	lane_sync_close(sync_);
	sync_ = NULL;
	if (ctl >= 0) {
		close(ctl);
		unlink(c->control_socket);
	}
	lane_plaza_free(ctx.plaza);
	lane_tariff_free(ctx.tariff);
	lane_taglist_free(ctx.list);
	trips_ = NULL;
	lane_trips_free(ctx.trips);
	toll_signer_free(signer);
	for (int i = 0; i < MAX_LANES; i++)
		toll_signer_free(own[i]);
	pthread_mutex_destroy(&ctx.mu);
	return rc;
}

/* ---- tools ------------------------------------------------------------- */

static int
cmd_keygen(const char *path)
{
	uint8_t pub[32];
	char hex[65];
	int rc = toll_key_generate(path, pub);

	if (rc != 0) {
		toll_err("could not create key %s: %s", path, toll_strerror(rc));
		return 1;
	}
	toll_hex_encode(pub, sizeof(pub), hex);
	printf("public key %s\nkey id %08" PRIx32 "\n", hex, toll_key_id(pub));
	return 0;
}

static void
csv_txn(const struct toll_txn *t, FILE *out)
{
	char id[33], epc[65], tid[25];
	const char *o = toll_outcome_name(t->outcome);

	toll_hex_encode(t->txn_id, 16, id);
	toll_hex_encode(t->epc, (t->epc_bits + 7) / 8, epc);
	epc[(t->epc_bits + 3) / 4] = 0;
	toll_hex_encode(t->tid, 12, tid);
	fprintf(out, "%" PRIu32 ",%u,%" PRIu64 ",%s,%" PRId64 ",%d,%s,%s,%" PRIu64 ",%u,%s,%" PRId64
		     ",%u,%" PRIu32 ",%" PRId64 ",%08" PRIx32 ",%" PRIu32 ",%d,%08" PRIx32 "\n",
		t->station_id, t->lane_id, t->lane_seq, id, t->time_ms, t->utc_offset_min,
		t->epc_bits ? epc : "", t->tid_valid ? tid : "", t->account_id, t->vclass,
		o ? o : "?", t->fee_vnd, t->flags, t->entry_station, t->entry_time_ms,
		t->reader_boot_id, t->reader_seq, t->rssi_dbm_x10, t->key_id);
}

static int
cmd_journal(int argc, char **argv)
{
	const char *verb, *dir, *key = NULL, *pub_hex = NULL;
	int csv = 0, rc;
	struct toll_verifier *v = NULL;
	struct toll_journal_iter *it;
	struct toll_txn_chain chain;
	uint64_t seq, reads = 0, txns = 0, bad = 0;
	int64_t fees = 0;
	uint8_t type;
	const uint8_t *p;
	size_t len;

	if (argc < 3) {
		usage(stderr);
		return 2;
	}
	verb = argv[1];
	dir = argv[2];
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--csv") == 0)
			csv = 1;
		else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
			key = argv[++i];
		else if (strcmp(argv[i], "--pub") == 0 && i + 1 < argc)
			pub_hex = argv[++i];
		else {
			toll_err("unknown argument '%s'", argv[i]);
			return 2;
		}
	}
	if (strcmp(verb, "verify") != 0 && strcmp(verb, "dump") != 0) {
		toll_err("journal verify or journal dump, not '%s'", verb);
		return 2;
	}
	if (strcmp(verb, "verify") == 0) {
		uint8_t pub[32];
		if (key != NULL) {
			struct toll_signer *s;
			if (toll_signer_load(key, &s) != 0)
				return 1;
			toll_signer_public(s, pub);
			toll_signer_free(s);
		} else if (pub_hex == NULL || toll_hex_decode(pub_hex, pub, 32) != 0) {
			toll_err("journal verify needs --key KEYFILE or --pub HEX (64 hex digits)");
			return 2;
		}
		if (toll_verifier_new(pub, &v) != 0)
			return 1;
	}
	rc = toll_journal_iter_open_dir(dir, 1, &it);
	if (rc != 0) {
		toll_err("could not read journal %s: %s", dir, toll_strerror(rc));
		toll_verifier_free(v);
		return 1;
	}
	memset(&chain, 0, sizeof(chain));
	if (csv && strcmp(verb, "dump") == 0)
		printf("station,lane,lane_seq,txn_id,time_ms,utc_offset_min,epc,tid,account,class,outcome,"
		       "fee_vnd,flags,entry_station,entry_time_ms,reader_boot,reader_seq,rssi,key_id\n");
	while ((rc = toll_journal_iter_next(it, &seq, &type, &p, &len)) == 0) {
		if (type == LANE_REC_READ) {
			reads++;
			if (!csv && strcmp(verb, "dump") == 0 && len >= 4 + FWI_RECORD_BYTES) {
				struct fwi_record f;
				char e[65];
				uint32_t boot = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
				if (fwi_record_decode(p + 4, len - 4, &f) == 0) {
					fwi_epc_hex(&f, e);
					printf("%" PRIu64 " read boot=%08" PRIx32 " seq=%" PRIu32 " epc=%s rssi=%d\n",
					       seq, boot, f.seq, e, f.rssi_dbm_x10);
				}
			}
			continue;
		}
		if (type != LANE_REC_TXN) {
			printf("%" PRIu64 " unknown record type %u\n", seq, type);
			bad++;
			continue;
		}
		struct toll_txn t;
		rc = toll_txn_decode(p, len, &t);
		if (rc != 0) {
			printf("%" PRIu64 " transaction does not decode: %s\n", seq, toll_strerror(rc));
			bad++;
			continue;
		}
		txns++;
		if (t.outcome == TOLL_OUT_PAID)
			fees += t.fee_vnd;
		if (v != NULL) {
			int vr = toll_txn_verify(&t, v);
			int cr = toll_txn_chain_check(&chain, &t);
			if (vr != 0 || cr != 0) {
				printf("%" PRIu64 " lane_seq %" PRIu64 ": %s\n", seq, t.lane_seq,
				       vr != 0 ? "signature does not verify" : toll_strerror(cr));
				bad++;
			}
		} else if (csv) {
			csv_txn(&t, stdout);
		} else {
			char id[33];
			const char *o = toll_outcome_name(t.outcome);
			toll_hex_encode(t.txn_id, 16, id);
			printf("%" PRIu64 " txn lane_seq=%" PRIu64 " id=%s outcome=%s fee=%" PRId64
			       " account=%" PRIu64 " class=%u\n",
			       seq, t.lane_seq, id, o ? o : "?", t.fee_vnd, t.account_id, t.vclass);
		}
	}
	toll_journal_iter_close(it);
	toll_verifier_free(v);
	if (rc != TOLL_EEMPTY) {
		printf("journal damaged after record %" PRIu64 ": %s\n", seq, toll_strerror(rc));
		bad++;
	}
	if (strcmp(verb, "verify") == 0 || !csv)
		fprintf(csv ? stderr : stdout,
			"%" PRIu64 " reads, %" PRIu64 " transactions, %" PRId64 " VND charged, %" PRIu64 " problems\n",
			reads, txns, fees, bad);
	return bad == 0 ? 0 : 1;
}

static int
cmd_taglist(int argc, char **argv)
{
	char err[512];
	uint64_t version = (uint64_t)toll_real_ms();

	if (argc < 4 || strcmp(argv[1], "import") != 0) {
		usage(stderr);
		return 2;
	}
	for (int i = 4; i < argc; i++) {
		if (strcmp(argv[i], "--list-version") == 0 && i + 1 < argc) {
			char *end;
			errno = 0;
			version = strtoull(argv[++i], &end, 10);
			if (errno != 0 || *end != 0) {
				toll_err("bad --list-version");
				return 2;
			}
		} else {
			toll_err("unknown argument '%s'", argv[i]);
			return 2;
		}
	}
	if (lane_taglist_import_csv(argv[2], argv[3], version, err, sizeof(err)) != 0) {
		toll_err("%s", err);
		return 1;
	}
	printf("wrote %s (list version %" PRIu64 ")\n", argv[3], version);
	return 0;
}

static int
cmd_status(int argc, char **argv)
{
	const char *path = "toll-lane.sock";
	struct sockaddr_un sa;
	char buf[4096];
	int fd;
	ssize_t n;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			path = argv[++i];
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return 2;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		toll_err("could not reach toll-lane on %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	static struct lane_conf conf;
	const char *file = NULL;
	char *sets[64];
	int nsets = 0, check = 0;

	toll_log_init("toll-lane", LOG_INFO);
	if (argc >= 2) {
		if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[1], "--version") == 0) {
			printf("toll-lane %s (transaction format %d, firmware interface %d)\n", TOLL_VERSION,
			       TOLL_TXN_VERSION, FWI_MAP_VERSION);
			return 0;
		}
		if (strcmp(argv[1], "--help-config") == 0) {
			toll_cfg_describe(lane_keys, NKEYS, stdout);
			return 0;
		}
		if (strcmp(argv[1], "keygen") == 0) {
			if (argc != 3) {
				usage(stderr);
				return 2;
			}
			return cmd_keygen(argv[2]);
		}
		if (strcmp(argv[1], "journal") == 0)
			return cmd_journal(argc - 1, argv + 1);
		if (strcmp(argv[1], "taglist") == 0)
			return cmd_taglist(argc - 1, argv + 1);
		if (strcmp(argv[1], "status") == 0)
			return cmd_status(argc - 1, argv + 1);
	}
	int i = 1;
	if (i < argc && strcmp(argv[i], "run") == 0)
		i++;
	else if (i < argc && strcmp(argv[i], "--check-config") == 0) {
		check = 1;
		i++;
	} else {
		usage(stderr);
		return 2;
	}
	for (; i < argc; i++) {
		if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
			file = argv[++i];
		else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc && nsets < 64)
			sets[nsets++] = argv[++i];
		else if (strcmp(argv[i], "--check-config") == 0)
			check = 1;
		else {
			toll_err("unknown argument '%s'", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (load_conf(&conf, file, sets, nsets) != 0)
		return 1;
	if (check) {
		toll_cfg_print(lane_keys, NKEYS, &conf, stdout);
		return 0;
	}
	return cmd_run(&conf);
}

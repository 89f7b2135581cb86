/* central_main.c: toll-central, the settlement service.
 *
 *   toll-central run [-c FILE] [--set KEY=VALUE]...    serve the lanes
 *   toll-central --migrate [-c FILE] [--set ...]        apply central/sql
 *   toll-central --check-config [-c FILE] [--set ...]
 *   toll-central --help-config
 *   toll-central status [--socket PATH]
 *
 * Flow: `inflight` NNG rep0 contexts each receive one batch at a time;
 * a received batch goes to the `workers` threads, which check every
 * record's signature (the costly part, in parallel) and hand it to the
 * settler without waiting; one settler thread takes every batch waiting
 * and settles them together in one database transaction (group commit),
 * then answers each batch on its own context, which then receives again.
 * So the batches inside central are bounded by `inflight` (memory: at
 * most inflight x one batch), and while the settler commits one group
 * the next one is received and verified.  The main thread serves the
 * status socket and signals.
 *
 * One settler per database: the settler's session holds an advisory lock
 * (cdb_try_lock).  A second toll-central on the same database stands
 * by, answering RETRY, and takes over within a second of the first one's
 * session ending (a crash or kill -9 ends it at once; a lost host when
 * PostgreSQL's TCP keepalives notice): an active/standby pair needs
 * nothing more. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/tls/tls.h>

#include "api.h"
#include "cdb.h"
#include "cfg.h"
#include "clock.h"
#include "err.h"
#include "crypto.h"
#include "keyring.h"
#include "list.h"
#include "log.h"
#include "migrate.h"
#include "notify.h"
#include "settle.h"
#include "trips.h"
#include "umsg.h"

#define PATH_LEN 511
#define WORKERS_MAX 64
#define INFLIGHT_MAX 4096

struct central_conf {
	char db_conninfo[1024];
	char db_role[64];
	char listen[256];
	char tls_cert[PATH_LEN + 1], tls_ca[PATH_LEN + 1];
	int64_t workers;
	int64_t inflight;
	int64_t group_max;
	int64_t keys_refresh_ms;
	int64_t retry_max_ms;
	char control_socket[108];
	char log_level[16];
	char list_key[PATH_LEN + 1], list_publish[256], list_listen[256], list_dir[PATH_LEN + 1];
	int64_t list_interval_ms, list_heartbeat_ms, list_snapshot_ms;
	int64_t trips_interval_ms, trips_expiry_ms;
	char notify_mode[16], notify_command[1024], notify_url[1024], notify_secret_file[PATH_LEN + 1];
	int64_t notify_batch, notify_parallel, notify_interval_ms, notify_timeout_ms, notify_retry_max;
	int64_t notify_backoff_ms, notify_backoff_max_ms;
	char api_listen[256], api_tls_cert[PATH_LEN + 1], api_tls_key[PATH_LEN + 1];
	int64_t api_threads, api_max_body, api_clock_window_ms, api_partners_refresh_ms;
};

#define F(field) offsetof(struct central_conf, field)
static const struct toll_cfg_key central_keys[] = {
	{"db.conninfo", TOLL_CFG_STRING, 0, 1023, "", F(db_conninfo), 0, 0, TOLL_CFG_SECRET, "libpq connection string (empty: the PG* environment)"},
	{"db.role", TOLL_CFG_STRING, 0, 63, "toll_app", F(db_role), 0, 0, 0, "SET ROLE after connecting (the grants of central/sql); empty: none"},
	{"listen", TOLL_CFG_STRING, 0, 255, "tcp://127.0.0.1:7300", F(listen), 0, 0, 0, "where lanes send: tcp://HOST:PORT or tls+tcp://HOST:PORT"},
	{"tls.cert", TOLL_CFG_STRING, 0, PATH_LEN, "", F(tls_cert), 0, 0, 0, "tls+tcp: central's certificate and private key (PEM, one file)"},
	{"tls.ca", TOLL_CFG_STRING, 0, PATH_LEN, "", F(tls_ca), 0, 0, 0, "tls+tcp: when set, lanes must present a certificate from this CA"},
	{"workers", TOLL_CFG_INT, 0, WORKERS_MAX, "0", F(workers), 0, 0, 0, "threads verifying signatures (0: one per CPU)"},
	{"inflight", TOLL_CFG_INT, 1, INFLIGHT_MAX, "256", F(inflight), 0, 0, 0, "batches held at once, received and not yet answered (bounds memory)"},
	{"group.max_records", TOLL_CFG_INT, 1, 1000000, "16384", F(group_max), 0, 0, 0, "records settled in one database transaction, at most"},
	{"keys.refresh", TOLL_CFG_MS, 100, 3600000, "2s", F(keys_refresh_ms), 0, 0, 0, "reload lanes and keys (revocations) this often"},
	{"db.retry_max", TOLL_CFG_MS, 100, 600000, "10s", F(retry_max_ms), 0, 0, 0, "longest wait between database reconnects"},
	{"control.socket", TOLL_CFG_STRING, 0, 107, "toll-central.sock", F(control_socket), 0, 0, 0, "status socket (toll-central status)"},
	{"log.level", TOLL_CFG_STRING, 0, 15, "info", F(log_level), 0, 0, 0, "err, warning, notice, info, debug"},
	{"list.key", TOLL_CFG_STRING, 0, PATH_LEN, "", F(list_key), 0, 0, 0, "central's list signing key (toll-central keygen); empty: no tag status list for the lanes"},
	{"list.publish", TOLL_CFG_STRING, 0, 255, "tcp://127.0.0.1:7301", F(list_publish), 0, 0, 0, "where the lanes subscribe to list deltas and heartbeats"},
	{"list.listen", TOLL_CFG_STRING, 0, 255, "tcp://127.0.0.1:7302", F(list_listen), 0, 0, 0, "where the lanes ask for missed deltas and snapshots"},
	{"list.dir", TOLL_CFG_STRING, 1, PATH_LEN, "list", F(list_dir), 0, 0, 0, "snapshot files of the list"},
	{"list.interval", TOLL_CFG_MS, 10, 60000, "200ms", F(list_interval_ms), 0, 0, 0, "look for list changes this often"},
	{"list.heartbeat", TOLL_CFG_MS, 100, 60000, "1s", F(list_heartbeat_ms), 0, 0, 0, "tell the lanes the latest version this often"},
	{"list.snapshot_every", TOLL_CFG_MS, 1000, 604800000, "1h", F(list_snapshot_ms), 0, 0, 0, "write the whole list again this often (when it changed)"},
	{"api.listen", TOLL_CFG_STRING, 0, 255, "", F(api_listen), 0, 0, 0, "partners' top-up API, HOST:PORT (IPv4; empty: off)"},
	{"api.tls_cert", TOLL_CFG_STRING, 0, PATH_LEN, "", F(api_tls_cert), 0, 0, 0, "HTTPS: the certificate chain (PEM); empty: plain HTTP"},
	{"api.tls_key", TOLL_CFG_STRING, 0, PATH_LEN, "", F(api_tls_key), 0, 0, 0, "HTTPS: the certificate's private key (PEM)"},
	{"api.threads", TOLL_CFG_INT, 1, 256, "4", F(api_threads), 0, 0, 0, "HTTP threads, each with a database connection (about 2 per database CPU: more only add contention)"},
	{"api.max_body", TOLL_CFG_BYTES, 256, 1048576, "8KiB", F(api_max_body), 0, 0, 0, "largest request body accepted (413 above)"},
	{"api.clock_window", TOLL_CFG_MS, 1000, 3600000, "300s", F(api_clock_window_ms), 0, 0, 0, "requests signed further than this from central's clock are refused"},
	{"api.partners_refresh", TOLL_CFG_MS, 100, 3600000, "5s", F(api_partners_refresh_ms), 0, 0, 0, "reload partners (secrets, limits, active) this often"},
	{"trips.interval", TOLL_CFG_MS, 10, 60000, "250ms", F(trips_interval_ms), 0, 0, 0, "match closed-road exits with their entries this often"},
	{"trips.expiry", TOLL_CFG_MS, 1000, 2592000000LL, "24h", F(trips_expiry_ms), 0, 0, 0, "a closed-road entry with no exit after this is dropped (lanes: list.entry_expiry)"},
	{"notify.mode", TOLL_CFG_STRING, 1, 15, "off", F(notify_mode), 0, 0, 0, "drivers' notifications: off, command or webhook (docs/notifications.md)"},
	{"notify.command", TOLL_CFG_STRING, 0, 1023, "", F(notify_command), 0, 0, 0, "command mode: run by /bin/sh -c per notification, JSON on stdin; exit 0 = delivered"},
	{"notify.url", TOLL_CFG_STRING, 0, 1023, "", F(notify_url), 0, 0, 0, "webhook mode: http://HOST:PORT/PATH, a signed POST per notification (https: a local relay)"},
	{"notify.secret_file", TOLL_CFG_STRING, 0, PATH_LEN, "", F(notify_secret_file), 0, 0, 0, "webhook mode: the HMAC-SHA256 key in hex (32+ bytes), mode 0600"},
	{"notify.batch", TOLL_CFG_INT, 1, 1000, "100", F(notify_batch), 0, 0, 0, "notifications taken in one round (a crash may send that many again)"},
	{"notify.parallel", TOLL_CFG_INT, 1, 64, "4", F(notify_parallel), 0, 0, 0, "deliveries at once (an account's go one after another)"},
	{"notify.interval", TOLL_CFG_MS, 10, 60000, "200ms", F(notify_interval_ms), 0, 0, 0, "look for new notifications this often"},
	{"notify.timeout", TOLL_CFG_MS, 100, 600000, "10s", F(notify_timeout_ms), 0, 0, 0, "one delivery, at most (the command is killed)"},
	{"notify.retry_max", TOLL_CFG_INT, 1, 1000, "10", F(notify_retry_max), 0, 0, 0, "attempts per notification, then it is marked failed"},
	{"notify.backoff", TOLL_CFG_MS, 10, 3600000, "2s", F(notify_backoff_ms), 0, 0, 0, "wait before the first retry, doubling after each"},
	{"notify.backoff_max", TOLL_CFG_MS, 10, 86400000, "10m", F(notify_backoff_max_ms), 0, 0, 0, "longest wait between retries"},
};
#define NKEYS (sizeof(central_keys) / sizeof(central_keys[0]))

/* A batch on its way through, on the receive context that answers it. */
struct slot {
	nng_ctx ctx;
	nng_aio *aio;
	int sending;		/* the aio is sending the answer */
	nng_msg *req;		/* the batch; the items point into it */
	struct toll_umsg m;
	struct settle_batch b;
	uint32_t status;	/* for the ack: b.status, or RETRY */
	struct slot *next;	/* in the verify or the settle queue */
};

static struct {
	const struct central_conf *c;
	nng_socket sock;
	struct keyring *keys;
	pthread_mutex_t mu;
	pthread_cond_t queued;
	struct slot *head, *tail; /* verified, for the settler */
	unsigned queued_records;
	pthread_mutex_t vmu;
	pthread_cond_t vcond;
	struct slot *vhead, *vtail; /* received, for the workers */
	struct slot *slots;
	int nslots;
	atomic_int stop;
	/* counters */
	atomic_uint_fast64_t requests, malformed, retries_sent, unknown_lane, refused_batches;
	struct listpub *list;
	struct toll_signer *list_key;
	struct trips *trips;
	struct notify *notify;
	struct api *api;
	pthread_mutex_t stats_mu;
	struct settle_stats st;
	int db_up;
	int64_t last_keys_ms;
} g;

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
		"usage: toll-central run [-c FILE] [--set KEY=VALUE]...\n"
		"       toll-central --migrate [-c FILE] [--set KEY=VALUE]...\n"
		"       toll-central --check-config [-c FILE] [--set KEY=VALUE]...\n"
		"       toll-central --help-config\n"
		"       toll-central status [--socket PATH]\n"
		"       toll-central keygen FILE\n"
		"       toll-central --help | --version\n"
		"\n"
		"Receives the lanes' signed transactions (NNG rep0, docs/uplink-format.md),\n"
		"verifies each, and settles each exactly once into the PostgreSQL ledger\n"
		"before acknowledging it.  --migrate applies the schema (central/sql).\n"
		"With list.key set it also publishes the tag status list to the lanes\n"
		"(docs/taglist-sync.md); keygen makes that key.\n");
}

static void
notify_conf_of(const struct central_conf *c, struct notify_conf *nc)
{
	*nc = (struct notify_conf){
		.conninfo = c->db_conninfo, .role = c->db_role, .command = c->notify_command, .url = c->notify_url,
		.secret_file = c->notify_secret_file, .batch = c->notify_batch, .parallel = c->notify_parallel,
		.interval_ms = c->notify_interval_ms, .timeout_ms = c->notify_timeout_ms, .retry_max_ms = c->retry_max_ms,
		.retry_max = c->notify_retry_max, .backoff_ms = c->notify_backoff_ms,
		.backoff_max_ms = c->notify_backoff_max_ms};
	(void)notify_mode_parse(c->notify_mode, &nc->mode);
}

static int
load_conf(struct central_conf *c, const char *file, char **sets, int nsets)
{
	char err[512];

	if (toll_cfg_defaults(central_keys, NKEYS, c) != 0)
		return -1;
	if (file != NULL && toll_cfg_load(central_keys, NKEYS, c, file, err, sizeof(err)) != 0) {
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
		if (toll_cfg_set(central_keys, NKEYS, c, name, eq + 1, err, sizeof(err)) != 0) {
			toll_err("--set %s", err);
			return -1;
		}
	}
	enum notify_mode nm;
	struct notify_conf nc;
	if (notify_mode_parse(c->notify_mode, &nm) != 0) {
		toll_err("notify.mode must be off, command or webhook, not '%s'", c->notify_mode);
		return -1;
	}
	notify_conf_of(c, &nc);
	if (notify_check(&nc, err, sizeof(err)) != 0) {
		toll_err("%s", err);
		return -1;
	}
	if (toll_log_parse_level(c->log_level) < 0) {
		toll_err("log.level must be err, warning, notice, info or debug, not '%s'", c->log_level);
		return -1;
	}
	if (strncmp(c->listen, "tcp://", 6) != 0 && strncmp(c->listen, "tls+tcp://", 10) != 0 &&
	    strncmp(c->listen, "ipc://", 6) != 0) {
		toll_err("listen must be tcp://HOST:PORT, tls+tcp://HOST:PORT or ipc://PATH, not '%s'", c->listen);
		return -1;
	}
	if (strncmp(c->listen, "tls+", 4) == 0 && c->tls_cert[0] == 0) {
		toll_err("listen %s needs tls.cert", c->listen);
		return -1;
	}
	return 0;
}

/* ---- receive, verify, answer ---------------------------------------- */

static void
post_recv(struct slot *sl)
{
	sl->sending = 0;
	if (!atomic_load(&g.stop))
		nng_ctx_recv(sl->ctx, sl->aio);
}

/* Drop the batch (items and message) the slot holds. */
static void
release(struct slot *sl)
{
	free(sl->b.items);
	sl->b.items = NULL;
	if (sl->req != NULL)
		nng_msg_free(sl->req);
	sl->req = NULL;
}

/* Answer the slot's batch with its status, then receive the next one. */
static void
answer(struct slot *sl)
{
	struct toll_umsg_ack a;
	uint8_t out[TOLL_UMSG_ACK_BYTES];
	nng_msg *m;

	memset(&a, 0, sizeof(a));
	a.station_id = sl->b.station_id;
	a.lane_id = sl->b.lane_id;
	a.status = sl->status;
	if (sl->status == TOLL_UMSG_OK) {
		a.acked_seq = sl->b.acked_seq;
		a.accepted = sl->b.accepted;
		a.duplicates = sl->b.duplicates;
		a.quarantined = sl->b.quarantined;
	} else if (sl->status == TOLL_UMSG_RETRY) {
		atomic_fetch_add(&g.retries_sent, 1);
	} else if (sl->status == TOLL_UMSG_UNKNOWN_LANE) {
		atomic_fetch_add(&g.unknown_lane, 1);
	}
	release(sl);
	if (toll_umsg_encode_ack(out, &a) != 0 || nng_msg_alloc(&m, 0) != 0) {
		post_recv(sl); /* no answer: the lane sends again after its timeout */
		return;
	}
	if (nng_msg_append(m, out, sizeof(out)) != 0) {
		nng_msg_free(m);
		post_recv(sl);
		return;
	}
	nng_aio_set_msg(sl->aio, m);
	sl->sending = 1;
	nng_ctx_send(sl->ctx, sl->aio);
}

/* NNG's callback: a batch received, or an answer sent. */
static void
slot_cb(void *arg)
{
	struct slot *sl = arg;
	int rv = nng_aio_result(sl->aio);

	if (sl->sending) {
		if (rv != 0)
			nng_msg_free(nng_aio_get_msg(sl->aio)); /* the lane went away: it asks again */
		if (rv != NNG_ECLOSED)
			post_recv(sl);
		return;
	}
	if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
		return;
	if (rv != 0) {
		post_recv(sl);
		return;
	}
	sl->req = nng_aio_get_msg(sl->aio);
	atomic_fetch_add(&g.requests, 1);
	pthread_mutex_lock(&g.vmu);
	sl->next = NULL;
	if (g.vtail != NULL)
		g.vtail->next = sl;
	else
		g.vhead = sl;
	g.vtail = sl;
	pthread_cond_signal(&g.vcond);
	pthread_mutex_unlock(&g.vmu);
}

/* Decode and verify one received batch, then queue it for the settler. */
static void
verify(struct slot *sl)
{
	struct toll_umsg *m = &sl->m;
	int rc = toll_umsg_decode(nng_msg_body(sl->req), nng_msg_len(sl->req), m);

	if (rc != 0 || m->type != TOLL_UMSG_BATCH) {
		/* garbage: counted; no answer, and the sender is cut off */
		atomic_fetch_add(&g.malformed, 1);
		toll_info("a message that is not a batch (%zu bytes): %s: dropped", nng_msg_len(sl->req),
			  rc != 0 ? toll_strerror(rc) : "wrong type");
		nng_pipe p = nng_msg_get_pipe(sl->req);
		release(sl);
		nng_pipe_close(p);
		post_recv(sl);
		return;
	}
	memset(&sl->b, 0, sizeof(sl->b));
	sl->b.station_id = m->station_id;
	sl->b.lane_id = m->lane_id;
	sl->b.lane_known = keyring_lane_known(g.keys, m->station_id, m->lane_id);
	sl->b.n = m->count;
	if (m->count > 0 && (sl->b.items = calloc(m->count, sizeof(*sl->b.items))) == NULL) {
		sl->status = TOLL_UMSG_RETRY;
		answer(sl);
		return;
	}
	for (unsigned i = 0; i < m->count; i++) {
		struct settle_item *it = &sl->b.items[i];
		it->bytes = toll_umsg_record(m, i, &it->len);
		it->verdict = keyring_check(g.keys, m->station_id, m->lane_id, it->bytes, it->len, &it->t, it->hash);
	}
	pthread_mutex_lock(&g.mu);
	sl->next = NULL;
	if (g.tail != NULL)
		g.tail->next = sl;
	else
		g.head = sl;
	g.tail = sl;
	g.queued_records += m->count;
	pthread_cond_signal(&g.queued);
	pthread_mutex_unlock(&g.mu);
}

static void *
worker(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&g.vmu);
		while (g.vhead == NULL && !atomic_load(&g.stop))
			pthread_cond_wait(&g.vcond, &g.vmu);
		struct slot *sl = g.vhead;
		if (sl != NULL && !atomic_load(&g.stop)) {
			g.vhead = sl->next;
			if (g.vhead == NULL)
				g.vtail = NULL;
		}
		pthread_mutex_unlock(&g.vmu);
		if (atomic_load(&g.stop))
			return NULL;
		verify(sl);
	}
}

/* ---- the settler --------------------------------------------------- */

/* Answer every batch of the list: its settlement's status, or (failed)
 * status_if_failed. */
static void
finish(struct slot *jobs, uint32_t status_if_failed, int failed)
{
	for (struct slot *j = jobs; j != NULL;) {
		struct slot *next = j->next;
		j->status = failed ? status_if_failed : j->b.status;
		answer(j);
		j = next;
	}
}

/* Verdicts the workers gave with the keyring they had (maybe not loaded
 * yet): look again at what was unknown.  1 if something still is. */
static int
recheck(struct settle_batch *b)
{
	int unknown = 0;
	b->lane_known = keyring_lane_known(g.keys, b->station_id, b->lane_id);
	unknown |= !b->lane_known;
	for (unsigned i = 0; i < b->n; i++) {
		struct settle_item *it = &b->items[i];
		if (it->verdict != V_UNKNOWN_LANE && it->verdict != V_UNKNOWN_KEY)
			continue;
		it->verdict = keyring_check(g.keys, b->station_id, b->lane_id, it->bytes, it->len, &it->t, it->hash);
		unknown |= it->verdict == V_UNKNOWN_LANE || it->verdict == V_UNKNOWN_KEY;
	}
	return unknown;
}

static void *
settler_thread(void *arg)
{
	(void)arg;
	struct cdb *db = NULL;
	struct settler *s = NULL;
	int64_t wait_ms = 0, next_try = 0;
	int standby = 0;
	struct settle_batch **group = NULL;
	size_t group_cap = 0;

	if (settler_new(NULL, &s) != 0) {
		toll_err("settler: out of memory");
		return NULL;
	}
	while (!atomic_load(&g.stop)) {
		char err[512];
		int64_t now = toll_mono_ms();

		if (db == NULL && now >= next_try) {
			int rc = cdb_connect(g.c->db_conninfo, g.c->db_role, &db, err, sizeof(err));
			if (rc == 0) {
				unsigned applied;
				rc = cdb_try_lock(db, CDB_LOCK_SETTLER, "settler", err, sizeof(err));
				if (rc == TOLL_EBUSY) {
					pthread_mutex_lock(&g.stats_mu);
					g.db_up = 2;
					pthread_mutex_unlock(&g.stats_mu);
				}
				if (rc == 0)
					rc = migrate_run(db, 0, &applied, err, sizeof(err));
				if (rc == 0)
					rc = keyring_load(g.keys, db, err, sizeof(err));
				if (rc != 0) {
					cdb_close(db);
					db = NULL;
				}
			}
			if (rc == TOLL_EBUSY) {
				/* a standby: take over within a second of the
				 * other's session ending */
				if (!standby)
					toll_notice("%s", err);
				standby = 1;
				next_try = now + 1000;
			} else if (rc != 0) {
				wait_ms = wait_ms == 0 ? 200 : wait_ms * 2;
				if (wait_ms > g.c->retry_max_ms)
					wait_ms = g.c->retry_max_ms;
				toll_warn("database: %s (again in %" PRId64 " ms)", err, wait_ms);
				next_try = now + wait_ms;
			} else {
				if (standby)
					toll_notice("the settler lock is ours: settling");
				standby = 0;
				toll_notice("database connected; %zu lane keys", keyring_key_count(g.keys));
				wait_ms = 0;
				settler_reset(s, db);
				g.last_keys_ms = now;
				pthread_mutex_lock(&g.stats_mu);
				g.db_up = 1;
				pthread_mutex_unlock(&g.stats_mu);
			}
		}
		/* take what waits */
		pthread_mutex_lock(&g.mu);
		while (g.head == NULL && !atomic_load(&g.stop)) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 200 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			if (pthread_cond_timedwait(&g.queued, &g.mu, &ts) == ETIMEDOUT)
				break;
		}
		struct slot *jobs = g.head, *last = NULL;
		unsigned n = 0, recs = 0;
		for (struct slot *j = g.head; j != NULL && (n == 0 || recs + j->b.n <= (unsigned)g.c->group_max);
		     j = j->next) {
			last = j;
			n++;
			recs += j->b.n;
		}
		if (last != NULL) {
			g.head = last->next;
			if (g.head == NULL)
				g.tail = NULL;
			last->next = NULL;
			g.queued_records -= recs;
		} else {
			jobs = NULL;
		}
		pthread_mutex_unlock(&g.mu);

		if (db != NULL && toll_mono_ms() - g.last_keys_ms >= g.c->keys_refresh_ms) {
			g.last_keys_ms = toll_mono_ms();
			if (keyring_load(g.keys, db, err, sizeof(err)) != 0)
				toll_warn("could not reload lane keys: %s", err);
		}
		if (jobs == NULL)
			continue;
		if (db == NULL) {
			finish(jobs, TOLL_UMSG_RETRY, 1);
			continue;
		}
		if (group_cap < n) {
			struct settle_batch **ng = realloc(group, n * sizeof(*ng));
			if (ng == NULL) {
				finish(jobs, TOLL_UMSG_RETRY, 1);
				continue;
			}
			group = ng;
			group_cap = n;
		}
		unsigned k = 0;
		int unknown = 0;
		for (struct slot *j = jobs; j != NULL; j = j->next) {
			group[k++] = &j->b;
			unknown |= recheck(&j->b);
		}
		if (unknown && toll_mono_ms() - g.last_keys_ms >= 1000) {
			/* a lane or key registered since the last load? */
			g.last_keys_ms = toll_mono_ms();
			if (keyring_load(g.keys, db, err, sizeof(err)) == 0)
				for (struct slot *j = jobs; j != NULL; j = j->next)
					(void)recheck(&j->b);
		}
		int rc = settler_run(s, group, n, err, sizeof(err));
		if (rc == TOLL_EDB && n == 1) {
			atomic_fetch_add(&g.refused_batches, 1);
			toll_err("lane %" PRIu32 "/%u: batch of %u records refused by the database, answered RETRY: %s",
				 jobs->b.station_id, jobs->b.lane_id, jobs->b.n, err);
		} else if (rc == TOLL_EDB && !cdb_broken(db)) {
			/* the database refused the group, not for want of a
			 * connection: one batch must not hold back the others.
			 * Each alone; what is still refused is answered RETRY
			 * (the lane keeps it) and reported. */
			toll_err("settlement of %u batches (%u records) refused by the database: %s;"
				 " settling them one by one", n, recs, err);
			k = 0;
			for (struct slot *j = jobs; j != NULL && !cdb_broken(db);) {
				struct slot *next = j->next;
				j->next = NULL;
				rc = settler_run(s, &group[k++], 1, err, sizeof(err));
				if (rc == TOLL_EDB) {
					atomic_fetch_add(&g.refused_batches, 1);
					toll_err("lane %" PRIu32 "/%u: batch of %u records refused by the database,"
						 " answered RETRY: %s", j->b.station_id, j->b.lane_id, j->b.n, err);
				}
				finish(j, TOLL_UMSG_RETRY, rc != 0);
				jobs = j = next;
			}
			pthread_mutex_lock(&g.stats_mu);
			settler_stats(s, &g.st);
			pthread_mutex_unlock(&g.stats_mu);
			/* the rest, if the connection broke on the way */
			rc = jobs == NULL ? 0 : TOLL_EAGAIN;
			if (rc == 0)
				continue;
		}
		if (rc != 0) {
			toll_warn("settlement of %u batches (%u records) failed, nothing committed: %s", n, recs, err);
			if (cdb_broken(db)) {
				cdb_close(db);
				db = NULL;
				pthread_mutex_lock(&g.stats_mu);
				g.db_up = 0;
				pthread_mutex_unlock(&g.stats_mu);
			}
			finish(jobs, TOLL_UMSG_RETRY, 1);
			continue;
		}
		pthread_mutex_lock(&g.stats_mu);
		settler_stats(s, &g.st);
		pthread_mutex_unlock(&g.stats_mu);
		finish(jobs, 0, 0);
	}
	/* answer what still waits: RETRY */
	pthread_mutex_lock(&g.mu);
	struct slot *rest = g.head;
	g.head = g.tail = NULL;
	g.queued_records = 0;
	pthread_mutex_unlock(&g.mu);
	finish(rest, TOLL_UMSG_RETRY, 1);
	settler_free(s);
	cdb_close(db);
	free(group);
	return NULL;
}

/* ---- status -------------------------------------------------------- */

static void
status_text(FILE *out)
{
	struct settle_stats st;
	int up;
	pthread_mutex_lock(&g.stats_mu);
	st = g.st;
	up = g.db_up;
	pthread_mutex_unlock(&g.stats_mu);
	pthread_mutex_lock(&g.mu);
	unsigned queued = g.queued_records;
	pthread_mutex_unlock(&g.mu);
	fprintf(out, "database %s; lane keys %zu; records waiting %u\n",
		up == 1 ? "up" : up == 2 ? "STANDBY (another toll-central settles)" : "DOWN",
		keyring_key_count(g.keys), queued);
	fprintf(out,
		"requests=%" PRIu64 " malformed_messages=%" PRIu64 " retry_answers=%" PRIu64
		" unknown_lane_answers=%" PRIu64 "\n",
		(uint64_t)atomic_load(&g.requests), (uint64_t)atomic_load(&g.malformed),
		(uint64_t)atomic_load(&g.retries_sent), (uint64_t)atomic_load(&g.unknown_lane));
	fprintf(out,
		"groups=%" PRIu64 " batches=%" PRIu64 " records=%" PRIu64 " accepted=%" PRIu64
		" duplicates=%" PRIu64 " quarantined=%" PRIu64 " conflicts=%" PRIu64 " chain_breaks=%" PRIu64
		" out_of_range=%" PRIu64 " gaps=%" PRIu64 " posted=%" PRIu64 " unposted=%" PRIu64
		" db_errors=%" PRIu64 " careful_groups=%" PRIu64 " refused_batches=%" PRIu64 "\n",
		st.groups, st.batches, st.records, st.accepted, st.duplicates, st.quarantined, st.conflicts,
		st.chain_breaks, st.out_of_range, st.gaps, st.posted, st.unposted, st.db_errors,
		st.careful_groups, (uint64_t)atomic_load(&g.refused_batches));
	fprintf(out, "verdicts");
	for (int v = 0; v < V_COUNT && v < 8; v++)
		fprintf(out, " %s=%" PRIu64, verdict_name(v), st.by_verdict[v]);
	fprintf(out, "\n");
	if (g.list != NULL) {
		struct listpub_stats ls;
		listpub_stats(g.list, &ls);
		fprintf(out,
			"list %s version=%" PRIu64 " deltas=%" PRIu64 " records=%" PRIu64 " snapshots=%" PRIu64
			" heartbeats=%" PRIu64 " requests=%" PRIu64 " answered_deltas=%" PRIu64
			" answered_chunks=%" PRIu64 " refused=%" PRIu64 " db_errors=%" PRIu64 "\n",
			ls.up == 1 ? "publishing" : ls.up == 2 ? "STANDBY" : "DOWN", ls.version, ls.deltas,
			ls.records, ls.snapshots, ls.heartbeats, ls.requests, ls.answered_deltas, ls.answered_chunks,
			ls.refused, ls.db_errors);
	} else {
		fprintf(out, "list off (no list.key)\n");
	}
	if (g.api != NULL) {
		struct api_stats as;
		api_stats(g.api, &as);
		fprintf(out, "api partners=%" PRIu64 " requests=%" PRIu64 " topped_up_vnd=%" PRId64 " reversed_vnd=%" PRId64,
			as.partners, as.requests, as.topped_up_vnd, as.reversed_vnd);
		for (unsigned o = 0; o < API_OUTCOMES; o++)
			fprintf(out, " %s=%" PRIu64, api_outcome_name(o), as.by[o]);
		fprintf(out, "\n");
	}
	if (g.trips != NULL) {
		struct trips_stats ts;
		trips_stats(g.trips, &ts);
		fprintf(out,
			"trips %s tariff=%" PRIu64 " matched=%" PRIu64 " corrected=%" PRIu64 " corrected_vnd=%" PRId64
			" waiting=%" PRIu64 " unmatched=%" PRIu64 " expired=%" PRIu64 " fee_errors=%" PRIu64
			" db_errors=%" PRIu64 "\n",
			ts.up == 1 ? "matching" : ts.up == 2 ? "STANDBY" : "DOWN", ts.tariff_version, ts.exits_matched,
			ts.exits_corrected, ts.corrected_vnd, ts.exits_waiting, ts.exits_unmatched, ts.entries_expired,
			ts.fee_errors, ts.db_errors);
	}
	if (g.notify != NULL) {
		struct notify_stats ns;
		notify_stats(g.notify, &ns);
		fprintf(out,
			"notify %s %s%s sent=%" PRIu64 " failed=%" PRIu64 " retrying=%" PRIu64 " lag_ms=%" PRId64
			" cursor=%" PRIu64 " attempts_failed=%" PRIu64 " unreachable=%" PRIu64 " db_errors=%" PRIu64 "\n",
			g.c->notify_mode, ns.up == 1 ? "sending" : ns.up == 2 ? "STANDBY" : "DOWN",
			ns.paused ? " PAUSED" : "", ns.sent_total, ns.failed_total, ns.retrying, ns.lag_ms, ns.cursor,
			ns.attempts_failed, ns.unreachable, ns.db_errors);
	} else {
		fprintf(out, "notify off (notify.mode)\n");
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
cmd_status(int argc, char **argv)
{
	const char *path = "toll-central.sock";
	struct sockaddr_un sa;
	char buf[4096];
	ssize_t n;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			path = argv[++i];
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return 2;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		toll_err("could not reach toll-central on %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	close(fd);
	return 0;
}

/* ---- run ----------------------------------------------------------- */

static int
open_socket(const struct central_conf *c)
{
	nng_listener l;
	nng_tls_config *tls = NULL;
	int rv;

	if ((rv = nng_rep0_open(&g.sock)) != 0)
		goto fail;
	if ((rv = nng_socket_set_size(g.sock, NNG_OPT_RECVMAXSZ, TOLL_UMSG_MAX_BYTES)) != 0)
		goto fail;
	if ((rv = nng_listener_create(&l, g.sock, c->listen)) != 0)
		goto fail;
	if (strncmp(c->listen, "tls+", 4) == 0) {
		if ((rv = nng_tls_config_alloc(&tls, NNG_TLS_MODE_SERVER)) != 0)
			goto fail;
		if ((rv = nng_tls_config_cert_key_file(tls, c->tls_cert, NULL)) != 0) {
			toll_err("tls.cert %s: %s (wants the certificate and its private key, PEM, in one file)",
				 c->tls_cert, nng_strerror(rv));
			goto fail;
		}
		if (c->tls_ca[0] != 0 && (rv = nng_tls_config_ca_file(tls, c->tls_ca)) != 0) {
			toll_err("tls.ca %s: %s (wants CA certificates, PEM)", c->tls_ca, nng_strerror(rv));
			goto fail;
		}
		if (c->tls_ca[0] != 0 && (rv = nng_tls_config_auth_mode(tls, NNG_TLS_AUTH_MODE_REQUIRED)) != 0)
			goto fail;
		if ((rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, tls)) != 0)
			goto fail;
		nng_tls_config_free(tls); /* the listener holds it */
		tls = NULL;
	}
	if ((rv = nng_listener_start(l, 0)) != 0)
		goto fail;
	return 0;
fail:
	if (tls != NULL)
		nng_tls_config_free(tls);
	toll_err("cannot listen on %s: %s", c->listen, nng_strerror(rv));
	return -1;
}

static int
cmd_run(const struct central_conf *c)
{
	pthread_t workers[WORKERS_MAX], settler;
	int nworkers = 0, want = (int)c->workers, have_settler = 0, rc = 1, ctl = -1;

	g.c = c;
	pthread_mutex_init(&g.mu, NULL);
	pthread_mutex_init(&g.vmu, NULL);
	pthread_mutex_init(&g.stats_mu, NULL);
	pthread_cond_init(&g.queued, NULL);
	pthread_cond_init(&g.vcond, NULL);
	if (want == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		want = cpus < 1 ? 1 : cpus > WORKERS_MAX ? WORKERS_MAX : (int)cpus;
	}
	if (keyring_new(&g.keys) != 0)
		return 1;
	if ((g.slots = calloc((size_t)c->inflight, sizeof(*g.slots))) == NULL) {
		toll_err("out of memory for %" PRId64 " batches in flight", c->inflight);
		goto out;
	}
	if (open_socket(c) != 0)
		goto out;
	for (; g.nslots < c->inflight; g.nslots++) {
		struct slot *sl = &g.slots[g.nslots];
		if (nng_aio_alloc(&sl->aio, slot_cb, sl) != 0)
			goto out;
		if (nng_ctx_open(&sl->ctx, g.sock) != 0) {
			nng_aio_free(sl->aio);
			goto out;
		}
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (pthread_create(&settler, NULL, settler_thread, NULL) != 0)
		goto out;
	have_settler = 1;
	for (; nworkers < want; nworkers++)
		if (pthread_create(&workers[nworkers], NULL, worker, NULL) != 0)
			goto out;
	for (int i = 0; i < g.nslots; i++)
		post_recv(&g.slots[i]);
	if (c->list_key[0] != 0) {
		char err[600];
		struct listpub_conf lc = {
			.conninfo = c->db_conninfo, .role = c->db_role, .publish_url = c->list_publish,
			.listen_url = c->list_listen, .dir = c->list_dir, .interval_ms = c->list_interval_ms,
			.heartbeat_ms = c->list_heartbeat_ms, .retry_max_ms = c->retry_max_ms,
			.snapshot_every_ms = c->list_snapshot_ms};
		int krc = toll_signer_load(c->list_key, &g.list_key);
		if (krc != 0) {
			toll_err("list.key %s: %s", c->list_key, toll_strerror(krc));
			goto out;
		}
		lc.key = g.list_key;
		if (mkdir(c->list_dir, 0750) != 0 && errno != EEXIST) {
			toll_err("list.dir %s: %s", c->list_dir, strerror(errno));
			goto out;
		}
		if (listpub_start(&lc, &g.list, err, sizeof(err)) != 0) {
			toll_err("%s", err);
			goto out;
		}
		toll_notice("tag status list: deltas on %s, requests on %s, key id %08" PRIx32, c->list_publish,
			    c->list_listen, toll_signer_key_id(g.list_key));
	}
	{
		struct trips_conf tc = {.conninfo = c->db_conninfo, .role = c->db_role,
					.interval_ms = c->trips_interval_ms, .retry_max_ms = c->retry_max_ms,
					.expiry_ms = c->trips_expiry_ms};
		if (trips_start(&tc, &g.trips) != 0) {
			toll_err("trips: %s", toll_strerror(TOLL_ENOMEM));
			goto out;
		}
	}
	if (strcmp(c->notify_mode, "off") != 0) {
		char err[600];
		struct notify_conf nc;
		notify_conf_of(c, &nc);
		if (notify_start(&nc, &g.notify, err, sizeof(err)) != 0) {
			toll_err("%s", err);
			goto out;
		}
		toll_notice("notifications: %s %s", c->notify_mode, nc.mode == NOTIFY_WEBHOOK ? c->notify_url : c->notify_command);
	}
	if (c->api_listen[0] != 0) {
		char err[600];
		struct api_conf ac = {.conninfo = c->db_conninfo, .role = c->db_role, .listen = c->api_listen,
				      .tls_cert = c->api_tls_cert, .tls_key = c->api_tls_key, .threads = (int)c->api_threads,
				      .max_body = c->api_max_body, .clock_window_ms = c->api_clock_window_ms,
				      .partners_refresh_ms = c->api_partners_refresh_ms};
		if (api_start(&ac, &g.api, err, sizeof(err)) != 0) {
			toll_err("%s", err);
			goto out;
		}
		toll_notice("partner API on %s%s, %d threads", c->api_listen, c->api_tls_cert[0] ? " (HTTPS)" : "",
			    (int)c->api_threads);
	}
	ctl = control_listen(c->control_socket);
	toll_notice("listening on %s, %d workers, %d batches in flight at most", c->listen, nworkers, g.nslots);
	while (!stop_signal) {
		struct pollfd pfd = {.fd = ctl, .events = POLLIN};
		if (poll(&pfd, ctl >= 0 ? 1 : 0, 200) > 0) {
			int fd = accept4(ctl, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0) {
				char *text = NULL;
				size_t len = 0;
				FILE *m = open_memstream(&text, &len);
				if (m != NULL) {
					status_text(m);
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
	/* the workers stop (what they hold was never acknowledged), the
	 * settler finishes its group (committed or not) and answers the rest
	 * RETRY, then the socket closes and every context with it */
	atomic_store(&g.stop, 1);
	pthread_mutex_lock(&g.vmu);
	pthread_cond_broadcast(&g.vcond);
	pthread_mutex_unlock(&g.vmu);
	for (int i = 0; i < nworkers; i++)
		pthread_join(workers[i], NULL);
	pthread_mutex_lock(&g.mu);
	pthread_cond_broadcast(&g.queued);
	pthread_mutex_unlock(&g.mu);
	if (have_settler)
		pthread_join(settler, NULL);
	api_stop(g.api);
	notify_stop(g.notify);
	trips_stop(g.trips);
	listpub_stop(g.list);
	toll_signer_free(g.list_key);
	if (g.slots != NULL)
		nng_close(g.sock);
	for (int i = 0; i < g.nslots; i++) {
		nng_aio_stop(g.slots[i].aio);
		nng_aio_free(g.slots[i].aio);
		release(&g.slots[i]);
	}
	free(g.slots);
	if (ctl >= 0) {
		close(ctl);
		unlink(c->control_socket);
	}
	keyring_free(g.keys);
	return rc;
}

static int
cmd_migrate(const struct central_conf *c)
{
	struct cdb *db;
	char err[512];
	unsigned applied;

	/* the owner's rights: no SET ROLE */
	int rc = cdb_connect(c->db_conninfo, NULL, &db, err, sizeof(err));
	if (rc != 0) {
		toll_err("%s", err);
		return 1;
	}
	rc = migrate_run(db, 1, &applied, err, sizeof(err));
	cdb_close(db);
	if (rc != 0) {
		toll_err("%s", err);
		return 1;
	}
	printf("schema up to date: %u migration%s applied now, %u in all\n", applied, applied == 1 ? "" : "s",
	       toll_migrations_count);
	return 0;
}

int
main(int argc, char **argv)
{
	static struct central_conf conf;
	const char *file = NULL;
	char *sets[64];
	int nsets = 0, mode = 0; /* 1 run, 2 check, 3 migrate */

	toll_log_init("toll-central", LOG_INFO);
	if (argc >= 2) {
		if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[1], "--version") == 0) {
			printf("toll-central %s\n", TOLL_VERSION);
			return 0;
		}
		if (strcmp(argv[1], "--help-config") == 0) {
			toll_cfg_describe(central_keys, NKEYS, stdout);
			return 0;
		}
		if (strcmp(argv[1], "status") == 0)
			return cmd_status(argc - 1, argv + 1);
		if (strcmp(argv[1], "keygen") == 0) {
			uint8_t pub[32];
			char hex[65];
			if (argc != 3) {
				toll_err("usage: toll-central keygen FILE");
				return 2;
			}
			int krc = toll_key_generate(argv[2], pub);
			if (krc != 0) {
				toll_err("keygen %s: %s", argv[2], toll_strerror(krc));
				return 1;
			}
			toll_hex_encode(pub, 32, hex);
			printf("public key %s\nkey id %08" PRIx32 "\n", hex, toll_key_id(pub));
			return 0;
		}
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "run") == 0 && mode == 0)
			mode = 1;
		else if (strcmp(argv[i], "--check-config") == 0)
			mode = 2;
		else if (strcmp(argv[i], "--migrate") == 0)
			mode = 3;
		else if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
			file = argv[++i];
		else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc && nsets < 64)
			sets[nsets++] = argv[++i];
		else {
			toll_err("unknown argument '%s'", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (mode == 0) {
		usage(stderr);
		return 2;
	}
	if (load_conf(&conf, file, sets, nsets) != 0)
		return 2;
	toll_log_set_level(toll_log_parse_level(conf.log_level));
	if (mode == 2) {
		toll_cfg_print(central_keys, NKEYS, &conf, stdout);
		return 0;
	}
	if (mode == 3)
		return cmd_migrate(&conf);
	return cmd_run(&conf);
}

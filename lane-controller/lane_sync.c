/* lane_sync.c: see lane_sync.h.
 *
 * DIR/deltas.log: frames of u32 length | u32 CRC-32C of the bytes | the
 * signed DELTA as central sent it (big-endian), versions consecutive from
 * the version of DIR/list.tsl + 1.  A frame that is torn, fails its CRC,
 * does not decode, does not verify or does not follow is where the log is
 * cut (it was never fsynced whole, or it is damage: either way the lane
 * asks central again).  Compaction writes the merged list to list.tsl (temp
 * file, fsync, rename) before emptying the log, so a crash between the two
 * leaves frames the list already has, which replay skips. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>

#include "buf.h"
#include "clock.h"
#include "crc.h"
#include "crypto.h"
#include "err.h"
#include "lane_sync.h"
#include "log.h"
#include "tslmsg.h"

#define PATH_MAX_LEN 600
#define CHUNK_BYTES (1u << 20)
#define REQUEST_TIMEOUT_MS 5000
#define LOG_FRAME_HDR 8

struct lane_sync {
	struct lane_sync_conf c;
	char dir[PATH_MAX_LEN];
	struct lane_context *ctx;
	struct toll_verifier *key;
	uint32_t key_id;
	nng_socket sub;
	int have_sub;
	/* requests to central (GET_DELTAS, GET_SNAPSHOT): one socket for the
	 * process's life, dialled in the background.  A socket a request was
	 * found to hang NNG 1.5's nng_close when a duplicated reply arrived
	 * while it closed (the fault tests' relay); req0 drops stale and
	 * repeated replies by request id. */
	nng_socket req;
	int have_req;
	pthread_t thread;
	int have_thread;
	atomic_int stop;
	int logfd;
	uint64_t logged; /* frames in the log */
	uint8_t *buf;	 /* a message */
	uint8_t *rbuf;	 /* a reply */
	pthread_mutex_t mu;
	struct lane_sync_stats st;
	int64_t last_beat_ms; /* monotonic, 0: none */
};

static void
bump(struct lane_sync *s, uint64_t *f, uint64_t n)
{
	pthread_mutex_lock(&s->mu);
	*f += n;
	pthread_mutex_unlock(&s->mu);
}

static void
path_of(const struct lane_sync *s, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", s->dir, name);
}

static int
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return TOLL_ESYS;
	int rc = fsync(fd) == 0 ? 0 : TOLL_ESYS;
	close(fd);
	return rc;
}

/* ---- applying a delta -------------------------------------------------------- */

int
lane_sync_apply(struct lane_taglist *l, struct lane_trips *trips, const struct toll_tsl_msg *m)
{
	struct toll_tsl_iter it;
	struct toll_tsl_account a;
	struct toll_tsl_tag t;
	struct toll_tsl_entry e;
	int rc = toll_tsl_accounts(m, &it);

	while (rc == 0 && (rc = toll_tsl_next_account(&it, &a)) == 0)
		rc = lane_taglist_set_account(l, a.id, a.balance_vnd);
	if (rc != TOLL_EEMPTY)
		return rc;
	rc = toll_tsl_tags(m, &it);
	while (rc == 0 && (rc = toll_tsl_next_tag(&it, &t)) == 0) {
		struct lane_tag_update u;
		memset(&u, 0, sizeof(u));
		memcpy(u.epc, t.epc, sizeof(u.epc));
		u.epc_bits = t.epc_bits;
		u.tid_valid = t.tid_valid;
		memcpy(u.tid, t.tid, sizeof(u.tid));
		u.account_id = t.account_id;
		u.vclass = t.vclass;
		u.status = t.status;
		u.reason = t.reason;
		u.flags = (t.flags & TOLL_TSL_TAG_F_EXEMPT ? LANE_TAG_F_EXEMPT : 0) |
			  (t.flags & TOLL_TSL_TAG_F_PASS ? LANE_TAG_F_PASS : 0);
		snprintf(u.plate, sizeof(u.plate), "%s", t.plate);
		u.pass_station = t.pass_station;
		u.pass_until_day = t.pass_until_day;
		rc = lane_taglist_upsert_tag(l, &u);
	}
	if (rc != TOLL_EEMPTY)
		return rc;
	if (trips != NULL) {
		rc = toll_tsl_entries(m, &it);
		while (rc == 0 && (rc = toll_tsl_next_entry(&it, &e)) == 0)
			rc = lane_trips_put(trips, e.epc, e.epc_bits, e.station, e.time_ms, e.state);
		if (rc != TOLL_EEMPTY)
			return rc;
	}
	lane_taglist_set_version(l, m->list_version);
	return 0;
}

/* Decode and verify a DELTA: 0, or the code (counted as refused). */
static int
check_delta(struct lane_sync *s, const uint8_t *d, size_t len, struct toll_tsl_msg *m)
{
	int rc = toll_tsl_decode(d, len, m);
	if (rc == 0 && m->type != TOLL_TSL_DELTA)
		rc = TOLL_EFORMAT;
	if (rc == 0 && m->key_id != s->key_id)
		rc = TOLL_EBADSIG;
	if (rc == 0)
		rc = toll_tsl_verify(d, len, s->key);
	return rc;
}

/* ---- the log ------------------------------------------------------------------ */

static int
log_append(struct lane_sync *s, const uint8_t *d, size_t len)
{
	uint8_t h[LOG_FRAME_HDR];
	struct toll_wr w;
	toll_wr_init(&w, h, sizeof(h));
	toll_wr_u32(&w, (uint32_t)len);
	toll_wr_u32(&w, toll_crc32c(0, d, len));
	if (write(s->logfd, h, sizeof(h)) != (ssize_t)sizeof(h) || write(s->logfd, d, len) != (ssize_t)len ||
	    fdatasync(s->logfd) != 0)
		return TOLL_ESYS;
	s->logged++;
	return 0;
}

/* Replay the log onto l (version B): frames up to B skipped, B+1... applied
 * until the first that is not whole, good and next; the log is cut there.
 * The log is left open for appending in s->logfd. */
static int
log_replay(struct lane_sync *s, struct lane_taglist *l, char *err, size_t errlen)
{
	char path[PATH_MAX_LEN + 16];
	path_of(s, "deltas.log", path, sizeof(path));
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return TOLL_ESYS;
	}
	off_t good = 0;
	uint64_t applied = 0, skipped = 0;
	for (;;) {
		uint8_t h[LOG_FRAME_HDR];
		struct toll_tsl_msg m;
		ssize_t n = pread(fd, h, sizeof(h), good);
		if (n != (ssize_t)sizeof(h))
			break;
		struct toll_rd r;
		uint32_t len, crc;
		toll_rd_init(&r, h, sizeof(h));
		toll_rd_u32(&r, &len);
		toll_rd_u32(&r, &crc);
		if (len > TOLL_TSL_MAX_BYTES || pread(fd, s->buf, len, good + LOG_FRAME_HDR) != (ssize_t)len ||
		    toll_crc32c(0, s->buf, len) != crc || check_delta(s, s->buf, len, &m) != 0)
			break;
		uint64_t have = lane_taglist_version(l);
		if (m.list_version > have + 1)
			break;
		if (m.list_version == have + 1) {
			int rc = lane_sync_apply(l, s->ctx->trips, &m);
			if (rc != 0) {
				close(fd);
				snprintf(err, errlen, "%s: delta %" PRIu64 " cannot be applied: %s", path, m.list_version,
					 toll_strerror(rc));
				return rc;
			}
			applied++;
		} else {
			skipped++;
		}
		good += LOG_FRAME_HDR + len;
		s->logged++;
	}
	struct stat sb;
	if (fstat(fd, &sb) == 0 && sb.st_size > good) {
		toll_warn("%s: cut at %lld of %lld bytes (a torn or damaged frame; central sends it again)", path,
			  (long long)good, (long long)sb.st_size);
		if (ftruncate(fd, good) != 0 || fsync(fd) != 0) {
			close(fd);
			snprintf(err, errlen, "%s: cannot cut: %s", path, strerror(errno));
			return TOLL_ESYS;
		}
	}
	if (lseek(fd, good, SEEK_SET) < 0) {
		close(fd);
		return TOLL_ESYS;
	}
	s->logfd = fd;
	if (applied + skipped > 0)
		toll_notice("tag status list: %" PRIu64 " logged deltas applied (%" PRIu64 " already in the list): version %" PRIu64,
			    applied, skipped, lane_taglist_version(l));
	return 0;
}

/* The log is about to start again from the list as it is now: the
 * closed-road entries it brought go to their own file first. */
static int
log_reset(struct lane_sync *s)
{
	if (s->ctx->trips != NULL) {
		char path[PATH_MAX_LEN + 16], err[PATH_MAX_LEN + 64];
		path_of(s, "trips.dat", path, sizeof(path));
		lane_trips_prune(s->ctx->trips, toll_real_ms(), s->ctx->entry_expiry_ms);
		if (lane_trips_save(s->ctx->trips, path, err, sizeof(err)) != 0) {
			toll_warn("closed-road entries: %s", err);
			return TOLL_ESYS;
		}
	}
	if (ftruncate(s->logfd, 0) != 0 || lseek(s->logfd, 0, SEEK_SET) < 0 || fsync(s->logfd) != 0)
		return TOLL_ESYS;
	s->logged = 0;
	return 0;
}

/* ---- requests to central ------------------------------------------------------- */

/* One request, its answer decoded into *m (bytes in s->rbuf). */
static int
request(struct lane_sync *s, const uint8_t *req, size_t len, struct toll_tsl_msg *m)
{
	nng_msg *msg, *rep;
	if (!s->have_req) {
		if (nng_req0_open(&s->req) != 0)
			return TOLL_ECLOSED;
		nng_socket_set_ms(s->req, NNG_OPT_RECVTIMEO, REQUEST_TIMEOUT_MS);
		nng_socket_set_ms(s->req, NNG_OPT_SENDTIMEO, REQUEST_TIMEOUT_MS);
		nng_socket_set_ms(s->req, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
		nng_socket_set_ms(s->req, NNG_OPT_RECONNMINT, 100);
		nng_socket_set_ms(s->req, NNG_OPT_RECONNMAXT, 2000);
		nng_socket_set_size(s->req, NNG_OPT_RECVMAXSZ, TOLL_TSL_MAX_BYTES);
		if (nng_dial(s->req, s->c.request_url, NULL, NNG_FLAG_NONBLOCK) != 0) {
			nng_close(s->req);
			return TOLL_ECLOSED;
		}
		s->have_req = 1;
	}
	int rc = TOLL_ECLOSED;
	if (nng_msg_alloc(&msg, 0) == 0) {
		if (nng_msg_append(msg, req, len) != 0 || nng_sendmsg(s->req, msg, 0) != 0) {
			nng_msg_free(msg);
		} else if (nng_recvmsg(s->req, &rep, 0) == 0) {
			size_t n = nng_msg_len(rep);
			if (n <= TOLL_TSL_MAX_BYTES) {
				memcpy(s->rbuf, nng_msg_body(rep), n);
				rc = toll_tsl_decode(s->rbuf, n, m);
				if (rc != 0)
					bump(s, &s->st.refused, 1);
			} else {
				rc = TOLL_EFORMAT;
			}
			nng_msg_free(rep);
		} else {
			rc = TOLL_ETIMEDOUT;
		}
	}
	return rc;
}

/* The newest snapshot into DIR/snapshot.part, checked (SHA-256, central's
 * signature, the loader's own checks), then renamed to list.tsl; the new
 * list in *out. */
static int
fetch_snapshot(struct lane_sync *s, struct lane_taglist **out, char *err, size_t errlen)
{
	char part[PATH_MAX_LEN + 16], final[PATH_MAX_LEN + 16];
	struct toll_tsl_msg m;
	uint64_t total = 0, off = 0, version = 0;
	uint8_t sha[32], sig[64];
	path_of(s, "snapshot.part", part, sizeof(part));
	path_of(s, "list.tsl", final, sizeof(final));
	int fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%.200s: %s", part, strerror(errno));
		return TOLL_ESYS;
	}
	struct toll_sha256_ctx *h = NULL;
	int rc = 0;
	do {
		uint8_t req[64];
		size_t rlen;
		rc = toll_tsl_encode_get_snapshot(req, sizeof(req), version, off, CHUNK_BYTES, &rlen);
		if (rc == 0)
			rc = request(s, req, rlen, &m);
		if (rc == 0 && m.type == TOLL_TSL_ERROR) {
			snprintf(err, errlen, "central: %s: %.180s", toll_tsl_error_name(m.error_code), m.text);
			rc = TOLL_EAGAIN;
		} else if (rc == 0 && m.type != TOLL_TSL_SNAPSHOT) {
			rc = TOLL_EFORMAT;
		}
		if (rc != 0)
			break;
		if (off == 0) {
			version = m.list_version;
			total = m.total_bytes;
			memcpy(sha, m.sha256, 32);
			memcpy(sig, m.snapshot_sig, 64);
			if (toll_tsl_snapshot_verify(s->key, version, total, sha, sig) != 0 || m.key_id != s->key_id) {
				bump(s, &s->st.refused, 1);
				snprintf(err, errlen, "snapshot %" PRIu64 ": not signed by central's list key", version);
				rc = TOLL_EBADSIG;
				break;
			}
			rc = toll_sha256_begin(&h);
			if (rc != 0)
				break;
		}
		if (m.list_version != version || m.total_bytes != total || m.aux != off || m.chunk_len == 0 ||
		    off + m.chunk_len > total || memcmp(m.sha256, sha, 32) != 0) {
			snprintf(err, errlen, "snapshot %" PRIu64 ": a chunk that does not follow (central made a newer one?)",
				 version);
			rc = TOLL_EAGAIN;
			break;
		}
		if (write(fd, m.chunk, m.chunk_len) != (ssize_t)m.chunk_len) {
			snprintf(err, errlen, "%.200s: %s", part, strerror(errno));
			rc = TOLL_ESYS;
			break;
		}
		toll_sha256_update(h, m.chunk, m.chunk_len);
		off += m.chunk_len;
	} while (off < total && !atomic_load(&s->stop));
	uint8_t got[32];
	if (h != NULL)
		toll_sha256_end(h, got);
	if (rc == 0 && off != total)
		rc = TOLL_ECLOSED;
	if (rc == 0 && memcmp(got, sha, 32) != 0) {
		snprintf(err, errlen, "snapshot %" PRIu64 ": its bytes do not have the signed SHA-256", version);
		bump(s, &s->st.refused, 1);
		rc = TOLL_EBADSIG;
	}
	if (rc == 0 && fsync(fd) != 0)
		rc = TOLL_ESYS;
	close(fd);
	if (rc == 0)
		rc = lane_taglist_load(part, out, err, errlen);
	if (rc == 0 && lane_taglist_version(*out) != version) {
		snprintf(err, errlen, "snapshot %" PRIu64 ": the file says version %" PRIu64, version,
			 lane_taglist_version(*out));
		lane_taglist_free(*out);
		*out = NULL;
		rc = TOLL_ECORRUPT;
	}
	if (rc == 0 && (rename(part, final) != 0 || fsync_dir(s->dir) != 0)) {
		snprintf(err, errlen, "%.200s: %s", final, strerror(errno));
		lane_taglist_free(*out);
		*out = NULL;
		rc = TOLL_ESYS;
	}
	if (rc != 0)
		unlink(part);
	return rc;
}

/* ---- open ---------------------------------------------------------------------- */

int
lane_sync_open(const struct lane_sync_conf *c, struct lane_context *ctx, volatile int *stop, struct lane_sync **out,
	       char *err, size_t errlen)
{
	struct lane_sync *s = calloc(1, sizeof(*s));
	char path[PATH_MAX_LEN + 16];
	struct lane_taglist *l = NULL;
	int rc;

	if (s == NULL)
		return TOLL_ENOMEM;
	s->c = *c;
	s->ctx = ctx;
	s->logfd = -1;
	snprintf(s->dir, sizeof(s->dir), "%s", c->dir);
	pthread_mutex_init(&s->mu, NULL);
	s->st.heartbeat_age_ms = -1;
	s->buf = malloc(TOLL_TSL_MAX_BYTES);
	s->rbuf = malloc(TOLL_TSL_MAX_BYTES);
	if (s->buf == NULL || s->rbuf == NULL || toll_verifier_new(c->central_key, &s->key) != 0) {
		lane_sync_close(s);
		return TOLL_ENOMEM;
	}
	s->key_id = toll_key_id(c->central_key);
	if (mkdir(s->dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", s->dir, strerror(errno));
		lane_sync_close(s);
		return TOLL_ESYS;
	}
	path_of(s, "list.tsl", path, sizeof(path));
	if (access(path, F_OK) == 0) {
		rc = lane_taglist_load(path, &l, err, errlen);
		if (rc != 0) {
			lane_sync_close(s);
			return TOLL_ECORRUPT;
		}
	} else {
		/* nothing saved: central's newest snapshot, however long it takes */
		int64_t next_note = 0;
		for (;;) {
			char e2[256] = "";
			rc = fetch_snapshot(s, &l, e2, sizeof(e2));
			if (rc == 0)
				break;
			if (toll_mono_ms() >= next_note) {
				toll_warn("tag status list: none saved in %s and none from central yet (%s): waiting", s->dir,
					  e2[0] ? e2 : toll_strerror(rc));
				next_note = toll_mono_ms() + 10000;
			}
			for (int i = 0; i < 10 && !*stop; i++) {
				struct timespec ts = {0, 100000000L};
				nanosleep(&ts, NULL);
			}
			if (*stop) {
				lane_sync_close(s);
				return TOLL_ECLOSED;
			}
		}
		bump(s, &s->st.snapshots, 1);
	}
	if (ctx->trips != NULL) {
		/* the entries kept at the last compaction, then the log's */
		char e2[PATH_MAX_LEN + 64];
		path_of(s, "trips.dat", path, sizeof(path));
		rc = lane_trips_load(ctx->trips, path, e2, sizeof(e2));
		if (rc != 0 && rc != TOLL_ENOTFOUND)
			/* an aid, not the money: without it exits charge the
			 * farthest entry's fee and central corrects them */
			toll_err("closed-road entries: %s: starting without the saved ones", e2);
	}
	rc = log_replay(s, l, err, errlen);
	if (rc != 0) {
		lane_taglist_free(l);
		lane_sync_close(s);
		return rc;
	}
	ctx->list = l;
	s->st.version = lane_taglist_version(l);
	*out = s;
	return 0;
}

/* ---- the thread ---------------------------------------------------------------- */

/* Log and apply one verified DELTA that follows. */
static int
take(struct lane_sync *s, const uint8_t *d, size_t len, const struct toll_tsl_msg *m)
{
	int rc = log_append(s, d, len);
	if (rc != 0) {
		toll_err("tag status list: cannot log delta %" PRIu64 ": %s (not applied; asked again later)",
			 m->list_version, strerror(errno));
		bump(s, &s->st.errors, 1);
		return rc;
	}
	rc = lane_sync_apply(s->ctx->list, s->ctx->trips, m);
	if (rc != 0) {
		toll_err("tag status list: delta %" PRIu64 " cannot be applied: %s", m->list_version, toll_strerror(rc));
		bump(s, &s->st.errors, 1);
		return rc;
	}
	pthread_mutex_lock(&s->mu);
	s->st.deltas_applied++;
	s->st.version = m->list_version;
	if (s->st.latest < m->list_version)
		s->st.latest = m->list_version;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

/* A new list (a snapshot) in place of the lanes' one, between two
 * decisions; the log starts again from it. */
static void
swap_in(struct lane_sync *s, struct lane_taglist *l)
{
	pthread_mutex_lock(&s->ctx->mu);
	struct lane_taglist *old = s->ctx->list;
	s->ctx->list = l;
	pthread_mutex_unlock(&s->ctx->mu);
	lane_taglist_free(old);
	if (log_reset(s) != 0)
		toll_err("tag status list: cannot empty the delta log: %s", strerror(errno));
	pthread_mutex_lock(&s->mu);
	s->st.version = lane_taglist_version(l);
	s->st.snapshots++;
	pthread_mutex_unlock(&s->mu);
	toll_notice("tag status list: snapshot of version %" PRIu64 " in use (%zu tags)", lane_taglist_version(l),
		    lane_taglist_count(l));
}

/* Fetch what follows our version until we have `latest` or central has no
 * more: GET_DELTAS, or a snapshot when central says we are too old. */
static void
catch_up(struct lane_sync *s, uint64_t latest)
{
	char err[256];
	for (int rounds = 0; rounds < 64 && !atomic_load(&s->stop); rounds++) {
		uint64_t have = lane_taglist_version(s->ctx->list);
		if (have >= latest)
			return;
		uint8_t req[64];
		size_t rlen;
		struct toll_tsl_msg m;
		int rc = toll_tsl_encode_get_deltas(req, sizeof(req), have, 0, s->c.station_id,
							    s->c.lane_id != 0 ? s->c.lane_id : 1, &rlen);
		if (rc == 0)
			rc = request(s, req, rlen, &m);
		if (rc != 0) {
			bump(s, &s->st.errors, 1);
			toll_warn("tag status list: asking central for the deltas after %" PRIu64 ": %s", have,
				  toll_strerror(rc));
			return;
		}
		if (m.type == TOLL_TSL_ERROR && m.error_code == TOLL_TSL_ERR_TOO_OLD) {
			struct lane_taglist *l;
			toll_notice("tag status list: version %" PRIu64 " is older than central keeps deltas for: fetching a snapshot",
				    have);
			if (fetch_snapshot(s, &l, err, sizeof(err)) != 0) {
				bump(s, &s->st.errors, 1);
				toll_warn("tag status list: snapshot: %s", err);
				return;
			}
			swap_in(s, l);
			continue;
		}
		if (m.type != TOLL_TSL_DELTAS) {
			bump(s, &s->st.errors, 1);
			toll_warn("tag status list: central answered %s%s%s", toll_tsl_type_name(m.type),
				  m.type == TOLL_TSL_ERROR ? ": " : "", m.type == TOLL_TSL_ERROR ? m.text : "");
			return;
		}
		bump(s, &s->st.ranges_fetched, 1);
		if (m.count == 0)
			return;
		struct toll_tsl_iter it;
		const uint8_t *d;
		size_t dlen;
		toll_tsl_deltas(&m, &it);
		while (toll_tsl_next_delta(&it, &d, &dlen) == 0) {
			struct toll_tsl_msg dm;
			if (check_delta(s, d, dlen, &dm) != 0) {
				bump(s, &s->st.refused, 1);
				toll_err("tag status list: a delta from central does not verify: refused");
				return;
			}
			if (dm.list_version != lane_taglist_version(s->ctx->list) + 1)
				continue;
			if (take(s, d, dlen, &dm) != 0)
				return;
		}
		if (m.aux > latest)
			latest = m.aux;
	}
}

static void
compact(struct lane_sync *s)
{
	char path[PATH_MAX_LEN + 16], err[256];
	path_of(s, "list.tsl", path, sizeof(path));
	if (lane_taglist_save(s->ctx->list, path, err, sizeof(err)) != 0) {
		bump(s, &s->st.errors, 1);
		toll_warn("tag status list: cannot write the merged list: %s", err);
		return;
	}
	if (log_reset(s) != 0) {
		bump(s, &s->st.errors, 1);
		toll_warn("tag status list: cannot empty the delta log: %s", strerror(errno));
		return;
	}
	bump(s, &s->st.compactions, 1);
}

static void *
sync_thread(void *arg)
{
	struct lane_sync *s = arg;
	int64_t next_check = 0;
	uint64_t latest = 0;
	int was_stale = 0;
	int64_t started = toll_mono_ms(); /* silence counts from here until a heartbeat */

	while (!atomic_load(&s->stop)) {
		nng_msg *msg;
		int rv = nng_recvmsg(s->sub, &msg, 0);
		int64_t now = toll_mono_ms();
		if (rv == 0) {
			size_t len = nng_msg_len(msg);
			struct toll_tsl_msg m;
			int rc = len <= TOLL_TSL_MAX_BYTES ? 0 : TOLL_EFORMAT;
			if (rc == 0) {
				memcpy(s->buf, nng_msg_body(msg), len);
				rc = toll_tsl_decode(s->buf, len, &m);
			}
			nng_msg_free(msg);
			if (rc == 0 && (m.type != TOLL_TSL_DELTA && m.type != TOLL_TSL_HEARTBEAT))
				rc = TOLL_EFORMAT;
			if (rc == 0 && m.key_id != s->key_id)
				rc = TOLL_EBADSIG;
			if (rc == 0)
				rc = toll_tsl_verify(s->buf, len, s->key);
			if (rc != 0) {
				bump(s, &s->st.refused, 1);
				toll_warn("tag status list: a published message refused: %s", toll_strerror(rc));
				continue;
			}
			if (m.list_version > latest)
				latest = m.list_version;
			uint64_t have = lane_taglist_version(s->ctx->list);
			if (m.type == TOLL_TSL_HEARTBEAT) {
				s->last_beat_ms = now;
				if (latest > have)
					catch_up(s, latest);
			} else if (m.list_version == have + 1) {
				(void)take(s, s->buf, len, &m);
			} else if (m.list_version > have + 1) {
				catch_up(s, latest);
			}
		}
		if (now >= next_check) {
			next_check = now + 1000;
			int stale = lane_sync_stale(started, s->last_beat_ms, now, s->c.stale_ms);
			if (stale && !was_stale)
				toll_err("tag status list: nothing heard from central for %" PRId64
					 " ms: deciding from version %" PRIu64,
					 s->c.stale_ms, lane_taglist_version(s->ctx->list));
			else if (!stale && was_stale)
				toll_notice("tag status list: central heard again");
			was_stale = stale;
			if (s->logged >= (uint64_t)s->c.compact_deltas)
				compact(s);
			pthread_mutex_lock(&s->mu);
			s->st.stale = stale;
			s->st.latest = latest > s->st.latest ? latest : s->st.latest;
			s->st.heartbeat_age_ms = s->last_beat_ms ? now - s->last_beat_ms : -1;
			s->st.version = lane_taglist_version(s->ctx->list);
			pthread_mutex_unlock(&s->mu);
		}
	}
	return NULL;
}

int
lane_sync_start(struct lane_sync *s)
{
	if (nng_sub0_open(&s->sub) != 0)
		return TOLL_ENOMEM;
	s->have_sub = 1;
	nng_socket_set(s->sub, NNG_OPT_SUB_SUBSCRIBE, "", 0);
	nng_socket_set_ms(s->sub, NNG_OPT_RECVTIMEO, 200);
	nng_socket_set_ms(s->sub, NNG_OPT_RECONNMINT, 100);
	nng_socket_set_ms(s->sub, NNG_OPT_RECONNMAXT, 2000);
	nng_socket_set_size(s->sub, NNG_OPT_RECVMAXSZ, TOLL_TSL_MAX_BYTES);
	int rv = nng_dial(s->sub, s->c.subscribe_url, NULL, NNG_FLAG_NONBLOCK);
	if (rv != 0) {
		toll_err("tag status list: cannot subscribe to %s: %s", s->c.subscribe_url, nng_strerror(rv));
		return TOLL_ECONFIG;
	}
	if (pthread_create(&s->thread, NULL, sync_thread, s) != 0)
		return TOLL_ENOMEM;
	s->have_thread = 1;
	return 0;
}

void
lane_sync_close(struct lane_sync *s)
{
	if (s == NULL)
		return;
	atomic_store(&s->stop, 1);
	if (s->have_thread)
		pthread_join(s->thread, NULL);
	if (s->have_sub)
		nng_close(s->sub);
	if (s->have_req)
		nng_close(s->req);
	if (s->logfd >= 0)
		close(s->logfd);
	toll_verifier_free(s->key);
	free(s->buf);
	free(s->rbuf);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

void
lane_sync_stats(struct lane_sync *s, struct lane_sync_stats *st)
{
	pthread_mutex_lock(&s->mu);
	*st = s->st;
	pthread_mutex_unlock(&s->mu);
}

/* lane_uplink.c: see lane_uplink.h. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "journal.h"
#include "lane_run.h"
#include "lane_uplink.h"
#include "log.h"
#include "txn.h"
#include "umsg.h"

struct rec {
	uint8_t bytes[TOLL_TXN_BYTES];
	size_t len;
	uint64_t lane_seq, jseq;
};

struct lane_uplink {
	struct lane_uplink_cfg cfg;
	nng_socket sock;
	nng_dialer dialer;
	nng_tls_config *tls;
	struct toll_journal_tail *tail;

	struct rec *batch;
	unsigned nbatch;
	uint8_t *msg; /* encoded request */
	int known;    /* central_acked comes from a reply */
	uint64_t central_acked;
	int64_t backoff_ms;
	int64_t last_warn_ms;

	_Atomic uint64_t durable, ack_target, made;
	pthread_t thread;
	pthread_mutex_t mu; /* stats, wake */
	pthread_cond_t wake;
	int woken;
	_Atomic int stop;
	struct lane_uplink_stats stats;
};

void
lane_uplink_cfg_defaults(struct lane_uplink_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->start_seq = 1;
	c->batch_max = 256;
	c->timeout_ms = 5000;
	c->idle_ms = 200;
	c->backoff_max_ms = 5000;
}

static const char *
nng_text(int rv)
{
	return nng_strerror(rv);
}

/* Sleep up to ms, or until woken (new records, stop). */
static void
nap(struct lane_uplink *u, int64_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&u->mu);
	while (!u->woken && !atomic_load(&u->stop))
		if (pthread_cond_timedwait(&u->wake, &u->mu, &ts) == ETIMEDOUT)
			break;
	u->woken = 0;
	pthread_mutex_unlock(&u->mu);
}

static void
back_off(struct lane_uplink *u)
{
	u->backoff_ms = u->backoff_ms == 0 ? 200 : u->backoff_ms * 2;
	if (u->backoff_ms > u->cfg.backoff_max_ms)
		u->backoff_ms = u->cfg.backoff_max_ms;
	int64_t end = toll_mono_ms() + u->backoff_ms;
	/* a backoff is not cut short by new records */
	while (!atomic_load(&u->stop) && toll_mono_ms() < end)
		nap(u, end - toll_mono_ms());
}

/* Warnings at most every 10 s, the rest at debug. */
static void
warn(struct lane_uplink *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
warn(struct lane_uplink *u, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	int64_t now = toll_mono_ms();

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (u->last_warn_ms == 0 || now - u->last_warn_ms >= 10000) {
		u->last_warn_ms = now;
		toll_warn("lane %u uplink: %s", u->cfg.lane_id, text);
	} else {
		toll_debug("lane %u uplink: %s", u->cfg.lane_id, text);
	}
}

/* Why the dialer, connecting in the background, has not connected: nng
 * 1.5 keeps only counters of its failed attempts (a TLS handshake refused
 * either way would otherwise be a bare "Timed out").  "" when none. */
static void
dial_failures(struct lane_uplink *u, char *out, size_t n)
{
	static const struct {
		const char *stat, *text;
	} why[] = {
		{"auth", "failed TLS verification (central's certificate by central.tls_ca and central.tls_server_name, "
			 "or this lane's by central)"},
		{"other", "closed by central in the handshake (no client certificate? not TLS on both sides?)"},
		{"refused", "refused"},
		{"timeout", "timed out"},
		{"disconnect", "reset"},
		{"proto", "protocol errors"},
	};
	nng_stat *all, *d, *s;
	size_t len = 0;

	out[0] = 0;
	if (nng_stats_get(&all) != 0)
		return;
	if ((d = nng_stat_find_dialer(all, u->dialer)) != NULL)
		for (size_t i = 0; i < sizeof(why) / sizeof(why[0]) && len < n; i++) {
			if ((s = nng_stat_find(d, why[i].stat)) == NULL || nng_stat_value(s) == 0)
				continue;
			int k = snprintf(out + len, n - len, "%s%" PRIu64 " %s", len == 0 ? "; connection attempts: " : ", ",
					 nng_stat_value(s), why[i].text);
			if (k < 0)
				break;
			len += (size_t)k;
		}
	nng_stats_free(all);
}

/* Read on from the journal into the batch. */
static int
fill(struct lane_uplink *u)
{
	uint64_t until = atomic_load(&u->durable);

	if (u->tail == NULL) {
		int rc = toll_journal_tail_open(u->cfg.journal_dir, u->cfg.start_seq, &u->tail);
		if (rc != 0)
			return rc;
	}
	while (u->nbatch < u->cfg.batch_max) {
		uint64_t seq, lane_seq;
		uint8_t type;
		const uint8_t *p;
		size_t len;
		int rc = toll_journal_tail_next(u->tail, until, &seq, &type, &p, &len);
		if (rc == TOLL_EEMPTY)
			return 0;
		if (rc != 0)
			return rc;
		if (type != LANE_REC_TXN)
			continue;
		if (len != TOLL_TXN_BYTES)
			return TOLL_ECORRUPT;
		struct toll_rd rd;
		toll_rd_init(&rd, p + 16, 8);
		toll_rd_u64(&rd, &lane_seq);
		if (lane_seq <= u->central_acked)
			continue; /* central has it (after a restart) */
		struct rec *r = &u->batch[u->nbatch++];
		memcpy(r->bytes, p, len);
		r->len = len;
		r->lane_seq = lane_seq;
		r->jseq = seq;
	}
	return 0;
}

/* One request and its reply: 0, or a code after which the same batch is
 * sent again. */
static int
exchange(struct lane_uplink *u, struct toll_umsg_ack *ack)
{
	const uint8_t *recs[TOLL_UMSG_BATCH_MAX];
	size_t lens[TOLL_UMSG_BATCH_MAX], total = 0, n;
	nng_msg *req = NULL, *rep = NULL;
	static _Thread_local struct toll_umsg m;
	int rv, rc;

	for (unsigned i = 0; i < u->nbatch; i++) {
		recs[i] = u->batch[i].bytes;
		lens[i] = u->batch[i].len;
		total += lens[i];
	}
	rc = toll_umsg_encode_batch(u->msg, toll_umsg_batch_bytes(u->cfg.batch_max, u->cfg.batch_max * TOLL_TXN_BYTES),
				    u->cfg.station_id, u->cfg.lane_id, recs, lens, u->nbatch, &n);
	if (rc != 0)
		return rc;
	(void)total;
	if ((rv = nng_msg_alloc(&req, 0)) != 0 || (rv = nng_msg_append(req, u->msg, n)) != 0) {
		nng_msg_free(req);
		return TOLL_ENOMEM;
	}
	rv = nng_sendmsg(u->sock, req, 0);
	if (rv != 0) {
		char why[300];
		nng_msg_free(req);
		/* no connection to send on: central is not reachable */
		pthread_mutex_lock(&u->mu);
		u->stats.connected = 0;
		pthread_mutex_unlock(&u->mu);
		dial_failures(u, why, sizeof(why));
		warn(u, "cannot send to %s: %s%s", u->cfg.url, nng_text(rv), why);
		return rv == NNG_ETIMEDOUT ? TOLL_ETIMEDOUT : TOLL_ECLOSED;
	}
	pthread_mutex_lock(&u->mu);
	u->stats.batches_sent++;
	u->stats.records_sent += u->nbatch;
	pthread_mutex_unlock(&u->mu);
	rv = nng_recvmsg(u->sock, &rep, 0);
	if (rv != 0) {
		pthread_mutex_lock(&u->mu);
		if (rv == NNG_ETIMEDOUT)
			u->stats.timeouts++;
		u->stats.connected = 0;
		pthread_mutex_unlock(&u->mu);
		warn(u, "no reply from %s: %s", u->cfg.url, nng_text(rv));
		return rv == NNG_ETIMEDOUT ? TOLL_ETIMEDOUT : TOLL_ECLOSED;
	}
	rc = toll_umsg_decode(nng_msg_body(rep), nng_msg_len(rep), &m);
	nng_msg_free(rep);
	if (rc != 0 || m.type != TOLL_UMSG_ACK || m.ack.station_id != u->cfg.station_id ||
	    m.ack.lane_id != u->cfg.lane_id) {
		warn(u, "a reply that is not an acknowledgement for this lane: %s",
		     rc != 0 ? toll_strerror(rc) : "wrong type or lane");
		return TOLL_EFORMAT;
	}
	*ack = m.ack;
	pthread_mutex_lock(&u->mu);
	u->stats.replies++;
	u->stats.connected = 1;
	u->stats.last_status = ack->status;
	u->stats.last_reply_ms = toll_mono_ms();
	pthread_mutex_unlock(&u->mu);
	return 0;
}

/* Central has everything up to acked: drop it from the batch. */
static void
acked(struct lane_uplink *u, uint64_t seq)
{
	unsigned k = 0;
	uint64_t jseq = 0;

	if (seq < u->central_acked && u->known)
		toll_err("lane %u uplink: central's acknowledged seq went back from %" PRIu64 " to %" PRIu64
			 " (central database restored?): sending from there",
			 u->cfg.lane_id, u->central_acked, seq);
	u->central_acked = seq;
	u->known = 1;
	while (k < u->nbatch && u->batch[k].lane_seq <= seq) {
		jseq = u->batch[k].jseq;
		k++;
	}
	if (k > 0) {
		memmove(u->batch, u->batch + k, (u->nbatch - k) * sizeof(u->batch[0]));
		u->nbatch -= k;
		/* keep the newest acknowledged transaction in the journal */
		if (jseq > 1 && jseq - 1 > atomic_load(&u->ack_target))
			atomic_store(&u->ack_target, jseq - 1);
	}
	pthread_mutex_lock(&u->mu);
	u->stats.records_acked += k;
	u->stats.central_acked = seq;
	pthread_mutex_unlock(&u->mu);
}

static void *
uplink_thread(void *arg)
{
	struct lane_uplink *u = arg;

	while (!atomic_load(&u->stop)) {
		struct toll_umsg_ack ack;
		int rc = 0;

		if (u->known) {
			rc = fill(u);
			if (rc != 0) {
				warn(u, "cannot read the journal %s: %s", u->cfg.journal_dir, toll_strerror(rc));
				back_off(u);
				continue;
			}
			if (u->nbatch == 0) {
				nap(u, u->cfg.idle_ms);
				continue;
			}
		}
		/* !known: an empty batch asks central where this lane stands */
		unsigned sent = u->nbatch;
		uint64_t last = sent > 0 ? u->batch[sent - 1].lane_seq : 0;
		rc = exchange(u, &ack);
		if (rc != 0) {
			back_off(u);
			continue;
		}
		switch (ack.status) {
		case TOLL_UMSG_OK:
			acked(u, ack.acked_seq);
			pthread_mutex_lock(&u->mu);
			u->stats.quarantined += ack.quarantined;
			pthread_mutex_unlock(&u->mu);
			if (sent > 0 && ack.acked_seq < last) {
				/* central kept some aside (quarantine, gap) */
				warn(u, "central took up to seq %" PRIu64 " of a batch to %" PRIu64
				     " (%" PRIu32 " quarantined): sending the rest again",
				     ack.acked_seq, last, ack.quarantined);
				pthread_mutex_lock(&u->mu);
				u->stats.retries++;
				pthread_mutex_unlock(&u->mu);
				back_off(u);
			} else {
				u->backoff_ms = 0;
			}
			break;
		case TOLL_UMSG_RETRY:
			warn(u, "central asks to send again later");
			pthread_mutex_lock(&u->mu);
			u->stats.retries++;
			pthread_mutex_unlock(&u->mu);
			back_off(u);
			break;
		default:
			warn(u, "central refused the batch: %s", toll_umsg_status_name(ack.status));
			u->backoff_ms = u->cfg.backoff_max_ms / 2;
			back_off(u);
			break;
		}
	}
	return NULL;
}

/* The host of tls+tcp://HOST:PORT when it is a DNS name: 0, or -1 for an
 * IP address (v4 or [v6]) or a URL without a host. */
static int
url_host(const char *url, char *out, size_t cap)
{
	const char *h = strstr(url, "://"), *end;
	size_t n;

	if (h == NULL)
		return -1;
	h += 3;
	if (*h == '[')
		return -1;
	end = strrchr(h, ':');
	n = end != NULL ? (size_t)(end - h) : strlen(h);
	if (n == 0 || n >= cap || strspn(h, "0123456789.") >= n)
		return -1;
	memcpy(out, h, n);
	out[n] = 0;
	return 0;
}

static int
setup_socket(struct lane_uplink *u)
{
	int rv;
	char err[64];

	if ((rv = nng_req0_open(&u->sock)) != 0)
		goto fail;
	/* our own resends (same batch, central deduplicates) */
	if ((rv = nng_socket_set_ms(u->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0 ||
	    (rv = nng_socket_set_ms(u->sock, NNG_OPT_RECVTIMEO, (nng_duration)u->cfg.timeout_ms)) != 0 ||
	    (rv = nng_socket_set_ms(u->sock, NNG_OPT_SENDTIMEO, (nng_duration)u->cfg.timeout_ms)) != 0 ||
	    (rv = nng_socket_set_ms(u->sock, NNG_OPT_RECONNMINT, 100)) != 0 ||
	    (rv = nng_socket_set_ms(u->sock, NNG_OPT_RECONNMAXT, 5000)) != 0 ||
	    (rv = nng_socket_set_size(u->sock, NNG_OPT_RECVMAXSZ, TOLL_UMSG_ACK_BYTES + 64)) != 0)
		goto fail;
	if ((rv = nng_dialer_create(&u->dialer, u->sock, u->cfg.url)) != 0)
		goto fail;
	if (strncmp(u->cfg.url, "tls+", 4) == 0) {
		if ((rv = nng_tls_config_alloc(&u->tls, NNG_TLS_MODE_CLIENT)) != 0)
			goto fail;
		if (u->cfg.tls_ca[0] == 0) {
			toll_err("lane %u uplink: %s needs central.tls_ca", u->cfg.lane_id, u->cfg.url);
			return TOLL_ECONFIG;
		}
		if ((rv = nng_tls_config_ca_file(u->tls, u->cfg.tls_ca)) != 0) {
			toll_err("lane %u uplink: central.tls_ca %s: %s (wants CA certificates, PEM)", u->cfg.lane_id,
				 u->cfg.tls_ca, nng_text(rv));
			return TOLL_ECONFIG;
		}
		if ((rv = nng_tls_config_auth_mode(u->tls, NNG_TLS_AUTH_MODE_REQUIRED)) != 0)
			goto fail;
		if (u->cfg.tls_cert[0] != 0 &&
		    (rv = nng_tls_config_cert_key_file(u->tls, u->cfg.tls_cert, NULL)) != 0) {
			toll_err("lane %u uplink: central.tls_cert %s: %s (wants the certificate and its private key, "
				 "PEM, in one file)",
				 u->cfg.lane_id, u->cfg.tls_cert, nng_text(rv));
			return TOLL_ECONFIG;
		}
		/* central's certificate must always carry a name we check:
		 * mbedTLS checks none when none is set */
		char name[128];
		if (u->cfg.tls_server_name[0] != 0)
			snprintf(name, sizeof(name), "%s", u->cfg.tls_server_name);
		else if (url_host(u->cfg.url, name, sizeof(name)) != 0) {
			toll_err("lane %u uplink: %s: set central.tls_server_name to the DNS name in central's "
				 "certificate (the URL's host is an IP address, which the TLS library cannot match)",
				 u->cfg.lane_id, u->cfg.url);
			return TOLL_ECONFIG;
		}
		if ((rv = nng_tls_config_server_name(u->tls, name)) != 0)
			goto fail;
		if ((rv = nng_dialer_set_ptr(u->dialer, NNG_OPT_TLS_CONFIG, u->tls)) != 0)
			goto fail;
	}
	/* in the background, again and again: the lane starts without central */
	if ((rv = nng_dialer_start(u->dialer, NNG_FLAG_NONBLOCK)) != 0)
		goto fail;
	return 0;
fail:
	snprintf(err, sizeof(err), "%s", nng_text(rv));
	toll_err("lane %u uplink: %s: %s", u->cfg.lane_id, u->cfg.url, err);
	return rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP || rv == NNG_EINVAL ? TOLL_ECONFIG : TOLL_ESYS;
}

int
lane_uplink_start(const struct lane_uplink_cfg *c, struct lane_uplink **out)
{
	struct lane_uplink *u;
	int rc;

	*out = NULL;
	if (c->batch_max < 1 || c->batch_max > TOLL_UMSG_BATCH_MAX || c->url[0] == 0)
		return TOLL_EINVAL;
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return TOLL_ENOMEM;
	u->cfg = *c;
	u->batch = calloc(c->batch_max, sizeof(*u->batch));
	u->msg = malloc(toll_umsg_batch_bytes(c->batch_max, c->batch_max * TOLL_TXN_BYTES));
	pthread_mutex_init(&u->mu, NULL);
	pthread_cond_init(&u->wake, NULL);
	if (u->batch == NULL || u->msg == NULL) {
		rc = TOLL_ENOMEM;
		goto fail;
	}
	rc = setup_socket(u);
	if (rc != 0)
		goto fail;
	if (pthread_create(&u->thread, NULL, uplink_thread, u) != 0) {
		rc = TOLL_ESYS;
		goto fail;
	}
	*out = u;
	return 0;
fail:
	nng_close(u->sock);
	if (u->tls != NULL)
		nng_tls_config_free(u->tls);
	free(u->batch);
	free(u->msg);
	free(u);
	return rc;
}

void
lane_uplink_stop(struct lane_uplink *u)
{
	if (u == NULL)
		return;
	atomic_store(&u->stop, 1);
	pthread_mutex_lock(&u->mu);
	u->woken = 1;
	pthread_cond_signal(&u->wake);
	pthread_mutex_unlock(&u->mu);
	nng_close(u->sock); /* a blocked send or receive returns */
	pthread_join(u->thread, NULL);
	if (u->tls != NULL)
		nng_tls_config_free(u->tls);
	toll_journal_tail_close(u->tail);
	pthread_cond_destroy(&u->wake);
	pthread_mutex_destroy(&u->mu);
	free(u->batch);
	free(u->msg);
	free(u);
}

void
lane_uplink_durable(struct lane_uplink *u, uint64_t seq)
{
	if (seq <= atomic_load(&u->durable))
		return;
	atomic_store(&u->durable, seq);
	pthread_mutex_lock(&u->mu);
	u->woken = 1;
	pthread_cond_signal(&u->wake);
	pthread_mutex_unlock(&u->mu);
}

uint64_t
lane_uplink_ack_target(struct lane_uplink *u)
{
	return atomic_load(&u->ack_target);
}

void
lane_uplink_made(struct lane_uplink *u, uint64_t lane_seq)
{
	atomic_store(&u->made, lane_seq);
}

void
lane_uplink_stats(struct lane_uplink *u, struct lane_uplink_stats *st)
{
	pthread_mutex_lock(&u->mu);
	*st = u->stats;
	pthread_mutex_unlock(&u->mu);
	uint64_t made = atomic_load(&u->made);
	st->pending = made > st->central_acked ? made - st->central_acked : 0;
}

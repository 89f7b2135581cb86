/* notify.c: see notify.h.  The outbox and its bookkeeping are in
 * central/sql/006_notify.sql; the webhook contract in
 * docs/notifications.md.  HTTP through common/http (plain TCP), the body
 * built with jansson, the signature with common/crypto. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cdb.h"
#include "clock.h"
#include "crypto.h"
#include "err.h"
#include "http.h"
#include "log.h"
#include "notify.h"
#include "txn.h"

#define PARALLEL_MAX 64
#define SECRET_MIN 32	  /* bytes of the webhook key, at least (as partners' secrets) */
#define SECRET_MAX 256
#define GRACE_MS 1000	  /* a writer that drew an id has an xid within this (see horizon()) */
#define ERR_KEEP 200	  /* bytes of an error kept in last_error */
#define BREAKER_FAILS 3	  /* new notifications failing in a row: the receiver is failing */
#define EXIT_TEMPFAIL 75  /* command: the receiver is unavailable (sysexits.h EX_TEMPFAIL) */
#define BODY_MAX 8192	  /* a notification's JSON, at most */

enum result {
	R_NOT_TRIED = 0, /* not attempted (the receiver went away, stopping) */
	R_SKIP,		 /* the head scan met it handled already (before a restart) */
	R_SENT,		 /* 2xx, exit 0 */
	R_FAILED,	 /* an attempt counted against it */
	R_UNREACHABLE	 /* nothing reached the receiver: not counted */
};

enum { SRC_WINDOW, SRC_RETRY, SRC_HEAD };

struct note {
	int64_t id, account;
	int64_t attempts; /* before this one */
	int fresh;	  /* never tried before */
	int src;	  /* SRC_*: which scan found it */
	char kind[16];
	char *body;
	size_t body_len;
	enum result result;
	char err[ERR_KEEP + 1];
};

struct notify {
	struct notify_conf c;
	struct toll_http_url url;
	uint8_t secret[SECRET_MAX];
	size_t secret_len;
	struct toll_http_conn *conns[PARALLEL_MAX];
	pthread_t thread;
	atomic_int stop;
	pthread_mutex_t mu; /* st */
	struct notify_stats st;
	/* the thread's own */
	int64_t cursor;	      /* durable: every id <= cursor had its first attempt */
	int64_t hi;	      /* the head scan is past every id <= hi */
	int64_t cand;	      /* the next cursor, once cand_xmax is behind the horizon */
	int64_t cand_ms;      /* when cand was chosen */
	uint64_t cand_xmax;   /* 0 until GRACE_MS after cand_ms */
	int64_t pause_until;  /* mono ms */
	int64_t pause_ms;     /* the current pause, doubling */
	int fresh_fails;      /* new notifications failed in a row, across rounds */
};

/* A round's deliveries, shared by its workers. */
struct batch {
	struct notify *n;
	struct note **v;
	size_t nv;
	int parts;
	atomic_int halt;	/* the receiver is gone or failing: stop */
	atomic_int fresh_fails; /* in a row, since the last success */
};

static const char *const mode_names[] = {"off", "command", "webhook"};

int
notify_mode_parse(const char *s, enum notify_mode *m)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(s, mode_names[i]) == 0) {
			*m = (enum notify_mode)i;
			return 0;
		}
	return TOLL_EINVAL;
}

const char *
notify_mode_name(enum notify_mode m)
{
	return (unsigned)m < 3 ? mode_names[m] : "?";
}


/* ---- the webhook key -------------------------------------------------------- */

/* The key file: hex (64 to 512 digits, whitespace around it ignored),
 * 0600 or stricter, as the lanes' and central's key files. */
static int
load_secret(struct notify *n, const char *path, char *err, size_t errlen)
{
	char buf[2 * SECRET_MAX + 64];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	int rc = 0;

	if (fd < 0)
		return toll_errf(err, errlen, TOLL_ECONFIG, "notify.secret_file %s: %s", path, strerror(errno));
	if (fstat(fd, &sb) != 0 || (sb.st_mode & 077) != 0) {
		close(fd);
		return toll_errf(err, errlen, TOLL_ECONFIG,
				 "notify.secret_file %s: readable by group or others (chmod 600)", path);
	}
	ssize_t got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (got < 0)
		return toll_errf(err, errlen, TOLL_ECONFIG, "notify.secret_file %s: %s", path, strerror(errno));
	size_t s = 0, e = (size_t)got;
	while (s < e && strchr(" \t\r\n", buf[s]) != NULL)
		s++;
	while (e > s && strchr(" \t\r\n", buf[e - 1]) != NULL)
		e--;
	size_t digits = e - s;
	buf[e] = 0;
	if ((size_t)got == sizeof(buf) - 1 || digits % 2 != 0 || digits < 2 * SECRET_MIN || digits > 2 * SECRET_MAX ||
	    toll_hex_decode(buf + s, n->secret, digits / 2) != 0)
		rc = toll_errf(err, errlen, TOLL_ECONFIG,
			       "notify.secret_file %s: wants the key in hex, %d to %d bytes (openssl rand -hex 32)", path,
			       SECRET_MIN, SECRET_MAX);
	else
		n->secret_len = digits / 2;
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

/* ---- the notification as JSON ----------------------------------------------- */

/* Columns of NOTE_SELECT.  The notifications are chosen first (%s: a
 * WHERE with its ORDER BY and LIMIT), at most a batch, then joined one by
 * one to their passage (primary keys): never a join over the whole of
 * transactions. */
enum {
	C_ID, C_ACCOUNT, C_KIND, C_TXN, C_AMOUNT, C_BALANCE, C_STATUS, C_CREATED, C_ATTEMPTS, C_FRESH,
	C_STATION, C_LANE, C_TIME, C_OUTCOME, C_STATION_NAME, C_PLATE, C_OFFSET, C_COUNT
};

#define NOTE_SELECT                                                                                      \
	"SELECT n.id, n.account_id, n.kind, n.txn_id, n.amount_vnd, n.balance_vnd, n.status,"             \
	" to_char(n.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), n.attempts,"      \
	" (n.attempts = 0 AND n.sent_at IS NULL AND n.failed_at IS NULL),"                                 \
	" t.station_id, t.lane_id, t.time_ms, t.outcome, st.name, v.plate, t.utc_offset_min"               \
	" FROM (SELECT * FROM notifications n %s) n"                                                       \
	" LEFT JOIN transactions t ON t.txn_id = n.txn_id"                                                 \
	" LEFT JOIN stations st ON st.id = t.station_id"                                                   \
	" LEFT JOIN tags tg ON tg.epc_hex = t.epc_hex"                                                     \
	" LEFT JOIN vehicles v ON v.id = tg.vehicle_id"                                                    \
	" ORDER BY n.id"


static json_t *
int_or_null(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? json_null() : json_integer(cdb_int(r, row, col));
}

static json_t *
str_or_null(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? json_null() : json_string(PQgetvalue(r, row, col));
}

static json_t *
iso_of_ms(int64_t ms)
{
	char out[40];
	time_t s = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	struct tm tm;
	if (gmtime_r(&s, &tm) == NULL)
		return json_null();
	size_t k = strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + k, sizeof(out) - k, ".%03dZ", (int)(ms - (int64_t)s * 1000));
	return json_string(out);
}

static const char *
status_name(int64_t s)
{
	return s == 0 ? "valid" : s == 1 ? "low-balance" : s == 2 ? "invalid" : "unknown";
}

/* The body: the same bytes on every attempt (the attempt number travels
 * in a header), so a receiver may compare what it got twice. */
static char *
note_body(const PGresult *r, int row)
{
	json_t *o = json_object();
	if (o == NULL)
		return NULL;
	json_object_set_new(o, "version", json_integer(1));
	json_object_set_new(o, "id", json_integer(cdb_int(r, row, C_ID)));
	json_object_set_new(o, "kind", json_string(PQgetvalue(r, row, C_KIND)));
	json_object_set_new(o, "account_id", json_integer(cdb_int(r, row, C_ACCOUNT)));
	json_object_set_new(o, "created_at", json_string(PQgetvalue(r, row, C_CREATED)));
	json_object_set_new(o, "amount_vnd", int_or_null(r, row, C_AMOUNT));
	json_object_set_new(o, "balance_vnd", int_or_null(r, row, C_BALANCE));
	json_object_set_new(o, "status", PQgetisnull(r, row, C_STATUS) ? json_null()
					 : json_string(status_name(cdb_int(r, row, C_STATUS))));
	json_object_set_new(o, "txn_id", str_or_null(r, row, C_TXN));
	if (!PQgetisnull(r, row, C_STATION)) {
		json_t *p = json_object();
		const char *oname = toll_outcome_name((int)cdb_int(r, row, C_OUTCOME));
		json_object_set_new(p, "station_id", json_integer(cdb_int(r, row, C_STATION)));
		json_object_set_new(p, "station_name", str_or_null(r, row, C_STATION_NAME));
		json_object_set_new(p, "lane_id", json_integer(cdb_int(r, row, C_LANE)));
		json_object_set_new(p, "time", iso_of_ms(cdb_int(r, row, C_TIME)));
		json_object_set_new(p, "utc_offset_min", json_integer(cdb_int(r, row, C_OFFSET)));
		json_object_set_new(p, "outcome", oname != NULL ? json_string(oname) : json_null());
		json_object_set_new(p, "plate", str_or_null(r, row, C_PLATE));
		json_object_set_new(o, "passage", p);
	} else {
		json_object_set_new(o, "passage", json_null());
	}
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

/* ---- delivery --------------------------------------------------------------- */

static int
is_stopping(struct notify *n)
{
	return atomic_load(&n->stop) != 0;
}

static void
post_webhook(struct notify *n, int slot, struct note *x)
{
	uint8_t h[32], mac[32];
	char bh[65], sig[65], tosign[1200], headers[600], snippet[ERR_KEEP - 32], e[ERR_KEEP];
	long long ts = (long long)(toll_real_ms() / 1000);
	int status = 0, sent = 0;

	toll_sha256(x->body, x->body_len, h);
	toll_hex_encode(h, 32, bh);
	int k = snprintf(tosign, sizeof(tosign), "POST\n%s\n%lld\n%s", n->url.target, ts, bh);
	if (k < 0 || (size_t)k >= sizeof(tosign) ||
	    toll_hmac_sha256(n->secret, n->secret_len, tosign, (size_t)k, mac) != 0) {
		x->result = R_UNREACHABLE;
		snprintf(x->err, sizeof(x->err), "could not sign");
		return;
	}
	toll_hex_encode(mac, 32, sig);
	snprintf(headers, sizeof(headers),
		 "Content-Type: application/json\r\nUser-Agent: toll-central/%s\r\nX-Notification-Id: %" PRId64
		 "\r\nX-Notification-Attempt: %" PRId64 "\r\nX-Timestamp: %lld\r\nX-Signature: %s\r\n",
		 TOLL_VERSION, x->id, x->attempts + 1, ts, sig);
	int rc = toll_http_post(n->conns[slot], headers, x->body, x->body_len, n->c.timeout_ms, &n->stop, &status,
				snippet, sizeof(snippet), &sent, e, sizeof(e));
	if (rc == 0 && status >= 200 && status <= 299) {
		x->result = R_SENT;
	} else if (rc == 0) {
		x->result = R_FAILED;
		snprintf(x->err, sizeof(x->err), "HTTP %d%s%s", status, snippet[0] ? ": " : "", snippet);
	} else if (is_stopping(n)) {
		x->result = R_NOT_TRIED;
	} else if (rc == TOLL_ECLOSED && !sent) {
		x->result = R_UNREACHABLE;
		snprintf(x->err, sizeof(x->err), "%s", e);
	} else {
		x->result = R_FAILED;
		snprintf(x->err, sizeof(x->err), "%s", e);
	}
}

/* Write all of p to fd (non-blocking) by the deadline: 0 or -1. */
static int
write_all(int fd, const char *p, size_t len, int64_t deadline)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w > 0) {
			p += w;
			len -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			int64_t left = deadline - toll_mono_ms();
			if (left <= 0)
				return -1;
			(void)poll(&pfd, 1, left > 100 ? 100 : (int)left);
			continue;
		}
		return -1; /* EPIPE: the command does not read its input */
	}
	return 0;
}

/* Read what the command wrote (non-blocking), its first bytes kept as
 * text: 1 while the pipe is open, 0 at its end. */
static int
read_output(int fd, char *output, size_t cap, size_t *have)
{
	char buf[512];
	ssize_t r;
	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < r && *have + 1 < cap; i++)
			output[(*have)++] = (unsigned char)buf[i] >= ' ' && (unsigned char)buf[i] < 0x7f ? buf[i] : ' ';
		output[*have] = 0;
	}
	return r == 0 ? 0 : 1;
}

/* The command, through /bin/sh -c, the notification on its stdin, a
 * small environment of its own (not central's: no database credentials),
 * its output (stdout and stderr) kept for last_error; killed with its
 * process group at the timeout. */
static void
run_command(struct notify *n, struct note *x)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1};
	char e_id[64], e_kind[64], e_acc[64], e_att[64], e_path[1100], output[ERR_KEEP - 64];
	size_t have = 0;
	const char *path = getenv("PATH");
	pid_t pid;
	int status = 0, exited = 0, out_open = 1;
	int64_t deadline = toll_mono_ms() + n->c.timeout_ms;

	snprintf(e_id, sizeof(e_id), "TOLL_NOTIFICATION_ID=%" PRId64, x->id);
	snprintf(e_kind, sizeof(e_kind), "TOLL_NOTIFICATION_KIND=%s", x->kind);
	snprintf(e_acc, sizeof(e_acc), "TOLL_NOTIFICATION_ACCOUNT=%" PRId64, x->account);
	snprintf(e_att, sizeof(e_att), "TOLL_NOTIFICATION_ATTEMPT=%" PRId64, x->attempts + 1);
	snprintf(e_path, sizeof(e_path), "PATH=%s", path != NULL && strlen(path) < 1000 ? path : "/usr/bin:/bin");
	char *envp[] = {e_path, e_id, e_kind, e_acc, e_att, NULL};
	char *argv[] = {"sh", "-c", (char *)n->c.command, NULL};
	output[0] = 0;

	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
		x->result = R_UNREACHABLE;
		snprintf(x->err, sizeof(x->err), "pipe: %s", strerror(errno));
		goto out;
	}
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t def, none;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, out[1], 2);
	posix_spawnattr_init(&at);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE); /* central ignores it; the command gets the default */
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGHUP);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
	int src = posix_spawn(&pid, "/bin/sh", &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(in[0]);
	close(out[1]);
	in[0] = out[1] = -1;
	if (src != 0) {
		x->result = R_UNREACHABLE;
		snprintf(x->err, sizeof(x->err), "could not run /bin/sh: %s", strerror(src));
		goto out;
	}
	(void)fcntl(in[1], F_SETFL, O_NONBLOCK);
	(void)fcntl(out[0], F_SETFL, O_NONBLOCK);
	(void)write_all(in[1], x->body, x->body_len, deadline);
	(void)write_all(in[1], "\n", 1, deadline);
	close(in[1]);
	in[1] = -1;
	/* its output and its exit, whichever comes; a pidfd wakes us at the
	 * exit (Linux 5.3), else a short sleep between looks */
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	for (;;) {
		struct pollfd fds[2];
		int nf = 0;
		if (out_open)
			fds[nf++] = (struct pollfd){.fd = out[0], .events = POLLIN};
		if (pidfd >= 0)
			fds[nf++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
		int64_t left = deadline - toll_mono_ms();
		if (left > 0 && !is_stopping(n))
			(void)poll(fds, (nfds_t)nf, pidfd < 0 && !out_open ? 2 : left > 100 ? 100 : (int)left);
		if (out_open)
			out_open = read_output(out[0], output, sizeof(output), &have);
		siginfo_t si;
		si.si_pid = 0;
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid) {
			exited = 1; /* not reaped yet: its group id cannot be reused below */
			if (out_open)
				(void)read_output(out[0], output, sizeof(output), &have);
			break;
		}
		if (toll_mono_ms() >= deadline || is_stopping(n))
			break;
	}
	if (pidfd >= 0)
		close(pidfd);
	if (!exited) {
		kill(-pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (is_stopping(n)) {
			x->result = R_NOT_TRIED;
			goto out;
		}
		x->result = R_FAILED;
		snprintf(x->err, sizeof(x->err), "timed out after %" PRId64 " ms, killed%s%s", n->c.timeout_ms,
			 output[0] ? ": " : "", output);
		goto out;
	}
	kill(-pid, SIGKILL); /* what it left running in its group */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		x->result = R_SENT;
	} else if (WIFEXITED(status) && (WEXITSTATUS(status) == EXIT_TEMPFAIL || WEXITSTATUS(status) == 126 ||
					 WEXITSTATUS(status) == 127)) {
		x->result = R_UNREACHABLE;
		snprintf(x->err, sizeof(x->err), "exit %d%s%s%s", WEXITSTATUS(status),
			 WEXITSTATUS(status) == EXIT_TEMPFAIL ? " (receiver unavailable)" : " (cannot run the command)",
			 output[0] ? ": " : "", output);
	} else if (WIFEXITED(status)) {
		x->result = R_FAILED;
		snprintf(x->err, sizeof(x->err), "exit %d%s%s", WEXITSTATUS(status), output[0] ? ": " : "", output);
	} else {
		x->result = R_FAILED;
		snprintf(x->err, sizeof(x->err), "killed by signal %d%s%s", WIFSIGNALED(status) ? WTERMSIG(status) : 0,
			 output[0] ? ": " : "", output);
	}
out:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
}

/* Worker `part`: the notes whose account falls to it (an account's
 * notifications go out in id order), one after another. */
static void
deliver_part(struct batch *b, int part)
{
	struct notify *n = b->n;
	for (size_t i = 0; i < b->nv; i++) {
		struct note *x = b->v[i];
		if ((int)((uint64_t)x->account % (uint64_t)b->parts) != part)
			continue;
		if (atomic_load(&b->halt) || is_stopping(n))
			break;
		if (n->c.mode == NOTIFY_WEBHOOK)
			post_webhook(n, part, x);
		else
			run_command(n, x);
		if (x->result == R_SENT) {
			atomic_store(&b->fresh_fails, 0);
		} else if (x->result == R_UNREACHABLE) {
			atomic_store(&b->halt, 1);
		} else if (x->result == R_FAILED && x->fresh) {
			if (atomic_fetch_add(&b->fresh_fails, 1) + 1 >= BREAKER_FAILS)
				atomic_store(&b->halt, 1);
		}
	}
}

struct part_arg {
	struct batch *b;
	int part;
};

static void *
part_thread(void *arg)
{
	struct part_arg *a = arg;
	deliver_part(a->b, a->part);
	return NULL;
}

/* Deliver v[0..nv), `parallel` at a time: 1 when the receiver failed
 * or could not be reached (the round stopped early). */
static int
deliver(struct notify *n, struct note **v, size_t nv)
{
	struct batch b = {.n = n, .v = v, .nv = nv};
	pthread_t th[PARALLEL_MAX];
	struct part_arg args[PARALLEL_MAX];
	int started[PARALLEL_MAX] = {0};

	b.parts = (int)(n->c.parallel < (int64_t)nv ? n->c.parallel : (int64_t)nv);
	if (b.parts < 1)
		return 0;
	atomic_init(&b.halt, 0);
	atomic_init(&b.fresh_fails, n->fresh_fails);
	for (int p = 1; p < b.parts; p++) {
		args[p].b = &b;
		args[p].part = p;
		started[p] = pthread_create(&th[p], NULL, part_thread, &args[p]) == 0;
	}
	deliver_part(&b, 0);
	for (int p = 1; p < b.parts; p++) {
		if (started[p])
			pthread_join(th[p], NULL);
		else
			deliver_part(&b, p); /* no thread: here, after */
	}
	n->fresh_fails = atomic_load(&b.fresh_fails);
	return atomic_load(&b.halt);
}

/* ---- the round ----------------------------------------------------------------- */

static void
free_notes(struct note *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].body);
	free(v);
}

/* Rows of NOTE_SELECT into v (at most cap in all), found by scan src.
 * Rows of the head not fresh are R_SKIP (tried already, before a restart). */
static int
fetch(struct cdb *db, const char *where, int np, const char *const *p, int src, struct note *v, size_t *nv,
      size_t cap, int *rows, char *err, size_t errlen)
{
	char sql[2048];
	PGresult *r;
	snprintf(sql, sizeof(sql), NOTE_SELECT, where);
	int rc = cdb_query(db, sql, np, p, &r, err, errlen);
	if (rc != 0)
		return rc;
	*rows = PQntuples(r);
	if (PQnfields(r) != C_COUNT) {
		PQclear(r);
		return toll_errf(err, errlen, TOLL_EDB, "notifications: unexpected result shape");
	}
	for (int i = 0; i < PQntuples(r) && *nv < cap; i++) {
		struct note *x = &v[(*nv)++];
		memset(x, 0, sizeof(*x));
		x->id = cdb_int(r, i, C_ID);
		x->account = cdb_int(r, i, C_ACCOUNT);
		x->attempts = cdb_int(r, i, C_ATTEMPTS);
		x->fresh = strcmp(PQgetvalue(r, i, C_FRESH), "t") == 0;
		x->src = src;
		snprintf(x->kind, sizeof(x->kind), "%s", PQgetvalue(r, i, C_KIND));
		if (src == SRC_HEAD && !x->fresh) {
			x->result = R_SKIP;
			continue;
		}
		x->body = note_body(r, i);
		if (x->body == NULL) {
			PQclear(r);
			return TOLL_ENOMEM;
		}
		x->body_len = strlen(x->body);
		if (x->body_len > BODY_MAX) {
			/* cannot happen with the columns above; a bound all the same */
			x->result = R_FAILED;
			snprintf(x->err, sizeof(x->err), "body of %zu bytes, over %d", x->body_len, BODY_MAX);
		}
	}
	PQclear(r);
	return 0;
}

static int
horizon(struct cdb *db, uint64_t *xmin, uint64_t *xmax, char *err, size_t errlen)
{
	PGresult *r;
	int rc = cdb_query(db,
			   "SELECT pg_snapshot_xmin(s)::text, pg_snapshot_xmax(s)::text FROM pg_current_snapshot() s",
			   0, NULL, &r, err, errlen);
	if (rc != 0)
		return rc;
	*xmin = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
	*xmax = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
	PQclear(r);
	return 0;
}

static int64_t
delay_ms(const struct notify *n, int64_t attempt)
{
	int64_t d = n->c.backoff_ms;
	for (int64_t i = 1; i < attempt && d < n->c.backoff_max_ms; i++)
		d *= 2;
	return d < n->c.backoff_max_ms ? d : n->c.backoff_max_ms;
}

/* "{1,2,3}" of the notes with result res (NULL when none). */
static char *
id_array(const struct note *v, size_t nv, enum result res, size_t *count)
{
	char *s = malloc(nv * 21 + 3);
	size_t k = 0;
	*count = 0;
	if (s == NULL)
		return NULL;
	s[k++] = '{';
	for (size_t i = 0; i < nv; i++) {
		if (v[i].result != res)
			continue;
		k += (size_t)sprintf(s + k, "%s%" PRId64, *count ? "," : "", v[i].id);
		(*count)++;
	}
	s[k++] = '}';
	s[k] = 0;
	return s;
}

/* The outcomes of a round, in one transaction: sent_at for the delivered,
 * attempts and the next try (or failed) for the others, the counters and
 * the cursor. */
static int
record(struct notify *n, struct cdb *db, struct note *v, size_t nv, int64_t new_cursor, uint64_t *sent,
       uint64_t *failed, char *err, size_t errlen)
{
	PGresult *r;
	size_t ns;
	int rc = cdb_exec(db, "BEGIN", err, errlen);
	*sent = *failed = 0;
	if (rc != 0)
		return rc;
	char *ids = id_array(v, nv, R_SENT, &ns);
	if (ids == NULL)
		return TOLL_ENOMEM;
	if (ns > 0) {
		const char *p[1] = {ids};
		rc = cdb_query(db,
			       "UPDATE notifications SET sent_at = now(), attempts = attempts + 1, next_attempt_at = NULL"
			       " WHERE id = ANY($1::bigint[]) AND sent_at IS NULL",
			       1, p, &r, err, errlen);
		if (rc == 0) {
			*sent = strtoull(PQcmdTuples(r), NULL, 10);
			PQclear(r);
			rc = cdb_query(db, "DELETE FROM notify_retries WHERE id = ANY($1::bigint[])", 1, p, NULL, err,
				       errlen);
		}
	}
	free(ids);
	for (size_t i = 0; rc == 0 && i < nv; i++) {
		struct note *x = &v[i];
		if (x->result != R_FAILED)
			continue;
		char sid[24], sd[24];
		int64_t attempt = x->attempts + 1;
		int final = attempt >= n->c.retry_max;
		snprintf(sid, sizeof(sid), "%" PRId64, x->id);
		snprintf(sd, sizeof(sd), "%" PRId64, delay_ms(n, attempt));
		const char *p[4] = {sid, x->err, sd, final ? "true" : "false"};
		rc = cdb_query(db,
			       "WITH u AS (UPDATE notifications SET attempts = attempts + 1, last_error = $2,"
			       "  next_attempt_at = CASE WHEN $4::boolean THEN NULL"
			       "   ELSE now() + $3::bigint * interval '1 millisecond' END,"
			       "  failed_at = CASE WHEN $4::boolean THEN now() END"
			       "  WHERE id = $1::bigint AND sent_at IS NULL AND failed_at IS NULL RETURNING id, next_attempt_at)"
			       " INSERT INTO notify_retries (id, next_attempt_at, failed)"
			       " SELECT id, COALESCE(next_attempt_at, now()), $4::boolean FROM u"
			       " ON CONFLICT (id) DO UPDATE SET next_attempt_at = EXCLUDED.next_attempt_at,"
			       "  failed = EXCLUDED.failed RETURNING failed",
			       4, p, &r, err, errlen);
		if (rc != 0)
			break;
		if (PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0) {
			(*failed)++;
			toll_warn("notify: notification %" PRId64 " failed after %" PRId64 " attempts: %s", x->id,
				  attempt, x->err);
		} else if (PQntuples(r) == 1) {
			toll_info("notify: notification %" PRId64 " attempt %" PRId64 " failed (again in %s ms): %s", x->id,
				  attempt, sd, x->err);
		}
		PQclear(r);
	}
	if (rc == 0) {
		char ss[24], sf[24], sc[24];
		const char *p[3] = {ss, sf, sc};
		snprintf(ss, sizeof(ss), "%" PRIu64, *sent);
		snprintf(sf, sizeof(sf), "%" PRIu64, *failed);
		snprintf(sc, sizeof(sc), "%" PRId64, new_cursor);
		rc = cdb_query(db,
			       "UPDATE notify_state SET sent = sent + $1::bigint, failed = failed + $2::bigint,"
			       " cursor_id = GREATEST(cursor_id, $3::bigint), updated_at = now()",
			       3, p, NULL, err, errlen);
	}
	if (rc == 0)
		rc = cdb_exec(db, "COMMIT", err, errlen);
	return rc;
}

static int
read_state(struct notify *n, struct cdb *db, char *err, size_t errlen)
{
	PGresult *r;
	char sh[24];
	const char *p[1] = {sh};
	snprintf(sh, sizeof(sh), "%" PRId64, n->hi);
	int rc = cdb_query(db,
			   "SELECT s.cursor_id, s.sent, s.failed,"
			   " (SELECT count(*) FROM notify_retries WHERE NOT failed),"
			   " COALESCE((SELECT (extract(epoch FROM clock_timestamp() - created_at) * 1000)::bigint"
			   "  FROM notifications WHERE id > $1::bigint ORDER BY id LIMIT 1), 0)"
			   " FROM notify_state s",
			   1, p, &r, err, errlen);
	if (rc != 0)
		return rc;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return toll_errf(err, errlen, TOLL_EDB, "notify_state has no row (was 006_notify.sql applied?)");
	}
	pthread_mutex_lock(&n->mu);
	n->st.cursor = (uint64_t)cdb_int(r, 0, 0);
	n->st.sent_total = (uint64_t)cdb_int(r, 0, 1);
	n->st.failed_total = (uint64_t)cdb_int(r, 0, 2);
	n->st.retrying = (uint64_t)cdb_int(r, 0, 3);
	n->st.lag_ms = cdb_int(r, 0, 4);
	n->st.paused = toll_mono_ms() < n->pause_until;
	pthread_mutex_unlock(&n->mu);
	PQclear(r);
	return 0;
}

/* One round: look back for late commits when the horizon allows, take
 * the retries due and the new notifications, deliver them, record the
 * outcomes.  *more: a list was full, run again at once. */
static int
round_once(struct notify *n, struct cdb *db, int *more, char *err, size_t errlen)
{
	size_t cap = (size_t)n->c.batch * 3, nv = 0;
	struct note *v = calloc(cap, sizeof(*v));
	struct note **todo = calloc(cap, sizeof(*todo));
	uint64_t xmin = 0, xmax = 0, sent = 0, failed = 0;
	int64_t now = toll_mono_ms();
	int paused = now < n->pause_until, rows = 0, window_full = 0, resolve = 0;
	char sb[24], s1[24], s2[24];
	int rc;

	*more = 0;
	if (v == NULL || todo == NULL) {
		free(v);
		free(todo);
		return TOLL_ENOMEM;
	}
	snprintf(sb, sizeof(sb), "%" PRId64, n->c.batch);
	rc = horizon(db, &xmin, &xmax, err, errlen);
	if (rc != 0)
		goto out;
	if (n->cand > n->cursor && n->cand_xmax == 0 && now - n->cand_ms >= GRACE_MS)
		n->cand_xmax = xmax;
	resolve = !paused && n->cand > n->cursor && n->cand_xmax != 0 && xmin >= n->cand_xmax;
	if (!paused) {
		if (resolve) {
			/* every writer that could hold an id <= cand has ended: what
			 * it wrote is visible now; the ones not tried yet go now */
			snprintf(s1, sizeof(s1), "%" PRId64, n->cursor);
			snprintf(s2, sizeof(s2), "%" PRId64, n->cand);
			const char *p[3] = {s1, s2, sb};
			rc = fetch(db,
				   "WHERE n.id > $1::bigint AND n.id <= $2::bigint AND n.attempts = 0 AND n.sent_at IS NULL"
				   " AND n.failed_at IS NULL ORDER BY n.id LIMIT $3::bigint",
				   3, p, SRC_WINDOW, v, &nv, cap, &rows, err, errlen);
			if (rc != 0)
				goto out;
			window_full = rows >= n->c.batch;
		}
		const char *pr[1] = {sb};
		rc = fetch(db,
			   "WHERE n.id IN (SELECT r.id FROM notify_retries r JOIN notifications o ON o.id = r.id"
			   "  WHERE NOT r.failed AND r.next_attempt_at <= now() AND o.sent_at IS NULL AND o.failed_at IS NULL"
			   "  ORDER BY r.next_attempt_at LIMIT $1::bigint)",
			   1, pr, SRC_RETRY, v, &nv, cap, &rows, err, errlen);
		if (rc != 0)
			goto out;
		*more |= rows >= n->c.batch;
		snprintf(s1, sizeof(s1), "%" PRId64, n->hi);
		const char *ph[2] = {s1, sb};
		rc = fetch(db, "WHERE n.id > $1::bigint ORDER BY n.id LIMIT $2::bigint", 2, ph, SRC_HEAD, v, &nv, cap, &rows,
			   err, errlen);
		if (rc != 0)
			goto out;
		*more |= rows >= n->c.batch || window_full;
	}
	size_t nt = 0;
	for (size_t i = 0; i < nv; i++)
		if (v[i].result == R_NOT_TRIED)
			todo[nt++] = &v[i];
	int64_t t0 = toll_mono_ms();
	int halted = deliver(n, todo, nt);
	if (nt > 0)
		toll_debug("notify: %zu delivered or tried in %" PRId64 " ms", nt, toll_mono_ms() - t0);
	/* the head: past every row up to the first not tried; the look-back
	 * is done when nothing it found is left */
	int64_t hi = n->hi;
	int window_done = resolve && !window_full, head_blocked = 0, changed = 0;
	for (size_t i = 0; i < nv; i++) {
		int open = v[i].result == R_NOT_TRIED || v[i].result == R_UNREACHABLE;
		changed |= v[i].result == R_SENT || v[i].result == R_FAILED;
		if (v[i].src == SRC_WINDOW && open)
			window_done = 0;
		if (v[i].src == SRC_HEAD && !head_blocked) {
			if (open)
				head_blocked = 1;
			else
				hi = v[i].id;
		}
	}
	int64_t new_cursor = window_done ? n->cand : n->cursor;
	if (changed || new_cursor != n->cursor) {
		rc = record(n, db, v, nv, new_cursor, &sent, &failed, err, errlen);
		if (rc != 0)
			goto out;
	}
	/* committed: now the thread's own state moves */
	n->hi = hi;
	if (new_cursor > n->cursor) {
		n->cursor = new_cursor;
		n->cand = 0;
	}
	if (n->cand <= n->cursor && n->hi > n->cursor) {
		n->cand = n->hi;
		n->cand_ms = toll_mono_ms();
		n->cand_xmax = 0;
	}
	uint64_t afail = 0, unreach = 0;
	int any_sent = 0;
	for (size_t i = 0; i < nv; i++) {
		afail += v[i].result == R_FAILED;
		unreach += v[i].result == R_UNREACHABLE;
		any_sent |= v[i].result == R_SENT;
	}
	if (any_sent && !halted) {
		if (n->pause_ms != 0)
			toll_notice("notify: the receiver takes notifications again");
		n->pause_ms = 0;
	}
	if (halted && !is_stopping(n)) {
		const char *why = "new notifications keep failing";
		for (size_t i = 0; i < nv; i++)
			if (v[i].result == R_UNREACHABLE) {
				why = v[i].err;
				break;
			}
		n->pause_ms = n->pause_ms == 0 ? n->c.backoff_ms
			      : n->pause_ms * 2 > n->c.backoff_max_ms ? n->c.backoff_max_ms : n->pause_ms * 2;
		n->pause_until = toll_mono_ms() + n->pause_ms;
		n->fresh_fails = 0;
		*more = 0;
		toll_warn("notify: receiver unavailable (%s): pausing %" PRId64 " ms", why, n->pause_ms);
	}
	pthread_mutex_lock(&n->mu);
	n->st.sent += sent;
	n->st.failed += failed;
	n->st.attempts_failed += afail;
	n->st.unreachable += unreach;
	pthread_mutex_unlock(&n->mu);
	rc = read_state(n, db, err, errlen);
out:
	if (rc != 0 && !cdb_broken(db)) {
		char e2[64];
		(void)cdb_exec(db, "ROLLBACK", e2, sizeof(e2));
	}
	free_notes(v, nv);
	free(todo);
	return rc;
}

static void
set_up(struct notify *n, int up)
{
	pthread_mutex_lock(&n->mu);
	n->st.up = up;
	pthread_mutex_unlock(&n->mu);
}

/* Start from the durable cursor (after a connect, and after an error:
 * what was delivered and not recorded goes again, with its id). */
static int
restart_from_cursor(struct notify *n, struct cdb *db, char *err, size_t errlen)
{
	PGresult *r;
	int rc = cdb_query(db, "SELECT cursor_id FROM notify_state", 0, NULL, &r, err, errlen);
	if (rc != 0)
		return rc;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return toll_errf(err, errlen, TOLL_EDB, "notify_state has no row (was 006_notify.sql applied?)");
	}
	n->cursor = n->hi = cdb_int(r, 0, 0);
	n->cand = 0;
	n->cand_xmax = 0;
	PQclear(r);
	return 0;
}

static void *
notify_thread(void *arg)
{
	struct notify *n = arg;
	struct cdb *db = NULL;
	int64_t wait_ms = 0;
	int standby = 0;
	char err[512];

	while (!atomic_load(&n->stop)) {
		if (db == NULL) {
			int rc = cdb_connect(n->c.conninfo, n->c.role, &db, err, sizeof(err));
			if (rc == 0)
				rc = cdb_try_lock(db, CDB_LOCK_NOTIFY, "notification sender", err, sizeof(err));
			if (rc == 0)
				rc = restart_from_cursor(n, db, err, sizeof(err));
			if (rc != 0) {
				cdb_close(db);
				db = NULL;
				if (rc == TOLL_EBUSY) {
					if (!standby)
						toll_notice("notify: %s", err);
					standby = 1;
					set_up(n, 2);
					toll_sleep_ms_unless(&n->stop, 1000);
					continue;
				}
				set_up(n, 0);
				wait_ms = wait_ms == 0 ? 200 : wait_ms * 2;
				if (wait_ms > n->c.retry_max_ms)
					wait_ms = n->c.retry_max_ms;
				toll_warn("notify: database: %s (again in %" PRId64 " ms)", err, wait_ms);
				toll_sleep_ms_unless(&n->stop, wait_ms);
				continue;
			}
			if (standby)
				toll_notice("notify: this toll-central sends the notifications now");
			standby = 0;
			wait_ms = 0;
			set_up(n, 1);
			toll_info("notify: sending from notification %" PRId64, n->cursor + 1);
		}
		int more = 0;
		int rc = round_once(n, db, &more, err, sizeof(err));
		if (rc != 0) {
			pthread_mutex_lock(&n->mu);
			n->st.db_errors++;
			pthread_mutex_unlock(&n->mu);
			toll_warn("notify: round rolled back: %s", err);
			if (cdb_broken(db) || restart_from_cursor(n, db, err, sizeof(err)) != 0) {
				cdb_close(db);
				db = NULL;
				set_up(n, 0);
			}
			toll_sleep_ms_unless(&n->stop, 500);
			continue;
		}
		if (!more)
			toll_sleep_ms_unless(&n->stop, n->c.interval_ms);
	}
	cdb_close(db);
	return NULL;
}

/* The configuration into n: the URL, the key (webhook), the bounds. */
static int
configure(struct notify *n, const struct notify_conf *c, char *err, size_t errlen)
{
	n->c = *c;
	if (c->mode == NOTIFY_OFF)
		return toll_errf(err, errlen, TOLL_ECONFIG, "notify.mode off: nothing to start");
	if (c->parallel < 1 || c->parallel > PARALLEL_MAX || c->batch < 1 || c->retry_max < 1 || c->backoff_ms < 1 ||
	    c->backoff_max_ms < c->backoff_ms)
		return toll_errf(err, errlen, TOLL_ECONFIG,
				 "notify: parallel 1..%d, batch and retry_max >= 1, backoff_max >= backoff", PARALLEL_MAX);
	if (c->mode == NOTIFY_COMMAND && (c->command == NULL || c->command[0] == 0))
		return toll_errf(err, errlen, TOLL_ECONFIG, "notify.mode command needs notify.command");
	if (c->mode != NOTIFY_WEBHOOK)
		return 0;
	char e2[300];
	if (toll_http_parse_url(c->url != NULL ? c->url : "", &n->url, e2, sizeof(e2)) != 0)
		return toll_errf(err, errlen, TOLL_ECONFIG, "notify.%s", e2);
	if (c->secret_file == NULL || c->secret_file[0] == 0)
		return toll_errf(err, errlen, TOLL_ECONFIG,
				 "notify.mode webhook needs notify.secret_file (the receiver checks the signature)");
	return load_secret(n, c->secret_file, err, errlen);
}

int
notify_check(const struct notify_conf *c, char *err, size_t errlen)
{
	struct notify *n = calloc(1, sizeof(*n));
	if (n == NULL)
		return TOLL_ENOMEM;
	int rc = c->mode == NOTIFY_OFF ? 0 : configure(n, c, err, errlen);
	explicit_bzero(n->secret, sizeof(n->secret));
	free(n);
	return rc;
}

int
notify_start(const struct notify_conf *c, struct notify **out, char *err, size_t errlen)
{
	struct notify *n = calloc(1, sizeof(*n));
	int rc;

	*out = NULL;
	if (n == NULL)
		return TOLL_ENOMEM;
	if ((rc = configure(n, c, err, errlen)) != 0)
		goto fail;
	for (int i = 0; c->mode == NOTIFY_WEBHOOK && i < n->c.parallel; i++)
		if (toll_http_conn_new(&n->url, &n->conns[i]) != 0) {
			rc = TOLL_ENOMEM;
			goto fail;
		}
	pthread_mutex_init(&n->mu, NULL);
	if (pthread_create(&n->thread, NULL, notify_thread, n) != 0) {
		pthread_mutex_destroy(&n->mu);
		rc = TOLL_ENOMEM;
		goto fail;
	}
	*out = n;
	return 0;
fail:
	for (int i = 0; i < PARALLEL_MAX; i++)
		toll_http_conn_free(n->conns[i]);
	explicit_bzero(n->secret, sizeof(n->secret));
	free(n);
	return rc;
}

void
notify_stop(struct notify *n)
{
	if (n == NULL)
		return;
	atomic_store(&n->stop, 1);
	pthread_join(n->thread, NULL);
	pthread_mutex_destroy(&n->mu);
	for (int i = 0; i < PARALLEL_MAX; i++)
		toll_http_conn_free(n->conns[i]);
	explicit_bzero(n->secret, sizeof(n->secret));
	free(n);
}

void
notify_stats(struct notify *n, struct notify_stats *st)
{
	pthread_mutex_lock(&n->mu);
	*st = n->st;
	pthread_mutex_unlock(&n->mu);
}

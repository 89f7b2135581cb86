/* notify.h: central's sender of drivers' notifications
 * (docs/notifications.md).
 *
 * Settlement, the partner API and the trip matcher write the outbox
 * (notifications: debit, refused, status, topup, correction).  This
 * thread, on its own connection and alone on its database (an advisory
 * lock; a second central stands by), delivers each one, by a command
 * (run once per notification, the notification as JSON on stdin, exit 0 =
 * delivered) or by an HTTP webhook (a POST per notification on kept-alive
 * connections, signed like the partner API: X-Timestamp, X-Signature,
 * X-Notification-Id), `parallel` at a time.
 *
 * Delivery is at least once, with the notification's id so the receiver
 * can make it exactly once: sent_at is set only after a 2xx (exit 0), in
 * a transaction of the sender's own after the batch; a crash between the
 * two sends those again, with the same id.
 *
 * The outbox has no index on the unsent (settlement pays for every index
 * it writes): the sender follows the id with a cursor, kept in
 * notify_state.  Ids are drawn before commit, so a lower id can commit
 * after a higher one: the durable cursor moves past an id only once
 * every transaction that could still hold a lower one has ended (the
 * xmin horizon, central/sql/006_notify.sql); until then the sender keeps
 * its place in memory and looks back for late commits.
 *
 * A failed attempt (a non-2xx answer, no answer in time, a non-zero exit)
 * counts against that notification: it is tried again after `backoff`,
 * doubling up to `backoff_max`, from notify_retries, and after
 * `retry_max` attempts it is marked failed (kept, counted).  The others go
 * on meanwhile.  A receiver that cannot be reached (connection refused,
 * exit 75, a command that cannot run), or that fails every new
 * notification, pauses the sender (the same backoff) without counting an
 * attempt against anyone. */
#ifndef CENTRAL_NOTIFY_H
#define CENTRAL_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

enum notify_mode { NOTIFY_OFF = 0, NOTIFY_COMMAND = 1, NOTIFY_WEBHOOK = 2 };

struct notify_conf {
	const char *conninfo, *role;
	enum notify_mode mode;
	const char *command;	 /* command: run with /bin/sh -c */
	const char *url;	 /* webhook: http://HOST:PORT/PATH */
	const char *secret_file; /* webhook: the HMAC key, hex */
	int64_t batch;		 /* notifications taken in one round */
	int64_t parallel;	 /* deliveries at once */
	int64_t interval_ms, timeout_ms, retry_max_ms;
	int64_t retry_max; /* attempts, then failed */
	int64_t backoff_ms, backoff_max_ms;
};

struct notify_stats {
	int up;	    /* 1 sending, 2 standing by, 0 no database */
	int paused; /* the receiver is unreachable or failing: waiting */
	/* from the database (every sender so far) */
	uint64_t sent_total, failed_total;
	uint64_t retrying; /* waiting to be tried again */
	int64_t lag_ms;	   /* age of the oldest notification not tried yet, 0 when none */
	uint64_t cursor;
	/* this process */
	uint64_t sent, attempts_failed, failed, unreachable, db_errors;
};

struct notify;

/* "off", "command", "webhook": 0 with *m, or TOLL_EINVAL. */
int notify_mode_parse(const char *s, enum notify_mode *m);
const char *notify_mode_name(enum notify_mode m);
/* Check the configuration (the URL, the secret file: readable, 0600, hex
 * of 32 to 256 bytes): 0 (also for off), or TOLL_ECONFIG with err. */
int notify_check(const struct notify_conf *c, char *err, size_t errlen);
/* Check the configuration and start the thread: 0, TOLL_ECONFIG (err
 * says why) or TOLL_ENOMEM. */
int notify_start(const struct notify_conf *c, struct notify **out, char *err, size_t errlen);
void notify_stop(struct notify *n);
void notify_stats(struct notify *n, struct notify_stats *st);

#endif

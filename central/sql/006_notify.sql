-- 006_notify.sql: delivering the drivers' notifications (central/notify.c,
-- docs/notifications.md).
--
-- The outbox (notifications, 001) is written by settlement (debit, status,
-- refused), the partner API (topup, correction) and the trip matcher
-- (correction).  One sender per database (an advisory lock) takes each
-- notification, delivers it by a command or a signed webhook, and records
-- the outcome in a transaction of its own:
--   - delivered: sent_at (only after a 2xx answer or exit 0);
--   - an attempt failed: attempts, last_error, next_attempt_at (backoff),
--     and the id in notify_retries, the small table the sender looks for
--     retries in;
--   - failed for good after notify.retry_max attempts: failed_at, and the
--     id stays in notify_retries with failed = true (notify_failed lists
--     them for the operators).
--
-- There is still no index on the unsent: settlement pays for every index
-- it writes.  The sender follows the id with a cursor (notify_state):
-- every notification with an id at or below cursor_id has had its first
-- attempt.  Ids are drawn before commit, so a lower id can become visible
-- after a higher one; the sender moves the durable cursor past an id only
-- once every transaction that could hold a lower one has ended (the xmin
-- horizon), and looks back for the late ones before it does.  This needs
-- the id sequence to hand out ids in order: keep its CACHE at 1 (the
-- default).

-- A refused passage (the lane refused a known account's vehicle: balance
-- too low, or an invalid tag) tells the driver why: settlement writes it
-- with the transaction, as it writes the debits.
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
	CHECK (kind IN ('debit', 'topup', 'status', 'correction', 'refused'));

-- Constant defaults: no table rewrite, and nothing more for settlement's
-- inserts to compute.
ALTER TABLE notifications ADD COLUMN attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0);
ALTER TABLE notifications ADD COLUMN next_attempt_at timestamptz;
ALTER TABLE notifications ADD COLUMN last_error text;
ALTER TABLE notifications ADD COLUMN failed_at timestamptz;

-- The sender's place, one row.  The notifications queued before this
-- migration are not sent (there was no sender: they are history); an
-- operator who wants them sent moves cursor_id back.  sent and failed
-- count every notification delivered and given up, by every sender.
CREATE TABLE notify_state (
	one boolean PRIMARY KEY DEFAULT true CHECK (one),
	cursor_id bigint NOT NULL CHECK (cursor_id >= 0),
	sent bigint NOT NULL DEFAULT 0,
	failed bigint NOT NULL DEFAULT 0,
	updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO notify_state (cursor_id) SELECT COALESCE(max(id), 0) FROM notifications;

-- Notifications whose first attempt failed: retried at next_attempt_at,
-- removed once delivered; failed = true when given up (kept).
CREATE TABLE notify_retries (
	id bigint PRIMARY KEY, -- notifications.id
	next_attempt_at timestamptz NOT NULL,
	failed boolean NOT NULL DEFAULT false
);
CREATE INDEX notify_retries_due ON notify_retries (next_attempt_at) WHERE NOT failed;

-- For the operators: the notifications given up, with why.  To try one
-- again (retry_max - 1 more attempts), in one transaction:
--   UPDATE notifications SET failed_at = NULL, attempts = 1 WHERE id = N;
--   UPDATE notify_retries SET failed = false, next_attempt_at = now() WHERE id = N;
CREATE VIEW notify_failed AS
	SELECT n.id, n.account_id, n.kind, n.created_at, n.attempts, n.last_error, n.failed_at
	FROM notify_retries r JOIN notifications n ON n.id = r.id WHERE r.failed;

GRANT SELECT, UPDATE ON notify_state TO toll_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON notify_retries TO toll_app;
GRANT SELECT ON notify_failed TO toll_app;

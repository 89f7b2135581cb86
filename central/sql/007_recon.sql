-- 007_recon.sql: reconciliation, operators' corrections and the reporting
-- role (docs/reconciliation.md, docs/partner-file.md, docs/reporting.md).
--
-- toll-admin reconciles each lane's journal with central's records
-- (reconcile lanes) and each partner's daily file with the top-ups
-- (partner file, partner reconcile); an operator corrects a posted toll
-- with a new ledger entry (kind correction) that refers to the toll's entry
-- and a row here with its reason code, never an edit.  Views give a
-- read-only reporting role, toll_report, everything an analyst needs
-- without the tables themselves.

-- The stations' calendar: the day of a time in Asia/Ho_Chi_Minh (as
-- toll_today() in 004), and a lane record's time (ms since the epoch, UTC)
-- as a timestamptz.
CREATE FUNCTION toll_day(t timestamptz) RETURNS date LANGUAGE sql STABLE AS $$
	SELECT (t AT TIME ZONE 'Asia/Ho_Chi_Minh')::date
$$;
CREATE FUNCTION toll_ms_time(ms bigint) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
	SELECT to_timestamp(0) + ms * interval '1 millisecond'
$$;
-- A lane record's outcome by name (docs/transaction-format.md; common/txn.c).
CREATE FUNCTION toll_outcome(o smallint) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE o WHEN 1 THEN 'paid' WHEN 2 THEN 'refused-balance' WHEN 3 THEN 'refused-invalid'
		WHEN 4 THEN 'no-tag' WHEN 5 THEN 'exempt' WHEN 6 THEN 'pass' WHEN 7 THEN 'entry'
		WHEN 8 THEN 'unknown-tag' ELSE o::text END
$$;
-- The time (ms) and the fee of a quarantined record, read from its bytes
-- when it has the shape of a version-1 record (236 bytes, magic TOLT), else
-- NULL: a quarantined record was never trusted, so these are what it
-- claims.
CREATE FUNCTION toll_payload_i64(p bytea, off integer) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN length(p) = 236 AND substring(p FROM 1 FOR 4) = '\x544f4c54'::bytea
		THEN ('x' || encode(substring(p FROM off + 1 FOR 8), 'hex'))::bit(64)::bigint END
$$;

-- Operators' corrections of posted tolls (toll-admin correct).  The money
-- is the ledger entry ledger_id (kind correction, corrects = the toll's
-- entry, txn_id = the toll's lane record): a refund from the station's
-- revenue account back to the customer, or an extra charge the other way
-- (a vehicle charged a lower class than its own).  This row says why and
-- who.  Never changed, never deleted.  Central's closed-road trip matcher
-- and the partners' reversals make correction entries too, without a row
-- here (v_corrections shows them all).
CREATE TABLE corrections (
	ledger_id bigint PRIMARY KEY REFERENCES ledger_entries (id),
	txn_id uuid NOT NULL,
	toll_ledger_id bigint NOT NULL REFERENCES ledger_entries (id),
	reason text NOT NULL CHECK (reason IN ('wrong-class', 'disputed', 'exit-without-entry', 'other')),
	direction text NOT NULL CHECK (direction IN ('refund', 'charge')),
	amount_vnd bigint NOT NULL CHECK (amount_vnd > 0),
	note text NOT NULL DEFAULT '',
	-- the login role (toll-admin runs SET ROLE toll_app: current_user
	-- would name the application role)
	operator text NOT NULL DEFAULT session_user,
	created_at timestamptz NOT NULL DEFAULT now(),
	-- only a wrong class (or another reason an operator writes down)
	-- charges more; a disputed passage or a missing entry is a refund
	CHECK (direction = 'refund' OR reason IN ('wrong-class', 'other'))
);
CREATE INDEX corrections_txn ON corrections (txn_id);
CREATE TRIGGER corrections_immutable BEFORE UPDATE OR DELETE ON corrections
	FOR EACH ROW EXECUTE FUNCTION toll_refuse_change();
CREATE TRIGGER corrections_no_truncate BEFORE TRUNCATE ON corrections
	FOR EACH STATEMENT EXECUTE FUNCTION toll_refuse_change();

-- What is left of a toll: its amount, less the corrections that refer to
-- it.  Partial: settlement's toll entries (corrects NULL) skip it.
CREATE INDEX ledger_entries_corrects ON ledger_entries (corrects) WHERE corrects IS NOT NULL;
-- A day of records without reading every row: BRIN indexes (a few pages,
-- almost nothing to keep up per insert; rows arrive in about time order).
CREATE INDEX transactions_time_ms ON transactions USING brin (time_ms);
CREATE INDEX ledger_entries_created ON ledger_entries USING brin (created_at);

-- toll-admin partner add and partner deactivate / activate
GRANT INSERT ON partners TO toll_app;
GRANT UPDATE (active) ON partners TO toll_app;
GRANT SELECT, INSERT ON corrections TO toll_app;

-- ---- reporting views ----------------------------------------------------
-- Days are the stations' (Asia/Ho_Chi_Minh); times are timestamptz
-- (shown in the session's TimeZone).  Documented in docs/reporting.md.

-- Every lane record central settled, without its bytes.
CREATE VIEW v_transactions AS
SELECT t.txn_id, t.station_id, t.lane_id, t.lane_seq, t.time_ms, toll_ms_time(t.time_ms) AS time,
	toll_day(toll_ms_time(t.time_ms)) AS day, toll_outcome(t.outcome) AS outcome, t.flags, t.epc_hex,
	t.account_id, t.vclass, t.entry_station, t.fee_vnd, t.disposition, t.received_at,
	encode(t.payload_hash, 'hex') AS payload_sha256
FROM transactions t;

-- Every ledger entry.
CREATE VIEW v_ledger AS
SELECT e.id, e.created_at, toll_day(e.created_at) AS day, e.kind, e.txn_id, e.reference, e.debit_account,
	e.credit_account, e.amount_vnd, e.corrects
FROM ledger_entries e;

-- Every partner top-up and reversal (the partner file's rows).
CREATE VIEW v_topups AS
SELECT p.id, p.created_at, toll_day(p.created_at) AS day, p.partner_id, p.kind, p.partner_ref, p.account_id,
	p.amount_vnd, p.reverses, p.ledger_id
FROM topups p;

-- Every correction entry: an operator's (with its reason), the trip
-- matcher's (a closed-road exit charged without its entry), a partner's
-- reversal.  amount_vnd is signed from the customer's side: + a refund,
-- - an extra charge or a reversed top-up.
CREATE VIEW v_corrections AS
SELECT e.id AS ledger_id, e.created_at, toll_day(e.created_at) AS day,
	CASE WHEN c.ledger_id IS NOT NULL THEN 'operator' WHEN o.kind = 'topup' THEN 'reversal'
		WHEN o.kind = 'toll' THEN 'closed-road' ELSE 'other' END AS source,
	c.reason, e.txn_id, e.corrects,
	CASE WHEN o.kind = 'topup' THEN o.credit_account WHEN o.kind = 'toll' THEN o.debit_account END AS account_id,
	CASE WHEN o.kind = 'topup' THEN -e.amount_vnd WHEN c.direction = 'charge' THEN -e.amount_vnd
		ELSE e.amount_vnd END AS amount_vnd,
	CASE WHEN c.ledger_id IS NOT NULL THEN c.note ELSE e.reference END AS note, c.operator
FROM ledger_entries e
LEFT JOIN corrections c ON c.ledger_id = e.id
LEFT JOIN ledger_entries o ON o.id = e.corrects
WHERE e.kind = 'correction';

-- Records central kept aside, with the time and fee they claim.
CREATE VIEW v_quarantine AS
SELECT q.id, q.station_id, q.lane_id, q.lane_seq, q.reason, q.seen, q.first_seen, q.last_seen,
	toll_ms_time(toll_payload_i64(q.payload, 40)) AS claimed_time,
	COALESCE(toll_day(toll_ms_time(toll_payload_i64(q.payload, 40))), toll_day(q.first_seen)) AS day,
	toll_payload_i64(q.payload, 120) AS claimed_fee_vnd, encode(q.payload_hash, 'hex') AS payload_sha256
FROM quarantine q;

-- Missing lane sequence ranges, open (filled_at NULL) or filled.
CREATE VIEW v_gaps AS
SELECT g.id, g.station_id, g.lane_id, g.from_seq, g.to_seq, g.found_at, toll_day(g.found_at) AS day, g.filled_at
FROM gaps g;

-- Per station, lane, day and outcome: records and fees.
CREATE VIEW v_daily_lane AS
SELECT t.station_id, t.lane_id, toll_day(toll_ms_time(t.time_ms)) AS day, toll_outcome(t.outcome) AS outcome,
	count(*) AS transactions, sum(t.fee_vnd) AS fees_vnd,
	count(*) FILTER (WHERE t.disposition = 'posted') AS posted,
	COALESCE(sum(t.fee_vnd) FILTER (WHERE t.disposition = 'posted'), 0) AS posted_vnd
FROM transactions t
GROUP BY 1, 2, 3, 4;

-- Per station, lane and day: the posting disposition of every record
-- (posted, no_charge, account_not_found; quarantined from quarantine).
CREATE VIEW v_dispositions AS
SELECT t.station_id, t.lane_id, toll_day(toll_ms_time(t.time_ms)) AS day, t.disposition,
	count(*) AS records, sum(t.fee_vnd) AS fees_vnd
FROM transactions t
GROUP BY 1, 2, 3, 4
UNION ALL
SELECT q.station_id, q.lane_id, COALESCE(toll_day(toll_ms_time(toll_payload_i64(q.payload, 40))), toll_day(q.first_seen)),
	'quarantined', count(*), sum(toll_payload_i64(q.payload, 120))
FROM quarantine q
GROUP BY 1, 2, 3;

-- Per station and day (of posting): what its revenue account received.
-- revenue_vnd = tolls_vnd - refunds_vnd + charges_vnd.
CREATE VIEW v_station_revenue AS
WITH m AS (
	SELECT s.id, e.created_at, e.kind, e.amount_vnd AS delta
	FROM stations s JOIN ledger_entries e ON e.credit_account = s.revenue_account_id
	UNION ALL
	SELECT s.id, e.created_at, e.kind, -e.amount_vnd
	FROM stations s JOIN ledger_entries e ON e.debit_account = s.revenue_account_id)
SELECT m.id AS station_id, toll_day(m.created_at) AS day,
	count(*) FILTER (WHERE m.kind = 'toll') AS tolls,
	COALESCE(sum(m.delta) FILTER (WHERE m.kind = 'toll'), 0) AS tolls_vnd,
	COALESCE(-sum(m.delta) FILTER (WHERE m.kind <> 'toll' AND m.delta < 0), 0) AS refunds_vnd,
	COALESCE(sum(m.delta) FILTER (WHERE m.kind <> 'toll' AND m.delta > 0), 0) AS charges_vnd,
	sum(m.delta) AS revenue_vnd
FROM m
GROUP BY 1, 2;

-- Per partner and day: top-ups, reversals, and the net the partner owes.
CREATE VIEW v_partner_daily AS
SELECT p.partner_id, toll_day(p.created_at) AS day,
	count(*) FILTER (WHERE p.kind = 'topup') AS topups,
	COALESCE(sum(p.amount_vnd) FILTER (WHERE p.kind = 'topup'), 0) AS topups_vnd,
	count(*) FILTER (WHERE p.kind = 'reversal') AS reversals,
	COALESCE(sum(p.amount_vnd) FILTER (WHERE p.kind = 'reversal'), 0) AS reversals_vnd,
	COALESCE(sum(CASE WHEN p.kind = 'topup' THEN p.amount_vnd ELSE -p.amount_vnd END), 0) AS net_vnd
FROM topups p
GROUP BY 1, 2;

-- Every account's cached balance and the sum of its ledger entries.
CREATE VIEW v_account_balance AS
SELECT a.id AS account_id, a.kind, a.name, a.balance_vnd,
	COALESCE(c.total, 0) - COALESCE(d.total, 0) AS ledger_vnd,
	a.balance_vnd = COALESCE(c.total, 0) - COALESCE(d.total, 0) AS matches,
	CASE WHEN a.kind <> 'customer' THEN NULL WHEN a.status = 0 THEN 'valid' WHEN a.status = 1 THEN 'low balance'
		ELSE 'invalid' END AS status,
	a.blocked_reason, a.low_threshold_vnd
FROM accounts a
LEFT JOIN (SELECT credit_account AS id, sum(amount_vnd) AS total FROM ledger_entries GROUP BY 1) c ON c.id = a.id
LEFT JOIN (SELECT debit_account AS id, sum(amount_vnd) AS total FROM ledger_entries GROUP BY 1) d ON d.id = a.id;

-- The reporting role: the views, nothing else (a view reads its tables
-- with its owner's rights).  Like toll_app (001), a cluster role an
-- administrator creates once; analysts log in as roles granted it:
--   CREATE ROLE toll_report NOLOGIN;
--   CREATE ROLE analyst LOGIN PASSWORD '...'; GRANT toll_report TO analyst;
-- (scripts/pg-embedded creates it and grants it to toll).
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'toll_report') THEN
		RAISE EXCEPTION 'role toll_report does not exist: as a superuser, CREATE ROLE toll_report NOLOGIN (and GRANT toll_report TO the analysts'' login roles)';
	END IF;
END;
$$;
GRANT USAGE ON SCHEMA public TO toll_report;
GRANT SELECT ON v_transactions, v_ledger, v_topups, v_corrections, v_quarantine, v_gaps, v_daily_lane,
	v_dispositions, v_station_revenue, v_partner_daily, v_account_balance TO toll_report, toll_app;

-- 001_init.sql: the central ledger.  Applied once, in order with the other
-- migrations, by `toll-central --migrate` (which records it in
-- schema_migrations with its SHA-256 and refuses to start if an applied file
-- has changed since).
--
-- Money is bigint VND.  Ledger: one row per movement, debiting one account
-- and crediting another by a positive amount; an account's balance is its
-- credits minus its debits, cached in accounts.balance_vnd and moved in the
-- same database transaction as the entries.  The sum of all balances is
-- zero: customers' money is owed by the partner accounts that brought it in,
-- tolls move it to per-station revenue accounts.
--
-- Transactions (the lanes' signed records) and ledger entries are immutable:
-- the application role toll_app has INSERT and SELECT only, and triggers
-- refuse UPDATE, DELETE and TRUNCATE for every role.  Corrections are new
-- entries that refer to the old ones.

-- The tag status list: every change the lanes must hear about stamps the
-- row with the id of the transaction that made it (accounts.list_xid,
-- tags.list_xid: pg_current_xact_id() as a number, 64 bits, never wraps).
-- Transaction ids are not in commit order, so central's list publisher
-- finds changes by the xmin horizon of its previous scan, not by a
-- counter (central/list.c); the versions the lanes see are the
-- publisher's own (list_deltas).

CREATE TABLE accounts (
	id bigint PRIMARY KEY CHECK (id > 0),
	kind text NOT NULL CHECK (kind IN ('customer', 'revenue', 'partner', 'suspense')),
	name text NOT NULL DEFAULT '',
	balance_vnd bigint NOT NULL DEFAULT 0,
	-- customer accounts: status the lanes see (0 valid, 1 low balance,
	-- 2 invalid), derived from the balance unless blocked by an operator
	low_threshold_vnd bigint NOT NULL DEFAULT 100000 CHECK (low_threshold_vnd >= 0),
	blocked_reason smallint NOT NULL DEFAULT 0 CHECK (blocked_reason BETWEEN 0 AND 255),
	status smallint NOT NULL DEFAULT 0 CHECK (status IN (0, 1, 2)),
	-- stamped on every change the lanes must hear about (see above)
	list_xid bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint,
	created_at timestamptz NOT NULL DEFAULT now(),
	-- customer ids are below 2^32 (the lane keeps 32 bits of them);
	-- internal accounts (revenue, partner, suspense) may live above
	CHECK (kind <> 'customer' OR id <= 4294967295)
);
CREATE INDEX accounts_list_xid ON accounts (list_xid);

CREATE TABLE vehicles (
	id bigserial PRIMARY KEY,
	account_id bigint NOT NULL REFERENCES accounts (id),
	vclass smallint NOT NULL CHECK (vclass BETWEEN 1 AND 5),
	plate text NOT NULL CHECK (plate ~ '^[0-9A-Z.\- ]{1,12}$'),
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX vehicles_account ON vehicles (account_id);
CREATE INDEX vehicles_plate ON vehicles (plate);

CREATE TABLE tags (
	epc_hex text PRIMARY KEY CHECK (epc_hex ~ '^[0-9a-f]{1,64}$'),
	tid bytea CHECK (tid IS NULL OR length(tid) = 12),
	vehicle_id bigint NOT NULL REFERENCES vehicles (id),
	-- 0 valid (the account decides), 2 invalid with a reason
	status smallint NOT NULL DEFAULT 0 CHECK (status IN (0, 2)),
	reason smallint NOT NULL DEFAULT 0 CHECK (reason BETWEEN 0 AND 255),
	exempt boolean NOT NULL DEFAULT false,
	list_xid bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tags_vehicle ON tags (vehicle_id);
CREATE INDEX tags_list_xid ON tags (list_xid);

CREATE TABLE stations (
	id integer PRIMARY KEY CHECK (id > 0),
	name text NOT NULL DEFAULT '',
	role text NOT NULL CHECK (role IN ('open', 'entry', 'exit')),
	network integer,
	revenue_account_id bigint NOT NULL UNIQUE REFERENCES accounts (id),
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE lanes (
	station_id integer NOT NULL REFERENCES stations (id),
	lane_id integer NOT NULL CHECK (lane_id BETWEEN 1 AND 65535),
	free_flow boolean NOT NULL DEFAULT false,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (station_id, lane_id)
);

CREATE TABLE lane_keys (
	station_id integer NOT NULL,
	lane_id integer NOT NULL,
	key_id bytea NOT NULL CHECK (length(key_id) = 4),
	public_key bytea NOT NULL UNIQUE CHECK (length(public_key) = 32),
	valid_from timestamptz NOT NULL DEFAULT now(),
	valid_to timestamptz,
	revoked_at timestamptz,
	revoked_reason text,
	PRIMARY KEY (station_id, lane_id, key_id),
	FOREIGN KEY (station_id, lane_id) REFERENCES lanes (station_id, lane_id)
);

CREATE TABLE tariffs (
	version bigint PRIMARY KEY CHECK (version > 0),
	body text NOT NULL,
	sha256 bytea NOT NULL,
	loaded_at timestamptz NOT NULL DEFAULT now()
);

-- The lanes' signed records, one row each, never changed.
CREATE TABLE transactions (
	txn_id uuid PRIMARY KEY,
	station_id integer NOT NULL,
	lane_id integer NOT NULL,
	lane_seq bigint NOT NULL CHECK (lane_seq > 0),
	time_ms bigint NOT NULL,
	utc_offset_min smallint NOT NULL,
	outcome smallint NOT NULL,
	flags integer NOT NULL,
	epc_hex text NOT NULL,
	account_id bigint NOT NULL,
	vclass smallint NOT NULL,
	entry_station integer NOT NULL,
	entry_time_ms bigint NOT NULL,
	fee_vnd bigint NOT NULL CHECK (fee_vnd >= 0),
	key_id bytea NOT NULL,
	payload bytea NOT NULL,
	payload_hash bytea NOT NULL CHECK (length(payload_hash) = 32),
	-- posting disposition: 'posted' (a ledger entry), 'no_charge' (nothing
	-- to debit: refused, exempt, pass, no tag, entry), 'account_not_found'
	-- (a charge central cannot post: for the operators)
	disposition text NOT NULL CHECK (disposition IN ('posted', 'no_charge', 'account_not_found')),
	received_at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (station_id, lane_id, lane_seq)
);
-- No index on account_id: an account's postings are found through
-- ledger_entries (debit_account, id); settlement is the hot path and every
-- index is paid for on each record.
CREATE INDEX transactions_unposted ON transactions (received_at) WHERE disposition = 'account_not_found';

CREATE TABLE ledger_entries (
	id bigserial PRIMARY KEY,
	kind text NOT NULL CHECK (kind IN ('toll', 'topup', 'correction', 'opening')),
	-- the lane transaction posted (kind toll).  No foreign key: settlement
	-- inserts these only from the transactions it inserted in the same
	-- database transaction, and the check costs a lookup on every record;
	-- the invariant checks of the tests join them back.
	txn_id uuid,
	reference text NOT NULL DEFAULT '',
	-- The accounts exist: checked once per statement by
	-- ledger_entries_refs below, not by foreign keys (a foreign key runs a
	-- query for every row: half of the cost of a settled toll).  Accounts
	-- are never deleted and never renumbered (triggers below), so what is
	-- checked at insert stays true, as a foreign key would keep it.
	debit_account bigint NOT NULL,
	credit_account bigint NOT NULL,
	amount_vnd bigint NOT NULL CHECK (amount_vnd > 0),
	corrects bigint, -- the entry this one corrects (checked by ledger_entries_refs)
	created_at timestamptz NOT NULL DEFAULT now(),
	CHECK (debit_account <> credit_account)
);
-- a lane transaction is posted at most once
CREATE UNIQUE INDEX ledger_entries_toll ON ledger_entries (txn_id) WHERE kind = 'toll';
CREATE INDEX ledger_entries_debit ON ledger_entries (debit_account, id);
CREATE INDEX ledger_entries_credit ON ledger_entries (credit_account, id);

-- Records central would not settle, kept byte for byte.
CREATE TABLE quarantine (
	id bigserial PRIMARY KEY,
	station_id integer NOT NULL,
	lane_id integer NOT NULL,
	lane_seq bigint,
	reason text NOT NULL,
	payload bytea NOT NULL,
	payload_hash bytea NOT NULL,
	seen integer NOT NULL DEFAULT 1,
	first_seen timestamptz NOT NULL DEFAULT now(),
	last_seen timestamptz NOT NULL DEFAULT now(),
	UNIQUE (payload_hash, reason)
);

-- How far each lane's stream is settled: every lane seq up to acked_seq is
-- in transactions or (signed by the lane, chain broken) in quarantine.
CREATE TABLE lane_progress (
	station_id integer NOT NULL,
	lane_id integer NOT NULL,
	acked_seq bigint NOT NULL DEFAULT 0,
	last_hash bytea NOT NULL DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000',
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (station_id, lane_id),
	FOREIGN KEY (station_id, lane_id) REFERENCES lanes (station_id, lane_id)
);

-- Lane seqs seen beyond a hole: from_seq .. to_seq missing until filled.
CREATE TABLE gaps (
	id bigserial PRIMARY KEY,
	station_id integer NOT NULL,
	lane_id integer NOT NULL,
	from_seq bigint NOT NULL,
	to_seq bigint NOT NULL,
	found_at timestamptz NOT NULL DEFAULT now(),
	filled_at timestamptz,
	UNIQUE (station_id, lane_id, from_seq)
);

-- Outbox for drivers' SMS/app messages: one per debit, one per status change.
CREATE TABLE notifications (
	id bigserial PRIMARY KEY,
	account_id bigint NOT NULL, -- checked per statement, as ledger_entries' accounts
	kind text NOT NULL CHECK (kind IN ('debit', 'topup', 'status')),
	txn_id uuid,
	amount_vnd bigint,
	balance_vnd bigint,
	status smallint,
	created_at timestamptz NOT NULL DEFAULT now(),
	sent_at timestamptz
);
-- No index on the unsent: the sender (issue 6) follows id with a cursor of
-- its own, so settlement does not pay a second index insert per debit.

-- Immutability, for every role (the owner included).
CREATE FUNCTION toll_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION '% is append-only: % refused (corrections are new entries)', TG_TABLE_NAME, TG_OP
		USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER transactions_immutable BEFORE UPDATE OR DELETE ON transactions
	FOR EACH ROW EXECUTE FUNCTION toll_refuse_change();
CREATE TRIGGER transactions_no_truncate BEFORE TRUNCATE ON transactions
	FOR EACH STATEMENT EXECUTE FUNCTION toll_refuse_change();
CREATE TRIGGER ledger_entries_immutable BEFORE UPDATE OR DELETE ON ledger_entries
	FOR EACH ROW EXECUTE FUNCTION toll_refuse_change();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
	FOR EACH STATEMENT EXECUTE FUNCTION toll_refuse_change();

-- Accounts are closed, never deleted, and keep their id: ledger entries and
-- notifications refer to them without foreign keys (checked per statement).
CREATE FUNCTION toll_refuse_account_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
		RETURN NEW;
	END IF;
	IF TG_OP = 'UPDATE' THEN
		RAISE EXCEPTION 'accounts keep their id: % to % refused', OLD.id, NEW.id
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	RAISE EXCEPTION 'accounts are closed, never deleted: % refused', TG_OP
		USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER accounts_no_delete BEFORE DELETE ON accounts
	FOR EACH ROW EXECUTE FUNCTION toll_refuse_account_change();
CREATE TRIGGER accounts_no_truncate BEFORE TRUNCATE ON accounts
	FOR EACH STATEMENT EXECUTE FUNCTION toll_refuse_account_change();
CREATE TRIGGER accounts_keep_id BEFORE UPDATE OF id ON accounts
	FOR EACH ROW EXECUTE FUNCTION toll_refuse_account_change();

-- What a foreign key would check, once per statement over the new rows (a
-- join, not a query per row).
CREATE FUNCTION toll_ledger_refs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	-- each account once: a station's revenue account is in every toll
	IF EXISTS (SELECT 1 FROM (SELECT debit_account AS id FROM new_rows
				  UNION SELECT credit_account FROM new_rows) n
		   WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = n.id)) THEN
		RAISE EXCEPTION 'ledger entry for an account that does not exist'
			USING ERRCODE = 'foreign_key_violation';
	END IF;
	IF EXISTS (SELECT 1 FROM new_rows n WHERE n.corrects IS NOT NULL
		   AND NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.id = n.corrects)) THEN
		RAISE EXCEPTION 'correction of a ledger entry that does not exist'
			USING ERRCODE = 'foreign_key_violation';
	END IF;
	RETURN NULL;
END;
$$;
CREATE TRIGGER ledger_entries_refs AFTER INSERT ON ledger_entries
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION toll_ledger_refs();
CREATE FUNCTION toll_notification_refs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM (SELECT DISTINCT account_id FROM new_rows) n
		   WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = n.account_id)) THEN
		RAISE EXCEPTION 'notification for an account that does not exist'
			USING ERRCODE = 'foreign_key_violation';
	END IF;
	RETURN NULL;
END;
$$;
CREATE TRIGGER notifications_refs AFTER INSERT ON notifications
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION toll_notification_refs();

-- The application role: toll-central and toll-admin SET ROLE to it after
-- connecting (db.role), whoever they log in as.  Roles belong to the
-- cluster, not the database: an administrator creates it once
--   CREATE ROLE toll_app NOLOGIN; GRANT toll_app TO <the login role>;
-- (scripts/pg-embedded does).
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'toll_app') THEN
		RAISE EXCEPTION 'role toll_app does not exist: as a superuser, CREATE ROLE toll_app NOLOGIN; GRANT toll_app TO %', current_user;
	END IF;
END;
$$;
GRANT USAGE ON SCHEMA public TO toll_app;
GRANT SELECT, INSERT ON transactions, ledger_entries TO toll_app;
GRANT SELECT, INSERT, UPDATE ON accounts, vehicles, tags, stations, lanes, lane_keys,
	quarantine, lane_progress, gaps, notifications TO toll_app;
GRANT SELECT, INSERT ON tariffs TO toll_app;
GRANT SELECT ON schema_migrations TO toll_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO toll_app;

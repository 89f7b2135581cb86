-- 003_trips.sql: closed-road trips (docs/closed-road.md).  A vehicle
-- enters a closed network at an entry plaza (a lane record with outcome
-- 7, entry) and pays at an exit plaza of the same network, the tariff from
-- its entry.  Settlement writes each entry and each exit of a closed
-- network here; the list publisher sends the entries to the lanes with the
-- tag status list (DELTA version 2), so an exit lane knows where a vehicle
-- came in; central's trip matcher (central/trips.c) closes each trip,
-- corrects an exit charged the farthest-entry fee once its real entry
-- arrives (a new ledger entry referring to the toll, and a notification),
-- and expires entries without an exit.

-- One row per entry passage.  state: 1 open, 2 closed (an exit charged
-- from it or matched it), 3 expired (no exit within trips.expiry).
-- Stamped (list_xid) when it is made and at each change of state, like
-- the accounts and tags the lanes hear about.
CREATE TABLE trip_entries (
	txn_id uuid PRIMARY KEY, -- the entry's lane record
	epc_hex text NOT NULL CHECK (epc_hex <> ''),
	account_id bigint NOT NULL,
	network integer NOT NULL,
	station_id integer NOT NULL,
	time_ms bigint NOT NULL,
	state smallint NOT NULL DEFAULT 1 CHECK (state IN (1, 2, 3)),
	exit_txn uuid,
	-- false until the matcher has looked for an exit waiting for it
	checked boolean NOT NULL DEFAULT false,
	list_xid bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint
);
CREATE INDEX trip_entries_epc ON trip_entries (epc_hex, time_ms);
CREATE INDEX trip_entries_open ON trip_entries (time_ms) WHERE state = 1;
CREATE INDEX trip_entries_unchecked ON trip_entries (time_ms) WHERE NOT checked;
CREATE INDEX trip_entries_list_xid ON trip_entries (list_xid);

-- One row per exit passage with a tag, and what the matcher made of it:
--   new        not looked at yet
--   matched    the lane charged from a known entry (or the entry it
--              matched costs what the lane charged): nothing to correct
--   corrected  charged the farthest-entry fee; the real entry arrived and
--              the difference went back to the account (correction_id)
--   waiting    entry unknown so far: matched when an entry arrives
--   unmatched  entry unknown after trips.expiry: the policy fee stands
CREATE TABLE trip_exits (
	txn_id uuid PRIMARY KEY, -- the exit's lane record
	epc_hex text NOT NULL CHECK (epc_hex <> ''),
	account_id bigint NOT NULL,
	network integer NOT NULL,
	station_id integer NOT NULL,
	time_ms bigint NOT NULL,
	vclass smallint NOT NULL,
	flags integer NOT NULL,
	fee_vnd bigint NOT NULL,
	posted boolean NOT NULL, -- the lane's fee is in the ledger
	entry_station integer NOT NULL, -- as the lane charged (0: unknown)
	entry_time_ms bigint NOT NULL,
	state text NOT NULL DEFAULT 'new'
		CHECK (state IN ('new', 'matched', 'corrected', 'waiting', 'unmatched')),
	entry_txn uuid,
	correct_fee_vnd bigint, -- the tariff from the real entry
	correction_id bigint	-- the ledger entry giving the difference back
);
CREATE INDEX trip_exits_new ON trip_exits (time_ms) WHERE state = 'new';
CREATE INDEX trip_exits_waiting ON trip_exits (epc_hex, time_ms) WHERE state = 'waiting';

ALTER TABLE list_deltas ADD COLUMN entries integer NOT NULL DEFAULT 0 CHECK (entries >= 0);

ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
	CHECK (kind IN ('debit', 'topup', 'status', 'correction'));

GRANT SELECT, INSERT, UPDATE ON trip_entries, trip_exits TO toll_app;

-- 004_passes.sql: monthly and quarterly passes per station, and
-- low-balance thresholds per vehicle class (docs/taglist-sync.md, "Passes"
-- and "Low-balance thresholds").

-- "Today" where the stations are (Vietnam, UTC+07:00, no daylight saving):
-- a pass is valid from its first day to its last day, both included, in
-- the stations' calendar.  An inlinable SQL function (STABLE: one value
-- per statement, now() being the transaction's start).
CREATE FUNCTION toll_today() RETURNS date LANGUAGE sql STABLE AS $$
	SELECT (now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date
$$;

-- A pass: the vehicle passes free at the station's lanes from first_day to
-- last_day (station time).  Never deleted (toll_app may not): revoked.
-- Stamped for the lanes' list (list_xid, as tags and accounts) when made,
-- when revoked and, for a pass made before its first day, on that day:
-- awaiting_start is true until then, and central's list publisher stamps
-- such passes once their first day has come (central/list.c), since the
-- lanes' list holds a pass's last day only and would honour it early.
CREATE TABLE passes (
	id bigserial PRIMARY KEY,
	vehicle_id bigint NOT NULL REFERENCES vehicles (id),
	station_id integer NOT NULL REFERENCES stations (id),
	kind text NOT NULL CHECK (kind IN ('monthly', 'quarterly')),
	first_day date NOT NULL,
	-- the lane's list carries it as a u32 count of days since 1970-01-01
	last_day date NOT NULL CHECK (last_day >= first_day AND first_day >= DATE '2000-01-01'
		AND last_day < DATE '9999-12-31'),
	awaiting_start boolean NOT NULL DEFAULT false,
	created_at timestamptz NOT NULL DEFAULT now(),
	revoked_at timestamptz,
	revoked_reason text,
	list_xid bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint,
	CHECK (revoked_at IS NULL OR NOT awaiting_start)
);
CREATE INDEX passes_vehicle ON passes (vehicle_id, last_day);
CREATE INDEX passes_list_xid ON passes (list_xid);
CREATE INDEX passes_awaiting_start ON passes (first_day) WHERE awaiting_start;

-- Low-balance thresholds per vehicle class.  An account's threshold
-- (accounts.low_threshold_vnd, which settlement reads) is the greater of
-- its own (own_low_threshold_vnd) and the thresholds of its vehicles'
-- classes; toll-admin keeps it so when a vehicle is added or a class's
-- threshold changes.  own_low_threshold_vnd NULL: the account's threshold
-- was never raised by a class, so low_threshold_vnd is its own (rows made
-- before this migration, or by hand).
CREATE TABLE class_thresholds (
	vclass smallint PRIMARY KEY CHECK (vclass BETWEEN 1 AND 5),
	low_threshold_vnd bigint NOT NULL CHECK (low_threshold_vnd BETWEEN 0 AND 1000000000000),
	updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO class_thresholds (vclass, low_threshold_vnd) VALUES
	(1, 100000), (2, 150000), (3, 200000), (4, 300000), (5, 500000);

ALTER TABLE accounts ADD COLUMN own_low_threshold_vnd bigint CHECK (own_low_threshold_vnd >= 0);

GRANT SELECT, INSERT, UPDATE ON passes TO toll_app;
GRANT SELECT, UPDATE ON class_thresholds TO toll_app;
GRANT USAGE ON SEQUENCE passes_id_seq TO toll_app;

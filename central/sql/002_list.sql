-- 002_list.sql: the tag status list as the lanes receive it
-- (docs/taglist-sync.md).  Central's list publisher (central/list.c) scans
-- accounts and tags for rows stamped (list_xid) by transactions at or
-- after its horizon, and turns what it finds into numbered deltas; now and
-- then it writes the whole list as a snapshot file.  Versions count from
-- 1, deltas and snapshots share them: snapshot V is the state after delta
-- V.

-- Every delta, as signed and sent; kept so a lane that missed some can
-- ask for them.  horizon_xid: the transactions at or after it are looked
-- at again by the next scan (the publisher restarts from the newest row's).
CREATE TABLE list_deltas (
	version bigint PRIMARY KEY CHECK (version > 0),
	horizon_xid bigint NOT NULL,
	accounts integer NOT NULL CHECK (accounts >= 0),
	tags integer NOT NULL CHECK (tags >= 0),
	body bytea NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);

-- Snapshot files (in the publisher's list.dir), their hash and central's
-- signature over (version, size, hash).
CREATE TABLE list_snapshots (
	version bigint PRIMARY KEY REFERENCES list_deltas (version),
	file text NOT NULL,
	size_bytes bigint NOT NULL CHECK (size_bytes > 0),
	sha256 bytea NOT NULL CHECK (length(sha256) = 32),
	signature bytea NOT NULL CHECK (length(signature) = 64),
	key_id bytea NOT NULL CHECK (length(key_id) = 4),
	accounts bigint NOT NULL,
	tags bigint NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);

-- The publisher prunes deltas older than its oldest kept snapshot.
GRANT SELECT, INSERT, DELETE ON list_deltas, list_snapshots TO toll_app;

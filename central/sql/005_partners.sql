-- 005_partners.sql: partners (banks, e-wallets) and their top-ups through
-- central's API (central/api.c, docs/partner-api.md).
--
-- A top-up is one database transaction, in toll_api_topup below: the
-- request's signature is recorded (a replay is refused), the idempotency
-- key is claimed with the request's hash, the money moves (a ledger entry
-- from the partner's account to the driver's, both balances, the driver's
-- status and list stamp so the lanes hear of it at once, a notification),
-- and the answer is stored with the key, so a retry gets the same answer
-- and credits nothing.  A reversal is a new entry the other way that
-- refers to the top-up, never an edit.

CREATE TABLE partners (
	id text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,31}$'),
	name text NOT NULL DEFAULT '',
	-- the shared HMAC-SHA256 key: both sides must hold it in clear
	secret bytea NOT NULL CHECK (length(secret) >= 32),
	account_id bigint NOT NULL UNIQUE REFERENCES accounts (id),
	min_amount_vnd bigint NOT NULL DEFAULT 10000 CHECK (min_amount_vnd > 0),
	max_amount_vnd bigint NOT NULL DEFAULT 50000000 CHECK (max_amount_vnd >= min_amount_vnd),
	active boolean NOT NULL DEFAULT true,
	created_at timestamptz NOT NULL DEFAULT now()
);

-- Signatures seen in the last minutes: the same signed request twice is a
-- replay (a retry is signed again, with its own timestamp).  Pruned by the
-- API past twice the clock window.
CREATE TABLE api_seen (
	signature bytea PRIMARY KEY,
	partner_id text NOT NULL,
	seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_seen_at ON api_seen (seen_at);

-- Every top-up and reversal, with the answer given.  Never changed.
CREATE TABLE topups (
	id bigserial PRIMARY KEY,
	partner_id text NOT NULL REFERENCES partners (id),
	idem_key text NOT NULL,
	request_sha256 bytea NOT NULL CHECK (length(request_sha256) = 32),
	kind text NOT NULL CHECK (kind IN ('topup', 'reversal')),
	partner_ref text NOT NULL,
	account_id bigint NOT NULL,
	amount_vnd bigint NOT NULL CHECK (amount_vnd > 0),
	ledger_id bigint NOT NULL,
	reverses bigint REFERENCES topups (id),
	http_status smallint NOT NULL,
	response text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (partner_id, idem_key),
	CHECK ((kind = 'reversal') = (reverses IS NOT NULL))
);
-- a partner's reference names one top-up; a top-up is reversed once
CREATE UNIQUE INDEX topups_ref ON topups (partner_id, partner_ref) WHERE kind = 'topup';
CREATE UNIQUE INDEX topups_reversed ON topups (reverses) WHERE kind = 'reversal';
CREATE INDEX topups_created ON topups (partner_id, created_at);
CREATE TRIGGER topups_immutable BEFORE UPDATE OR DELETE ON topups
	FOR EACH ROW EXECUTE FUNCTION toll_refuse_change();

-- Answers refused before any money moved (no account, a reused key) are
-- not stored: a retry is checked again.

-- The JSON answer for a top-up or a reversal.
CREATE FUNCTION toll_api_answer(p_id bigint, p_kind text, p_ref text, p_account bigint, p_amount bigint,
	p_balance bigint, p_reversed boolean, p_at timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT json_build_object('topup_id', p_id, 'kind', p_kind, 'partner_ref', p_ref,
		'account_id', p_account, 'amount_vnd', p_amount, 'balance_vnd', p_balance,
		'reversed', p_reversed,
		'created_at', to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text
$$;

CREATE FUNCTION toll_api_error(p_code text, p_message text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT json_build_object('error', p_code, 'message', p_message)::text
$$;

-- The driver's side of a top-up (delta > 0) or a reversal (delta < 0):
-- the ledger entry (from or to the partner's account), the driver's
-- balance, status and list stamp, the notifications; returns the entry and
-- the driver's new balance.  The partner's balance is the caller's last
-- statement (toll_api_partner): every top-up of one partner updates that
-- one row and holds its lock until COMMIT, so it is taken as late as
-- possible.  Rows are locked driver first, then partner, in every
-- transaction: two top-ups never deadlock.
CREATE FUNCTION toll_api_move_driver(p_partner_account bigint, p_account bigint, p_delta bigint, p_kind text,
	p_ref text, p_corrects bigint, OUT ledger_id bigint, OUT balance bigint)
LANGUAGE plpgsql AS $$
DECLARE
	old_status smallint;
	new_status smallint;
BEGIN
	SELECT status INTO old_status FROM accounts WHERE id = p_account FOR UPDATE;
	UPDATE accounts a SET balance_vnd = a.balance_vnd + p_delta,
		status = CASE WHEN a.blocked_reason <> 0 OR a.balance_vnd + p_delta < 0 THEN 2
			WHEN a.balance_vnd + p_delta < a.low_threshold_vnd THEN 1 ELSE 0 END,
		list_xid = pg_current_xact_id()::text::bigint
		WHERE a.id = p_account RETURNING a.balance_vnd, a.status INTO balance, new_status;
	IF p_delta > 0 THEN
		INSERT INTO ledger_entries (kind, reference, debit_account, credit_account, amount_vnd, corrects)
			VALUES (p_kind, p_ref, p_partner_account, p_account, p_delta, p_corrects) RETURNING id INTO ledger_id;
	ELSE
		INSERT INTO ledger_entries (kind, reference, debit_account, credit_account, amount_vnd, corrects)
			VALUES (p_kind, p_ref, p_account, p_partner_account, -p_delta, p_corrects) RETURNING id INTO ledger_id;
	END IF;
	INSERT INTO notifications (account_id, kind, amount_vnd, balance_vnd)
		VALUES (p_account, CASE WHEN p_delta > 0 THEN 'topup' ELSE 'correction' END, p_delta, balance);
	IF new_status <> old_status THEN
		INSERT INTO notifications (account_id, kind, status, balance_vnd)
			VALUES (p_account, 'status', new_status, balance);
	END IF;
END;
$$;

CREATE FUNCTION toll_api_partner(p_partner_account bigint, p_delta bigint) RETURNS void
LANGUAGE sql AS $$
	UPDATE accounts SET balance_vnd = balance_vnd - p_delta WHERE id = p_partner_account
$$;

-- The whole money move, both sides (what a top-up is without its
-- signature, idempotency and answer: bench/topup's baseline).
CREATE FUNCTION toll_api_move(p_partner_account bigint, p_account bigint, p_delta bigint, p_kind text,
	p_ref text, p_corrects bigint, OUT ledger_id bigint, OUT balance bigint)
LANGUAGE plpgsql AS $$
BEGIN
	SELECT m.ledger_id, m.balance INTO ledger_id, balance
		FROM toll_api_move_driver(p_partner_account, p_account, p_delta, p_kind, p_ref, p_corrects) m;
	PERFORM toll_api_partner(p_partner_account, p_delta);
END;
$$;

-- The stored answer for a key, or NULL: 409 when the key came with
-- another request.
CREATE FUNCTION toll_api_stored(p_partner text, p_key text, p_hash bytea, OUT http_status integer, OUT body text)
LANGUAGE plpgsql AS $$
DECLARE
	t topups;
BEGIN
	SELECT * INTO t FROM topups WHERE partner_id = p_partner AND idem_key = p_key;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	IF t.request_sha256 <> p_hash THEN
		http_status := 409;
		body := toll_api_error('idempotency-key-reused', 'this Idempotency-Key came with another request');
	ELSE
		http_status := t.http_status;
		body := t.response;
	END IF;
END;
$$;

-- A top-up: the HTTP status and the JSON answer.  Exactly one of
-- p_account, p_plate, p_epc is not NULL (the API checks).  The signature
-- is recorded first (unique: a replay raises unique_violation, which the
-- API tells apart by the constraint's name).  The same key raced in by
-- another request also ends in a unique violation; the API then asks
-- toll_api_stored.
CREATE FUNCTION toll_api_topup(p_partner text, p_sig bytea, p_key text, p_hash bytea, p_ref text,
	p_account bigint, p_plate text, p_epc text, p_amount bigint, OUT http_status integer, OUT body text,
	OUT retried boolean)
LANGUAGE plpgsql AS $$
DECLARE
	pa bigint;
	acc bigint;
	n integer;
	mv record;
	v_id bigint;
	v_at timestamptz := now();
BEGIN
	INSERT INTO api_seen (signature, partner_id) VALUES (p_sig, p_partner);
	retried := false;
	SELECT s.http_status, s.body INTO http_status, body FROM toll_api_stored(p_partner, p_key, p_hash) s;
	IF http_status IS NOT NULL THEN
		retried := http_status < 300;
		RETURN;
	END IF;
	IF EXISTS (SELECT 1 FROM topups WHERE partner_id = p_partner AND partner_ref = p_ref AND kind = 'topup') THEN
		-- committed since the lookup above: under this key (a racing
		-- retry: its answer), or another
		SELECT s.http_status, s.body INTO http_status, body FROM toll_api_stored(p_partner, p_key, p_hash) s;
		IF http_status IS NOT NULL THEN
			retried := http_status < 300;
			RETURN;
		END IF;
		http_status := 409;
		body := toll_api_error('partner-ref-used', 'a top-up with this partner_ref exists, under another Idempotency-Key');
		RETURN;
	END IF;
	IF p_account IS NOT NULL THEN
		SELECT id INTO acc FROM accounts WHERE id = p_account AND kind = 'customer';
	ELSIF p_plate IS NOT NULL THEN
		SELECT min(account_id), count(DISTINCT account_id) INTO acc, n FROM vehicles WHERE plate = p_plate;
		IF n > 1 THEN
			http_status := 409;
			body := toll_api_error('plate-ambiguous', 'vehicles of several accounts carry this plate: top up by account_id');
			RETURN;
		END IF;
	ELSE
		SELECT v.account_id INTO acc FROM tags t JOIN vehicles v ON v.id = t.vehicle_id WHERE t.epc_hex = p_epc;
	END IF;
	IF acc IS NULL THEN
		http_status := 404;
		body := toll_api_error('account-not-found', 'no customer account, plate or tag by that name');
		RETURN;
	END IF;
	SELECT account_id INTO pa FROM partners WHERE id = p_partner;
	SELECT * INTO mv FROM toll_api_move_driver(pa, acc, p_amount, 'topup', p_partner || ':' || p_ref, NULL);
	v_id := nextval('topups_id_seq');
	http_status := 201;
	body := toll_api_answer(v_id, 'topup', p_ref, acc, p_amount, mv.balance, false, v_at);
	INSERT INTO topups (id, partner_id, idem_key, request_sha256, kind, partner_ref, account_id, amount_vnd,
		ledger_id, http_status, response, created_at)
		VALUES (v_id, p_partner, p_key, p_hash, 'topup', p_ref, acc, p_amount, mv.ledger_id, http_status, body, v_at);
	PERFORM toll_api_partner(pa, p_amount);
END;
$$;

-- A reversal of the partner's top-up p_ref: a correction entry from the
-- driver back to the partner that refers to the top-up's entry.  Refused
-- (409) when already reversed, or when the driver's balance no longer
-- holds the amount (the money was spent on tolls: the partner and the
-- operator settle that outside).
CREATE FUNCTION toll_api_reverse(p_partner text, p_sig bytea, p_key text, p_hash bytea, p_ref text,
	p_reason text, OUT http_status integer, OUT body text, OUT retried boolean)
LANGUAGE plpgsql AS $$
DECLARE
	t topups;
	pa bigint;
	bal bigint;
	mv record;
	v_id bigint;
	v_at timestamptz := now();
BEGIN
	INSERT INTO api_seen (signature, partner_id) VALUES (p_sig, p_partner);
	retried := false;
	SELECT s.http_status, s.body INTO http_status, body FROM toll_api_stored(p_partner, p_key, p_hash) s;
	IF http_status IS NOT NULL THEN
		retried := http_status < 300;
		RETURN;
	END IF;
	SELECT * INTO t FROM topups WHERE partner_id = p_partner AND partner_ref = p_ref AND kind = 'topup';
	IF NOT FOUND THEN
		http_status := 404;
		body := toll_api_error('topup-not-found', 'no top-up with this partner_ref');
		RETURN;
	END IF;
	IF EXISTS (SELECT 1 FROM topups WHERE reverses = t.id) THEN
		SELECT s.http_status, s.body INTO http_status, body FROM toll_api_stored(p_partner, p_key, p_hash) s;
		IF http_status IS NOT NULL THEN
			retried := http_status < 300;
			RETURN;
		END IF;
		http_status := 409;
		body := toll_api_error('already-reversed', 'this top-up was reversed (under another Idempotency-Key)');
		RETURN;
	END IF;
	SELECT balance_vnd INTO bal FROM accounts WHERE id = t.account_id FOR UPDATE;
	IF bal < t.amount_vnd THEN
		http_status := 409;
		body := toll_api_error('balance-too-low', 'the account no longer holds the amount: settle it with the operator');
		RETURN;
	END IF;
	SELECT account_id INTO pa FROM partners WHERE id = p_partner;
	SELECT * INTO mv FROM toll_api_move_driver(pa, t.account_id, -t.amount_vnd, 'correction',
		p_partner || ':' || p_ref || ':reversal' || CASE WHEN p_reason <> '' THEN ': ' || p_reason ELSE '' END,
		t.ledger_id);
	v_id := nextval('topups_id_seq');
	http_status := 201;
	body := toll_api_answer(v_id, 'reversal', p_ref, t.account_id, t.amount_vnd, mv.balance, true, v_at);
	INSERT INTO topups (id, partner_id, idem_key, request_sha256, kind, partner_ref, account_id, amount_vnd,
		ledger_id, reverses, http_status, response, created_at)
		VALUES (v_id, p_partner, p_key, p_hash, 'reversal', p_ref, t.account_id, t.amount_vnd, mv.ledger_id,
			t.id, http_status, body, v_at);
	PERFORM toll_api_partner(pa, -t.amount_vnd);
END;
$$;

-- A top-up's state now, by the partner's reference.
CREATE FUNCTION toll_api_status(p_partner text, p_sig bytea, p_ref text, OUT http_status integer, OUT body text,
	OUT retried boolean)
LANGUAGE plpgsql AS $$
DECLARE
	t topups;
	bal bigint;
BEGIN
	retried := false;
	INSERT INTO api_seen (signature, partner_id) VALUES (p_sig, p_partner);
	SELECT * INTO t FROM topups WHERE partner_id = p_partner AND partner_ref = p_ref AND kind = 'topup';
	IF NOT FOUND THEN
		http_status := 404;
		body := toll_api_error('topup-not-found', 'no top-up with this partner_ref');
		RETURN;
	END IF;
	SELECT balance_vnd INTO bal FROM accounts WHERE id = t.account_id;
	http_status := 200;
	body := toll_api_answer(t.id, 'topup', t.partner_ref, t.account_id, t.amount_vnd, bal,
		EXISTS (SELECT 1 FROM topups WHERE reverses = t.id), t.created_at);
END;
$$;

GRANT SELECT ON partners TO toll_app;
GRANT SELECT, INSERT, DELETE ON api_seen TO toll_app;
GRANT SELECT, INSERT ON topups TO toll_app;
GRANT USAGE ON SEQUENCE topups_id_seq TO toll_app;

#!/usr/bin/env bash
# toll-admin against a throwaway PostgreSQL (scripts/pg-embedded): every
# command, with what it must refuse (bad plate, unknown account, duplicate
# tag, a key revoked twice, a public key of the wrong length, a tariff
# version loaded with another body, a pass for an unknown vehicle or with
# bad days...); passes (their last days, revocation, stamps); class
# thresholds raising and lowering an account's; the statement of an account with
# no entries and of one with entries, its balance check catching a cached
# balance that disagrees with the ledger; the arguments of the partner,
# reconciliation, correction and export commands, a partner added, a toll
# corrected and shown in the statement, exports as toll_report (which reads
# the views, not the tables; test_recon.sh drives them whole); and the
# grants: as toll_app an UPDATE of transactions is refused, and the tool
# really runs as toll_app.
set -eu
export LC_ALL=C # name order for the migrations, English messages
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${TOLL_BIN:-$top/build/bin}
adm="$bin/toll-admin"
pg="$top/scripts/pg-embedded"
work=$(mktemp -d "${TMPDIR:-/tmp}/toll-admin.XXXXXX")
chmod 0755 "$work" # the server runs as postgres under root (CI)
pass=0
fail=0
rc=0
out=
err=

cleanup() {
	"$pg" stop "$work/pg" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
unset DATABASE_URL PGHOST PGPORT PGUSER PGDATABASE PGSERVICE PGOPTIONS

ok() {
	pass=$((pass + 1))
	echo "ok    $*"
}
bad() {
	fail=$((fail + 1))
	echo "FAIL  $*"
}
check() { # check DESCRIPTION COMMAND...: passes when COMMAND succeeds
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}
# admin STATUS ARGS...: run toll-admin ARGS, want exit status STATUS;
# its stdout in $out (and $work/out), its stderr in $err
admin() {
	local want=$1
	shift
	rc=0
	"$adm" "$@" >"$work/out" 2>"$work/err" || rc=$?
	out=$(cat "$work/out")
	err=$(cat "$work/err")
	if [ "$rc" -eq "$want" ]; then
		ok "toll-admin $* -> exit $want"
	else
		bad "toll-admin $* -> exit $rc, want $want; stdout: $out; stderr: $err"
	fi
}
has() { grep -qF -- "$2" <<<"$1"; }	     # has TEXT SUBSTRING
lacks() { ! grep -qF -- "$2" <<<"$1"; }
eq() { [ "$1" = "$2" ] || { echo "      got '$1', want '$2'"; return 1; }; }
q() { psql -X -qtA -v ON_ERROR_STOP=1 "$@"; } # as the login role toll (the owner)

[ -x "$adm" ] || { echo "FAIL  no $adm (build it first)"; exit 1; }

echo "# arguments, checked before any database is reached"
admin 0 --help
check "--help prints the usage" has "$out" "usage: toll-admin"
admin 0 --version
check "--version names the program" has "$out" "toll-admin "
admin 2 no-such-command
admin 2 account
admin 2 vehicle add 1001 1 51a12345
check "a lowercase plate is refused with the rule" has "$err" "plate '51a12345': want 1 to 12 of 0-9, A-Z"
admin 2 vehicle add 1001 1 ABCDEFGHIJKLM
check "a 13-character plate is refused" has "$err" "plate 'ABCDEFGHIJKLM'"
admin 2 vehicle add 1001 6 51A12345
check "class 6 is refused" has "$err" "class 6 is out of range 1..5"
admin 2 account add 4294967296
check "a customer id above 2^32-1 is refused" has "$err" "out of range 1..4294967295"
admin 2 account add 12x
admin 2 account add 5 --kind bank
admin 2 account add 5 --low-threshold -1
admin 2 tag add xyz 1
check "a bad EPC is refused" has "$err" "'x' is not a hex digit"
admin 2 tag add "$(printf '%065d' 1)" 1
check "a 65-digit EPC is refused" has "$err" "want 1 to 64 hex digits, not 65"
admin 2 tag add 3034 1 --tid e2801160600002040000abc
check "a 23-digit TID is refused" has "$err" "want exactly 24 hex digits, not 23"
admin 2 tag block 3034 0
admin 2 tag block 3034 256
admin 2 account block 1001 lost
check "an unknown reason name is refused" has "$err" "want 1..255 or blacklisted, stolen, closed, replaced"
admin 2 station add 101
check "station add needs --role" has "$err" "needs --role"
admin 2 station add 101 --role open --network 7
admin 2 lane add 101 0
admin 2 lane add 101 65536
admin 2 lane key add 101 1 "$(printf '%063d' 1)"
check "a 63-digit public key is refused" has "$err" "want exactly 64 hex digits, not 63"
admin 2 lane key add 101 1 "$(printf '%064d' 1)" --valid-from 2026-01-01T00:00:00
check "a time without its zone is refused" has "$err" "want an ISO 8601 time with its zone"
admin 2 lane key revoke 101 1 abcdef
admin 2 account show 1 extra
admin 2 account show 1 --limit 5
admin 2 account statement 1 --limit 0
check "usage follows a bad argument" has "$err" "usage: toll-admin account statement ID [--limit N]"
admin 2 account statement 1 --from 2026-02-30
check "a statement from a day not in the calendar is refused" has "$err" "--from '2026-02-30': no such day"
admin 2 account statement 1 --from 2026-03-02 --to 2026-03-01
check "a statement to before from is refused" has "$err" "--to 2026-03-01 is before --from 2026-03-02"
admin 2 partner add Bank1 2000000000001
check "a partner id in capitals is refused" has "$err" "partner id 'Bank1': want 1-32 of a-z 0-9 and -"
admin 2 partner add bank1 2000000000001 --min 0
admin 2 partner file bank1 2026-03-01 --tz "Asia/Ho Chi Minh"
check "a time zone with a blank is refused" has "$err" "--tz 'Asia/Ho Chi Minh': want a time zone name"
admin 1 partner reconcile bank1 2026-03-01 "$work/no-such-file.csv"
check "a partner file that is not there: refused before connecting" has "$err" "could not open $work/no-such-file.csv"
admin 2 reconcile lanes 2026-13-01
admin 2 correct 0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5 --reason other --amount 1
check "a transaction id one digit short is refused" has "$err" "want a UUID (8-4-4-4-12 hex digits)"
admin 2 correct 0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b --reason typo --amount 1
admin 2 correct 0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b --reason other --amount 100000001
check "a correction above the largest fee is refused" has "$err" "--amount 100000001 is out of range 1..100000000"
admin 2 export passwords
admin 2 export account-balance --to 2026-03-01

echo "# a throwaway PostgreSQL and the schema"
"$pg" start "$work/pg" >/dev/null
eval "$("$pg" env "$work/pg")"
export PGHOST PGPORT PGUSER PGDATABASE
# The application and reporting roles and the login role's membership in
# them (scripts/pg-embedded makes them too; repeated here, harmlessly, so
# the test does not depend on it): creating a role needs rights the owner
# toll lacks.
q -U postgres \
	-c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'toll_app') THEN CREATE ROLE toll_app NOLOGIN; END IF; END \$\$" \
	-c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'toll_report') THEN CREATE ROLE toll_report NOLOGIN; END IF; END \$\$" \
	-c "GRANT toll_app TO toll" -c "GRANT toll_report TO toll" >/dev/null 2>&1
# The schema, applied by its owner as central/migrate.c does it: each file
# in name order in its own transaction, recorded in schema_migrations with
# its SHA-256.  This becomes `toll-central --migrate` once it exists.
q -c "CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, sha256 text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now())"
for f in "$top"/central/sql/*.sql; do
	q -1 -f "$f" -c "INSERT INTO schema_migrations (name, sha256)
		VALUES ('$(basename "$f")', '$(sha256sum "$f" | cut -c1-64)')" >/dev/null
done
check "schema applied" eq "$(q -c "SELECT to_regclass('ledger_entries') IS NOT NULL")" t

echo "# connection and role"
admin 1 --db "host=127.0.0.1 port=1 dbname=toll user=toll" account show 1
check "an unreachable server: a clear error" has "$err" "toll-admin: could not connect"
admin 1 --role no_such_role account show 1
check "an unknown role: a clear error" has "$err" "could not start the session as role 'no_such_role'"

echo "# accounts"
admin 0 account add 1001 --name "Nguyen Van A"
check "a new customer account at 0 VND is low balance" has "$out" "low balance"
check "the default low threshold is 100,000" has "$out" "100,000"
admin 1 account add 1001
check "a duplicate account is refused" has "$err" "toll-admin: account 1001 already exists"
admin 0 --csv account add 1002 --name 'Tran "Binh", Ltd' --low-threshold 1234500
check "CSV header" eq "$(head -n 1 "$work/out")" \
	$'id,kind,name,balance_vnd,status,low_threshold_vnd,blocked_reason,list_xid,created_at\r'
check "CSV row: quoted name, plain money, CRLF" \
	grep -qE $'^1002,customer,"Tran ""Binh"", Ltd",0,low balance,1234500,0,[0-9]+,[0-9-]+T[0-9:]+Z\r$' "$work/out"
admin 0 account show 1002 --csv
check "--csv after the command too" grep -qE $'^1002,customer,.*,1234500,' "$work/out"
admin 0 account show 1002
check "people see 1,234,500" has "$out" "1,234,500"
check "and an aligned header" has "$(head -n 1 "$work/out")" "id  kind      name"
admin 0 account add 2000000000001 --kind partner --name "Bank A"
check "an internal account may be above 2^32" has "$out" "partner"
admin 0 account add 77 --kind suspense
admin 1 account show 999
check "an unknown account: a clear error" eq "$err" "toll-admin: no account 999"
v1=$(q -c "SELECT list_xid FROM accounts WHERE id = 1001")
check "a new account takes a list version" test "$v1" -gt 0

admin 0 account block 1001 stolen
check "blocked: invalid" has "$out" "invalid"
check "with its reason" has "$out" "2 (stolen)"
v2=$(q -c "SELECT list_xid FROM accounts WHERE id = 1001")
check "block bumps the list version ($v1 -> $v2)" test "$v2" -gt "$v1"
check "block queues a status notification" eq "$(q -c "SELECT count(*) FROM notifications WHERE account_id = 1001 AND kind = 'status' AND status = 2")" 1
admin 0 account block 1001 2
check "the same block again changes nothing" has "$err" "already blocked with reason 2: nothing changed"
check "and keeps the list version" eq "$(q -c "SELECT list_xid FROM accounts WHERE id = 1001")" "$v2"
admin 0 account unblock 1001
check "unblocked at 0 VND: back to low balance" has "$out" "low balance"
check "unblocked: reason 0" eq "$(q -c "SELECT blocked_reason || '/' || status FROM accounts WHERE id = 1001")" 0/1
admin 1 account block 2000000000001 1
check "an internal account is not blocked" has "$err" "only customer accounts are blocked"
admin 1 account block 999 1
check "blocking an unknown account: a clear error" eq "$err" "toll-admin: no account 999"

echo "# stations and lanes"
admin 0 station add 101 --role open --name "Plaza 101"
check "the station and its revenue account" has "$out" "1000000000101"
admin 0 account show 1000000000101
check "the revenue account exists, kind revenue" has "$out" "revenue"
admin 1 station add 101 --role open
check "a duplicate station is refused" eq "$err" "toll-admin: station 101 already exists"
admin 0 station add 201 --role entry --network 7 --name "Expressway km 0"
admin 0 account add 1000000000103 --kind revenue
admin 1 station add 103 --role open
check "a revenue account in the way: refused" has "$err" "account 1000000000103, station 103's revenue account, already exists"
check "and nothing of station 103 was kept" eq "$(q -c "SELECT count(*) FROM stations WHERE id = 103")" 0
admin 0 lane add 101 1
admin 0 lane add 101 2 --free-flow
check "a free-flow lane" has "$out" "yes"
admin 1 lane add 101 1
check "a duplicate lane is refused" eq "$err" "toll-admin: lane 1 of station 101 already exists"
admin 1 lane add 999 1
check "a lane of an unknown station is refused" has "$err" "no station 999"

echo "# lane keys"
# a key made as the lane makes it, when toll-lane is built; else a fixed one
if [ -x "$bin/toll-lane" ] && "$bin/toll-lane" keygen "$work/lane.key" >"$work/keygen" 2>/dev/null; then
	pub=$(sed -n 's/^public key //p' "$work/keygen")
	lane_kid=$(sed -n 's/^key id //p' "$work/keygen")
else
	pub=3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c
	lane_kid=
fi
# the key id by hand: the first 4 bytes of SHA-256 of the 32-byte key
kid=$(printf "$(sed 's/../\\x&/g' <<<"$pub")" | sha256sum | cut -c1-8)
[ -z "$lane_kid" ] || check "toll-lane keygen's key id is SHA-256's first 4 bytes" eq "$lane_kid" "$kid"
admin 0 lane key add 101 1 "$pub"
check "the key id printed ($kid)" has "$out" "$kid"
admin 1 lane key add 101 2 "$(tr a-f A-F <<<"$pub")"
check "the same public key again (any case) is refused" has "$err" "already registered: key $kid of station 101 lane 1"
admin 1 lane key add 101 9 "$pub"
check "a key for an unknown lane is refused" has "$err" "no lane 9 at station 101"
pub2=$(sha256sum <<<"second key" | cut -c1-64)
kid2=$(printf "$(sed 's/../\\x&/g' <<<"$pub2")" | sha256sum | cut -c1-8)
admin 1 lane key add 101 2 "$pub2" --valid-from 2026-06-01T00:00:00+07:00 --valid-to 2026-01-01T00:00:00Z
check "valid-to before valid-from is refused" has "$err" "is not after"
admin 0 --csv lane key add 101 2 "$pub2" --valid-from 2026-06-01T00:00:00+07:00 --valid-to 2027-06-01T00:00:00Z
check "times stored with their zone, shown in UTC" \
	grep -qE "^101,2,$kid2,2026-05-31T17:00:00Z,2027-06-01T00:00:00Z,," "$work/out"
admin 0 lane key revoke 101 1 "$kid" --reason "controller stolen"
check "revoked: revoked_at and the reason" grep -qE "^ *101 +1 +$kid .*[0-9]Z +controller stolen$" "$work/out"
admin 1 lane key revoke 101 1 "$kid"
check "revoked twice: refused" has "$err" "key $kid of station 101 lane 1 was already revoked at"
admin 1 lane key revoke 101 1 00000000
check "an unknown key id: a clear error" eq "$err" "toll-admin: no key 00000000 at station 101 lane 1"
admin 0 lane list
check "lane list: the revoked key" grep -qE "^ *101 +open +Plaza 101 +1 +no +$kid .* revoked$" "$work/out"
check "lane list: the free-flow lane's key" grep -qE "^ *101 +open +Plaza 101 +2 +yes +$kid2 " "$work/out"
admin 0 --csv lane list
check "lane list CSV: a station without lanes" grep -qx $'201,entry,7,Expressway km 0,,,,,,,\r' "$work/out"
check "lane list CSV: 4 rows and the header" eq "$(wc -l <"$work/out")" 4

echo "# vehicles and tags"
admin 0 --csv vehicle add 1001 1 "51A-123.45"
veh=$(sed -n '2s/,.*//p' "$work/out")
check "the vehicle id printed ($veh)" grep -qE $'^[0-9]+,1001,1,51A-123.45,' "$work/out"
admin 1 vehicle add 999 1 51A12345
check "a vehicle of an unknown account is refused" eq "$err" "toll-admin: no account 999"
admin 1 vehicle add 77 1 51A12345
check "a vehicle of an internal account is refused" has "$err" "vehicles belong to customer accounts"
admin 0 tag add 3034257BF7194E4000001A85 "$veh" --tid E2801160600002040000ABCD
check "the EPC stored in lowercase" has "$out" "3034257bf7194e4000001a85"
check "the TID in lowercase" has "$out" "e2801160600002040000abcd"
check "the tag has a list version" test "$(q -c "SELECT list_xid FROM tags WHERE epc_hex = '3034257bf7194e4000001a85'")" -gt 0
admin 1 tag add 3034257bf7194e4000001a85 "$veh"
check "a duplicate tag is refused" eq "$err" "toll-admin: tag 3034257bf7194e4000001a85 already exists (vehicle $veh)"
admin 1 tag add 3034257bf7194e4000001a86 999999
check "a tag of an unknown vehicle is refused" eq "$err" "toll-admin: no vehicle 999999"
admin 0 tag add e200 "$veh" --exempt
check "an exempt tag" grep -qE "^e200 +$veh +1001 +51A-123.45 +valid +0 +yes " "$work/out"
t1=$(q -c "SELECT list_xid FROM tags WHERE epc_hex = 'e200'")
admin 0 tag block E200 stolen
check "tag blocked: invalid, reason 2" grep -qE "^e200 .* invalid +2 \(stolen\) +yes " "$work/out"
t2=$(q -c "SELECT list_xid FROM tags WHERE epc_hex = 'e200'")
check "tag block bumps the list version ($t1 -> $t2)" test "$t2" -gt "$t1"
admin 0 tag unblock e200
check "tag unblocked" eq "$(q -c "SELECT status || '/' || reason FROM tags WHERE epc_hex = 'e200'")" 0/0
admin 0 tag unblock e200
check "unblocking a valid tag changes nothing" has "$err" "was not blocked: nothing changed"
admin 1 tag block ffff 1
check "blocking an unknown tag: a clear error" eq "$err" "toll-admin: no tag ffff"

echo "# statements"
admin 0 --csv account statement 1002
check "no entries: the header and the balance row only" eq "$(wc -l <"$work/out")" 2
check "statement CSV header" eq "$(head -n 1 "$work/out")" $'id,time,kind,debit_account,credit_account,amount_vnd,txn_or_reference\r'
check "balance 0, checked" grep -qE $'^,[0-9-]+T[0-9:]+Z,balance,,,0,\r$' "$work/out"
admin 0 account statement 1002
check "people: balance 0 of 0 entries, checked" has "$out" "balance 0 VND at"
check "people: checked" has "$out" "the sum of its 0 ledger entries: checked"
# a top-up and a toll as toll-central will post them, as toll_app
q >/dev/null <<'SQL'
BEGIN;
SET LOCAL ROLE toll_app;
INSERT INTO ledger_entries (kind, reference, debit_account, credit_account, amount_vnd)
	VALUES ('topup', 'bank-ref-1', 2000000000001, 1001, 500000);
UPDATE accounts SET balance_vnd = balance_vnd - 500000 WHERE id = 2000000000001;
UPDATE accounts SET balance_vnd = balance_vnd + 500000 WHERE id = 1001;
INSERT INTO transactions (txn_id, station_id, lane_id, lane_seq, time_ms, utc_offset_min, outcome,
	flags, epc_hex, account_id, vclass, entry_station, entry_time_ms, fee_vnd, key_id, payload,
	payload_hash, disposition)
	VALUES ('0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', 101, 1, 1, 1767225600000, 420, 1, 0,
	'3034257bf7194e4000001a85', 1001, 1, 0, 0, 35000, '\x01020304', '\x00',
	'\x0000000000000000000000000000000000000000000000000000000000000000', 'posted');
INSERT INTO ledger_entries (kind, txn_id, debit_account, credit_account, amount_vnd)
	VALUES ('toll', '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', 1001, 1000000000101, 35000);
UPDATE accounts SET balance_vnd = balance_vnd - 35000 WHERE id = 1001;
UPDATE accounts SET balance_vnd = balance_vnd + 35000 WHERE id = 1000000000101;
COMMIT;
SQL
admin 0 account statement 1001
check "the toll, signed from the account's view" grep -qE "^ +2 +[0-9-]+T[0-9:]+Z +toll +1001 +1000000000101 +-35,000 +0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b$" "$work/out"
check "the top-up, signed" grep -qE "^ +1 +[0-9-]+T[0-9:]+Z +topup +2000000000001 +1001 +\+500,000 +bank-ref-1$" "$work/out"
check "newest first" eq "$(grep -oE '(toll|topup) ' "$work/out" | tr -d ' ' | tr '\n' ' ')" "toll topup "
check "balance 465,000 = the sum of 2 entries" has "$out" "balance 465,000 VND at"
check "checked" has "$out" "the sum of its 2 ledger entries: checked"
admin 0 --csv account statement 1001 --limit 1
check "CSV: the newest entry only, then the balance" eq "$(cut -d, -f1,3,6,7 "$work/out" | tr -d '\r' | tr '\n' ' ')" \
	"id,kind,amount_vnd,txn_or_reference 2,toll,-35000,0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b ,balance,465000, "
admin 0 --csv account statement 1000000000101
check "the revenue account's side" grep -qE $'^2,.*,toll,1001,1000000000101,35000,' "$work/out"
q -c "SET ROLE toll_app" -c "UPDATE accounts SET balance_vnd = balance_vnd + 1 WHERE id = 1001"
admin 1 account statement 1001
check "a cached balance off by 1 VND is caught" has "$err" \
	"toll-admin: account 1001: balance 465,001 VND differs from the sum of its 2 ledger entries, 465,000 VND (by 1 VND)"
check "and the entries are still shown" has "$out" "bank-ref-1"
q -c "SET ROLE toll_app" -c "UPDATE accounts SET balance_vnd = balance_vnd - 1 WHERE id = 1001"
admin 0 account statement 1001
admin 1 account statement 999
check "the statement of an unknown account: a clear error" eq "$err" "toll-admin: no account 999"

echo "# passes"
today=$(q -c "SELECT to_char(toll_today(), 'YYYY-MM-DD')")
admin 2 pass add "$veh" 101 --from "$today"
check "pass add needs --kind" has "$err" "pass add needs --kind monthly or quarterly"
admin 2 pass add "$veh" 101 --kind yearly --from "$today"
check "an unknown kind is refused" has "$err" "--kind 'yearly': want monthly or quarterly"
admin 2 pass add "$veh" 101 --kind monthly
check "pass add needs --from" has "$err" "pass add needs --from YYYY-MM-DD"
admin 2 pass add "$veh" 101 --kind monthly --from 2027-02-29
check "a day not in the calendar is refused" has "$err" "--from '2027-02-29': no such day"
admin 2 pass add "$veh" 101 --kind monthly --from 27-01-01
check "a day in another shape is refused" has "$err" "--from '27-01-01': want a day as YYYY-MM-DD"
admin 2 pass add "$veh" 101 --kind monthly --from 2096-03-10 --to 2096-03-09
check "a last day before the first is refused" has "$err" "--to 2096-03-09 is before --from 2096-03-10"
admin 1 pass add 999999 101 --kind monthly --from "$today"
check "a pass for an unknown vehicle is refused" eq "$err" "toll-admin: no vehicle 999999"
admin 1 pass add "$veh" 999 --kind monthly --from "$today"
check "a pass at an unknown station is refused" has "$err" "toll-admin: no station 999"
admin 1 pass add "$veh" 201 --kind monthly --from "$today"
check "a pass at a closed-network station is refused" has "$err" \
	"station 201 is a closed-network entry station (network 7): passes are for open stations"
admin 1 pass add "$veh" 101 --kind monthly --from 2020-01-01
check "a pass that ended before today is refused" has "$err" "a pass from 2020-01-01 to 2020-01-31 would end before today ($today, station time)"
admin 1 pass add "$veh" 101 --kind monthly --from 2096-01-31 --to 2096-03-01
check "--to past the kind's period is refused" has "$err" "--to 2096-03-01 is past the end of a monthly pass from 2096-01-31 (2096-02-29)"
admin 0 --csv pass add "$veh" 101 --kind monthly --from 2096-01-31
check "monthly from 31 January (leap year): to 29 February, not begun" \
	grep -qE "^[0-9]+,$veh,51A-123.45,1001,101,monthly,2096-01-31,2096-02-29,not begun,no,[0-9T:Z-]+,,,[0-9]+"$'\r$' "$work/out"
p1=$(sed -n '2s/,.*//p' "$work/out")
check "a future pass awaits its start" eq "$(q -c "SELECT awaiting_start FROM passes WHERE id = $p1")" t
admin 0 --csv pass add "$veh" 101 --kind monthly --from 2096-03-01
check "monthly from 1 March: to 31 March" grep -qE ",monthly,2096-03-01,2096-03-31," "$work/out"
admin 0 --csv pass add "$veh" 101 --kind quarterly --from 2096-04-01
check "quarterly from 1 April: to 30 June" grep -qE ",quarterly,2096-04-01,2096-06-30," "$work/out"
admin 0 --csv pass add "$veh" 101 --kind monthly --from 2096-07-15 --to 2096-07-31
check "--to ends it earlier" grep -qE ",monthly,2096-07-15,2096-07-31," "$work/out"
admin 1 pass add "$veh" 101 --kind monthly --from 2096-02-15
check "an overlapping pass at the same station is refused" has "$err" \
	"vehicle $veh already has pass $p1 at station 101, 2096-01-31 to 2096-02-29, which overlaps 2096-02-15 to 2096-03-14"
admin 0 pass add "$veh" 101 --kind monthly --from "$today"
check "a pass from today: current, the one in the lanes' list" grep -qE " monthly +$today +[0-9-]+ +current +yes " "$work/out"
pnow=$(awk 'NR == 2 {print $1}' "$work/out")
check "stamped for the lanes, begun" eq "$(q -c "SELECT list_xid > 0 AND NOT awaiting_start FROM passes WHERE id = $pnow")" t
admin 0 --csv pass list --vehicle "$veh"
check "pass list --vehicle: 5 passes and the header" eq "$(wc -l <"$work/out")" 6
admin 0 pass list --vehicle 999999
check "no passes: the header only" eq "$(wc -l <"$work/out")" 1
x1=$(q -c "SELECT list_xid FROM passes WHERE id = $p1")
admin 0 pass revoke "$p1" --reason "sold in error"
check "revoked, with its reason" grep -qE "^ *$p1 .* revoked +no .*Z +sold in error +[0-9]+$" "$work/out"
check "revoke stamps it for the lanes and ends its wait" \
	eq "$(q -c "SELECT list_xid > $x1 AND NOT awaiting_start FROM passes WHERE id = $p1")" t
admin 1 pass revoke "$p1"
check "revoked twice: refused" has "$err" "toll-admin: pass $p1 was already revoked at"
admin 1 pass revoke 999999
check "an unknown pass: a clear error" eq "$err" "toll-admin: no pass 999999"
admin 2 pass revoke 0
admin 2 pass list --vehicle x
del=$(q -c "SET ROLE toll_app" -c "DELETE FROM passes" 2>&1) && bad "toll_app deleted passes" ||
	check "as toll_app a DELETE of passes is refused: revoked, never deleted" has "$del" "permission denied for table passes"

echo "# low-balance thresholds per class"
admin 0 --csv threshold list
check "five classes, class 1 at 100,000" eq "$(cut -d, -f1,2 "$work/out" | tr -d '\r' | tr '\n' ' ')" \
	"class,low_threshold_vnd 1,100000 2,150000 3,200000 4,300000 5,500000 "
admin 2 threshold set 6 1000
check "class 6 is refused" has "$err" "class 6 is out of range 1..5"
admin 2 threshold set 1 -5
admin 0 account add 1005 --low-threshold 50000
q -c "UPDATE accounts SET balance_vnd = 450000, status = 0 WHERE id = 1005" # by hand: as after a top-up
admin 0 vehicle add 1005 2 51B00001
check "a class-2 vehicle raises the threshold to 150,000" has "$err" \
	"note: account 1005's low-balance threshold is now 150,000 VND (class 2); status valid"
a1=$(q -c "SELECT list_xid FROM accounts WHERE id = 1005")
admin 0 vehicle add 1005 5 51B00002
check "a class-5 vehicle: 500,000, and 450,000 VND is low" has "$err" \
	"note: account 1005's low-balance threshold is now 500,000 VND (class 5); status low balance"
check "the status change is stamped for the lanes" test "$(q -c "SELECT list_xid FROM accounts WHERE id = 1005")" -gt "$a1"
check "and queued for the customer" eq "$(q -c "SELECT count(*) FROM notifications WHERE account_id = 1005 AND kind = 'status' AND status = 1")" 1
admin 0 vehicle add 1005 1 51B00003
check "a class-1 vehicle changes nothing" lacks "$err" "note:"
admin 0 --csv threshold set 5 400000
check "threshold set: 1 account, its threshold and status changed" eq "$(sed -n 2p "$work/out")" $'5,400000,500000,1,1,1\r'
check "account 1005 valid at 400,000" eq "$(q -c "SELECT status || '/' || low_threshold_vnd || '/' || own_low_threshold_vnd FROM accounts WHERE id = 1005")" 0/400000/50000
admin 0 --csv threshold set 2 100000
check "class 2 lowered: account 1005 looked at, nothing changed (class 5 is higher)" eq "$(sed -n 2p "$work/out")" $'2,100000,150000,1,0,0\r'
admin 0 threshold set 5 10000
check "class 5 at 10,000: the highest is class 2's 100,000" eq "$(q -c "SELECT low_threshold_vnd FROM accounts WHERE id = 1005")" 100000
admin 0 threshold set 2 0
admin 0 threshold set 1 20000
check "every class below 50,000: the account's own 50,000" eq "$(q -c "SELECT low_threshold_vnd FROM accounts WHERE id = 1005")" 50000
admin 0 threshold list
check "threshold list shows the change" grep -qE "^ +5 +10,000 " "$work/out"

echo "# tariffs"
admin 0 tariff load "$top/tests/data/tariff/sample.tariff"
check "loaded as version 2026112201" grep -qE "^ *2026112201 +[0-9a-f]{64} .* loaded " "$work/out"
check "body and SHA-256 stored" eq "$(q -c "SELECT encode(sha256, 'hex') FROM tariffs WHERE version = 2026112201")" \
	"$(sha256sum "$top/tests/data/tariff/sample.tariff" | cut -c1-64)"
check "byte for byte" eq "$(q -c "SELECT md5(body) FROM tariffs WHERE version = 2026112201")" \
	"$(md5sum "$top/tests/data/tariff/sample.tariff" | cut -c1-32)"
admin 0 tariff load "$top/tests/data/tariff/sample.tariff"
check "the same body again: a no-op" has "$out" "already loaded"
check "still one row" eq "$(q -c "SELECT count(*) FROM tariffs")" 1
sed 's/^open 101 35000/open 101 36000/' "$top/tests/data/tariff/sample.tariff" >"$work/changed.tariff"
admin 1 tariff load "$work/changed.tariff"
check "another body under a loaded version is refused" has "$err" "tariff version 2026112201 is already loaded with another body"
admin 1 tariff load "$top/tests/data/tariff/bad-format.tariff"
check "a tariff of another format is refused" has "$err" "bad-format.tariff"
admin 1 tariff load "$top/tests/data/tariff/no-version.tariff"
check "a tariff without its version line is refused" has "$err" "no-version.tariff"
admin 1 tariff load "$work/none.tariff"
check "a missing file: a clear error" has "$err" "could not open $work/none.tariff"
admin 1 tariff load "$top/tests/data/tariff/negative-crlf.tariff"
check "the lane's parser refuses a negative fee" has "$err" "negative-crlf.tariff:4"
check "nothing else was stored" eq "$(q -c "SELECT count(*) FROM tariffs")" 1

echo "# partners, corrections, exports (tests/integration/test_recon.sh drives them whole)"
admin 0 --csv partner add bank1 2000000000001
check "a partner on an existing partner account (it owes the top-up): its secret" \
	grep -qE $'^bank1,,2000000000001,-500000,10000,50000000,yes,[0-9T:Z-]+,[0-9a-f]{64}\r$' "$work/out"
admin 1 partner add bank2 1001
check "a customer account is not a partner's" has "$err" "account 1001 is a customer account"
admin 0 --csv correct 0190a1b2c3d47e5f8a9b0c1d2e3f4a5b --reason disputed --amount 5000 --note "not me"
check "the toll corrected (its id without dashes, in capitals or not)" grep -qE $'^[0-9]+,0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b,disputed,refund,5000,1001,470000,35000,30000,toll,' "$work/out"
admin 0 account statement 1001
check "the statement shows it, with its reason" grep -qE "correction +1000000000101 +1001 +\+5,000 +0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b \(disputed: not me\)$" "$work/out"
check "  and the balance checked" has "$out" "balance 470,000 VND at"
admin 0 export ledger
check "export ledger: the header and 3 entries" eq "$(wc -l <"$work/out")" 4
admin 0 --role toll_report export account-balance
check "export as toll_report: the one balance set by hand (1005) does not match its entries" \
	eq "$(grep ',f,' "$work/out" | cut -d, -f1)" 1005
upd=$(q -c "SET ROLE toll_report" -c "SELECT count(*) FROM ledger_entries" 2>&1) && bad "toll_report read ledger_entries" ||
	check "toll_report does not read the tables" has "$upd" "permission denied for table ledger_entries"
check "toll_report reads the views" eq "$(q -c "SET ROLE toll_report" -c "SELECT count(*) FROM v_ledger")" 3

echo "# grants"
upd=$(q -c "SET ROLE toll_app" -c "UPDATE transactions SET fee_vnd = 0" 2>&1) && bad "toll_app updated transactions" ||
	check "as toll_app an UPDATE of transactions is refused" has "$upd" "permission denied for table transactions"
upd=$(q -c "SET ROLE toll_app" -c "UPDATE ledger_entries SET amount_vnd = 1" 2>&1) && bad "toll_app updated ledger_entries" ||
	check "as toll_app an UPDATE of ledger_entries is refused" has "$upd" "permission denied for table ledger_entries"
upd=$(q -c "UPDATE transactions SET fee_vnd = 0" 2>&1) && bad "the owner updated transactions" ||
	check "even the owner's UPDATE of transactions is refused (trigger)" has "$upd" "append-only"
check "the toll is unchanged" eq "$(q -c "SELECT fee_vnd FROM transactions")" 35000
# the tool runs as toll_app: take a right from toll_app and watch it fail
q -U postgres -c "REVOKE INSERT ON tariffs FROM toll_app"
sed 's/^version 2026112201/version 2026112202/' "$top/tests/data/tariff/sample.tariff" >"$work/v2.tariff"
admin 1 tariff load "$work/v2.tariff"
check "without toll_app's INSERT on tariffs the load is refused" has "$err" "permission denied for table tariffs"
admin 0 --role "" tariff load "$work/v2.tariff"
check "as the owner (--role '') it loads" has "$out" "loaded"
q -U postgres -c "GRANT INSERT ON tariffs TO toll_app"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

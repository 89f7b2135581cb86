#!/usr/bin/env bash
# The tag status list from central to a lane, end to end: toll-central (its
# list publisher) on a throwaway PostgreSQL, toll-lane following it with no
# list of its own, toll-sim's devices and vehicles.
#   - the lane starts from central's snapshot;
#   - a vehicle whose account cannot pay is refused and waits at the
#     barrier; the account is topped up at central; the change reaches the
#     lane within a second and the same vehicle, decided again, pays;
#   - a pass at the lane's station made with toll-admin reaches the lane,
#     and a vehicle whose account cannot pay passes free;
#   - a tag blocked with toll-admin reaches the lane and its vehicle is
#     refused;
#   - central killed, toll-lane killed and started again: it decides from
#     the list it kept (the top-up included), with central away;
#   - central back: the lane catches up, its transactions are settled once,
#     and the ledger balances.
set -u
. "$(dirname "$0")/itest.sh"
itest_work sync
sim_pid= lane_pid= central_pid=
cleanup() {
	for p in $lane_pid $sim_pid $central_pid; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	itest_stop_pg_and_work
}
trap cleanup EXIT
itest_pg || exit 1

"$bin/toll-central" --migrate >"$work/migrate.log" 2>&1
check "migrate" test $? -eq 0
"$bin/toll-lane" keygen "$work/lane.key" >"$work/key.txt"
pub=$(awk '/public key/ {print $3}' "$work/key.txt")
"$bin/toll-central" keygen "$work/list.key" >"$work/listkey.txt"
check "central's list key" test $? -eq 0
listpub=$(awk '/public key/ {print $3}' "$work/listkey.txt")
# account 1001 holds 10,000 VND (a toll is 35,000), 1002 holds 5,000,000;
# the money comes from a partner account, as opening entries
psql -q -v ON_ERROR_STOP=1 >"$work/psql.log" 2>&1 <<EOF
INSERT INTO accounts (id, kind) VALUES (1000000000101, 'revenue'), (2000000000001, 'partner');
INSERT INTO accounts (id, kind, balance_vnd, status) VALUES (1001, 'customer', 10000, 1), (1002, 'customer', 5000000, 0),
  (1003, 'customer', 0, 1);
UPDATE accounts SET balance_vnd = -5010000 WHERE id = 2000000000001;
INSERT INTO ledger_entries (kind, reference, debit_account, credit_account, amount_vnd) VALUES
  ('opening', 'test', 2000000000001, 1001, 10000), ('opening', 'test', 2000000000001, 1002, 5000000);
INSERT INTO stations (id, role, revenue_account_id) VALUES (101, 'open', 1000000000101);
INSERT INTO lanes (station_id, lane_id) VALUES (101, 1);
INSERT INTO lane_keys (station_id, lane_id, key_id, public_key, valid_from)
  VALUES (101, 1, substring(sha256('\x$pub'::bytea) from 1 for 4), '\x$pub'::bytea, now() - interval '1 day');
INSERT INTO vehicles (id, account_id, vclass, plate) VALUES (1, 1001, 1, '51A00001'), (2, 1002, 1, '51A00002'),
  (3, 1003, 1, '51A00003');
INSERT INTO tags (epc_hex, vehicle_id) VALUES ('303400000000000000000001', 1), ('303400000000000000000002', 2),
  ('303400000000000000000003', 3);
EOF
check "accounts, vehicles, tags, lane" test $? -eq 0

port=$((20000 + RANDOM % 12000))
sport=$((port + 7))
start_central() {
	"$bin/toll-central" run --set "listen=tcp://127.0.0.1:$port" --set "control.socket=$work/c.sock" \
		--set "list.key=$work/list.key" --set "list.publish=tcp://127.0.0.1:$((port + 1))" \
		--set "list.listen=tcp://127.0.0.1:$((port + 2))" --set "list.dir=$work/clist" \
		--set db.retry_max=500ms >>"$work/central.log" 2>&1 &
	central_pid=$!
}
start_lane() {
	"$bin/toll-lane" run --set lane.0.key="$work/lane.key" --set state.dir="$work/s" \
		--set tariff.file="$top/tests/data/tariff/sample.tariff" --set control.socket="$work/l.sock" \
		--set lane.0.reader="tcp:127.0.0.1:$sport" --set central.url="tcp://127.0.0.1:$port" \
		--set central.timeout=1s --set plaza.suppress=1s --set reader.rereport=1 \
		--set list.central_key="$listpub" --set "list.subscribe=tcp://127.0.0.1:$((port + 1))" \
		--set "list.request=tcp://127.0.0.1:$((port + 2))" >>"$work/lane.log" 2>&1 &
	lane_pid=$!
}
lane_status() { "$bin/toll-lane" status --socket "$work/l.sock" 2>/dev/null; }
field() { sed -n "s/.* $1=\([0-9-]*\).*/\1/p" | head -1; }
version_above() { local v; v=$(lane_status | grep '^list ' | field version); [ -n "$v" ] && [ "$v" -gt "$1" ]; }
count_at_least() { local v; v=$(lane_status | field "$1"); [ -n "$v" ] && [ "$v" -ge "$2" ]; }
journal_has() { "$bin/toll-lane" journal dump "$work/s/lane-1/journal" 2>/dev/null | grep -q "$1"; }

mkdir -p "$work/s"
start_central
"$bin/toll-sim" devices --listen "127.0.0.1:$sport" --lanes 1 --ctl "$work/sim.sock" --seed 5 --quiet --max-wait-ms 6000 \
	>"$work/sim.log" 2>&1 &
sim_pid=$!
start_lane
check "the lane starts from central's snapshot" wait_for 20 version_above 0
v0=$(lane_status | grep '^list ' | field version)

# a vehicle that cannot pay: refused, waiting at the barrier
"$bin/toll-sim" ctl --ctl "$work/sim.sock" vehicle lane=0 epc=303400000000000000000001 >>"$work/ctl.log" 2>&1
check "refused: 10,000 VND for a 35,000 VND toll" wait_for 10 count_at_least refused 1
# the top-up at central (what the partner API will do: a ledger entry, the
# balance, the status, the list stamp, in one transaction)
t0=$(date +%s%N)
q >>"$work/psql.log" 2>&1 <<EOF
BEGIN;
INSERT INTO ledger_entries (kind, reference, debit_account, credit_account, amount_vnd)
  VALUES ('topup', 'test', 2000000000001, 1001, 500000);
UPDATE accounts SET balance_vnd = balance_vnd - 500000 WHERE id = 2000000000001;
UPDATE accounts SET balance_vnd = balance_vnd + 500000, status = 0, list_xid = pg_current_xact_id()::text::bigint
  WHERE id = 1001;
COMMIT;
EOF
check "the top-up reaches the lane" wait_for 5 version_above "$v0"
ms=$((($(date +%s%N) - t0) / 1000000))
echo "top-up committed to applied at the lane: $ms ms (polled every 100 ms)"
check "within a second ($ms ms)" test "$ms" -lt 1000
check "the same vehicle, decided again, pays" wait_for 10 count_at_least paid 1
check "the top-up came as a delta" wait_for 2 count_at_least deltas 1
# central has been there all along: no "central silent" alarm (every lane
# used to raise one within a second of starting)
check "no staleness alarm while central is heard" sh -c "! grep -q 'nothing heard from central' \"$work/lane.log\""

# a monthly pass at this station from today (station time): account 1003
# holds nothing, its vehicle passes free
v3=$(lane_status | grep '^list ' | field version)
"$bin/toll-admin" pass add 3 101 --kind monthly --from "$(q -c "SELECT to_char(toll_today(), 'YYYY-MM-DD')")" \
	>>"$work/admin.log" 2>&1
check "toll-admin pass add" test $? -eq 0
check "the pass reaches the lane" wait_for 5 version_above "$v3"
"$bin/toll-sim" ctl --ctl "$work/sim.sock" vehicle lane=0 epc=303400000000000000000003 >>"$work/ctl.log" 2>&1
check "the vehicle with a pass passes free" wait_for 20 journal_has "outcome=pass fee=0 account=1003"

# a tag blocked at central: its vehicle is refused
v1=$(lane_status | grep '^list ' | field version)
"$bin/toll-admin" tag block 303400000000000000000002 stolen >>"$work/admin.log" 2>&1
check "toll-admin tag block" test $? -eq 0
check "the block reaches the lane" wait_for 5 version_above "$v1"
"$bin/toll-sim" ctl --ctl "$work/sim.sock" vehicle lane=0 epc=303400000000000000000002 >>"$work/ctl.log" 2>&1
check "the blocked tag's vehicle is refused" wait_for 10 journal_has "outcome=refused-invalid fee=0 account=1002"
check "and not charged" test "$(lane_status | field paid)" = 1

# central away, the lane restarted: it decides from the list it kept
v2=$(lane_status | grep '^list ' | field version)
kill -9 "$central_pid"
{ wait "$central_pid"; } 2>/dev/null
kill -9 "$lane_pid"
{ wait "$lane_pid"; } 2>/dev/null
start_lane
check "restarted with central away: the list it kept" wait_for 10 version_above $((v2 - 1))
check "the same version" test "$(lane_status | grep '^list ' | field version)" = "$v2"
sleep 2 # the first vehicle's claim in the plaza (1 s) is long gone; the refused one backs out (6 s)
"$bin/toll-sim" ctl --ctl "$work/sim.sock" vehicle lane=0 epc=303400000000000000000001 >>"$work/ctl.log" 2>&1
check "the topped-up vehicle pays with central away" wait_for 30 count_at_least paid 1

# central back: the lane hears it, its transactions settle once
start_central
check "central heard again" wait_for 15 sh -c "\"$bin/toll-lane\" status --socket \"$work/l.sock\" | grep '^list ' | grep -qv STALE"
pending_zero() { local p; p=$(lane_status | field pending); [ "$p" = 0 ]; }
check "nothing pending at the lane" wait_for 20 pending_zero
made=$(lane_status | field txn_seq)
check "every transaction once at central" test "$(q -c "SELECT count(DISTINCT lane_seq) || '/' || count(*) FROM transactions WHERE station_id = 101 AND lane_id = 1")" = "$made/$made"
check "two tolls posted (the topped-up vehicle, twice)" test "$(q -c "SELECT count(*) FROM transactions WHERE disposition = 'posted'")" = 2
check "balances sum to zero" test "$(q -c "SELECT sum(balance_vnd) FROM accounts")" = 0
check "balances are their entries" test "$(q -c "SELECT count(*) FROM accounts a WHERE balance_vnd <> COALESCE((SELECT sum(amount_vnd) FROM ledger_entries WHERE credit_account = a.id), 0) - COALESCE((SELECT sum(amount_vnd) FROM ledger_entries WHERE debit_account = a.id), 0)")" = 0
check "nothing refused by the lane's list check" test "$(lane_status | grep '^list ' | field refused)" = 0

kill "$lane_pid"
wait "$lane_pid" 2>/dev/null
lane_pid=
itest_done

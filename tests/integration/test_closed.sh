#!/usr/bin/env bash
# Closed-road trips through central: toll-central on a throwaway
# PostgreSQL, three toll-lane processes (entry plazas 201 and 202, exit
# plaza 204 of network 7 in tests/data/tariff/sample.tariff) and toll-sim.
#   - a vehicle enters at 201; the entry reaches the exit lane with the
#     tag status list; at 204 it pays the tariff from 201 (128,700 VND), the
#     record names its entry, central closes the trip and the exit lane
#     hears it closed;
#   - a vehicle enters at 202 while that plaza cannot reach central: at
#     204 the entry is unknown, it pays the farthest entry's fee (128,700)
#     and the record is flagged; when 202 reaches central, central posts
#     the difference to 202 -> 204 (87,880) back as a correction referring
#     to the toll, with a notification;
#   - an entry with no exit expires (central restarted with a short
#     trips.expiry), and the exit lane hears it;
#   - afterwards: balances sum to zero and are their entries, every lane
#     transaction is stored once.
set -u
. "$(dirname "$0")/itest.sh"
itest_work closed
sim_pid= central_pid=
declare -A lane_pid
cleanup() {
	for p in "${lane_pid[@]}" $sim_pid $central_pid; do kill -9 "$p" 2>/dev/null; done
	{ wait; } 2>/dev/null
	itest_stop_pg_and_work
}
trap cleanup EXIT
itest_pg || exit 1
admin() { "$bin/toll-admin" "$@" >>"$work/admin.log" 2>&1; }

"$bin/toll-central" --migrate >"$work/migrate.log" 2>&1
check "migrate" test $? -eq 0
"$bin/toll-central" keygen "$work/list.key" >"$work/listkey.txt"
listpub=$(awk '/public key/ {print $3}' "$work/listkey.txt")
check "tariff load" admin tariff load "$top/tests/data/tariff/sample.tariff"
check "station 201 (entry)" admin station add 201 --role entry --network 7
check "station 202 (entry)" admin station add 202 --role entry --network 7
check "station 204 (exit)" admin station add 204 --role exit --network 7
for st in 201 202 204; do
	"$bin/toll-lane" keygen "$work/$st.key" >"$work/$st.pub"
	admin lane add "$st" 1
	check "lane key $st" admin lane key add "$st" 1 "$(awk '/public key/ {print $3}' "$work/$st.pub")"
done
# two drivers with 1,000,000 VND each, from a partner account
q >>"$work/psql.log" 2>&1 <<EOF
INSERT INTO accounts (id, kind) VALUES (2000000000001, 'partner');
INSERT INTO accounts (id, kind, balance_vnd) VALUES (1001, 'customer', 1000000), (1002, 'customer', 1000000),
  (1003, 'customer', 1000000);
UPDATE accounts SET balance_vnd = -3000000 WHERE id = 2000000000001;
INSERT INTO ledger_entries (kind, reference, debit_account, credit_account, amount_vnd) VALUES
  ('opening', 'test', 2000000000001, 1001, 1000000), ('opening', 'test', 2000000000001, 1002, 1000000),
  ('opening', 'test', 2000000000001, 1003, 1000000);
INSERT INTO vehicles (id, account_id, vclass, plate) VALUES (1, 1001, 1, '51A00001'), (2, 1002, 1, '51A00002'),
  (3, 1003, 1, '51A00003');
INSERT INTO tags (epc_hex, vehicle_id) VALUES ('303400000000000000000001', 1), ('303400000000000000000002', 2),
  ('303400000000000000000003', 3);
EOF
check "accounts, vehicles, tags" test $? -eq 0

port=$((20000 + RANDOM % 12000))
sport=$((port + 7)) # toll-sim: lane 0 (201), 1 (202), 2 (204)
dead=$((port + 5))  # nothing listens here: a plaza cut off from central
start_central() {
	"$bin/toll-central" run --set "listen=tcp://127.0.0.1:$port" --set "control.socket=$work/c.sock" \
		--set "list.key=$work/list.key" --set "list.publish=tcp://127.0.0.1:$((port + 1))" \
		--set "list.listen=tcp://127.0.0.1:$((port + 2))" --set "list.dir=$work/clist" \
		--set db.retry_max=500ms --set trips.interval=100ms "$@" >>"$work/central.log" 2>&1 &
	central_pid=$!
}
# start_lane STATION ROLE SIM_LANE CENTRAL_PORT [--set KEY=VALUE]...
start_lane() {
	local st=$1 role=$2 sl=$3 cp=$4
	shift 4
	mkdir -p "$work/s$st"
	"$bin/toll-lane" run --set station.id="$st" --set station.role="$role" --set lane.0.key="$work/$st.key" \
		--set state.dir="$work/s$st" --set tariff.file="$top/tests/data/tariff/sample.tariff" \
		--set control.socket="$work/l$st.sock" --set lane.0.reader="tcp:127.0.0.1:$((sport + sl))" \
		--set central.url="tcp://127.0.0.1:$cp" --set central.timeout=1s --set plaza.suppress=1s \
		--set list.central_key="$listpub" --set "list.subscribe=tcp://127.0.0.1:$((port + 1))" \
		--set "list.request=tcp://127.0.0.1:$((port + 2))" "$@" >>"$work/lane$st.log" 2>&1 &
	lane_pid[$st]=$!
}
lane_status() { "$bin/toll-lane" status --socket "$work/l$1.sock" 2>/dev/null; }
field() { sed -n "s/.* $1=\([0-9-]*\).*/\1/p" | head -1; }
has_list() { local v; v=$(lane_status "$1" | grep '^list ' | field version); [ -n "$v" ] && [ "$v" -gt 0 ]; }
open_entries() { local v; v=$(lane_status 204 | grep '^entries ' | sed -n 's/.*open=\([0-9]*\).*/\1/p'); [ "$v" = "$1" ]; }
vehicle() { "$bin/toll-sim" ctl --ctl "$work/sim.sock" vehicle lane="$1" epc="$2" >>"$work/ctl.log" 2>&1; }

start_central
"$bin/toll-sim" devices --listen "127.0.0.1:$sport" --lanes 3 --ctl "$work/sim.sock" --seed 7 --quiet \
	--max-wait-ms 6000 >"$work/sim.log" 2>&1 &
sim_pid=$!
start_lane 201 entry 0 "$port"
start_lane 202 entry 1 "$dead"
start_lane 204 exit 2 "$port" --set list.compact=1 # trips.dat at every delta
for st in 201 202 204; do check "lane $st has central's list" wait_for 30 has_list "$st"; done
check "the exit lane keeps entries" wait_for 5 open_entries 0

# 1. entry at 201, known at the exit: the tariff from 201
vehicle 0 303400000000000000000001
check "the entry reaches central" wait_for 20 sqlis "SELECT count(*) FROM trip_entries WHERE station_id = 201 AND state = 1" 1
check "and the exit lane" wait_for 10 open_entries 1
vehicle 2 303400000000000000000001
check "the exit is settled" wait_for 20 sqlis "SELECT count(*) FROM trip_exits" 1
check "charged from its entry: 201 -> 204, 128,700 VND" sqlis \
	"SELECT fee_vnd || ' ' || entry_station || ' ' || flags FROM transactions WHERE station_id = 204" "128700 201 0"
check "the trip matched" wait_for 10 sqlis "SELECT state FROM trip_exits" matched
check "the entry closed" sqlis "SELECT state FROM trip_entries WHERE station_id = 201" 2
check "the exit lane hears it closed" wait_for 10 open_entries 0

# 2. entry at 202, which cannot reach central: unknown at the exit
vehicle 1 303400000000000000000002
check "202 journals the entry" wait_for 20 sh -c "[ \"\$(\"$bin/toll-lane\" journal dump \"$work/s202/lane-1/journal\" 2>/dev/null | grep -c outcome=entry)\" = 1 ]"
sleep 2 # the plaza's claim (1 s) and the vehicle's passage
vehicle 2 303400000000000000000002
check "the exit is settled" wait_for 20 sqlis "SELECT count(*) FROM trip_exits WHERE epc_hex = '303400000000000000000002'" 1
check "entry unknown: the farthest entry's fee, flagged" sqlis \
	"SELECT fee_vnd || ' ' || entry_station || ' ' || flags FROM transactions WHERE station_id = 204 AND epc_hex = '303400000000000000000002'" "128700 0 1"
check "the exit waits for its entry" wait_for 10 sqlis "SELECT state FROM trip_exits WHERE epc_hex = '303400000000000000000002'" waiting
check "1002 paid 128,700" sqlis "SELECT balance_vnd FROM accounts WHERE id = 1002" 871300
# 202 reaches central: its entry arrives, the exit is corrected
kill "${lane_pid[202]}"
wait "${lane_pid[202]}" 2>/dev/null
start_lane 202 entry 1 "$port"
check "the late entry is corrected" wait_for 30 sqlis "SELECT state FROM trip_exits WHERE epc_hex = '303400000000000000000002'" corrected
check "202 -> 204 is 87,880 VND: 40,820 back" sqlis \
	"SELECT amount_vnd || ' ' || debit_account || ' ' || credit_account FROM ledger_entries WHERE kind = 'correction'" \
	"40820 1000000000204 1002"
check "the correction refers to the toll" sqlis \
	"SELECT count(*) FROM ledger_entries c JOIN ledger_entries t ON t.id = c.corrects WHERE c.kind = 'correction' AND t.kind = 'toll' AND t.txn_id = c.txn_id" 1
check "1002 paid 87,880 in the end" sqlis "SELECT balance_vnd FROM accounts WHERE id = 1002" 912120
check "the driver is told" sqlis "SELECT amount_vnd || ' ' || balance_vnd FROM notifications WHERE kind = 'correction'" "40820 912120"
check "the entry closed" sqlis "SELECT state FROM trip_entries WHERE station_id = 202" 2

# 3. an entry with no exit expires
vehicle 0 303400000000000000000003
check "the third entry reaches the exit lane" wait_for 20 open_entries 1
# the exit lane killed and started again: it still knows the entry
# (trips.dat, written when the delta log started again, and the log)
kill -9 "${lane_pid[204]}"
{ wait "${lane_pid[204]}"; } 2>/dev/null
check "the exit lane kept its entries" test -s "$work/s204/list/trips.dat"
start_lane 204 exit 2 "$port" --set list.compact=1
check "restarted, it knows the open entry" wait_for 20 open_entries 1
kill "$central_pid"
{ wait "$central_pid"; } 2>/dev/null
start_central --set trips.expiry=2s
check "expired at central" wait_for 30 sqlis "SELECT state FROM trip_entries WHERE epc_hex = '303400000000000000000003'" 3
check "and at the exit lane" wait_for 10 open_entries 0
check "central counts it" sh -c "\"$bin/toll-central\" status --socket \"$work/c.sock\" | grep -q 'expired=1'"

# the invariants
pending_zero() { local p; p=$(lane_status "$1" | field pending); [ "$p" = 0 ]; }
for st in 201 202 204; do
	check "nothing pending at $st" wait_for 20 pending_zero "$st"
	made=$(lane_status "$st" | field txn_seq)
	check "every transaction of $st once at central" sqlis \
		"SELECT count(DISTINCT lane_seq) || '/' || count(*) FROM transactions WHERE station_id = $st" "$made/$made"
done
check "balances sum to zero" sqlis "SELECT sum(balance_vnd) FROM accounts" 0
check "balances are their entries" sqlis "SELECT count(*) FROM accounts a WHERE balance_vnd <> COALESCE((SELECT sum(amount_vnd) FROM ledger_entries WHERE credit_account = a.id), 0) - COALESCE((SELECT sum(amount_vnd) FROM ledger_entries WHERE debit_account = a.id), 0)" 0
check "revenue of 204: 128,700 + 87,880" sqlis "SELECT balance_vnd FROM accounts WHERE id = 1000000000204" 216580
check "nothing quarantined" sqlis "SELECT count(*) FROM quarantine" 0

for st in 201 202 204; do kill "${lane_pid[$st]}" 2>/dev/null; done
wait "${lane_pid[@]}" 2>/dev/null
lane_pid=()
itest_done

#!/usr/bin/env bash
# Store and forward, end to end: toll-sim traffic through two lanes of one
# toll-lane whose uplink streams to toll-central on a throwaway PostgreSQL.
# toll-lane is killed with -9 twice during traffic and started again, and
# central is away for a while (the lanes keep charging); at the end every
# transaction each lane made is in the database exactly once (no gap, no
# double), the lanes have nothing pending, and the ledger balances.
set -u
. "$(dirname "$0")/itest.sh"
itest_work uplink
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
psql -q -v ON_ERROR_STOP=1 >"$work/psql.log" 2>&1 <<EOF
INSERT INTO accounts (id, kind) VALUES (1000000000101, 'revenue');
INSERT INTO accounts (id, kind) SELECT x, 'customer' FROM generate_series(1001, 1040) x;
INSERT INTO stations (id, role, revenue_account_id) VALUES (101, 'open', 1000000000101);
INSERT INTO lanes (station_id, lane_id) VALUES (101, 1), (101, 2);
INSERT INTO lane_keys (station_id, lane_id, key_id, public_key, valid_from)
  SELECT 101, l, substring(sha256('\x$pub'::bytea) from 1 for 4), '\x$pub'::bytea, now() - interval '1 day'
  FROM (VALUES (1)) v(l);
EOF
check "register" test $? -eq 0
# each lane has its own key (central refuses one public key for two lanes)
"$bin/toll-lane" keygen "$work/lane2.key" >"$work/key2.txt"
pub2=$(awk '/public key/ {print $3}' "$work/key2.txt")
psql -q -v ON_ERROR_STOP=1 -c "INSERT INTO lane_keys (station_id, lane_id, key_id, public_key, valid_from) VALUES (101, 2, substring(sha256('\x$pub2'::bytea) from 1 for 4), '\x$pub2'::bytea, now() - interval '1 day')" >>"$work/psql.log" 2>&1
check "register lane 2" test $? -eq 0

# 400 vehicles, each with its own tag, on 40 accounts (a tag shared by
# vehicles queued together is one tag in the reader's field: never read twice)
{
	echo "toll-taglist-csv 1"
	for a in $(seq 1001 1040); do echo "account,$a,5000000"; done
	for i in $(seq 1 400); do
		printf '30340000000000000000%04x,,%d,1,51A%05d,valid,0,,,\n' "$i" $((1001 + i % 40)) "$i"
	done
} >"$work/list.csv"
"$bin/toll-lane" taglist import "$work/list.csv" "$work/list.tsl" >/dev/null
check "tag list" test $? -eq 0
for i in $(seq 1 400); do printf '30340000000000000000%04x\n' "$i"; done >"$work/simtags.txt"

cport=$((20000 + RANDOM % 12000))
sport=$((cport + 7))
start_central() {
	"$bin/toll-central" run --set "listen=tcp://127.0.0.1:$cport" --set "control.socket=$work/c.sock" \
		--set db.retry_max=500ms >>"$work/central.log" 2>&1 &
	central_pid=$!
}
# one toll-lane runs both lanes of the plaza, each signing with its own key
start_lanes() {
	"$bin/toll-lane" run --set lanes=2 --set lane.0.key="$work/lane.key" --set lane.1.key="$work/lane2.key" \
		--set state.dir="$work/s" --set taglist.file="$work/list.tsl" \
		--set tariff.file="$top/tests/data/tariff/sample.tariff" --set control.socket="$work/l.sock" \
		--set lane.0.reader="tcp:127.0.0.1:$sport" --set lane.1.reader="tcp:127.0.0.1:$((sport + 1))" \
		--set central.url="tcp://127.0.0.1:$cport" --set central.timeout=1s --set central.batch=16 \
		--set plaza.suppress=1s >>"$work/lane.log" 2>&1 &
	lane_pid=$!
}
mkdir -p "$work/s"
start_central
"$bin/toll-sim" devices --listen "127.0.0.1:$sport" --lanes 2 --ctl "$work/sim.sock" --traffic 3600 \
	--duration 30 --warmup 1 --tags "$work/simtags.txt" --seed 11 --quiet >"$work/sim.log" 2>&1 &
sim_pid=$!
start_lanes
sleep 5
kill -9 "$lane_pid"
{ wait "$lane_pid"; } 2>/dev/null
start_lanes
sleep 3
kill -9 "$central_pid" # central away; the lanes keep charging
{ wait "$central_pid"; } 2>/dev/null
sleep 4
kill -9 "$lane_pid"
{ wait "$lane_pid"; } 2>/dev/null
start_lanes
sleep 2
start_central
sleep 19 # the rest of the traffic
kill "$sim_pid"
wait "$sim_pid" 2>/dev/null
sim_pid=

# wait until both lanes have nothing pending
made1= made2=
for _ in $(seq 1 150); do
	st=$("$bin/toll-lane" status --socket "$work/l.sock" 2>/dev/null)
	s1=$(sed -n '/^lane 1 /,/^lane 2 /p' <<<"$st")
	s2=$(sed -n '/^lane 2 /,$p' <<<"$st")
	made1=$(sed -n 's/.* txn_seq=\([0-9]*\).*/\1/p' <<<"$s1" | head -1)
	made2=$(sed -n 's/.* txn_seq=\([0-9]*\).*/\1/p' <<<"$s2" | head -1)
	p1=$(sed -n 's/.* pending=\([0-9]*\).*/\1/p' <<<"$s1" | head -1)
	p2=$(sed -n 's/.* pending=\([0-9]*\).*/\1/p' <<<"$s2" | head -1)
	[ "$p1" = 0 ] && [ "$p2" = 0 ] && [ -n "$made1" ] && break
	sleep 0.2
done
echo "lane 1 made $made1 transactions, lane 2 $made2; pending $p1 / $p2"
check "lane 1 made transactions" test "${made1:-0}" -gt 15
check "lane 2 made transactions" test "${made2:-0}" -gt 15
check "nothing pending at lane 1" test "$p1" = 0
check "nothing pending at lane 2" test "$p2" = 0
q() { psql -qtAc "$1"; }
for l in 1 2; do
	made=$made1
	[ $l = 2 ] && made=$made2
	check "lane $l: every seq 1..$made once" test "$(q "SELECT count(*) || ' ' || count(DISTINCT lane_seq) || ' ' || COALESCE(max(lane_seq), 0) FROM transactions WHERE lane_id = $l")" = "$made $made $made"
	check "lane $l: progress" test "$(q "SELECT acked_seq FROM lane_progress WHERE lane_id = $l")" = "$made"
done
check "nothing quarantined" test "$(q "SELECT count(*) FROM quarantine")" = 0
check "no gaps" test "$(q "SELECT count(*) FROM gaps")" = 0
check "balances sum to zero" test "$(q "SELECT COALESCE(sum(balance_vnd), 0) FROM accounts")" = 0
check "balances are their entries" test "$(q "SELECT count(*) FROM accounts a WHERE balance_vnd <> COALESCE((SELECT sum(amount_vnd) FROM ledger_entries WHERE credit_account = a.id), 0) - COALESCE((SELECT sum(amount_vnd) FROM ledger_entries WHERE debit_account = a.id), 0)")" = 0
check "one entry per posted transaction" test "$(q "SELECT count(*) FROM transactions t WHERE (disposition = 'posted') <> ((SELECT count(*) FROM ledger_entries l WHERE l.txn_id = t.txn_id) = 1)")" = 0
check "something was posted" test "$(q "SELECT count(*) FROM transactions WHERE disposition = 'posted'")" -gt 0
# the lanes' journals still verify
for l in 1 2; do
	"$bin/toll-lane" journal verify "$work/s/lane-$l/journal" --key "$work/lane$([ $l = 2 ] && echo 2).key" >"$work/verify$l.log" 2>&1
	check "lane $l journal verifies" test $? -eq 0
done
kill "$lane_pid" "$central_pid"
wait "$lane_pid" "$central_pid" 2>/dev/null
lane_pid= central_pid=
itest_done

# fault_lib.sh: what the fault tests (tests/integration/test_fault_*.sh)
# share, sourced by each: a seeded plaza with central, and the invariants
# checked in SQL once the faults are over and everything has drained.
#
# The plaza: a throwaway PostgreSQL; toll-central with its list publisher;
# two stations, each its own toll-lane and its own toll-sim:
#   station 101, lanes 1-3: toll-lane "A", toll-sim "A" (3 lanes)
#   station 102, lane 1:    toll-lane "B", toll-sim "B" (1 lane)
# every lane with its own key registered at central and following central's
# tag status list (list.central_key).  Optionally a toll-sim relay sits
# between the lanes and central (the uplink and both list sockets).
#
# The money: 80 accounts funded by opening entries from a partner account
# (most well funded, some able to pay a toll or two, some blocked), 2,000
# tags on 80 accounts' vehicles (some blocked, some unknown to central).
# The traffic: `toll-sim gen` scenarios from the seed, each vehicle with a
# tag of its own (a vehicle charged twice is then a tag charged twice).
#
# The seed: $TOLL_SEED, or random; printed first.  TOLL_SEED=N bash
# tests/integration/test_fault_X.sh replays the traffic, the relay's
# faults and the simulated readers' boot ids (the interleaving of real
# processes is not replayed).  FAULT_RATE (vehicles an hour per lane, 4000),
# FAULT_DURATION (s, 40; the outage test 45) and FAULT_SCALE (toll-sim --time-scale, 2: vehicles
# and barriers twice as fast, the lanes' waits halved) size the traffic.
#
# The invariants (fault_check), after a drain (every lane's transactions
# acknowledged) and a quiet period (no new list version):
#   money:    the balances sum to zero; each balance is its ledger entries;
#             the fees the journals charged are the tolls posted
#   once:     per tag, no more tolls posted than vehicles the scenario sent
#             with it; no transaction posted twice; posted <=> one entry
#   present:  every journal transaction is at central (station, lane, seq
#             and transaction id), nothing at central that no journal has,
#             nothing quarantined (any quarantined row is printed)
#   in order: per lane, seqs 1..max once each at central, max = the
#             journal's last, lane_progress at max, no open gap
#   list:     every toll-lane at max(list_deltas.version)
#   journals: every lane's journal verifies with its key
# FAULT_BREAK='SQL' runs that statement (as the owner) just before the
# checks: a way to see them fail (e.g. "UPDATE accounts SET balance_vnd =
# balance_vnd + 1 WHERE id = 1001").

set -u
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=${TOLL_BIN:-$top/build/bin}
fault_name=$(basename "$0" .sh)
seed=${TOLL_SEED:-$(((RANDOM << 15) | RANDOM))}
echo "$fault_name: seed $seed (replay: TOLL_SEED=$seed bash tests/integration/$fault_name.sh)"
pass=0
fail=0
check() {
	local name=$1
	shift
	if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $name"; fi
}
# A check without which the rest means nothing: on failure, stop here.
require() {
	local before=$fail
	check "$@"
	[ "$fail" -eq "$before" ] || { echo "giving up (seed $seed)"; exit 1; }
}
# A check on an SQL value: check_sql NAME EXPECTED QUERY [DETAIL-QUERY]
# (the detail query's rows are printed when the check fails).
check_sql() {
	local name=$1 want=$2 sql=$3 detail=${4:-} got
	got=$(q -c "$sql" 2>&1)
	if [ "$got" = "$want" ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: $name: got '$got', want '$want'"
		[ -n "$detail" ] && q -c "$detail" 2>&1 | head -20 | sed 's/^/    /'
	fi
	return 0
}
q() { psql -qtA -v ON_ERROR_STOP=1 "$@"; }
say() { echo "[$(date +%T)] $*"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/toll-$fault_name.XXXXXX")
chmod 755 "$work"
central_pid='' relay_pid=''
declare -A lane_pid=([A]='' [B]='') sim_pid=([A]='' [B]='')
declare -A station=([A]=101 [B]=102) nlanes=([A]=3 [B]=1)
procs="A B"
fault_cleanup() {
	for p in ${lane_pid[A]} ${lane_pid[B]} ${sim_pid[A]} ${sim_pid[B]} $relay_pid $central_pid; do
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	env -u DATABASE_URL "$top/scripts/pg-embedded" stop "$work/pg" >/dev/null 2>&1
	if [ "$fail" -eq 0 ]; then rm -rf "$work"; else echo "kept $work (seed $seed)"; fi
}
trap fault_cleanup EXIT

# wait_for SECONDS COMMAND...: poll every 0.2 s until the command succeeds
wait_for() {
	local n=$(($1 * 5))
	shift
	for _ in $(seq 1 "$n"); do
		"$@" && return 0
		sleep 0.2
	done
	return 1
}

# ---- ports ----------------------------------------------------------------
# base+0 central uplink, +1 list publish, +2 list requests, +3..5 the relay
# (uplink, publish, requests), +6..8 toll-sim A, +9 toll-sim B
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 1 50); do
	base=$((20000 + RANDOM % 40000))
	ok=1
	for k in $(seq 0 9); do port_free $((base + k)) || ok=0; done
	[ $ok = 1 ] && break
done
cport=$base pport=$((base + 1)) rport=$((base + 2))
declare -A simport=([A]=$((base + 6)) [B]=$((base + 9)))
# where the lanes reach central: directly, or through the relay
lane_up=$cport lane_pub=$pport lane_req=$rport

# ---- database, keys, accounts, tags -------------------------------------
unset DATABASE_URL
set -a
eval "$("$top/scripts/pg-embedded" start "$work/pg")" || exit 1
set +a
"$bin/toll-central" --migrate >"$work/migrate.log" 2>&1
require "migrate" test $? -eq 0
"$bin/toll-central" keygen "$work/list.key" >"$work/listkey.txt"
listpub=$(awk '/public key/ {print $3}' "$work/listkey.txt")
keys_sql=
for p in $procs; do
	for ((k = 0; k < nlanes[$p]; k++)); do
		"$bin/toll-lane" keygen "$work/lane$p$k.key" >"$work/lane$p$k.pub"
		pub=$(awk '/public key/ {print $3}' "$work/lane$p$k.pub")
		keys_sql+="INSERT INTO lanes (station_id, lane_id) VALUES (${station[$p]}, $((k + 1)));
INSERT INTO lane_keys (station_id, lane_id, key_id, public_key, valid_from) VALUES (${station[$p]}, $((k + 1)),
  substring(sha256('\\x$pub'::bytea) from 1 for 4), '\\x$pub'::bytea, now() - interval '1 day');
"
	done
done
# accounts 1001..1064 hold 3,000,000 VND; 1065..1074 60,000 (a toll or two,
# then refused); 1075..1080 are blocked.  Tag i (1..2000) is on vehicle i of
# account 1001 + (i - 1) % 80, class 2 for every fifth; tags with i % 31 = 0
# are blocked; tags with i % 23 = 0 are not at central at all.
psql -q -v ON_ERROR_STOP=1 >"$work/psql.log" 2>&1 <<EOF
INSERT INTO accounts (id, kind) VALUES (1000000000101, 'revenue'), (1000000000102, 'revenue'), (2000000000001, 'partner');
INSERT INTO accounts (id, kind, balance_vnd, status, blocked_reason)
  SELECT a, 'customer', CASE WHEN a <= 1064 THEN 3000000 WHEN a <= 1074 THEN 60000 ELSE 500000 END,
         CASE WHEN a <= 1064 THEN 0 WHEN a <= 1074 THEN 1 ELSE 2 END, CASE WHEN a <= 1074 THEN 0 ELSE 1 END
  FROM generate_series(1001, 1080) a;
INSERT INTO ledger_entries (kind, reference, debit_account, credit_account, amount_vnd)
  SELECT 'opening', 'fault test', 2000000000001, id, balance_vnd FROM accounts WHERE kind = 'customer';
UPDATE accounts SET balance_vnd = -(SELECT sum(balance_vnd) FROM accounts WHERE kind = 'customer') WHERE id = 2000000000001;
INSERT INTO stations (id, role, revenue_account_id) VALUES (101, 'open', 1000000000101), (102, 'open', 1000000000102);
$keys_sql
INSERT INTO vehicles (id, account_id, vclass, plate)
  SELECT i, 1001 + (i - 1) % 80, CASE WHEN i % 5 = 0 THEN 2 ELSE 1 END, '51A' || lpad(i::text, 5, '0')
  FROM generate_series(1, 2000) i;
INSERT INTO tags (epc_hex, vehicle_id, status, reason)
  SELECT '30340000000000000000' || lpad(to_hex(i), 4, '0'), i, CASE WHEN i % 31 = 0 THEN 2 ELSE 0 END,
         CASE WHEN i % 31 = 0 THEN 1 ELSE 0 END
  FROM generate_series(1, 2000) i WHERE i % 23 <> 0;
EOF
require "accounts, vehicles, tags, stations, lanes and keys" test $? -eq 0
cat >"$work/tariff.txt" <<EOF
toll-tariff 1
version 2026120201
open 101 35000 50000 75000 120000 180000
open 102 25000 35000 50000 80000 120000
EOF

# ---- the traffic ----------------------------------------------------------
# A scenario per station from the seed; then each vehicle gets a tag of its
# own, in order (station A from tag 1, B from tag 1201), with its class.
rate=${FAULT_RATE:-4000}
duration=${FAULT_DURATION:-40}
scale=${FAULT_SCALE:-2}
fault_scenarios() {
	local p first s=$seed
	for p in $procs; do
		first=1
		[ "$p" = B ] && first=1201
		"$bin/toll-sim" gen --seed "$s" --lanes "${nlanes[$p]}" --duration "$duration" --rate "$rate" \
			2>>"$work/gen.log" | awk -v next_tag="$first" '
			$2 == "vehicle" && / epc=/ {
				i = next_tag++
				sub(/epc=[0-9a-f]+/, sprintf("epc=30340000000000000000%04x", i))
				sub(/class=[0-9]/, "class=" (i % 5 == 0 ? 2 : 1))
			}
			{ print }' >"$work/scenario$p.txt"
		s=$((s + 1))
	done
	# vehicles sent per tag, for the at-most-once check
	cat "$work"/scenario?.txt | sed -n 's/.* vehicle .*epc=\([0-9a-f]*\).*/\1/p' | sort | uniq -c |
		awk '{print $2 "," $1}' >"$work/sent.csv"
	say "traffic: $(cat "$work"/scenario?.txt | grep -c ' vehicle ') vehicles over $duration s ($rate an hour a lane)"
}
fault_scenarios

# ---- the processes --------------------------------------------------------
start_central() {
	"$bin/toll-central" run --set "listen=tcp://127.0.0.1:$cport" --set "control.socket=$work/c.sock" \
		--set "list.key=$work/list.key" --set "list.publish=tcp://127.0.0.1:$pport" \
		--set "list.listen=tcp://127.0.0.1:$rport" --set "list.dir=$work/clist" \
		--set db.retry_max=500ms >>"$work/central.log" 2>&1 &
	central_pid=$!
}
central_status() { "$bin/toll-central" status --socket "$work/c.sock" 2>/dev/null; }
central_ready() { central_status | grep -q '^database up' && central_status | grep -q '^list publishing'; }
kill_central() {
	kill -9 "$central_pid"
	{ wait "$central_pid"; } 2>/dev/null
	central_pid=
}

# route everything the lanes send to central through a relay: fault_relay ARGS...
fault_relay() {
	lane_up=$((base + 3)) lane_pub=$((base + 4)) lane_req=$((base + 5))
	"$bin/toll-sim" relay --seed "$seed" --ctl "$work/relay.sock" \
		--listen "127.0.0.1:$lane_up" --connect "127.0.0.1:$cport" \
		--listen "127.0.0.1:$lane_pub" --connect "127.0.0.1:$pport" \
		--listen "127.0.0.1:$lane_req" --connect "127.0.0.1:$rport" "$@" >"$work/relay.log" 2>&1 &
	relay_pid=$!
	require "the relay starts" wait_for 20 relay_ctl stats
}
relay_ctl() { "$bin/toll-sim" ctl --ctl "$work/relay.sock" "$@" >>"$work/relay-ctl.log" 2>&1; }
relay_stats() { "$bin/toll-sim" ctl --ctl "$work/relay.sock" stats 2>/dev/null; }

start_lane() {
	local p=$1 k sets=()
	for ((k = 0; k < nlanes[$p]; k++)); do
		sets+=(--set "lane.$k.key=$work/lane$p$k.key" --set "lane.$k.reader=tcp:127.0.0.1:$((simport[$p] + k))")
	done
	"$bin/toll-lane" run --set "lanes=${nlanes[$p]}" --set "station.id=${station[$p]}" "${sets[@]}" \
		--set "state.dir=$work/s$p" --set "tariff.file=$work/tariff.txt" --set "control.socket=$work/l$p.sock" \
		--set "central.url=tcp://127.0.0.1:$lane_up" --set central.timeout=1s --set central.batch=16 \
		--set plaza.suppress=60s --set "lane.read_hold=$((1000 / scale))ms" \
		--set "lane.tag_wait=$((1500 / scale > 100 ? 1500 / scale : 100))ms" \
		--set "lane.recheck=$((2000 / scale > 100 ? 2000 / scale : 100))ms" --set "list.central_key=$listpub" \
		--set "lane.head_expire=$((10000 / scale > 1000 ? 10000 / scale : 1000))ms" \
		--set "list.subscribe=tcp://127.0.0.1:$lane_pub" --set "list.request=tcp://127.0.0.1:$lane_req" \
		>>"$work/lane$p.log" 2>&1 &
	lane_pid[$p]=$!
}
kill_lane() {
	kill -9 "${lane_pid[$1]}"
	{ wait "${lane_pid[$1]}"; } 2>/dev/null
	lane_pid[$1]=
}
lane_status() { "$bin/toll-lane" status --socket "$work/l$1.sock" 2>/dev/null; }
# per lane of toll-lane $1: "ID TXN_SEQ CENTRAL_ACKED UPLINK-STATE"
lane_table() {
	lane_status "$1" | awk '
		/^lane [0-9]+ / { l = $2; ids[++n] = l; for (i = 1; i <= NF; i++) if ($i ~ /^txn_seq=/) t[l] = substr($i, 9) }
		/^  uplink / { c[l] = $2; for (i = 1; i <= NF; i++) if ($i ~ /^central_acked=/) a[l] = substr($i, 15) }
		END { for (j = 1; j <= n; j++) print ids[j], t[ids[j]], a[ids[j]], c[ids[j]] }'
}
list_version() { lane_status "$1" | sed -n 's/^list version=\([0-9]*\).*/\1/p'; }
# transactions made by every lane of every toll-lane (what is running)
txns_made() {
	local p n=0 t
	for p in $procs; do
		for t in $(lane_table "$p" | awk '{print $2}'); do n=$((n + t)); done
	done
	echo "$n"
}
txns_at_least() { [ "$(txns_made)" -ge "$1" ]; }
lane_txns_at_least() { local t; t=$(lane_table "$1" | awk '{s += $2} END {print s + 0}'); [ "$t" -ge "$2" ]; }
lane_ready() {
	local v
	v=$(list_version "$1")
	[ -n "$v" ] && [ "$v" -ge 1 ] && [ "$(lane_table "$1" | grep -c ' connected$')" = "${nlanes[$1]}" ]
}

start_sim() {
	local p=$1
	"$bin/toll-sim" devices --listen "127.0.0.1:${simport[$p]}" --lanes "${nlanes[$p]}" --ctl "$work/sim$p.sock" \
		--scenario "$work/scenario$p.txt" --seed "$seed" --time-scale "$scale" --quiet --max-wait-ms 4000 >"$work/sim$p.log" 2>&1 &
	sim_pid[$p]=$!
}
sim_ctl() { local p=$1; shift; "$bin/toll-sim" ctl --ctl "$work/sim$p.sock" "$@" >>"$work/sim-ctl.log" 2>&1; }

# What a toll-lane is doing (stuck?): the end of its log and, with gdb, its
# threads' frames in the project's code and in NNG's API.
fault_diagnose() {
	local p=$1
	echo "toll-lane $p (pid ${lane_pid[$p]}): the end of its log:"
	tail -n 5 "$work/lane$p.log" | sed 's/^/    /'
	if [ -n "${lane_pid[$p]}" ] && command -v gdb >/dev/null; then
		echo "toll-lane $p: where its threads are (gdb):"
		gdb -p "${lane_pid[$p]}" -batch -ex 'thread apply all bt' 2>/dev/null |
			grep -E '^Thread |^#[0-9]+ .* (nng_[a-z_0-9]+ |in [a-z_0-9]+ \(.* at (lane-controller|common)/)' |
			grep -B1 -E '^#' | grep -v '^--' | head -40 | sed 's/^/    /'
	fi
}

# Central, both toll-lanes (ready: the list from central, the uplink
# connected), then the traffic.
fault_start() {
	mkdir -p "$work/sA" "$work/sB"
	start_central
	require "central up" wait_for 60 central_ready
	for p in $procs; do start_lane "$p"; done
	for p in $procs; do
		wait_for 60 lane_ready "$p" || fault_diagnose "$p"
		require "toll-lane $p ready (central's list, uplink connected)" lane_ready "$p"
	done
	for p in $procs; do start_sim "$p"; done
	for p in $procs; do require "toll-sim $p up" wait_for 30 sim_ctl "$p" stats; done
	say "traffic started"
}

# PostgreSQL stopped and started again (fast shutdown; the same port)
pg_stop() { env -u DATABASE_URL "$top/scripts/pg-embedded" stop "$work/pg" >>"$work/pg-restart.log" 2>&1; }
pg_start() { env -u DATABASE_URL "$top/scripts/pg-embedded" start "$work/pg" >>"$work/pg-restart.log" 2>&1; }

# Until both simulators have played their scenario and the road is empty.
fault_traffic_done() {
	local p
	for p in $procs; do
		check "toll-sim $p played its scenario" sim_ctl "$p" wait-idle ms=300000
	done
	say "traffic done: $(txns_made) transactions made"
}

# ---- drain and check ------------------------------------------------------
drained() {
	local p
	for p in $procs; do
		[ "$(lane_table "$p" | awk '$2 != $3 || $4 != "connected"' | wc -l)" = 0 ] || return 1
		[ "$(lane_table "$p" | wc -l)" = "${nlanes[$p]}" ] || return 1
	done
}
central_version() { q -c "SELECT COALESCE(max(version), 0) FROM list_deltas"; }
# the publisher made no new version for 3 s
list_quiet() {
	local v
	v=$(central_version)
	sleep 3
	[ "$(central_version)" = "$v" ]
}
lanes_at_version() {
	local p v
	v=$(central_version)
	for p in $procs; do [ "$(list_version "$p")" = "$v" ] || return 1; done
}

fault_check() {
	local p k l want
	check "drained: every lane's transactions acknowledged by central" wait_for 180 drained
	for p in $procs; do lane_table "$p" | sed "s/^/toll-lane $p: lane /"; done
	check "the list is quiet at central" wait_for 60 list_quiet
	check "every toll-lane at central's latest list version" wait_for 60 lanes_at_version
	for p in $procs; do
		echo "toll-lane $p: $(lane_status "$p" | grep '^list ')"
		[ "$(list_version "$p")" = "$(central_version)" ] || fault_diagnose "$p"
		check "toll-lane $p: list version $(list_version "$p") = central's $(central_version)" \
			test "$(list_version "$p")" = "$(central_version)"
	done
	say "central: $(central_status | sed -n 2,3p | tr '\n' ' ')"
	# the lanes stop (SIGTERM) so their journals can be read
	for p in $procs; do
		kill "${lane_pid[$p]}"
		wait "${lane_pid[$p]}" 2>/dev/null
		lane_pid[$p]=
	done
	q >>"$work/psql.log" 2>&1 <<EOF
DROP SCHEMA IF EXISTS fault CASCADE;
CREATE SCHEMA fault;
CREATE TABLE fault.journal (station int, lane int, lane_seq bigint, txn_id text, time_ms bigint,
  utc_offset_min int, epc text, tid text, account bigint, class int, outcome text, fee_vnd bigint,
  flags bigint, entry_station bigint, entry_time_ms bigint, reader_boot text, reader_seq bigint,
  rssi int, key_id text);
CREATE TABLE fault.sent (epc text PRIMARY KEY, n int NOT NULL);
EOF
	q -c "\\copy fault.sent FROM '$work/sent.csv' WITH (FORMAT csv)" >>"$work/psql.log" 2>&1
	check "the scenarios' tags loaded" test $? -eq 0
	for p in $procs; do
		for ((k = 0; k < nlanes[$p]; k++)); do
			l=$((k + 1))
			"$bin/toll-lane" journal verify "$work/s$p/lane-$l/journal" --key "$work/lane$p$k.key" \
				>"$work/verify$p$l.log" 2>&1
			check "station ${station[$p]} lane $l: the journal verifies ($(tail -1 "$work/verify$p$l.log"))" \
				test $? -eq 0
			"$bin/toll-lane" journal dump "$work/s$p/lane-$l/journal" --csv >"$work/journal$p$l.csv" 2>>"$work/dump.log"
			check "station ${station[$p]} lane $l: journal dump" test $? -eq 0
			q -c "\\copy fault.journal FROM '$work/journal$p$l.csv' WITH (FORMAT csv, HEADER true)" \
				>>"$work/psql.log" 2>&1
			check "station ${station[$p]} lane $l: journal loaded" test $? -eq 0
		done
	done
	if [ -n "${FAULT_BREAK:-}" ]; then
		echo "FAULT_BREAK: $FAULT_BREAK"
		require "FAULT_BREAK applied" q -c "$FAULT_BREAK"
	fi
	say "$(q -c "SELECT count(*) || ' journal transactions, ' || count(*) FILTER (WHERE outcome = 'paid') || ' paid, ' ||
		count(*) FILTER (WHERE outcome LIKE 'refused%') || ' refused, ' || count(*) FILTER (WHERE outcome = 'unknown-tag') ||
		' unknown tags, ' || count(*) FILTER (WHERE outcome = 'no-tag') || ' without a tag' FROM fault.journal")"
	say "$(q -c "SELECT count(*) || ' at central, ' || count(*) FILTER (WHERE disposition = 'posted') || ' posted' FROM transactions")"
	check_sql "something was posted" t "SELECT count(*) > 0 FROM transactions WHERE disposition = 'posted'"

	# money conserved
	check_sql "money: the balances sum to zero" 0 "SELECT COALESCE(sum(balance_vnd), 0) FROM accounts"
	check_sql "money: every balance is its ledger entries" 0 \
		"SELECT count(*) FROM accounts a WHERE balance_vnd <> COALESCE((SELECT sum(amount_vnd) FROM ledger_entries WHERE credit_account = a.id), 0) - COALESCE((SELECT sum(amount_vnd) FROM ledger_entries WHERE debit_account = a.id), 0)" \
		"SELECT id, balance_vnd, COALESCE((SELECT sum(amount_vnd) FROM ledger_entries WHERE credit_account = a.id), 0) - COALESCE((SELECT sum(amount_vnd) FROM ledger_entries WHERE debit_account = a.id), 0) AS entries FROM accounts a WHERE balance_vnd <> COALESCE((SELECT sum(amount_vnd) FROM ledger_entries WHERE credit_account = a.id), 0) - COALESCE((SELECT sum(amount_vnd) FROM ledger_entries WHERE debit_account = a.id), 0)"
	check_sql "money: the fees the lanes charged are the tolls posted (or held for an unknown account)" t \
		"SELECT (SELECT COALESCE(sum(fee_vnd), 0) FROM fault.journal WHERE outcome = 'paid') = (SELECT COALESCE(sum(amount_vnd), 0) FROM ledger_entries WHERE kind = 'toll') + (SELECT COALESCE(sum(fee_vnd), 0) FROM transactions WHERE disposition = 'account_not_found')" \
		"SELECT (SELECT sum(fee_vnd) FROM fault.journal WHERE outcome = 'paid') AS journal_fees, (SELECT sum(amount_vnd) FROM ledger_entries WHERE kind = 'toll') AS tolls"
	check_sql "money: the revenue accounts hold the tolls" t \
		"SELECT (SELECT COALESCE(sum(balance_vnd), 0) FROM accounts WHERE kind = 'revenue') = (SELECT COALESCE(sum(amount_vnd), 0) FROM ledger_entries WHERE kind = 'toll')"

	# every vehicle charged at most once
	check_sql "once: no tag charged more often than vehicles carried it" 0 \
		"SELECT count(*) FROM (SELECT t.epc_hex, count(*) AS c FROM ledger_entries l JOIN transactions t USING (txn_id) WHERE l.kind = 'toll' GROUP BY t.epc_hex) x LEFT JOIN fault.sent s ON s.epc = x.epc_hex WHERE x.c > COALESCE(s.n, 0)" \
		"SELECT x.epc_hex, x.c AS tolls, s.n AS vehicles, (SELECT string_agg('station ' || t.station_id || ' lane ' || t.lane_id || ' seq ' || t.lane_seq || ' at ' || to_char(to_timestamp(t.time_ms / 1000.0), 'HH24:MI:SS.MS'), ', ' ORDER BY t.time_ms) FROM transactions t WHERE t.epc_hex = x.epc_hex AND t.disposition = 'posted') AS posted FROM (SELECT t.epc_hex, count(*) AS c FROM ledger_entries l JOIN transactions t USING (txn_id) WHERE l.kind = 'toll' GROUP BY t.epc_hex) x LEFT JOIN fault.sent s ON s.epc = x.epc_hex WHERE x.c > COALESCE(s.n, 0)"
	check_sql "once: no transaction posted twice" 0 \
		"SELECT count(*) - count(DISTINCT txn_id) FROM ledger_entries WHERE kind = 'toll'"
	check_sql "once: posted <=> exactly one toll entry" 0 \
		"SELECT count(*) FROM transactions t WHERE (disposition = 'posted') <> ((SELECT count(*) FROM ledger_entries l WHERE l.txn_id = t.txn_id AND l.kind = 'toll') = 1)"
	check_sql "once: no transaction id twice in the journals" 0 \
		"SELECT count(*) - count(DISTINCT txn_id) FROM fault.journal"

	# every acknowledged record present (after the drain: every record)
	check_sql "present: every journal transaction is at central" 0 \
		"SELECT count(*) FROM fault.journal j WHERE NOT EXISTS (SELECT 1 FROM transactions t WHERE t.station_id = j.station AND t.lane_id = j.lane AND t.lane_seq = j.lane_seq AND replace(t.txn_id::text, '-', '') = j.txn_id) AND NOT EXISTS (SELECT 1 FROM quarantine x WHERE x.station_id = j.station AND x.lane_id = j.lane AND x.lane_seq = j.lane_seq)" \
		"SELECT station, lane, lane_seq, txn_id, outcome FROM fault.journal j WHERE NOT EXISTS (SELECT 1 FROM transactions t WHERE t.station_id = j.station AND t.lane_id = j.lane AND t.lane_seq = j.lane_seq AND replace(t.txn_id::text, '-', '') = j.txn_id) ORDER BY 1, 2, 3"
	check_sql "present: nothing at central that no journal holds" 0 \
		"SELECT count(*) FROM transactions t WHERE NOT EXISTS (SELECT 1 FROM fault.journal j WHERE t.station_id = j.station AND t.lane_id = j.lane AND t.lane_seq = j.lane_seq AND replace(t.txn_id::text, '-', '') = j.txn_id)"
	check_sql "present: nothing quarantined" 0 "SELECT count(*) FROM quarantine" \
		"SELECT station_id, lane_id, lane_seq, reason, seen FROM quarantine ORDER BY 1, 2, 3"

	# every lane's sequence contiguous at central
	for p in $procs; do
		for ((k = 0; k < nlanes[$p]; k++)); do
			l=$((k + 1))
			want=$(q -c "SELECT COALESCE(max(lane_seq), 0) FROM fault.journal WHERE station = ${station[$p]} AND lane = $l")
			check_sql "in order: station ${station[$p]} lane $l: seqs 1..$want once each" "$want $want $want" \
				"SELECT count(*) || ' ' || count(DISTINCT lane_seq) || ' ' || COALESCE(max(lane_seq), 0) FROM transactions WHERE station_id = ${station[$p]} AND lane_id = $l"
			check_sql "in order: station ${station[$p]} lane $l: lane_progress at $want" "$want" \
				"SELECT COALESCE((SELECT acked_seq FROM lane_progress WHERE station_id = ${station[$p]} AND lane_id = $l), 0)"
		done
	done
	check_sql "in order: no open gap" 0 "SELECT count(*) FROM gaps WHERE filled_at IS NULL" \
		"SELECT station_id, lane_id, from_seq, to_seq FROM gaps WHERE filled_at IS NULL"
}

fault_finish() {
	if [ -n "$relay_pid" ]; then
		kill "$relay_pid"
		wait "$relay_pid" 2>/dev/null
		relay_pid=
		sed -n '/stopping/,$p' "$work/relay.log"
	fi
	for p in $procs; do
		if [ -n "${sim_pid[$p]}" ]; then
			kill "${sim_pid[$p]}"
			wait "${sim_pid[$p]}" 2>/dev/null
			sim_pid[$p]=
		fi
	done
	if [ -n "$central_pid" ]; then
		kill "$central_pid"
		wait "$central_pid" 2>/dev/null
		central_pid=
	fi
	[ "$fail" -ne 0 ] && echo "seed $seed: replay with TOLL_SEED=$seed bash tests/integration/$fault_name.sh"
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}

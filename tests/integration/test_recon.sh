#!/usr/bin/env bash
# Reconciliation end to end (docs/reconciliation.md, docs/partner-file.md):
# a real toll-central on a throwaway PostgreSQL, toll-sim's devices, two
# toll-lane processes at station 101 (lane 1 streams to central; lane 2's
# uplink points where nothing listens, a plaza cut off), a partner's
# top-ups through the API's own SQL functions.  Then known disagreements,
# and toll-admin must report exactly those and nothing else:
#   - partner file: the day's file (cut-off at midnight station time, the
#     trailer's count, total and SHA-256 computed here by sha256sum); the
#     file against itself: no difference; the partner's version with a
#     top-up missing, one central never had, another amount, a reversal
#     written as a top-up and the trailer left as it was: those six lines;
#     a file without header and trailer: those two; a broken file refused;
#   - lanes: lane 1's key revoked before its last vehicle (central
#     quarantines that record), an open gap recorded at central, lane 2's
#     records never sent: exactly three differences; an older copy of lane
#     1's journal: the records after it reported as extra at central;
#   - corrections: a partial refund, the same one again refused, an
#     over-refund refused, the rest refunded, a charge for a wrong class,
#     refusals (not posted, unknown, exit-without-entry on an open road);
#     the statement shows them; the ledger's invariants hold; the lanes'
#     reconciliation is unchanged;
#   - exports and the reporting role: views readable as toll_report, the
#     tables not.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${TOLL_BIN:-$top/build/bin}
pass=0
fail=0
check() {
	local name=$1
	shift
	if "$@"; then
		pass=$((pass + 1))
		echo "ok    $name"
	else
		fail=$((fail + 1))
		echo "FAIL  $name"
	fi
}
work=$(mktemp -d "${TMPDIR:-/tmp}/toll-recon.XXXXXX")
chmod 755 "$work"
sim_pid= central_pid= lane_a= lane_b=
cleanup() {
	for p in $lane_a $lane_b $sim_pid $central_pid; do kill -9 "$p" 2>/dev/null; done
	{ wait; } 2>/dev/null
	"$top/scripts/pg-embedded" stop "$work/pg" >/dev/null 2>&1
	if [ "$fail" -eq 0 ]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT
unset DATABASE_URL
set -a
eval "$("$top/scripts/pg-embedded" start "$work/pg")" || exit 1
set +a
export LC_ALL=C
q() { psql -X -qtA -v ON_ERROR_STOP=1 "$@"; }
sqlis() { [ "$(q -c "$1")" = "$2" ]; }
eq() { [ "$1" = "$2" ] || { echo "      got '$1', want '$2'"; return 1; }; }
has() { grep -qF -- "$2" <<<"$1"; }
# adm STATUS ARGS...: toll-admin, its exit status wanted; stdout in $work/out, stderr in $work/err
adm() {
	local want=$1 rc=0
	shift
	"$bin/toll-admin" "$@" >"$work/out" 2>"$work/err" || rc=$?
	echo "toll-admin $* -> $rc" >>"$work/admin.log"
	cat "$work/out" "$work/err" >>"$work/admin.log"
	if [ "$rc" -ne "$want" ]; then
		echo "      toll-admin $* -> exit $rc, want $want; $(head -c 600 "$work/err")"
		return 1
	fi
}
wait_for() {
	local n=$(($1 * 10))
	shift
	for _ in $(seq 1 "$n"); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
# the DIFFERS rows of a reconcile lanes CSV, without the detail
differs() { grep ',DIFFERS'$'\r''$' "$1" | cut -d, -f1-8 | sort; }

"$bin/toll-central" --migrate >"$work/migrate.log" 2>&1
check "migrate (007_recon.sql among them)" grep -q "007_recon.sql" "$work/migrate.log"

# the day is the stations' (Asia/Ho_Chi_Minh); close to its midnight, wait
# for the next one so the whole test lives in one day
left=$(q -c "SELECT extract(epoch FROM ((toll_today() + 1)::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh') - now())::int")
if [ "$left" -lt 240 ]; then
	echo "# $left s to midnight, station time: waiting for the next day"
	sleep $((left + 2))
fi
day=$(q -c "SELECT to_char(toll_today(), 'YYYY-MM-DD')")
yesterday=$(q -c "SELECT to_char(toll_today() - 1, 'YYYY-MM-DD')")
echo "# day $day (station time)"

echo "# partners"
check "partner add: bad id refused" adm 2 partner add Bank1 2000000000001
check "partner add: --max below --min refused" adm 2 partner add bank1 2000000000001 --min 100000 --max 5000
check "partner add bank1" adm 0 --csv partner add bank1 2000000000001 --name "Bank One"
secret=$(sed -n '2p' "$work/out" | tr -d '\r' | awk -F, '{print $NF}')
check "the secret is shown once, 64 hex digits" grep -qE '^[0-9a-f]{64}$' <<<"$secret"
check "and it is the one stored" sqlis "SELECT encode(secret, 'hex') FROM partners WHERE id = 'bank1'" "$secret"
check "with a warning to keep it safe" grep -q "shown this once" "$work/err"
check "its ledger account made, kind partner" sqlis "SELECT kind FROM accounts WHERE id = 2000000000001" partner
check "partner add again refused" adm 1 partner add bank1 2000000000009
check "another partner on the same account refused" adm 1 partner add wallet2 2000000000001
check "partner list" adm 0 partner list
check "  never shows the secret" test "$(grep -c "$secret" "$work/out")" = 0
check "partner deactivate" adm 0 partner deactivate bank1
check "  inactive" sqlis "SELECT active FROM partners WHERE id = 'bank1'" f
check "partner activate" adm 0 partner activate bank1
check "partner deactivate of an unknown partner refused" adm 1 partner deactivate nobank

echo "# accounts, vehicles, tags, a station with two lanes"
check "tariff" adm 0 tariff load "$top/tests/data/tariff/sample.tariff"
check "station 101" adm 0 station add 101 --role open
for l in 1 2; do
	"$bin/toll-lane" keygen "$work/lane$l.key" >"$work/lane$l.pub"
	check "lane $l" adm 0 lane add 101 "$l"
	check "lane $l key" adm 0 lane key add 101 "$l" "$(awk '/public key/ {print $3}' "$work/lane$l.pub")"
done
kid1=$(awk '/key id/ {print $3}' "$work/lane1.pub")
for a in 1001:1 1002:2 1003:1 1004:1; do
	acc=${a%:*} cls=${a#*:}
	adm 0 account add "$acc" && adm 0 --csv vehicle add "$acc" "$cls" "51A0$acc" &&
		veh=$(sed -n '2s/,.*//p' "$work/out") && adm 0 tag add "30340000000000000000$acc" "$veh"
	check "account $acc, class $cls" test $? -eq 0
done
# top-ups, as the API makes them (its SQL functions, as toll_app)
topup() { # REF ACCOUNT AMOUNT
	q -c "SET ROLE toll_app" -c "SELECT http_status FROM toll_api_topup('bank1', sha256('sig-$1'::bytea), 'key-$1',
		sha256('req-$1'::bytea), '$1', $2, NULL, NULL, $3)"
}
check "top-up B1-0001" eq "$(topup B1-0001 1001 1000000)" 201
check "top-up B1-0002" eq "$(topup B1-0002 1002 500000)" 201
check "top-up B1-0003" eq "$(topup B1-0003 1003 300000)" 201
check "top-up B1-0004" eq "$(topup B1-0004 1004 100000)" 201
# one the second before today's midnight (yesterday's), one at midnight:
# entry, balances and top-up row as toll_api_topup writes them, the time
# set by hand (the owner; the table is append-only, not time-stamped by force)
q >>"$work/psql.log" 2>&1 <<EOF
BEGIN;
WITH t(ref, at, amount) AS (VALUES
	('B1-EDGE-0', ('$day'::date::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh') - interval '1 millisecond', 50000),
	('B1-EDGE-1', ('$day'::date::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'), 60000)),
 e AS (INSERT INTO ledger_entries (kind, reference, debit_account, credit_account, amount_vnd, created_at)
	SELECT 'topup', 'bank1:' || ref, 2000000000001, 1003, amount, at FROM t RETURNING id, reference, amount_vnd, created_at)
INSERT INTO topups (partner_id, idem_key, request_sha256, kind, partner_ref, account_id, amount_vnd, ledger_id,
	http_status, response, created_at)
	SELECT 'bank1', 'key-' || e.reference, sha256(e.reference::bytea), 'topup', substring(e.reference FROM 7), 1003,
	e.amount_vnd, e.id, 201, '{}', e.created_at FROM e;
UPDATE accounts SET balance_vnd = balance_vnd + 110000 WHERE id = 1003;
UPDATE accounts SET balance_vnd = balance_vnd - 110000 WHERE id = 2000000000001;
COMMIT;
EOF
check "top-ups at the day's edges" sqlis "SELECT count(*) FROM topups WHERE partner_ref LIKE 'B1-EDGE-%'" 2
check "yesterday's edge top-up reversed today" eq "$(q -c "SET ROLE toll_app" -c "SELECT http_status FROM
	toll_api_reverse('bank1', sha256('sig-rev'::bytea), 'key-rev', sha256('req-rev'::bytea), 'B1-EDGE-0', 'test')")" 201
check "account 1004 blocked" adm 0 account block 1004 stolen

echo "# the partner's daily file"
check "partner file bank1 $day" adm 0 partner file bank1 "$day"
cp "$work/out" "$work/central.csv"
check "  the column names first" eq "$(head -n 1 "$work/central.csv")" $'record,created_at,kind,partner_ref,account_id,amount_vnd,topup_id\r'
check "  then the header" eq "$(sed -n 2p "$work/central.csv")" $'H,toll-partner-file,1,bank1,'"$day"$',Asia/Ho_Chi_Minh,\r'
check "  six rows: four top-ups, midnight's, the reversal" eq "$(grep -c '^D,' "$work/central.csv")" 6
check "  midnight belongs to the day" grep -q "^D,${day}T00:00:00.000+07:00,topup,B1-EDGE-1,1003,60000," "$work/central.csv"
check "  the second before it does not" test "$(grep -c B1-EDGE-0,1003,50000 "$work/central.csv")" = 1
check "  the reversal, in station time" grep -qE "^D,${day}T[0-9:.]{12}\+07:00,reversal,B1-EDGE-0,1003,50000,[0-9]+"$'\r$' "$work/central.csv"
sha=$(grep '^D,' "$work/central.csv" | sha256sum | cut -c1-64)
check "  the trailer: count, top-ups less reversals, SHA-256 of the rows" \
	eq "$(tail -n 1 "$work/central.csv")" "T,6,1910000,$sha,,,"$'\r'
check "partner file bank1 $yesterday" adm 0 partner file bank1 "$yesterday"
check "  yesterday's file: the second before midnight" \
	grep -q "^D,${yesterday}T23:59:59.999+07:00,topup,B1-EDGE-0,1003,50000," "$work/out"
check "  and only it" eq "$(grep -c '^D,' "$work/out")" 1
check "partner file in UTC: midnight's top-up is the day before's" adm 0 partner file bank1 "$yesterday" --tz UTC
check "  17:00 UTC" grep -q "^D,${yesterday}T17:00:00.000+00:00,topup,B1-EDGE-1," "$work/out"
check "an unknown zone refused" adm 1 partner file bank1 "$day" --tz Mars/Olympus
check "an unknown partner refused" adm 1 partner file nobank "$day"

echo "# partner reconcile"
check "central's own file: no difference (exit 0)" adm 0 partner reconcile bank1 "$day" "$work/central.csv"
check "  says so" grep -q "^0 differences" "$work/out"
# the partner's version: B1-0002 missing, B1-9999 unknown to central,
# B1-0001 another amount, the reversal written as a top-up, the trailer
# left as it was
sed -e '/,B1-0002,/d' -e 's/,B1-0001,1001,1000000,/,B1-0001,1001,900000,/' -e 's/,reversal,B1-EDGE-0,/,topup,B1-EDGE-0,/' \
	-e 's/^T,/D,'"$day"'T09:30:00.000+07:00,topup,B1-9999,1002,70000,\r\nT,/' "$work/central.csv" >"$work/partner.csv"
check "the partner's file: differences (exit 1)" adm 1 --csv partner reconcile bank1 "$day" "$work/partner.csv"
cut -d, -f1,3-8 "$work/out" | tr -d '\r' | sort >"$work/got"
cat >"$work/want" <<EOF
amount,topup,B1-0001,,900000,,1000000
difference,kind,partner_ref,file_account,file_amount_vnd,central_account,central_amount_vnd
kind,topup,B1-EDGE-0,1003,50000,1003,50000
missing-at-central,topup,B1-9999,1002,70000,,
missing-in-file,topup,B1-0002,,,1002,500000
trailer-sha256,,,,,,
trailer-total,,,,1910000,,
EOF
check "  exactly: amount, kind, missing at central, missing in the file, the trailer's total and hash" \
	diff -u "$work/want" "$work/got"
check "  each at its line of the file (midnight's first)" grep -q "^amount,4,topup,B1-0001," "$work/out"
check "  the missing one: never at central" grep -q "missing-at-central,.*,no such topup at central" "$work/out"
check "  the message" grep -q "6 differences between the file and the ledger" "$work/err"
# the same rows, LF line ends, no header, no trailer
grep '^D,' "$work/central.csv" | tr -d '\r' >"$work/bare.csv"
check "a file without header and trailer (LF)" adm 1 --csv partner reconcile bank1 "$day" "$work/bare.csv"
check "  exactly: the header and the trailer missing" eq "$(cut -d, -f1 "$work/out" | tr -d '\r' | sort | tr '\n' ' ')" \
	"difference header-missing trailer-missing "
printf 'record,created_at\r\nD,"2026-01-01,topup\r\n' >"$work/broken.csv"
check "a broken file is refused" adm 1 partner reconcile bank1 "$day" "$work/broken.csv"
check "  with its line" grep -q "line 2: a quoted field is not closed" "$work/err"
check "another day's file: the day's rows are missing in it" adm 1 --csv partner reconcile bank1 "$yesterday" "$work/central.csv"
check "  and the header says so" grep -q "^header-day," "$work/out"

echo "# lanes"
"$bin/toll-central" keygen "$work/list.key" >"$work/listkey.txt"
listpub=$(awk '/public key/ {print $3}' "$work/listkey.txt")
port=$((20000 + RANDOM % 12000))
sport=$((port + 7)) # toll-sim: lane 0 (101/1), lane 1 (101/2)
dead=$((port + 5))  # nothing listens here: lane 2's plaza cut off from central
"$bin/toll-central" run --set "listen=tcp://127.0.0.1:$port" --set "control.socket=$work/c.sock" \
	--set "list.key=$work/list.key" --set "list.publish=tcp://127.0.0.1:$((port + 1))" \
	--set "list.listen=tcp://127.0.0.1:$((port + 2))" --set "list.dir=$work/clist" \
	--set keys.refresh=100ms --set db.retry_max=500ms >>"$work/central.log" 2>&1 &
central_pid=$!
"$bin/toll-sim" devices --listen "127.0.0.1:$sport" --lanes 2 --ctl "$work/sim.sock" --seed 11 --quiet \
	--max-wait-ms 4000 >"$work/sim.log" 2>&1 &
sim_pid=$!
start_lane() { # NAME LANE_ID SIM_LANE CENTRAL_PORT
	mkdir -p "$work/s$1"
	"$bin/toll-lane" run --set station.id=101 --set lane.0.id="$2" --set lane.0.key="$work/lane$2.key" \
		--set state.dir="$work/s$1" --set tariff.file="$top/tests/data/tariff/sample.tariff" \
		--set control.socket="$work/l$1.sock" --set lane.0.reader="tcp:127.0.0.1:$((sport + $3))" \
		--set central.url="tcp://127.0.0.1:$4" --set central.timeout=1s --set plaza.suppress=1s \
		--set list.central_key="$listpub" --set "list.subscribe=tcp://127.0.0.1:$((port + 1))" \
		--set "list.request=tcp://127.0.0.1:$((port + 2))" >>"$work/lane$1.log" 2>&1 &
}
start_lane a 1 0 "$port"
lane_a=$!
start_lane b 2 1 "$dead"
lane_b=$!
field() { sed -n "s/.* $1=\([0-9-]*\).*/\1/p" | head -1; }
has_list() { local v; v=$("$bin/toll-lane" status --socket "$work/l$1.sock" 2>/dev/null | grep '^list ' | field version); [ -n "$v" ] && [ "$v" -gt 0 ]; }
check "lane 1 has central's list" wait_for 30 has_list a
check "lane 2 has central's list" wait_for 30 has_list b
ja=$work/sa/lane-1/journal
jb=$work/sb/lane-2/journal
# jcount JOURNAL OUTCOME: the journal's records of that outcome
jcount() { "$bin/toll-lane" journal dump "$1" --csv 2>/dev/null | grep -c ",$2,"; }
jat() { [ "$(jcount "$1" "$2")" -ge "$3" ]; }
central_has() { sqlis "SELECT count(*) FROM transactions WHERE station_id = 101 AND lane_id = 1" "$1"; }
vehicle() { "$bin/toll-sim" ctl --ctl "$work/sim.sock" vehicle lane="$1" epc="30340000000000000000$2" >>"$work/ctl.log" 2>&1; }
idle() { "$bin/toll-sim" ctl --ctl "$work/sim.sock" wait-idle ms=60000 >>"$work/ctl.log" 2>&1; }

vehicle 0 1001
check "lane 1: 1001 pays 35,000" wait_for 20 jat "$ja" paid 1
vehicle 0 1002
check "lane 1: 1002 (class 2) pays 50,000" wait_for 20 jat "$ja" paid 2
check "  both at central" wait_for 20 central_has 2
idle
# a copy of lane 1's journal now (the lane is idle: whole frames only)
cp -a "$ja" "$work/old-journal"
vehicle 0 1004
vehicle 1 1002
check "lane 1: 1004 (blocked) refused" wait_for 20 jat "$ja" refused-invalid 1
vehicle 1 1003
check "lane 2: two paid, journaled" wait_for 30 jat "$jb" paid 2
idle
vehicle 0 1003
check "lane 1: 1003 pays" wait_for 20 jat "$ja" paid 3
idle
made=$("$bin/toll-lane" journal dump "$ja" --csv 2>/dev/null | tail -n +2 | wc -l)
check "lane 1: all $made records at central" wait_for 20 central_has "$made"
# lane 1's key revoked: its next record is quarantined (central reloads
# keys every 100 ms; a second is ten reloads: there is nothing to poll)
check "lane 1's key revoked" adm 0 lane key revoke 101 1 "$kid1" --reason "controller replaced"
sleep 1
vehicle 0 1001
check "lane 1: 1001 pays again, at the lane" wait_for 20 jat "$ja" paid 4
qseq=$((made + 1))
check "  central quarantines it (revoked)" wait_for 20 sqlis \
	"SELECT count(*) FROM quarantine WHERE station_id = 101 AND lane_id = 1 AND lane_seq = $qseq AND reason = 'revoked'" 1
idle
check "  nothing more at central" central_has "$made"
check "  the lane made nothing else" eq "$("$bin/toll-lane" journal dump "$ja" --csv 2>/dev/null | tail -n +2 | wc -l)" "$qseq"
# an open gap central recorded (as settlement does when a lane's stream
# skips seqs)
q -c "SET ROLE toll_app" -c "INSERT INTO gaps (station_id, lane_id, from_seq, to_seq) VALUES (101, 1, $((qseq + 1)), $((qseq + 2)))"
jb_n=$("$bin/toll-lane" journal dump "$jb" --csv 2>/dev/null | tail -n +2 | wc -l)
jb_v=$("$bin/toll-lane" journal dump "$jb" --csv 2>/dev/null | tail -n +2 | awk -F, '{s += $12} END {print s + 0}')
check "lane 2: 2 records, 85,000 VND, none sent" test "$jb_n/$jb_v" = "2/85000"

echo "# reconcile lanes"
check "reconcile lanes: differences (exit 1)" adm 1 --csv reconcile lanes "$day" "$work/sa" "$jb"
cp "$work/out" "$work/recon.csv"
differs "$work/recon.csv" >"$work/got"
cat >"$work/want" <<EOF
101,1,gap,,,,,$((qseq + 1))-$((qseq + 2))
101,1,quarantined,1,35000,,,$qseq
101,2,missing-at-central,2,85000,,,1-2
EOF
check "  exactly: lane 1's quarantined record and its gap, lane 2's records" diff -u "$work/want" "$work/got"
check "  quarantined: the reason" grep -q "^101,1,quarantined,.*central quarantined it: revoked" "$work/recon.csv"
check "  lane 2: not acknowledged" grep -q "^101,2,missing-at-central,.*not yet acknowledged (central's acked_seq 0)" "$work/recon.csv"
paid_j=$(jcount "$ja" paid)
check "  lane 1 paid: journal $paid_j, central one less" grep -qE "^101,1,paid,$paid_j,[0-9]+,$((paid_j - 1)),[0-9]+,,,differs"$'\r$' "$work/recon.csv"
check "  lane 1 refused-invalid: matched" grep -qE "^101,1,refused-invalid,([0-9]+),0,\1,0,,,matched"$'\r$' "$work/recon.csv"
check "  dispositions: posted with its tolls" grep -qE "^101,1,disposition posted,,,$((paid_j - 1)),120000," "$work/recon.csv"
check "  no_charge" grep -qE "^101,1,disposition no_charge,,,[1-9][0-9]*,0," "$work/recon.csv"
check "  quarantined" grep -qE "^101,1,disposition quarantined,,,1,35000," "$work/recon.csv"
check "  the ledger's tolls: matched" grep -qE "^101,1,ledger tolls,,,$((paid_j - 1)),120000,.*,matched"$'\r$' "$work/recon.csv"
check "  the message" grep -q "3 differences between the lanes' journals and central" "$work/err"
check "people's table" adm 1 reconcile lanes "$day" "$work/sa" "$jb"
check "  its last line" grep -q "^$day (Asia/Ho_Chi_Minh): 2 lanes, .* in 2 journals: 3 differences$" "$work/out"
check "lane 2's journal alone (--station 101): lane 1 has no journal" adm 1 --csv reconcile lanes "$day" "$jb" --station 101
check "  so it says so" grep -q "^101,1,no-journal,,,$made,120000,," "$work/out"
check "another station: nothing to reconcile (exit 0)" adm 0 --csv reconcile lanes "$day" "$work/sa" --station 102
check "  the header only" eq "$(wc -l <"$work/out")" 1
check "yesterday: no records of the day anywhere (exit 0)" adm 0 --csv reconcile lanes "$yesterday" "$work/sa" "$jb"
check "a directory without journals refused" adm 1 reconcile lanes "$day" "$work/clist"
check "a bad day: usage" adm 2 reconcile lanes 2026-02-30 "$work/sa"
# the older copy: the records after it are central's extra
check "an older copy of lane 1's journal" adm 1 --csv reconcile lanes "$day" "$work/old-journal" --station 101
differs "$work/out" >"$work/got"
cat >"$work/want" <<EOF
101,1,extra-at-central,,,$((made - 2)),$(q -c "SELECT sum(fee_vnd) FROM transactions WHERE station_id = 101 AND lane_id = 1 AND lane_seq > 2"),3-$made
101,1,gap,,,,,$((qseq + 1))-$((qseq + 2))
101,1,quarantined,,,1,35000,$qseq
EOF
check "  exactly: extra at central after its last record, the quarantined one, the gap" diff -u "$work/want" "$work/got"
check "  said to be after the copy" grep -q "after the journal's last record (seq 2): an older copy?" "$work/out"

echo "# corrections"
tx() { q -c "SELECT txn_id FROM transactions WHERE station_id = 101 AND lane_id = 1 AND account_id = $1 AND outcome = $2 ORDER BY lane_seq LIMIT 1"; }
t2=$(tx 1002 1) # 50,000 VND, class 2
t3=$(tx 1003 1) # 35,000 VND, class 1
tr=$(tx 1004 3) # refused, nothing posted
bal2=$(q -c "SELECT balance_vnd FROM accounts WHERE id = 1002")
check "a wrong class: 15,000 back" adm 0 --csv correct "$t2" --reason wrong-class --amount 15000 --note "a car, class 1, charged class 2"
check "  the entry, the balance, what is left" grep -qE "^[0-9]+,$t2,wrong-class,refund,15000,1002,$((bal2 + 15000)),50000,35000,toll," "$work/out"
check "  refers to the toll's entry" sqlis "SELECT count(*) FROM ledger_entries c JOIN ledger_entries t ON t.id = c.corrects
	WHERE c.kind = 'correction' AND c.txn_id = '$t2' AND t.kind = 'toll' AND t.txn_id = '$t2' AND c.debit_account = 1000000000101
	AND c.credit_account = 1002 AND c.amount_vnd = 15000" 1
check "  its reason, note and operator" sqlis "SELECT reason || '|' || direction || '|' || note || '|' || operator FROM corrections" \
	"wrong-class|refund|a car, class 1, charged class 2|toll"
check "  the driver is told" sqlis "SELECT count(*) FROM notifications WHERE kind = 'correction' AND account_id = 1002 AND txn_id = '$t2' AND amount_vnd = 15000" 1
check "the same correction again: refused" adm 1 correct "$t2" --reason wrong-class --amount 15000
check "  names the first" grep -q "was posted already: ledger entry" "$work/err"
check "a refund beyond what is left: refused" adm 1 correct "$t2" --reason disputed --amount 35001
check "  says what is left" grep -q "more than is left of toll $t2: 35,000 VND (the toll 50,000, refunded 15,000, charged 0)" "$work/err"
check "the rest, disputed" adm 0 correct "$t2" --reason disputed --amount 35000
check "  nothing left: 1 VND more refused" adm 1 correct "$t2" --reason other --amount 1
check "a record not posted: refused" adm 1 correct "$tr" --reason disputed --amount 1000
check "  why" grep -q "was not posted (disposition no_charge)" "$work/err"
check "an unknown transaction: refused" adm 1 correct 00000000-0000-7000-8000-000000000000 --reason disputed --amount 1
check "exit-without-entry on an open road: refused" adm 1 correct "$t3" --reason exit-without-entry --amount 1000
check "a disputed passage is never charged: usage" adm 2 correct "$t3" --reason disputed --amount 1000 --charge
check "no reason: usage" adm 2 correct "$t3" --amount 1000
check "a bad id: usage" adm 2 correct 12345 --reason other --amount 1
bal3=$(q -c "SELECT balance_vnd FROM accounts WHERE id = 1003")
check "a wrong class the other way: 15,000 more charged" adm 0 --csv correct "$t3" --reason wrong-class --amount 15000 --charge
check "  charged" grep -qE "^[0-9]+,$t3,wrong-class,charge,15000,1003,$((bal3 - 15000)),35000,50000," "$work/out"
check "the statement shows them" adm 0 account statement 1002 --from "$day" --to "$day"
check "  the refunds, with their reasons" grep -qE "correction +1000000000101 +1002 +\+15,000 +$t2 \(wrong-class: a car, class 1, charged class 2\)$" "$work/out"
check "  both" grep -qE "correction +1000000000101 +1002 +\+35,000 +$t2 \(disputed\)$" "$work/out"
check "  the toll" grep -qE "toll +1002 +1000000000101 +-50,000 +$t2$" "$work/out"
check "  opening 0 at the day's start, station time" grep -q "^opening balance 0 VND at ${yesterday}T17:00:00Z ($day 00:00 station time)" "$work/out"
check "  checked" grep -q "ledger entries: checked" "$work/out"
check "the statement as CSV, the balances last" adm 0 --csv account statement 1002 --from "$day"
check "  opening, closing, balance" eq "$(tail -n 3 "$work/out" | cut -d, -f3,6 | tr -d '\r' | tr '\n' ' ')" \
	"opening,0 closing,$(q -c "SELECT balance_vnd FROM accounts WHERE id = 1002") balance,$(q -c "SELECT balance_vnd FROM accounts WHERE id = 1002") "
check "balances sum to zero" sqlis "SELECT sum(balance_vnd) FROM accounts" 0
check "each balance is its entries" sqlis "SELECT count(*) FROM v_account_balance WHERE NOT matches" 0
check "three corrections, each one ledger entry" sqlis "SELECT count(*) FROM corrections c JOIN ledger_entries e ON e.id = c.ledger_id AND e.kind = 'correction'" 3
check "corrections are append-only" sh -c "! psql -X -qtA -c \"UPDATE corrections SET amount_vnd = 1\" >/dev/null 2>&1"
check "the lanes' reconciliation is the same" adm 1 --csv reconcile lanes "$day" "$work/sa" "$jb"
differs "$work/out" >"$work/got"
differs "$work/recon.csv" >"$work/want"
check "  the same three differences" diff -u "$work/want" "$work/got"

echo "# exports and the reporting role"
check "export transactions" adm 0 export transactions --from "$day" --to "$day"
check "  every record of the day, and the header" eq "$(wc -l <"$work/out")" "$(($(q -c "SELECT count(*) FROM transactions") + 1))"
check "  times in station time" grep -qE "^[0-9a-f-]{36},101,1,1,[0-9]+,$day [0-9:.]+\+07,$day,paid," "$work/out"
check "export corrections" adm 0 export corrections
check "  the operator's three and the reversal" eq "$(grep -c ',operator,' "$work/out")/$(grep -c ',reversal,' "$work/out")" 3/1
check "export of yesterday: the header only" adm 0 export transactions --to "$yesterday"
check "  one line" eq "$(wc -l <"$work/out")" 1
check "export topups" adm 0 export topups --from "$day"
check "  the day's six" eq "$(wc -l <"$work/out")" 7
check "an unknown export: usage" adm 2 export secrets
check "account-balance takes no days: usage" adm 2 export account-balance --from "$day"
check "as toll_report: export station-revenue" adm 0 --role toll_report export station-revenue
check "  revenue less refunds plus charges" grep -q "^101,$day,$(q -c "SELECT count(*) FROM ledger_entries WHERE kind = 'toll'"),$(q -c "SELECT sum(amount_vnd) FROM ledger_entries WHERE kind = 'toll'"),50000,15000," "$work/out"
check "as toll_report: export partner-daily" adm 0 --role toll_report export partner-daily --from "$day" --to "$day"
check "  top-ups less reversals" grep -q "^bank1,$day,5,1960000,1,50000,1910000"$'$' "$work/out"
check "as toll_report: the views" sqlis "SET ROLE toll_report; SELECT count(*) > 0 FROM v_daily_lane WHERE day = '$day'" t
check "as toll_report: dispositions, quarantined among them" sqlis \
	"SET ROLE toll_report; SELECT records FROM v_dispositions WHERE day = '$day' AND disposition = 'quarantined'" 1
check "as toll_report: not the tables" sh -c "! psql -X -qtA -c 'SET ROLE toll_report' -c 'SELECT 1 FROM transactions LIMIT 1' >/dev/null 2>&1"
check "as toll_report: no correction" adm 1 --role toll_report correct "$t3" --reason other --amount 1

kill "$lane_a" "$lane_b" 2>/dev/null
wait "$lane_a" "$lane_b" 2>/dev/null
lane_a= lane_b=
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

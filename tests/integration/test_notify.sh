#!/usr/bin/env bash
# Drivers' notifications delivered by toll-central (docs/notifications.md),
# on a throwaway PostgreSQL, to a webhook receiver of the test's own
# (tests/integration/helper_notify_receiver.c: keeps every request as it
# came) whose every signature is checked here with openssl, never by the
# project's code; then to a command.
#   - --check-config refuses an unknown mode, https, a webhook without a
#     key or with a key readable by others, command mode without a command;
#   - notifications written by SQL, by a real top-up through the partner
#     API, and by settlement from a lane's passages (toll-lane, toll-sim):
#     a debit, a refused passage for a low balance, one for a blacklisted
#     tag (none for an unknown tag): each delivered once, signed, its id
#     in X-Notification-Id and in the body, sent_at set after the 2xx;
#   - a receiver that answers 500 three times, then 200: retried,
#     delivered once, every attempt counted;
#   - a receiver down, then up: nothing counted while it is down,
#     everything delivered once when it is back;
#   - a notification the receiver always refuses: the others go on, it
#     is retried notify.retry_max times, then failed (kept, counted,
#     listed in notify_failed);
#   - a lower id committed after a higher one was sent: delivered too;
#   - toll-central killed with -9 mid-delivery and started again: nothing
#     lost; what is sent twice has the same X-Notification-Id and body, and
#     is at most one round (notify.batch);
#   - a second toll-central stands by; the durable cursor catches up;
#   - command mode: a script that appends the notification to a file,
#     failing some first attempts: each once, with a small environment;
#   - afterwards: balances sum to zero and are their entries.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${TOLL_BIN:-$top/build/bin}
testbin=${TOLL_TESTBIN:-$top/build/tests}
recv_bin=$testbin/integration/helpers/notify_receiver
pass=0
fail=0
check() {
	local name=$1
	shift
	if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $name"; fi
}
work=$(mktemp -d "${TMPDIR:-/tmp}/toll-notify.XXXXXX")
chmod 755 "$work"
central_pid= central2_pid= recv_pid= sim_pid= lane_pid=
cleanup() {
	for p in $lane_pid $sim_pid $central_pid $central2_pid $recv_pid; do kill -9 "$p" 2>/dev/null; done
	{ wait; } 2>/dev/null
	"$top/scripts/pg-embedded" stop "$work/pg" >/dev/null 2>&1
	if [ "$fail" -eq 0 ]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT
[ -x "$recv_bin" ] || { echo "no $recv_bin (make tests)"; exit 1; }
unset DATABASE_URL
set -a
eval "$("$top/scripts/pg-embedded" start "$work/pg")" || exit 1
set +a
q() { psql -qtA -v ON_ERROR_STOP=1 "$@"; }
sqlis() { [ "$(q -c "$1")" = "$2" ]; }
wait_for() {
	local n=$(($1 * 10))
	shift
	for _ in $(seq 1 "$n"); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

"$bin/toll-central" --migrate >"$work/migrate.log" 2>&1
check "migrate" test $? -eq 0
"$bin/toll-central" keygen "$work/list.key" >"$work/listkey.txt"
listpub=$(awk '/public key/ {print $3}' "$work/listkey.txt")
"$bin/toll-lane" keygen "$work/lane.key" >"$work/lane.pub"
lanepub=$(awk '/public key/ {print $3}' "$work/lane.pub")
laneid=$(awk '/key id/ {print $3}' "$work/lane.pub")
(umask 077 && openssl rand -hex 32 >"$work/hook.secret")
hook=$(cat "$work/hook.secret")
psecret=$(openssl rand -hex 32)
# station 101 (open, lane 1), a partner, four drivers: 1001 with money,
# 1002 with too little, 1003 whose tag is blacklisted, 1004
q >>"$work/psql.log" 2>&1 <<EOF
INSERT INTO accounts (id, kind, name) VALUES (1000000000101, 'revenue', 'revenue of 101'), (2000000000001, 'partner', 'bank');
INSERT INTO stations (id, name, role, revenue_account_id) VALUES (101, 'Km 12 Phap Van', 'open', 1000000000101);
INSERT INTO lanes (station_id, lane_id) VALUES (101, 1);
INSERT INTO lane_keys (station_id, lane_id, key_id, public_key) VALUES (101, 1, '\x$laneid', '\x$lanepub');
INSERT INTO accounts (id, kind, balance_vnd, status) VALUES (1001, 'customer', 1000000, 0), (1002, 'customer', 10000, 1),
  (1003, 'customer', 1000000, 0), (1004, 'customer', 1000000, 0);
UPDATE accounts SET balance_vnd = -3010000 WHERE id = 2000000000001;
INSERT INTO ledger_entries (kind, reference, debit_account, credit_account, amount_vnd) VALUES
  ('opening', 'test', 2000000000001, 1001, 1000000), ('opening', 'test', 2000000000001, 1002, 10000),
  ('opening', 'test', 2000000000001, 1003, 1000000), ('opening', 'test', 2000000000001, 1004, 1000000);
INSERT INTO vehicles (id, account_id, vclass, plate) VALUES (1, 1001, 1, '51A00001'), (2, 1002, 1, '51A00002'),
  (3, 1003, 1, '51A00003');
INSERT INTO tags (epc_hex, vehicle_id, status, reason) VALUES ('303400000000000000000001', 1, 0, 0),
  ('303400000000000000000002', 2, 0, 0), ('303400000000000000000003', 3, 2, 1);
INSERT INTO partners (id, name, secret, account_id) VALUES ('bank1', 'Bank One', '\x$psecret', 2000000000001);
EOF
check "stations, accounts, tags, a partner" test $? -eq 0
# --check-config refuses what cannot work
refuses() { ! "$bin/toll-central" --check-config "$@" >/dev/null 2>>"$work/check-config.log"; }
cp "$work/hook.secret" "$work/open.secret"
chmod 644 "$work/open.secret"
check "config: an unknown mode refused" refuses --set notify.mode=sms
check "config: https refused (a relay, say the docs)" refuses --set notify.mode=webhook \
	--set notify.url=https://sms.example/ --set "notify.secret_file=$work/hook.secret"
check "config: a webhook without a key refused" refuses --set notify.mode=webhook --set notify.url=http://127.0.0.1:9/
check "config: a key readable by others refused" refuses --set notify.mode=webhook --set notify.url=http://127.0.0.1:9/ \
	--set "notify.secret_file=$work/open.secret"
check "config: command mode without a command refused" refuses --set notify.mode=command
check "config: a good one accepted" "$bin/toll-central" --check-config --set notify.mode=webhook \
	--set notify.url=http://127.0.0.1:9/x --set "notify.secret_file=$work/hook.secret" >/dev/null 2>&1
check "the outbox starts after what was there: cursor at 0" sqlis "SELECT cursor_id FROM notify_state" 0

port=$((20000 + RANDOM % 12000))
rport=0 # the receiver's: the kernel picks it the first time, then it stays
aport=$((port + 3)) # the partner API
sport=$((port + 7)) # toll-sim
start_central() {
	"$bin/toll-central" run --set "listen=tcp://127.0.0.1:$port" --set "control.socket=$work/c.sock" \
		--set "list.key=$work/list.key" --set "list.publish=tcp://127.0.0.1:$((port + 1))" \
		--set "list.listen=tcp://127.0.0.1:$((port + 2))" --set "list.dir=$work/clist" \
		--set "api.listen=127.0.0.1:$aport" --set api.threads=2 --set db.retry_max=500ms \
		--set notify.mode=webhook --set "notify.url=http://127.0.0.1:$rport/hooks/toll" \
		--set "notify.secret_file=$work/hook.secret" --set notify.interval=100ms --set notify.timeout=2s \
		--set notify.backoff=200ms --set notify.backoff_max=1s --set notify.retry_max=5 "$@" \
		>>"$work/central.log" 2>&1 &
	central_pid=$!
}
stop_central() {
	kill "$central_pid" 2>/dev/null
	{ wait "$central_pid"; } 2>/dev/null
	central_pid=
}
status() { "$bin/toll-central" status --socket "$work/c.sock" 2>/dev/null; }
nline() { status | grep '^notify '; }
nfield() { nline | sed -n "s/.* $1=\([0-9-]*\).*/\1/p"; }
# start_receiver NAME [options]: a receiver on rport keeping its requests in $work/NAME
start_receiver() {
	local d=$work/$1
	shift
	mkdir -p "$d"
	rm -f "$d/port"
	"$recv_bin" "$d" --port "$rport" "$@" >>"$d/stderr" 2>&1 &
	recv_pid=$!
	wait_for 10 test -s "$d/port" && rport=$(cat "$d/port")
}
stop_receiver() {
	kill "$recv_pid" 2>/dev/null
	{ wait "$recv_pid"; } 2>/dev/null
	recv_pid=
}
# every receiver's log: "SEQ ID ATTEMPT STATUS"
alllogs() { cat "$work"/r*/log 2>/dev/null; }
# answered 2xx for id $1, over every receiver
oks() { alllogs | awk -v id="$1" '$2 == id && $4 >= 200 && $4 < 300' | wc -l; }
reqs() { alllogs | awk -v id="$1" '$2 == id' | wc -l; }
# insert N [ACCOUNT_EXPR] [KIND]: notifications by SQL; prints their ids
insert() {
	q -c "INSERT INTO notifications (account_id, kind, amount_vnd, balance_vnd)
	      SELECT ${2:-1001}, '${3:-debit}', 1000 * g, 500000 - 1000 * g FROM generate_series(1, $1) g RETURNING id"
}
unsent() { sqlis "SELECT count(*) FROM notifications WHERE id BETWEEN $1 AND $2 AND sent_at IS NULL" 0; }
# each id from $1 to $2 answered 2xx exactly once
once_each() {
	local id bad=0
	for id in $(seq "$1" "$2"); do
		[ "$(oks "$id")" = 1 ] || { echo "  notification $id: $(oks "$id") deliveries"; bad=1; }
	done
	[ "$bad" = 0 ]
}
# every request kept in $work/r*/req signed with the hook key over
# POST\n/hooks/toll\nTS\nhex(sha256(body)), its id in the body
signatures_good() {
	local h b ts sig id bh want bad=0 n=0
	for h in "$work"/r*/req/*.head; do
		[ -e "$h" ] || continue
		b=${h%.head}.body
		ts=$(sed -n 's/^X-Timestamp: //p' "$h")
		sig=$(sed -n 's/^X-Signature: //p' "$h")
		id=$(sed -n 's/^X-Notification-Id: //p' "$h")
		bh=$(openssl dgst -sha256 -hex <"$b" | awk '{print $NF}')
		want=$(printf 'POST\n/hooks/toll\n%s\n%s' "$ts" "$bh" |
			openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hook" -hex | awk '{print $NF}')
		n=$((n + 1))
		if [ "$want" != "$sig" ] || ! grep -q "\"id\":$id," "$b" || [ "$(head -1 "$h")" != "POST /hooks/toll" ]; then
			echo "  $h: bad signature, path or id"
			bad=1
		fi
	done
	echo "  $n requests, signatures checked with openssl"
	[ "$bad" = 0 ] && [ "$n" -gt 0 ]
}
# the body of the delivered notification $1
body_of() {
	local s
	s=$(awk -v id="$1" '$2 == id && $4 == 200 {print $1; exit}' "$work"/r*/log)
	cat "$work"/r*/req/"$s".body 2>/dev/null | head -c 4096
}

# ---- 1. delivered once, signed ------------------------------------------------
start_receiver r1
check "receiver up" test -s "$work/r1/port"
start_central
ids=$(insert 20 "1001 + g % 4")
first=$(echo "$ids" | head -1)
last=$(echo "$ids" | tail -1)
check "20 notifications by SQL: all sent" wait_for 20 unsent "$first" "$last"
check "  each delivered once" once_each "$first" "$last"
check "  one attempt each, sent_at set" sqlis "SELECT count(*) FROM notifications WHERE id BETWEEN $first AND $last AND attempts = 1 AND sent_at IS NOT NULL" 20
check "  X-Notification-Attempt 1" sh -c "[ \"\$(awk '\$3 != 1' '$work/r1/log' | wc -l)\" = 0 ]"
check "  the body: version, kind, amounts" sh -c "grep -q '\"version\":1,\"id\":$first,\"kind\":\"debit\",\"account_id\":1002,.*\"amount_vnd\":1000,\"balance_vnd\":499000' '$work'/r1/req/*.body"
check "the status line" wait_for 5 sh -c "\"$bin/toll-central\" status --socket '$work/c.sock' | grep -q '^notify webhook sending sent=20 failed=0 retrying=0 lag_ms='"

# a top-up through the partner API (signed with the partner's secret by openssl)
sign() {
	local bh
	bh=$(printf '%s' "$3" | openssl dgst -sha256 -hex | awk '{print $NF}')
	printf '%s\n%s\n%s\n%s' "$1" "$2" "$4" "$bh" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$psecret" -hex |
		awk '{print $NF}'
}
topup() {
	local body="{\"account_id\": $1, \"amount_vnd\": $2, \"partner_ref\": \"$3\"}" ts
	ts=$(date +%s)
	curl -s -o "$work/topup.out" -w '%{http_code}' -X POST -H "X-Partner-Id: bank1" -H "X-Timestamp: $ts" \
		-H "X-Signature: $(sign POST /v1/topups "$body" "$ts")" -H "Idempotency-Key: k-$3" \
		-H 'Content-Type: application/json' --data-binary "$body" "http://127.0.0.1:$aport/v1/topups"
}

# ---- 2. passages at a lane: debit, refused (balance, blacklisted), unknown -------
"$bin/toll-sim" devices --listen "127.0.0.1:$sport" --lanes 1 --ctl "$work/sim.sock" --seed 11 --quiet \
	--max-wait-ms 1500 >"$work/sim.log" 2>&1 &
sim_pid=$!
mkdir -p "$work/lane"
"$bin/toll-lane" run --set station.id=101 --set station.role=open --set lane.0.key="$work/lane.key" \
	--set state.dir="$work/lane" --set tariff.file="$top/tests/data/tariff/sample.tariff" \
	--set control.socket="$work/l.sock" --set lane.0.reader="tcp:127.0.0.1:$sport" \
	--set central.url="tcp://127.0.0.1:$port" --set central.timeout=1s \
	--set list.central_key="$listpub" --set "list.subscribe=tcp://127.0.0.1:$((port + 1))" \
	--set "list.request=tcp://127.0.0.1:$((port + 2))" >>"$work/lane.log" 2>&1 &
lane_pid=$!
has_list() { "$bin/toll-lane" status --socket "$work/l.sock" 2>/dev/null | grep '^list ' | grep -q 'version=[1-9]'; }
check "the lane has central's list" wait_for 30 has_list
vehicle() { "$bin/toll-sim" ctl --ctl "$work/sim.sock" vehicle lane=0 epc="$1" >>"$work/ctl.log" 2>&1; }
settled() { sqlis "SELECT count(*) FROM transactions WHERE outcome = $1" "$2"; }
vehicle 303400000000000000000001
check "1001 pays" wait_for 20 settled 1 1
vehicle 303400000000000000000002
check "1002 refused: balance" wait_for 20 settled 2 1
vehicle 303400000000000000000003
check "1003 refused: blacklisted" wait_for 20 settled 3 1
vehicle 3034000000000000000000ff
check "an unknown tag refused" wait_for 20 settled 8 1
check "settlement wrote a debit and two refused notifications (none for the unknown tag)" sqlis \
	"SELECT string_agg(kind || ':' || account_id, ' ' ORDER BY id) FROM notifications WHERE txn_id IS NOT NULL" \
	"debit:1001 refused:1002 refused:1003"
check "the refused: central's balance, no fee" sqlis \
	"SELECT amount_vnd IS NULL AND balance_vnd = 10000 AND status = 1 FROM notifications WHERE kind = 'refused' AND account_id = 1002" t
nid() { q -c "SELECT id FROM notifications WHERE kind = '$1' AND account_id = $2 ORDER BY id DESC LIMIT 1"; }
sent_kind() { sqlis "SELECT sent_at IS NOT NULL FROM notifications WHERE kind = '$1' AND account_id = $2 ORDER BY id DESC LIMIT 1" t; }
check "the debit delivered" wait_for 10 sent_kind debit 1001
check "the refused delivered" wait_for 10 sent_kind refused 1003
d=$(nid debit 1001)
r2=$(nid refused 1002)
r3=$(nid refused 1003)
check "  debit: the passage, the plate" sh -c "echo '$(body_of "$d")' | grep -q '\"passage\":{\"station_id\":101,\"station_name\":\"Km 12 Phap Van\",\"lane_id\":1,\"time\":\"20[0-9-]*T[0-9:.]*Z\",\"utc_offset_min\":420,\"outcome\":\"paid\",\"plate\":\"51A00001\"}'"
check "  debit: 35,000 VND, balance 965,000" sh -c "echo '$(body_of "$d")' | grep -q '\"amount_vnd\":35000,\"balance_vnd\":965000'"
check "  refused for balance" sh -c "echo '$(body_of "$r2")' | grep -q '\"kind\":\"refused\",\"account_id\":1002,.*\"amount_vnd\":null,\"balance_vnd\":10000,\"status\":\"low-balance\",.*\"outcome\":\"refused-balance\",\"plate\":\"51A00002\"'"
check "  refused as invalid" sh -c "echo '$(body_of "$r3")' | grep -q '\"outcome\":\"refused-invalid\"'"
code=$(topup 1002 500000 T-0001)
check "a top-up through the API: 201" test "$code" = 201
check "the top-up delivered" wait_for 10 sent_kind topup 1002
check "  and 1002's status change" wait_for 10 sent_kind status 1002
check "  top-up: 500,000 VND, balance 510,000" sh -c "echo '$(body_of "$(nid topup 1002)")' | grep -q '\"kind\":\"topup\",\"account_id\":1002,.*\"amount_vnd\":500000,\"balance_vnd\":510000'"
check "  status: valid" sh -c "echo '$(body_of "$(nid status 1002)")' | grep -q '\"status\":\"valid\"'"
kill "$lane_pid" "$sim_pid" 2>/dev/null
{ wait "$lane_pid" "$sim_pid"; } 2>/dev/null
lane_pid= sim_pid=

# ---- 3. 500 three times, then 200 ------------------------------------------------
stop_receiver
start_receiver r2 --fail 3
ids=$(insert 5 "1001 + g % 4")
first=$(echo "$ids" | head -1)
last=$(echo "$ids" | tail -1)
check "500 x3: all sent in the end" wait_for 20 unsent "$first" "$last"
check "  each delivered once" once_each "$first" "$last"
check "  three 500s answered" sh -c "[ \"\$(awk '\$4 == 500' '$work/r2/log' | wc -l)\" = 3 ]"
attempts_match() {
	local id bad=0
	for id in $(seq "$1" "$2"); do
		[ "$(q -c "SELECT attempts FROM notifications WHERE id = $id")" = "$(reqs "$id")" ] || bad=1
	done
	[ "$bad" = 0 ]
}
check "  every attempt counted (attempts = requests received)" attempts_match "$first" "$last"
check "  8 attempts for 5 notifications" sqlis "SELECT sum(attempts) FROM notifications WHERE id BETWEEN $first AND $last" 8
check "  the retried ones say so (X-Notification-Attempt 2)" sh -c "[ \"\$(awk '\$3 == 2 && \$4 == 200' '$work/r2/log' | wc -l)\" = 3 ]"
attempts_failed_is() { [ "$(nfield attempts_failed)" = "$1" ]; }
check "  the status line counts the failed attempts" wait_for 5 attempts_failed_is 3

# ---- 4. the receiver down, then up --------------------------------------------
stop_receiver
ids=$(insert 5 "1001 + g % 4")
first=$(echo "$ids" | head -1)
last=$(echo "$ids" | tail -1)
check "receiver down: central pauses" wait_for 10 sh -c "\"$bin/toll-central\" status --socket '$work/c.sock' | grep -q '^notify webhook sending PAUSED'"
sleep 1.5 # a few rounds with nobody there
check "  nothing sent" sqlis "SELECT count(*) FROM notifications WHERE id BETWEEN $first AND $last AND sent_at IS NULL" 5
check "  no attempt counted against them" sqlis "SELECT sum(attempts) FROM notifications WHERE id BETWEEN $first AND $last" 0
check "  counted as unreachable" test "$(nfield unreachable)" -ge 1
check "  the lag shows" test "$(nfield lag_ms)" -ge 1000
start_receiver r3
check "receiver up: all sent" wait_for 20 unsent "$first" "$last"
check "  each once, on the first attempt" sqlis "SELECT count(*) FROM notifications WHERE id BETWEEN $first AND $last AND attempts = 1" 5
check "  once each at the receiver" once_each "$first" "$last"

# ---- 5. one the receiver always refuses: the others go on; failed after 5 ----------
stop_receiver
poison=$(($(q -c "SELECT last_value FROM notifications_id_seq") + 1))
start_receiver r4 --fail-id "$poison"
ids=$(insert 6 "1001 + g % 4")
first=$(echo "$ids" | head -1)
last=$(echo "$ids" | tail -1)
check "the refused one is the first" test "$first" = "$poison"
check "the five behind it sent" wait_for 10 unsent $((first + 1)) "$last"
check "  while it waits for a retry" sqlis "SELECT sent_at IS NULL AND attempts >= 1 AND next_attempt_at IS NOT NULL FROM notifications WHERE id = $poison" t
failed_for_good() { sqlis "SELECT attempts || ' ' || (failed_at IS NOT NULL) FROM notifications WHERE id = $poison" "5 true"; }
check "failed after notify.retry_max (5) attempts" wait_for 20 failed_for_good
check "  kept, with why" sqlis "SELECT count(*) FROM notify_failed WHERE id = $poison AND last_error LIKE 'HTTP 500%'" 1
check "  five requests, the receiver saw" test "$(reqs "$poison")" = 5
check "  the status line: failed=1, retrying=0" sh -c "\"$bin/toll-central\" status --socket '$work/c.sock' | grep -q 'sent=.* failed=1 retrying=0 '"
check "  no more attempts" sh -c "sleep 1.5; [ \"\$(awk -v id=$poison '\$2 == id' '$work/r4/log' | wc -l)\" = 5 ]"

# ---- 6. a lower id committed after a higher one was sent -----------------------------
# the late writer draws its id, then waits (in its transaction) for a row in go
q -c "CREATE TABLE go (x int)"
late=$(($(q -c "SELECT last_value FROM notifications_id_seq") + 1))
q -c "BEGIN; INSERT INTO notifications (account_id, kind) VALUES (1004, 'status');
      DO \$\$ BEGIN WHILE NOT EXISTS (SELECT 1 FROM go) LOOP PERFORM pg_sleep(0.05); END LOOP; END \$\$; COMMIT;" \
	>/dev/null 2>>"$work/psql.log" &
late_psql=$!
check "the late one holds its id" wait_for 5 sqlis "SELECT last_value FROM notifications_id_seq" "$late"
after=$(insert 1 1004 topup)
check "the one after it, committed first, sent" wait_for 10 unsent "$after" "$after"
check "  while the late one is not committed yet" sqlis "SELECT count(*) FROM notifications WHERE id = $late" 0
sleep 1.5 # rounds go by: the sender must not move its cursor past the late id
q -c "INSERT INTO go VALUES (1)"
wait "$late_psql"
check "  committed" sqlis "SELECT count(*) FROM notifications WHERE id = $late" 1
check "the late one sent too, once" wait_for 10 unsent "$late" "$late"
check "  once at the receiver" once_each "$late" "$after"
check "the durable cursor catches up (every id has had its first attempt)" wait_for 10 sqlis \
	"SELECT cursor_id = (SELECT max(id) FROM notifications) FROM notify_state" t

# ---- 7. toll-central killed -9 mid-delivery -----------------------------------------
stop_receiver
stop_central
start_receiver r5 --delay-ms 300
start_central --set notify.batch=10
ids=$(insert 40 "1001 + g % 4")
first=$(echo "$ids" | head -1)
last=$(echo "$ids" | tail -1)
some_arrived() { [ "$(cat "$work/r5/log" 2>/dev/null | wc -l)" -ge 12 ]; }
check "deliveries under way" wait_for 20 some_arrived
kill -9 "$central_pid"
{ wait "$central_pid"; } 2>/dev/null
before=$(wc -l <"$work/r5/log")
recorded=$(q -c "SELECT count(*) FROM notifications WHERE id BETWEEN $first AND $last AND sent_at IS NOT NULL")
start_central --set notify.batch=10
check "after the restart, all 40 sent" wait_for 30 unsent "$first" "$last"
lost() {
	local id
	for id in $(seq "$1" "$2"); do [ "$(oks "$id")" -ge 1 ] || return 1; done
}
check "  none lost" lost "$first" "$last"
dups=0
same=1
for id in $(seq "$first" "$last"); do
	n=$(oks "$id")
	if [ "$n" -gt 1 ]; then
		dups=$((dups + n - 1))
		seqs=$(awk -v id="$id" '$2 == id {print $1}' "$work/r5/log")
		b0=
		for s in $seqs; do
			if [ -z "$b0" ]; then b0=$work/r5/req/$s.body; else cmp -s "$b0" "$work/r5/req/$s.body" || same=0; fi
		done
	fi
done
echo "  kill -9: $before requests had arrived, $recorded recorded as sent; sent again after the restart: $dups"
check "  sent again: the same id, the same body" test "$same" = 1
check "  sent again: at most one round (notify.batch=10) and what was in flight" test "$dups" -le 10
check "  nothing sent that was not asked for" sh -c "[ \"\$(awk -v a=$first -v b=$last '\$2 < a || \$2 > b' '$work/r5/log' | wc -l)\" = 0 ]"

# ---- 8. a second toll-central stands by ---------------------------------------------
"$bin/toll-central" run --set "listen=tcp://127.0.0.1:$((port + 4))" --set "control.socket=$work/c2.sock" \
	--set notify.mode=webhook --set "notify.url=http://127.0.0.1:$rport/hooks/toll" \
	--set "notify.secret_file=$work/hook.secret" >>"$work/central2.log" 2>&1 &
central2_pid=$!
check "a second central's sender stands by" wait_for 10 sh -c "\"$bin/toll-central\" status --socket '$work/c2.sock' 2>/dev/null | grep -q '^notify webhook STANDBY'"
kill "$central2_pid"
{ wait "$central2_pid"; } 2>/dev/null
central2_pid=
check "every request signed, its id in its body" signatures_good

# ---- 9. command mode ------------------------------------------------------------
stop_central
stop_receiver
cat >"$work/deliver.sh" <<'EOF'
#!/bin/sh
# append the notification to $1; the first attempt of every third id fails
out=$1
body=$(cat)
if [ $((TOLL_NOTIFICATION_ID % 3)) -eq 0 ] && [ "$TOLL_NOTIFICATION_ATTEMPT" = 1 ]; then
	echo "gateway busy" >&2
	exit 1
fi
env | sort >"$out.env"
printf '%s %s %s %s\n' "$TOLL_NOTIFICATION_ID" "$TOLL_NOTIFICATION_KIND" "$TOLL_NOTIFICATION_ATTEMPT" "$body" >>"$out"
EOF
chmod 755 "$work/deliver.sh"
start_central --set notify.mode=command --set "notify.command=$work/deliver.sh $work/cmd.out"
ids=$(insert 6 "1001 + g % 4" correction)
first=$(echo "$ids" | head -1)
last=$(echo "$ids" | tail -1)
check "command: all sent" wait_for 20 unsent "$first" "$last"
cmd_once() {
	local id
	for id in $(seq "$1" "$2"); do
		[ "$(awk -v id="$id" '$1 == id' "$work/cmd.out" | wc -l)" = 1 ] || return 1
		awk -v id="$id" '$1 == id' "$work/cmd.out" | grep -q "^$id correction .* {\"version\":1,\"id\":$id,\"kind\":\"correction\"" ||
			return 1
	done
}
check "  each appended once, the JSON on stdin" cmd_once "$first" "$last"
check "  the failed first attempts retried and counted" sqlis \
	"SELECT count(*) FROM notifications WHERE id BETWEEN $first AND $last AND attempts = CASE WHEN id % 3 = 0 THEN 2 ELSE 1 END" 6
check "  the command's error kept" sqlis \
	"SELECT count(*) FROM notifications WHERE id BETWEEN $first AND $last AND last_error = 'exit 1: gateway busy '" \
	"$(q -c "SELECT count(*) FROM generate_series($first, $last) g WHERE g % 3 = 0")"
check "  its environment is its own (no database settings)" sh -c "! grep -q '^PG\|^DATABASE_URL' '$work/cmd.out.env' && grep -q '^TOLL_NOTIFICATION_ACCOUNT=' '$work/cmd.out.env'"

# ---- the ledger is untouched by all this --------------------------------------------
check "every notification sent but the one given up" sqlis \
	"SELECT count(*) FROM notifications WHERE sent_at IS NULL AND id <> $poison" 0
check "balances sum to zero" sqlis "SELECT sum(balance_vnd) FROM accounts" 0
check "balances are their entries" sqlis "SELECT count(*) FROM accounts a WHERE balance_vnd <> COALESCE((SELECT sum(amount_vnd) FROM ledger_entries WHERE credit_account = a.id), 0) - COALESCE((SELECT sum(amount_vnd) FROM ledger_entries WHERE debit_account = a.id), 0)" 0
stop_central
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

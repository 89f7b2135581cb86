#!/usr/bin/env bash
# The partners' top-up API, driven with curl; every signature computed by
# openssl (docs/partner-api.md), never by the project's code.  toll-central
# on a throwaway PostgreSQL, with its list publisher.
#   - a top-up by account, by plate, by tag: 201 with the new balance, one
#     ledger entry each, the lanes' list stamped (a new list version);
#   - a retry with the same key: the same answer, credited once; two
#     requests with one key racing: one credit, both answered the same;
#   - the same key with another body: 409; a partner_ref used twice: 409;
#   - refused and counted: stale timestamp, bad signature, unknown partner,
#     a replayed request, no Idempotency-Key, an oversized body, malformed
#     JSON, a duplicate or unknown field, negative, huge, fractional or
#     quoted amounts, a plate of two accounts;
#   - the status query; a reversal (a correcting entry that refers to the
#     top-up), its retry, a second reversal refused;
#   - afterwards the settlement invariants: balances sum to zero and equal
#     their entries, every top-up has its one ledger entry.
set -u
. "$(dirname "$0")/itest.sh"
itest_work api
central_pid=
cleanup() {
	[ -n "$central_pid" ] && kill -9 "$central_pid" 2>/dev/null
	{ wait; } 2>/dev/null
	itest_stop_pg_and_work
}
trap cleanup EXIT
itest_pg || exit 1

"$bin/toll-central" --migrate >"$work/migrate.log" 2>&1
check "migrate" test $? -eq 0
"$bin/toll-central" keygen "$work/list.key" >/dev/null
secret=$(openssl rand -hex 32)
q >>"$work/psql.log" 2>&1 <<EOF
INSERT INTO accounts (id, kind) VALUES (2000000000001, 'partner'), (2000000000002, 'partner');
INSERT INTO accounts (id, kind, balance_vnd, status) VALUES (1001, 'customer', 0, 2), (1002, 'customer', 0, 2),
  (1003, 'customer', 0, 2), (1004, 'customer', 0, 2);
INSERT INTO vehicles (id, account_id, vclass, plate) VALUES (1, 1001, 1, '51A00001'), (2, 1002, 1, '51A00002'),
  (3, 1003, 1, '30E12345'), (4, 1004, 1, '30E12345');
INSERT INTO tags (epc_hex, vehicle_id) VALUES ('303400000000000000000002', 2);
INSERT INTO partners (id, name, secret, account_id) VALUES ('bank1', 'Bank One', '\x$secret', 2000000000001),
  ('wallet2', 'Wallet Two', '\x$(openssl rand -hex 32)', 2000000000002);
EOF
check "accounts, partners" test $? -eq 0

port=$((20000 + RANDOM % 12000))
aport=$((port + 3))
"$bin/toll-central" run --set "listen=tcp://127.0.0.1:$port" --set "control.socket=$work/c.sock" \
	--set "list.key=$work/list.key" --set "list.publish=tcp://127.0.0.1:$((port + 1))" \
	--set "list.listen=tcp://127.0.0.1:$((port + 2))" --set "list.dir=$work/clist" \
	--set "api.listen=127.0.0.1:$aport" --set api.threads=4 >>"$work/central.log" 2>&1 &
central_pid=$!
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$aport") 2>/dev/null && break; sleep 0.1; done

# sign METHOD PATH BODY TS [SECRET]: the hex HMAC, by openssl
sign() {
	local bh
	bh=$(printf '%s' "$3" | openssl dgst -sha256 -hex | awk '{print $NF}')
	printf '%s\n%s\n%s\n%s' "$1" "$2" "$4" "$bh" |
		openssl dgst -sha256 -mac HMAC -macopt "hexkey:${5:-$secret}" -hex | awk '{print $NF}'
}
# call METHOD PATH BODY KEY [TS] [PARTNER] [SIGNATURE]: "STATUS BODY" in $work/out
call() {
	local ts=${5:-$(date +%s)} partner=${6:-bank1} sig o=${OUT:-$work/out}
	sig=${7:-$(sign "$1" "$2" "$3" "$ts")}
	local args=(-s -o "$o.resp" -w '%{http_code}' -X "$1" -H "X-Partner-Id: $partner" -H "X-Timestamp: $ts"
		-H "X-Signature: $sig" -H 'Content-Type: application/json')
	[ -n "$4" ] && args+=(-H "Idempotency-Key: $4")
	[ -n "$3" ] && args+=(--data-binary "$3")
	local code
	code=$(curl "${args[@]}" ${CURL_TLS:-} "${SCHEME:-http}://127.0.0.1:$aport$2")
	echo "$code $(cat "$o.resp")" >"$o"
	echo "$1 $2 $3 -> $code $(cat "$o.resp")" >>"$work/calls.log"
}
status_is() { [ "$(cut -d' ' -f1 "$work/out")" = "$1" ]; }
body_has() { grep -q -- "$1" "$work/out"; }
jfield() { sed -n "s/.*\"$1\" *: *\([^,}]*\).*/\1/p" "$work/out" | tr -d '" '; }

# a good top-up
v0=$(q -c "SELECT COALESCE(max(version), 0) FROM list_deltas")
call POST /v1/topups '{"account_id": 1001, "amount_vnd": 500000, "partner_ref": "B1-0001"}' k-0001
check "top-up: 201" status_is 201
check "the new balance in the answer" test "$(jfield balance_vnd)" = 500000
first=$(cut -d' ' -f2- "$work/out")
check "one ledger entry, from the partner" sqlis "SELECT count(*) || ' ' || sum(amount_vnd) || ' ' || min(debit_account) FROM ledger_entries WHERE kind = 'topup' AND credit_account = 1001" "1 500000 2000000000001"
check "the account is valid again" sqlis "SELECT status FROM accounts WHERE id = 1001" 0
check "the driver is told" sqlis "SELECT count(*) FROM notifications WHERE kind = 'topup' AND account_id = 1001 AND amount_vnd = 500000 AND balance_vnd = 500000" 1
newer() { local v; v=$(q -c "SELECT COALESCE(max(version), 0) FROM list_deltas"); [ "$v" -gt "$v0" ]; }
check "the lanes' list has it (a new version)" wait_for 5 newer

# a retry: the same answer, credited once
sleep 1 # another second: another signature
call POST /v1/topups '{"account_id": 1001, "amount_vnd": 500000, "partner_ref": "B1-0001"}' k-0001
check "retry: 201" status_is 201
check "retry: the same answer" test "$(cut -d' ' -f2- "$work/out")" = "$first"
check "retry: credited once" sqlis "SELECT balance_vnd FROM accounts WHERE id = 1001" 500000
# the same key with another body
call POST /v1/topups '{"account_id": 1001, "amount_vnd": 600000, "partner_ref": "B1-0001"}' k-0001
check "same key, another body: 409" status_is 409
check "  idempotency-key-reused" body_has idempotency-key-reused
# the same reference under another key (a second later: the same bytes in
# the same second are one signature, a replay)
sleep 1
call POST /v1/topups '{"account_id": 1001, "amount_vnd": 500000, "partner_ref": "B1-0001"}' k-0002
check "partner_ref used again: 409" status_is 409
# two requests with one key racing (signed a second apart: both valid)
now=$(date +%s)
for i in 1 2 3 4 5; do
	body="{\"account_id\": 1002, \"amount_vnd\": 100000, \"partner_ref\": \"B1-R$i\"}"
	OUT=$work/race-$i-a call POST /v1/topups "$body" "race-$i" "$now" &
	p1=$!
	OUT=$work/race-$i-b call POST /v1/topups "$body" "race-$i" "$((now - 1))" &
	p2=$!
	wait "$p1" "$p2"
	check "racing pair $i: both 201, the same answer" test "$(cat "$work/race-$i-a")" = "$(cat "$work/race-$i-b")"
done
check "racing pairs: each credited once" sqlis "SELECT count(*) || ' ' || sum(amount_vnd) FROM ledger_entries WHERE kind = 'topup' AND credit_account = 1002" "5 500000"
check "racing pairs: one top-up row each" sqlis "SELECT count(*) FROM topups WHERE partner_ref LIKE 'B1-R%'" 5
# by plate, by tag; a plate of two accounts
call POST /v1/topups '{"plate": "51A00001", "amount_vnd": 20000, "partner_ref": "B1-P1"}' k-p1
check "by plate: 201" status_is 201
check "  to 1001" test "$(jfield account_id)" = 1001
call POST /v1/topups '{"epc": "303400000000000000000002", "amount_vnd": 30000, "partner_ref": "B1-T1"}' k-t1
check "by tag: 201" status_is 201
check "  to 1002" test "$(jfield account_id)" = 1002
call POST /v1/topups '{"plate": "30E12345", "amount_vnd": 20000, "partner_ref": "B1-P2"}' k-p2
check "a plate of two accounts: 409" status_is 409
call POST /v1/topups '{"account_id": 4242, "amount_vnd": 20000, "partner_ref": "B1-N1"}' k-n1
check "no such account: 404" status_is 404

# refused before any money moves
call POST /v1/topups '{"account_id": 1003, "amount_vnd": 20000, "partner_ref": "B1-S1"}' k-s1 $(($(date +%s) - 400))
check "a timestamp 400 s old: 401" status_is 401
check "  stale" body_has stale
call POST /v1/topups '{"account_id": 1003, "amount_vnd": 20000, "partner_ref": "B1-S2"}' k-s2 "" bank1 "$(printf '0%.0s' $(seq 1 64))"
check "a bad signature: 401" status_is 401
check "  bad-signature" body_has bad-signature
call POST /v1/topups '{"account_id": 1003, "amount_vnd": 20000, "partner_ref": "B1-S3"}' k-s3 "" bank9
check "an unknown partner: 401" status_is 401
call POST /v1/topups '{"account_id": 1003, "amount_vnd": 20000, "partner_ref": "B1-S4"}' k-s4 "" wallet2
check "another partner's secret: 401" status_is 401
ts=$(date +%s)
body='{"account_id": 1003, "amount_vnd": 20000, "partner_ref": "B1-S5"}'
sig=$(sign POST /v1/topups "$body" "$ts")
call POST /v1/topups "$body" k-s5 "$ts" bank1 "$sig"
check "a signed request: 201" status_is 201
call POST /v1/topups "$body" k-s5 "$ts" bank1 "$sig"
check "the same bytes again: 401 replayed" status_is 401
check "  replayed" body_has replayed
call POST /v1/topups '{"account_id": 1003, "amount_vnd": 20000, "partner_ref": "B1-S6"}' ""
check "no Idempotency-Key: 400" status_is 400
big="{\"account_id\": 1003, \"amount_vnd\": 20000, \"partner_ref\": \"B1-S7\", \"pad\": \"$(head -c 9000 /dev/zero | tr '\0' x)\"}"
call POST /v1/topups "$big" k-s7
check "a 9 kB body: 413" status_is 413
for bad in '{"account_id": 1003, "amount_vnd": 20000, "partner_ref": "B1-M1"' \
	'[1, 2]' \
	'{"account_id": 1003, "account_id": 1003, "amount_vnd": 20000, "partner_ref": "B1-M2"}' \
	'{"account_id": 1003, "amount_vnd": 20000, "partner_ref": "B1-M3", "note": "x"}' \
	'{"account_id": 1003, "amount_vnd": "20000", "partner_ref": "B1-M4"}' \
	'{"account_id": 1003, "amount_vnd": 20000.5, "partner_ref": "B1-M5"}' \
	'{"account_id": 1003, "amount_vnd": -20000, "partner_ref": "B1-M6"}' \
	'{"account_id": 1003, "amount_vnd": 0, "partner_ref": "B1-M7"}' \
	'{"account_id": 1003, "amount_vnd": 9000000000000000000, "partner_ref": "B1-M8"}' \
	'{"account_id": 1003, "amount_vnd": 90000000000000000000, "partner_ref": "B1-M9"}' \
	'{"account_id": 1003, "amount_vnd": 20000}' \
	'{"account_id": 1003, "plate": "51A00001", "amount_vnd": 20000, "partner_ref": "B1-M10"}' \
	'{"account_id": 1003, "amount_vnd": 20000, "partner_ref": "B1 M11"}' \
	'{"epc": "30zz", "amount_vnd": 20000, "partner_ref": "B1-M12"}'; do
	call POST /v1/topups "$bad" "k-$RANDOM$RANDOM"
	check "refused, 400: $bad" status_is 400
done
check "nothing of those credited" sqlis "SELECT balance_vnd FROM accounts WHERE id = 1003" 20000

# the status, the reversal
call GET /v1/topups/B1-0001 "" ""
check "status: 200" status_is 200
check "  not reversed, balance now" test "$(jfield reversed) $(jfield balance_vnd)" = "false 520000"
call GET /v1/topups/B1-NONE "" ""
check "status of an unknown reference: 404" status_is 404
call POST /v1/topups/B1-0001/reversal '{"reason": "customer cancelled"}' rev-1
check "reversal: 201" status_is 201
check "  balance after" test "$(jfield balance_vnd)" = 20000
check "a correction entry back to the partner, referring to the top-up" sqlis \
	"SELECT c.amount_vnd || ' ' || c.debit_account || ' ' || c.credit_account FROM ledger_entries c JOIN ledger_entries t ON t.id = c.corrects WHERE c.kind = 'correction' AND t.kind = 'topup'" \
	"500000 1001 2000000000001"
sleep 1
call POST /v1/topups/B1-0001/reversal '{"reason": "customer cancelled"}' rev-1
check "reversal retried: 201, once" status_is 201
call POST /v1/topups/B1-0001/reversal '{}' rev-2
check "a second reversal: 409" status_is 409
call GET /v1/topups/B1-0001 "" ""
check "status: reversed" test "$(jfield reversed)" = true
call POST /v1/topups/B1-R1/reversal '' rev-3
check "a reversal with no body: 201" status_is 201
call PUT /v1/topups "" ""
check "PUT: 405" status_is 405
call POST /v1/accounts '{}' k-x
check "no such route: 404" status_is 404

# the invariants
check "balances sum to zero" sqlis "SELECT sum(balance_vnd) FROM accounts" 0
check "balances are their entries" sqlis "SELECT count(*) FROM accounts a WHERE balance_vnd <> COALESCE((SELECT sum(amount_vnd) FROM ledger_entries WHERE credit_account = a.id), 0) - COALESCE((SELECT sum(amount_vnd) FROM ledger_entries WHERE debit_account = a.id), 0)" 0
check "every top-up row has its one ledger entry" sqlis "SELECT count(*) FROM topups t JOIN ledger_entries l ON l.id = t.ledger_id AND l.amount_vnd = t.amount_vnd" "$(q -c "SELECT count(*) FROM ledger_entries WHERE kind IN ('topup', 'correction')")"
st=$("$bin/toll-central" status --socket "$work/c.sock")
echo "$st" | grep '^api '
check "central counts what it refused" sh -c "echo '$st' | grep '^api ' | grep -q 'replay=1 .*stale=1\|stale=1 .*replay=1'"
check "central counts the retries" sh -c "echo '$st' | grep '^api ' | grep -q 'retried=[1-9]'"

kill "$central_pid"
wait "$central_pid"
check "central stops cleanly (and, under ASan, leaks nothing)" test $? -eq 0
central_pid=

# HTTPS: the same API with a certificate; plain HTTP is then refused
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$work/api.key" -out "$work/api.crt" >/dev/null 2>&1
"$bin/toll-central" run --set "listen=tcp://127.0.0.1:$port" --set "control.socket=$work/c.sock" \
	--set "api.listen=127.0.0.1:$aport" --set "api.tls_cert=$work/nonexistent.crt" \
	--set "api.tls_key=$work/api.key" >"$work/central-bad.log" 2>&1
check "a missing certificate: central refuses to start" test $? -ne 0
for bad in nonsense 127.0.0.1 127.0.0.1:99999 localhost:7400; do
	"$bin/toll-central" run --set "listen=tcp://127.0.0.1:$port" --set "control.socket=$work/c.sock" \
		--set "api.listen=$bad" >"$work/central-badlisten.log" 2>&1
	check "api.listen=$bad: central refuses to start" test $? -ne 0
	check "  and says why" grep -q "api.listen" "$work/central-badlisten.log"
done
check "  and says which file" grep -q nonexistent.crt "$work/central-bad.log"
"$bin/toll-central" run --set "listen=tcp://127.0.0.1:$port" --set "control.socket=$work/c.sock" \
	--set "api.listen=127.0.0.1:$aport" --set "api.tls_cert=$work/api.crt" \
	--set "api.tls_key=$work/api.key" >>"$work/central.log" 2>&1 &
central_pid=$!
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$aport") 2>/dev/null && break; sleep 0.1; done
SCHEME=https CURL_TLS="--cacert $work/api.crt" call POST /v1/topups '{"account_id": 1003, "amount_vnd": 70000, "partner_ref": "B1-TLS1"}' k-tls1
check "over HTTPS: 201" status_is 201
check "  the balance" test "$(jfield balance_vnd)" = 90000
call POST /v1/topups '{"account_id": 1003, "amount_vnd": 70000, "partner_ref": "B1-TLS2"}' k-tls2
check "plain HTTP to the HTTPS port: no answer" test "$(cut -d' ' -f1 "$work/out")" = 000
check "still balanced" sqlis "SELECT sum(balance_vnd) FROM accounts" 0
kill "$central_pid"
wait "$central_pid"
check "central stops cleanly" test $? -eq 0
central_pid=
itest_done

#!/usr/bin/env bash
# The optional TLS transport between lanes and central (tls+tcp://, issue 4),
# end to end on a throwaway PostgreSQL with certificates made here by the
# openssl command: a test CA, central's certificate (central.test and
# 127.0.0.1), a lane client certificate, and a rogue CA with its own client
# certificate.  central listens on tls+tcp:// and requires a client
# certificate from the test CA.  toll-sim drives six lanes, each its own
# toll-lane process and lane id:
#   lane 1  the right CA, its client certificate, central.test: everything
#           it makes is settled exactly once
#   lane 2  a client certificate from the rogue CA: refused by central
#   lane 3  no client certificate: refused by central
#   lane 4  trusts the rogue CA only: refuses central
#   lane 5  plaintext tcp:// to the TLS port: does not get through
#   lane 6  expects the name wrong.test: refuses central's certificate
# Refused lanes keep charging into their journals: nothing of theirs is in
# the database, their uplink is DISCONNECTED with everything pending.
# toll-central also refuses to start on tls+tcp:// without a usable
# tls.cert, and toll-lane without central.tls_ca.
set -u
. "$(dirname "$0")/itest.sh"
itest_work tls
sim_pid= central_pid= lane_pids=
cleanup() {
	for p in $lane_pids $sim_pid $central_pid; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	itest_stop_pg_and_work
}
trap cleanup EXIT
command -v openssl >/dev/null || {
	echo "FAIL: openssl (the command) is needed"
	fail=1
	exit 1
}

# ---- certificates: EC P-256 (mbedTLS 2.28 has no Ed25519 certificates) ----
cert_log=$work/openssl.log
new_ca() { # NAME SUBJECT
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-keyout "$work/$1.key" -out "$work/$1.crt" -subj "/CN=$2" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign >>"$cert_log" 2>&1
}
new_cert() { # NAME CA SUBJECT EXTENSIONS: NAME.pem holds the key and the certificate
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$work/$1.key" -out "$work/$1.csr" -subj "/CN=$3" >>"$cert_log" 2>&1 &&
		printf '%b\n' "$4" >"$work/$1.ext" &&
		openssl x509 -req -in "$work/$1.csr" -CA "$work/$2.crt" -CAkey "$work/$2.key" -CAcreateserial \
			-days 2 -extfile "$work/$1.ext" -out "$work/$1.crt" >>"$cert_log" 2>&1 &&
		cat "$work/$1.key" "$work/$1.crt" >"$work/$1.pem"
}
new_ca ca "toll test CA" &&
	new_ca rogue "rogue CA" &&
	new_cert central ca central.test "subjectAltName=DNS:central.test,IP:127.0.0.1\nextendedKeyUsage=serverAuth" &&
	new_cert lane ca lane-101-1 "extendedKeyUsage=clientAuth" &&
	new_cert rogue-lane rogue lane-101-2 "extendedKeyUsage=clientAuth"
check "certificates" test $? -eq 0
openssl verify -CAfile "$work/ca.crt" "$work/central.crt" "$work/lane.crt" >>"$cert_log" 2>&1
check "certificates verify against the test CA" test $? -eq 0
openssl verify -CAfile "$work/ca.crt" "$work/rogue-lane.crt" >>"$cert_log" 2>&1
check "the rogue lane certificate does not" test $? -ne 0

# ---- database, lanes 1..6 of station 101, each with its own key ----
itest_pg || exit 1
"$bin/toll-central" --migrate >"$work/migrate.log" 2>&1
check "migrate" test $? -eq 0
nlanes=6
{
	echo "INSERT INTO accounts (id, kind) VALUES (1000000000101, 'revenue');"
	echo "INSERT INTO accounts (id, kind) SELECT x, 'customer' FROM generate_series(1001, 1040) x;"
	echo "INSERT INTO stations (id, role, revenue_account_id) VALUES (101, 'open', 1000000000101);"
	for l in $(seq 1 $nlanes); do
		"$bin/toll-lane" keygen "$work/lane$l.key" >"$work/key$l.txt" || echo "keygen $l failed" >&2
		pub=$(awk '/public key/ {print $3}' "$work/key$l.txt")
		echo "INSERT INTO lanes (station_id, lane_id) VALUES (101, $l);"
		echo "INSERT INTO lane_keys (station_id, lane_id, key_id, public_key, valid_from)" \
			"VALUES (101, $l, substring(sha256('\\x$pub'::bytea) from 1 for 4), '\\x$pub'::bytea, now() - interval '1 day');"
	done
} >"$work/register.sql" 2>"$work/keygen.log"
psql -q -v ON_ERROR_STOP=1 -f "$work/register.sql" >"$work/psql.log" 2>&1
check "register" test $? -eq 0

# 400 tags on 40 accounts (as test_uplink.sh)
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
tls_url="tls+tcp://127.0.0.1:$cport"

# ---- toll-central refuses to start without a usable tls.cert ----
central_refuses() { # NAME LOG-PATTERN --set ...
	local name=$1 pattern=$2 log="$work/refuse-$1.log"
	shift 2
	timeout 20 "$bin/toll-central" run --set "listen=$tls_url" --set "control.socket=$work/refuse.sock" \
		--set db.retry_max=500ms "$@" >"$log" 2>&1
	local rc=$?
	echo "central with $name: exit $rc: $(head -n 1 "$log")"
	check "central with $name exits nonzero" test "$rc" -ne 0 -a "$rc" -ne 124
	check "central with $name says why" grep -q -- "$pattern" "$log"
}
central_refuses "no tls.cert" "needs tls.cert"
central_refuses "a missing tls.cert" "tls.cert $work/nonexistent.pem" --set "tls.cert=$work/nonexistent.pem"
central_refuses "a tls.cert without its key" "tls.cert $work/central.crt" --set "tls.cert=$work/central.crt"
central_refuses "a missing tls.ca" "tls.ca $work/nonexistent-ca.pem" --set "tls.cert=$work/central.pem" \
	--set "tls.ca=$work/nonexistent-ca.pem"

# ---- central on tls+tcp:// with client certificates required ----
"$bin/toll-central" run --set "listen=$tls_url" --set "tls.cert=$work/central.pem" --set "tls.ca=$work/ca.crt" \
	--set "control.socket=$work/c.sock" --set db.retry_max=500ms >>"$work/central.log" 2>&1 &
central_pid=$!

# toll-lane refuses to start on tls+tcp:// without a usable central.tls_ca
# or with a central.tls_cert it cannot load
lane_refuses() { # NAME LOG-PATTERN --set ...
	local name=$1 pattern=$2 log="$work/lane-refuse-$1.log"
	shift 2
	mkdir -p "$work/s0"
	timeout 20 "$bin/toll-lane" run --set key.file="$work/lane1.key" --set state.dir="$work/s0" \
		--set taglist.file="$work/list.tsl" --set tariff.file="$top/tests/data/tariff/sample.tariff" \
		--set control.socket="$work/l0.sock" --set lane.0.reader="tcp:127.0.0.1:$sport" \
		--set central.url="$tls_url" "$@" >"$log" 2>&1
	local rc=$?
	echo "lane with $name: exit $rc: $(grep -m 1 -- "$pattern" "$log")"
	check "lane with $name exits nonzero" test "$rc" -ne 0 -a "$rc" -ne 124
	check "lane with $name says why" grep -q -- "$pattern" "$log"
}
lane_refuses "no central.tls_ca" "needs central.tls_ca"
lane_refuses "a missing central.tls_ca" "central.tls_ca $work/nonexistent-ca.pem" \
	--set "central.tls_ca=$work/nonexistent-ca.pem"
lane_refuses "a missing central.tls_cert" "central.tls_cert $work/nonexistent.pem" \
	--set "central.tls_ca=$work/ca.crt" --set "central.tls_cert=$work/nonexistent.pem"
# central's name is always checked: by IP address (which the TLS library
# cannot match) only with the name given
lane_refuses "an IP address and no server name" "set central.tls_server_name" \
	--set "central.tls_ca=$work/ca.crt" --set "central.tls_cert=$work/lane.pem"

"$bin/toll-sim" devices --listen "127.0.0.1:$sport" --lanes $nlanes --ctl "$work/sim.sock" --traffic 3600 \
	--duration 12 --warmup 1 --tags "$work/simtags.txt" --seed 17 --quiet >"$work/sim.log" 2>&1 &
sim_pid=$!
start_lane() { # LANE URL --set ...
	local l=$1 url=$2
	shift 2
	mkdir -p "$work/s$l"
	"$bin/toll-lane" run --set key.file="$work/lane$l.key" --set state.dir="$work/s$l" \
		--set taglist.file="$work/list.tsl" --set tariff.file="$top/tests/data/tariff/sample.tariff" \
		--set control.socket="$work/l$l.sock" --set lane.0.id="$l" \
		--set lane.0.reader="tcp:127.0.0.1:$((sport + l - 1))" \
		--set central.url="$url" --set central.timeout=1s --set central.batch=16 --set plaza.suppress=1s \
		"$@" >"$work/lane$l.log" 2>&1 &
	lane_pids="$lane_pids $!"
}
ca=central.tls_ca=$work/ca.crt
name=central.tls_server_name=central.test
start_lane 1 "$tls_url" --set "$ca" --set "central.tls_cert=$work/lane.pem" --set "$name"
start_lane 2 "$tls_url" --set "$ca" --set "central.tls_cert=$work/rogue-lane.pem" --set "$name"
start_lane 3 "$tls_url" --set "$ca" --set "$name"
start_lane 4 "$tls_url" --set "central.tls_ca=$work/rogue.crt" --set "central.tls_cert=$work/lane.pem" --set "$name"
start_lane 5 "tcp://127.0.0.1:$cport"
start_lane 6 "$tls_url" --set "$ca" --set "central.tls_cert=$work/lane.pem" --set central.tls_server_name=wrong.test

# the traffic (warmup 1 s + 12 s), then the sim goes
sleep 14
kill "$sim_pid"
wait "$sim_pid" 2>/dev/null
sim_pid=

st() { "$bin/toll-lane" status --socket "$work/l$1.sock" 2>/dev/null; }
field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }
# lane 1 settles everything
made= pending= s=
for _ in $(seq 1 150); do
	s=$(st 1)
	made=$(field txn_seq <<<"$s")
	pending=$(field pending <<<"$s")
	[ "$pending" = 0 ] && [ -n "$made" ] && break
	sleep 0.2
done
echo "lane 1 made ${made:-?} transactions, pending ${pending:-?}"
check "lane 1 made transactions" test "${made:-0}" -gt 2
check "lane 1: nothing pending" test "$pending" = 0
check "lane 1: uplink connected" grep -q "uplink connected" <<<"$s"
q() { psql -qtAc "$1"; }
check "lane 1: every seq 1..$made once" test "$(q "SELECT count(*) || ' ' || count(DISTINCT lane_seq) || ' ' || COALESCE(max(lane_seq), 0) FROM transactions WHERE station_id = 101 AND lane_id = 1")" = "$made $made $made"
check "lane 1: progress" test "$(q "SELECT acked_seq FROM lane_progress WHERE station_id = 101 AND lane_id = 1")" = "$made"
check "lane 1: something was posted" test "$(q "SELECT count(*) FROM transactions WHERE lane_id = 1 AND disposition = 'posted'")" -gt 0

# the refused lanes: charged, nothing settled, nothing connected
declare -A why=([2]="client certificate from the rogue CA" [3]="no client certificate"
	[4]="trusts the rogue CA" [5]="plaintext tcp:// to the TLS port" [6]="expects the name wrong.test")
# what the lane's log says (the dialer's failed attempts, counted by nng)
declare -A says=([2]="failed TLS verification" [3]="closed by central in the handshake"
	[4]="failed TLS verification" [5]="closed by central in the handshake" [6]="failed TLS verification")
for l in $(seq 2 $nlanes); do
	s=$(st "$l")
	m=$(field txn_seq <<<"$s")
	p=$(field pending <<<"$s")
	a=$(field central_acked <<<"$s")
	echo "lane $l (${why[$l]}): made ${m:-?}, pending ${p:-?}, $(grep -o 'uplink [A-Za-z]*' <<<"$s")"
	check "lane $l (${why[$l]}) made transactions" test "${m:-0}" -gt 0
	check "lane $l (${why[$l]}): all pending" test "${p:-x}" = "${m:-y}"
	check "lane $l (${why[$l]}): central acknowledged nothing" test "${a:-x}" = 0
	check "lane $l (${why[$l]}): DISCONNECTED" grep -q "uplink DISCONNECTED" <<<"$s"
	check "lane $l (${why[$l]}): nothing in the database" test "$(q "SELECT (SELECT count(*) FROM transactions WHERE station_id = 101 AND lane_id = $l) + (SELECT count(*) FROM lane_progress WHERE station_id = 101 AND lane_id = $l)")" = 0
	check "lane $l (${why[$l]}): the log says it: ${says[$l]}" grep -q "uplink: cannot send to .*${says[$l]}" "$work/lane$l.log"
	echo "  lane $l log: $(grep -m 1 uplink "$work/lane$l.log")"
done
check "nothing quarantined" test "$(q "SELECT count(*) FROM quarantine")" = 0
check "balances sum to zero" test "$(q "SELECT COALESCE(sum(balance_vnd), 0) FROM accounts")" = 0
check "one entry per posted transaction" test "$(q "SELECT count(*) FROM transactions t WHERE (disposition = 'posted') <> ((SELECT count(*) FROM ledger_entries l WHERE l.txn_id = t.txn_id) = 1)")" = 0

kill $lane_pids "$central_pid"
wait $lane_pids "$central_pid" 2>/dev/null
lane_pids= central_pid=
itest_done

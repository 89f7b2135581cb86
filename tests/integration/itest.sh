# itest.sh: what the shell integration tests share, sourced first:
#   . "$(dirname "$0")/itest.sh"
#   itest_work NAME        a scratch folder in $work (kept when a check failed)
#   itest_pg               an embedded PostgreSQL in $work/pg, the PG* variables
#                          exported; q (psql, tuples only) and sqlis SQL WANT
#   check NAME COMMAND...  one check: passes when COMMAND succeeds
#   wait_for SECONDS COMMAND...  until COMMAND succeeds (polled every 100 ms)
#   itest_stop_pg_and_work the end of a test's cleanup
#   itest_done             "N passed, M failed" and the exit status
# $top is the source tree, $bin the programs (TOLL_BIN, default build/bin).
# The tests' ports are drawn from 20000-31999, below Linux's ephemeral range
# (32768-60999), so an outgoing connection never holds one a test listens on.
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=${TOLL_BIN:-$top/build/bin}
pass=0
fail=0
work=

check() {
	local name=$1
	shift
	if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $name"; fi
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

itest_work() {
	work=$(mktemp -d "${TMPDIR:-/tmp}/toll-$1.XXXXXX") || exit 1
	chmod 755 "$work" # the server runs as postgres under root (CI)
}

itest_pg() {
	unset DATABASE_URL
	local env
	env=$("$top/scripts/pg-embedded" start "$work/pg") || return 1
	set -a
	eval "$env"
	set +a
}

q() { psql -X -qtA -v ON_ERROR_STOP=1 "$@"; }
sqlis() { [ "$(q -c "$1")" = "$2" ]; }

itest_stop_pg_and_work() {
	[ -d "$work/pg" ] && "$top/scripts/pg-embedded" stop "$work/pg" >/dev/null 2>&1
	if [ "$fail" -eq 0 ]; then rm -rf "$work"; else echo "kept $work"; fi
}

itest_done() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}

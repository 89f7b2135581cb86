#!/usr/bin/env bash
# The embedded PostgreSQL helper: start a throwaway cluster, connect with
# psql over the socket and over TCP, data checksums and fsync on, start
# again is harmless, stop, stopped for real, stop again harmless.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
pg="$top/scripts/pg-embedded"
dir=$(mktemp -d "${TMPDIR:-/tmp}/toll-pg.XXXXXX")
pass=0
fail=0
check() {
	local name=$1
	shift
	if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $name"; fi
}
cleanup() {
	"$pg" stop "$dir" >/dev/null 2>&1
	rm -rf "$dir"
}
trap cleanup EXIT
unset DATABASE_URL PGHOST PGPORT PGUSER PGDATABASE

out=$("$pg" start "$dir")
check "start exits 0" test $? -eq 0
echo "$out"
eval "$out"
export PGHOST PGPORT PGUSER PGDATABASE
check "variables printed" test -n "${PGHOST:-}" -a -n "${PGPORT:-}" -a -n "${DATABASE_URL:-}"
check "env file" cmp -s <(echo "$out") "$dir/env"

check "create and insert over the socket" psql -qX -v ON_ERROR_STOP=1 \
	-c "create table t (id bigint primary key, fee_vnd bigint not null)" \
	-c "insert into t values (1, 35000), (2, 128700)"
sum=$(psql -qXtA -c "select sum(fee_vnd) from t")
check "read back over the socket (163700)" test "$sum" = "163700"
sum=$(psql "$DATABASE_URL" -qXtA -c "select sum(fee_vnd) from t")
check "read back over TCP" test "$sum" = "163700"
check "data checksums on" test "$(psql -qXtA -c 'show data_checksums')" = "on"
check "fsync on" test "$(psql -qXtA -c 'show fsync')" = "on"
check "server not running as root" test "$(psql -qXtA -c "select 1")" = "1"

again=$("$pg" start "$dir")
check "start again: same server" test "$(echo "$again" | grep PGPORT)" = "PGPORT=$PGPORT"
check "status running" "$pg" status "$dir"

check "stop exits 0" "$pg" stop "$dir"
check "status stopped" bash -c "! '$pg' status '$dir' >/dev/null"
check "no postmaster.pid" test ! -f "$dir/data/postmaster.pid"
check "not accepting connections" bash -c "! pg_isready -q -h '$PGHOST' -p '$PGPORT'"
check "stop again harmless" "$pg" stop "$dir"

# DATABASE_URL set: use that server, start nothing
"$pg" start "$dir" >/dev/null
url=$(grep DATABASE_URL "$dir/env" | cut -d= -f2-)
other=$(mktemp -d "${TMPDIR:-/tmp}/toll-pg2.XXXXXX")
out=$(DATABASE_URL=$url "$pg" start "$other")
check "DATABASE_URL: uses it" test "$out" = "DATABASE_URL=$url"
check "DATABASE_URL: starts nothing" test ! -d "$other/data"
out=$(DATABASE_URL=postgresql://toll@127.0.0.1:1/none "$pg" start "$other" 2>&1)
check "DATABASE_URL unreachable: clear error" grep -q "does not answer" <<<"$out"
rm -rf "$other"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

#!/usr/bin/env bash
# Every program answers --help and --version on stdout with exit 0, refuses
# an unknown command with exit 2, and make install honours DESTDIR/PREFIX.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${TOLL_BIN:-$top/build/bin}
pass=0
fail=0
check() {
	local name=$1
	shift
	if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $name"; fi
}

for prog in "$bin"/toll-*; do
	[ -x "$prog" ] || continue
	name=$(basename "$prog")
	out=$("$prog" --help 2>/dev/null)
	check "$name --help exits 0" test $? -eq 0
	check "$name --help prints usage on stdout" grep -qi usage <<<"$out"
	out=$("$prog" --version 2>/dev/null)
	check "$name --version exits 0" test $? -eq 0
	check "$name --version names itself" grep -q "^$name " <<<"$out"
	"$prog" no-such-command >/dev/null 2>&1
	check "$name refuses an unknown command with 2" test $? -eq 2
done

dest=$(mktemp -d "${TMPDIR:-/tmp}/toll-install.XXXXXX")
make -s -C "$top" install O="${bin%/bin}" SAN=1 DESTDIR="$dest" PREFIX=/opt/toll >/dev/null 2>&1
check "make install DESTDIR PREFIX" test -x "$dest/opt/toll/bin/toll-sim"
rm -rf "$dest"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]

#!/usr/bin/env bash
# An independent Modbus client (mbpoll) reads the simulator: the reader's
# magic 0x5246 and map version 0x0001 on unit 1, and the I/O unit's closed
# barrier on unit 2; an unknown unit id gets no answer.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${TOLL_BIN:-$top/build/bin}
work=$(mktemp -d "${TMPDIR:-/tmp}/toll-mbpoll.XXXXXX")
pass=0
fail=0
sim_pid=

cleanup() {
	if [ -n "$sim_pid" ] && kill -0 "$sim_pid" 2>/dev/null; then
		kill -TERM "$sim_pid"
		wait "$sim_pid" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT

check() { # check NAME COMMAND...
	local name=$1
	shift
	if "$@"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: $name"
	fi
}

free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 30000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

base=$(free_port) || { echo "no free port"; exit 1; }
"$bin/toll-sim" devices --listen "127.0.0.1:$base" --lanes 2 --ctl "$work/sim.sock" \
	--seed 5 >"$work/sim.log" 2>&1 &
sim_pid=$!

# wait for readiness by polling the port, bounded
for _ in $(seq 1 500); do
	(exec 3<>"/dev/tcp/127.0.0.1/$base") 2>/dev/null && break
	sleep 0.02
done

out=$(mbpoll -m tcp -a 1 -t 4:hex -r 1 -c 2 -1 -p "$base" 127.0.0.1 2>&1)
echo "$out"
check "magic 0x5246 at register 1" grep -q '^\[1\]:[[:space:]]*0x5246' <<<"$out"
check "map version 0x0001 at register 2" grep -q '^\[2\]:[[:space:]]*0x0001' <<<"$out"

# lane 1 listens on BASE+1
out=$(mbpoll -m tcp -a 1 -t 4:hex -r 1 -c 1 -1 -p "$((base + 1))" 127.0.0.1 2>&1)
check "lane 1 on BASE+1" grep -q '^\[1\]:[[:space:]]*0x5246' <<<"$out"

# I/O unit: discrete input 5 (barrier closed limit; mbpoll counts from 1)
out=$(mbpoll -m tcp -a 2 -t 1 -r 6 -c 1 -1 -p "$base" 127.0.0.1 2>&1)
echo "$out"
check "barrier closed limit" grep -q '^\[6\]:[[:space:]]*1' <<<"$out"

# an exception: writing the reader's magic register is refused
out=$(mbpoll -m tcp -a 1 -t 4 -r 1 -1 -p "$base" 127.0.0.1 7 2>&1)
check "write to read-only refused" grep -qi 'illegal data address' <<<"$out"

# nobody answers unit 9
out=$(mbpoll -m tcp -a 9 -t 4:hex -r 1 -c 1 -1 -o 0.3 -p "$base" 127.0.0.1 2>&1)
check "unit 9 unanswered" grep -qi 'timed out' <<<"$out"

check "simulator alive" kill -0 "$sim_pid"
kill -TERM "$sim_pid"
wait "$sim_pid"
rc=$?
check "clean stop on SIGTERM (rc $rc)" test "$rc" -eq 0
sim_pid=

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

#!/usr/bin/env bash
# Fault test: a bad link between the lanes and central.  Every message the
# lanes and central exchange (the uplink's batches and acknowledgements,
# the list's deltas, heartbeats, requests and answers) goes through
# `toll-sim relay`, which drops 10 %, duplicates 10 %, holds back 10 % to
# swap with the next one and delays each by up to 20 ms, from the seed,
# for the whole run, traffic and drain.  The lanes resend what got no
# answer; central must settle each record once whatever arrives twice, late
# or out of order.  Then the invariants, in SQL (tests/integration/fault_lib.sh),
# and the relay's counters show that each fault happened in both directions.
. "$(dirname "$0")/fault_lib.sh"

fault_relay --drop 10 --dup 10 --reorder 10 --delay-ms 20
fault_start
fault_traffic_done
fault_check
# the faults did happen, both ways, on the uplink (route 0)
relay_stats >"$work/relay-stats.txt"
for d in to-server to-client; do
	for f in dropped duplicated reordered; do
		n=$(sed -n "s/^route 0 $d .* $f=\([0-9]*\).*/\1/p" "$work/relay-stats.txt")
		check "relay: uplink $d: $f ${n:-?} > 0" test "${n:-0}" -gt 0
	done
done
fault_finish

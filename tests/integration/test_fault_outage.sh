#!/usr/bin/env bash
# Fault test: central unreachable for 30 s under traffic.  The lanes reach
# central through `toll-sim relay` (no other fault); once traffic flows the
# relay goes down for FAULT_OUTAGE_MS (30000): every connection (uplink and
# list) is cut and new ones are refused, central itself runs on.  The lanes
# must keep deciding and journaling (their transactions go on while
# central acknowledges nothing), then send it all once central is back.
# Then the invariants, in SQL (tests/integration/fault_lib.sh).
FAULT_DURATION=${FAULT_DURATION:-45}
. "$(dirname "$0")/fault_lib.sh"
outage_ms=${FAULT_OUTAGE_MS:-30000}

acked_total() {
	local p n=0 a
	for p in $procs; do
		for a in $(lane_table "$p" | awk '{print $3}'); do n=$((n + a)); done
	done
	echo "$n"
}
# every toll-lane has noticed (an uplink with nothing to send has not tried)
uplinks_disconnected() {
	local p
	for p in $procs; do [ "$(lane_table "$p" | grep -c ' DISCONNECTED$')" -ge 1 ] || return 1; done
}
relay_up() { relay_stats | grep -q '^relay .* state=up'; }
relay_down() { relay_stats | grep -q '^relay .* state=down'; }

fault_relay
fault_start
check "under traffic" wait_for 90 txns_at_least 15
say "central unreachable for $outage_ms ms from $(txns_made) transactions"
require "relay down" relay_ctl down "ms=$outage_ms"
t0=$(txns_made)
sleep 1 # a reply on its way when the relay went down has been counted
a0=$(acked_total)
# both waits fit in the outage
check "the lanes see central gone" wait_for $((outage_ms / 3000)) uplinks_disconnected
check "the lanes keep charging with central unreachable" wait_for $((outage_ms / 2000)) txns_at_least $((t0 + 10))
relay_down && d0=1 || d0=0
a1=$(acked_total)
relay_down && d1=1 || d1=0
check "the outage still on (else the next check means nothing)" test "$d0$d1" = 11
check "central acknowledged nothing meanwhile ($a1 = $a0)" test "$a1" = "$a0"
check "the relay comes up again" wait_for $((outage_ms / 1000 + 30)) relay_up
say "central reachable again: $(($(txns_made) - t0)) transactions made while it was not"

fault_traffic_done
fault_check
fault_finish

#!/usr/bin/env bash
# Fault test: lane controllers killed and readers rebooted under traffic.
#   - toll-lane B (station 102) killed with -9, started again 2 s later;
#   - the reader of station 101 lane 1 reboots (new boot id, its FIFO lost);
#   - toll-lane A (station 101, three lanes) killed with -9 and started at once;
#   - the reader of station 102 lane 1 reboots, then toll-lane B is killed
#     with -9 again.
# The other station's lanes go on meanwhile.  Then the invariants, in SQL
# (tests/integration/fault_lib.sh).
. "$(dirname "$0")/fault_lib.sh"

reboots() { lane_status "$1" | awk -v l="lane $2 " 'index($0, l) == 1 {f = 1; next} f && /reboots=/ {sub(/.*reboots=/, ""); sub(/ .*/, ""); print; exit}'; }
reboots_at_least() { local r; r=$(reboots "$1" "$2"); [ -n "$r" ] && [ "$r" -ge "$3" ]; }

fault_start
check "station 102 under traffic" wait_for 90 lane_txns_at_least B 5
say "kill -9 toll-lane B at $(txns_made) transactions"
kill_lane B
sleep 2
start_lane B

check "station 101 under traffic" wait_for 90 lane_txns_at_least A 25
say "reader of station 101 lane 1 reboots"
check "reboot command" sim_ctl A reboot lane=0
check "toll-lane A sees the reboot" wait_for 30 reboots_at_least A 1 1

check "station 101 still under traffic" wait_for 90 lane_txns_at_least A 45
say "kill -9 toll-lane A at $(txns_made) transactions"
kill_lane A
start_lane A

check "station 102 still under traffic" wait_for 90 lane_txns_at_least B 25
say "reader of station 102 lane 1 reboots"
check "reboot command" sim_ctl B reboot lane=0
check "toll-lane B sees the reboot" wait_for 30 reboots_at_least B 1 1
say "kill -9 toll-lane B at $(txns_made) transactions"
kill_lane B
start_lane B

fault_traffic_done
fault_check
fault_finish

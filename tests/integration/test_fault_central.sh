#!/usr/bin/env bash
# Fault test: central and its database fail under traffic.
#   - toll-central killed with -9, started again 3 s later: the lanes keep
#     charging, their uplink resends what central had not acknowledged;
#   - PostgreSQL stopped for 5 s and started again (scripts/pg-embedded):
#     central answers RETRY meanwhile and reconnects; the lanes keep
#     charging.
# Then the invariants, in SQL (tests/integration/fault_lib.sh).
. "$(dirname "$0")/fault_lib.sh"

db_up() { central_status | grep -q '^database up'; }

fault_start
check "under traffic" wait_for 90 txns_at_least 20
t0=$(txns_made)
say "kill -9 toll-central at $t0 transactions"
kill_central
check "the lanes keep charging with central gone" wait_for 30 txns_at_least $((t0 + 3))
start_central
require "central back" wait_for 60 central_ready

check "under traffic" wait_for 90 txns_at_least 80
t0=$(txns_made)
say "PostgreSQL stops at $t0 transactions"
require "PostgreSQL stopped" pg_stop
check "central sees the database down" wait_for 30 sh -c "\"$bin/toll-central\" status --socket \"$work/c.sock\" | grep -q '^database DOWN'"
check "the lanes keep charging with the database down" wait_for 30 txns_at_least $((t0 + 3))
sleep 2
require "PostgreSQL started again" pg_start
say "PostgreSQL back"
require "central reconnects" wait_for 60 db_up

fault_traffic_done
fault_check
fault_finish

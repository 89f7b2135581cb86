/* sim_server.h: the Modbus side of the simulator.  For each lane, a Modbus
 * TCP server on port base+lane and optionally a Modbus RTU server on a
 * pseudo-terminal, both presenting the lane's reader (unit 1), I/O unit
 * (unit 2) and display (unit 3).  Requests for other unit ids get no answer.
 *
 * Frames are assembled here from non-blocking reads, so a slow or malicious
 * client never stalls the others; each complete request is checked against
 * the map (fwi_map.h), its side effects applied to the device model, and the
 * reply made by libmodbus from a register image refreshed just before. */
#ifndef SIM_SERVER_H
#define SIM_SERVER_H

#include <poll.h>
#include <stdint.h>

#include "sim_world.h"

#define SIM_SERVER_MAX_CLIENTS 256

struct sim_server;

struct sim_server_stats {
	uint64_t requests, replies, exceptions, ignored_unit, silent_unit;
	uint64_t bad_frames, clients_accepted, clients_refused;
};

/* Listen on host:base_port+lane for every lane; with rtu_dir, also make a
 * pty per lane and a symlink rtu_dir/laneN to its device.  Errors are
 * logged; returns NULL on failure. */
struct sim_server *sim_server_new(struct sim_world *w, const char *host,
				  int base_port, const char *rtu_dir);
void sim_server_free(struct sim_server *s);

/* Add this server's descriptors to fds (at most max); returns how many. */
int sim_server_pollfds(struct sim_server *s, struct pollfd *fds, int max);
/* Handle what poll reported for the descriptors sim_server_pollfds gave. */
void sim_server_dispatch(struct sim_server *s, const struct pollfd *fds, int n,
			 int64_t now_ms, int64_t real_ms);
/* Timers: discard stale partial RTU frames. */
void sim_server_tick(struct sim_server *s, int64_t now_ms, int64_t real_ms);

const struct sim_server_stats *sim_server_stats(const struct sim_server *s);
/* The pty device of a lane's RTU server, or NULL. */
const char *sim_server_rtu_path(const struct sim_server *s, unsigned lane);

#endif

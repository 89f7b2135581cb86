/* sim_ctl.h: the simulator's control channel, a Unix stream socket that
 * takes one command line at a time (syntax in sim_scenario.h) and answers
 * with text lines ending in "ok" or "error: ...".  `toll-sim ctl` is its
 * shell client. */
#ifndef SIM_CTL_H
#define SIM_CTL_H

#include <poll.h>
#include <stdint.h>

#include "sim_server.h"
#include "sim_world.h"

#define SIM_CTL_MAX_CLIENTS 32

struct sim_ctl;

struct sim_ctl *sim_ctl_new(const char *path, struct sim_world *w,
			    struct sim_server *srv);
void sim_ctl_free(struct sim_ctl *c);

int sim_ctl_pollfds(struct sim_ctl *c, struct pollfd *fds, int max);
void sim_ctl_dispatch(struct sim_ctl *c, const struct pollfd *fds, int n,
		      int64_t now_ms, int64_t real_ms);
/* Answer wait-idle requests whose condition or deadline has come; idle
 * means the scenario has nothing left and no vehicle is on the road. */
void sim_ctl_tick(struct sim_ctl *c, int64_t now_ms, int scenario_done);
/* A quit command was received. */
int sim_ctl_quit_requested(const struct sim_ctl *c);

/* The client: send one command line to the socket, copy the answer to out.
 * Returns 0 for "ok", 1 for "error: ...", 2 when it could not talk to the
 * simulator. */
int sim_ctl_request(const char *path, const char *line, int timeout_ms,
		    FILE *out);

#endif

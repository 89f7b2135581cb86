/* itest.h: helpers for integration tests that run the real programs on
 * loopback: free ports, starting a process with its output in a log file,
 * waiting by polling for readiness (never a fixed sleep), stopping by PID.
 * Checks print the seed/context and count failures; the test ends with
 * "N passed, N failed". */
#ifndef ITEST_H
#define ITEST_H

#include <stdint.h>
#include <sys/types.h>

struct itest_proc {
	pid_t pid;
	char log[256];
};

/* A base port such that base..base+n-1 are free on 127.0.0.1 right now. */
int itest_free_ports(int n);

/* Path of a built program: $TOLL_BIN/name (or build/bin/name). */
const char *itest_bin(const char *name);

/* fork+exec argv with stdout and stderr appended to log; 0 or -1. */
int itest_start(struct itest_proc *p, const char *log, char *const argv[]);
/* SIGTERM, wait up to timeout_ms, then SIGKILL.  Returns the exit status
 * as from waitpid, or -1. */
int itest_stop(struct itest_proc *p, int timeout_ms);
/* SIGKILL and reap. */
void itest_kill9(struct itest_proc *p);
/* 1 while the process runs. */
int itest_alive(struct itest_proc *p);

/* Poll until a TCP connect to 127.0.0.1:port succeeds; 0 or -1. */
int itest_wait_port(int port, int timeout_ms);

/* Run `toll-sim ctl --ctl ctl_path COMMAND` (printf-style), its output
 * appended to logdir/ctl.log; returns its exit code (0: ok). */
int itest_sim_ctl(const char *ctl_path, const char *logdir, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* system() of a printf-formatted command; its exit code, or -1. */
int itest_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Monotonic milliseconds. */
int64_t itest_now_ms(void);
void itest_sleep_ms(int ms);

/* Test bookkeeping. */
extern int itest_passed, itest_failed;
#define ITEST_CHECK(cond, ...)                                              \
	do {                                                                \
		if (cond) {                                                 \
			itest_passed++;                                     \
		} else {                                                    \
			itest_failed++;                                     \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                       \
			fprintf(stderr, "\n");                              \
		}                                                           \
	} while (0)
/* Print the closing line and return the exit code. */
int itest_finish(void);

#endif

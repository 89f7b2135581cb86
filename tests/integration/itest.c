/* itest.c: integration test helpers. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"

int itest_passed, itest_failed;

/* Every process a test starts is killed at exit, whatever path the test
 * took out, so no simulator or daemon outlives its test. */
#define ITEST_MAX_PROCS 64
static struct itest_proc *procs[ITEST_MAX_PROCS];
static int nprocs, atexit_set;

static void
kill_survivors(void)
{
	for (int i = 0; i < nprocs; i++)
		if (procs[i] != NULL && procs[i]->pid > 0)
			itest_kill9(procs[i]);
}

int64_t
itest_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
itest_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int
port_free(int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

	if (fd < 0)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

int
itest_free_ports(int n)
{
	unsigned seed = (unsigned)getpid() ^ (unsigned)itest_now_ms();

	for (int attempt = 0; attempt < 200; attempt++) {
		int base = 20000 + (int)(rand_r(&seed) % 30000);
		int k;
		for (k = 0; k < n && port_free(base + k); k++)
			;
		if (k == n)
			return base;
	}
	fprintf(stderr, "itest: no %d free consecutive ports\n", n);
	exit(2);
}

const char *
itest_bin(const char *name)
{
	static char path[4][512];
	static int next;
	const char *dir = getenv("TOLL_BIN");
	char *p = path[next++ % 4];

	snprintf(p, sizeof(path[0]), "%s/%s", dir && *dir ? dir : "build/bin", name);
	return p;
}

int
itest_start(struct itest_proc *p, const char *log, char *const argv[])
{
	snprintf(p->log, sizeof(p->log), "%s", log);
	if (!atexit_set) {
		atexit(kill_survivors);
		atexit_set = 1;
	}
	int known = 0;
	for (int i = 0; i < nprocs; i++)
		known |= procs[i] == p;
	if (!known && nprocs < ITEST_MAX_PROCS)
		procs[nprocs++] = p;
	p->pid = fork();
	if (p->pid < 0)
		return -1;
	if (p->pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execv(argv[0], argv);
		fprintf(stderr, "itest: could not run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return 0;
}

int
itest_alive(struct itest_proc *p)
{
	int st;
	if (p->pid <= 0)
		return 0;
	if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
		p->pid = -1;
		return 0;
	}
	return 1;
}

int
itest_stop(struct itest_proc *p, int timeout_ms)
{
	int64_t deadline = itest_now_ms() + timeout_ms;
	int st;

	if (p->pid <= 0)
		return -1;
	kill(p->pid, SIGTERM);
	while (itest_now_ms() < deadline) {
		pid_t r = waitpid(p->pid, &st, WNOHANG);
		if (r == p->pid) {
			p->pid = -1;
			return st;
		}
		itest_sleep_ms(10);
	}
	fprintf(stderr, "itest: pid %d did not stop in %d ms, killing\n", (int)p->pid, timeout_ms);
	kill(p->pid, SIGKILL);
	waitpid(p->pid, &st, 0);
	p->pid = -1;
	return -1;
}

void
itest_kill9(struct itest_proc *p)
{
	int st;
	if (p->pid <= 0)
		return;
	kill(p->pid, SIGKILL);
	waitpid(p->pid, &st, 0);
	p->pid = -1;
}

int
itest_wait_port(int port, int timeout_ms)
{
	int64_t deadline = itest_now_ms() + timeout_ms;
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	while (itest_now_ms() < deadline) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd >= 0) {
			int ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
			close(fd);
			if (ok)
				return 0;
		}
		itest_sleep_ms(10);
	}
	return -1;
}

int
itest_finish(void)
{
	printf("%d passed, %d failed\n", itest_passed, itest_failed);
	return itest_failed == 0 && itest_passed > 0 ? 0 : 1;
}

int
itest_sim_ctl(const char *ctl_path, const char *logdir, const char *fmt, ...)
{
	char line[512], cmd[2048];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "%s ctl --ctl %s %s >>%s/ctl.log 2>&1", itest_bin("toll-sim"),
		 ctl_path, line, logdir);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int
itest_run(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

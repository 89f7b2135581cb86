/* test_lane_reader.c: the lane controller's reader client against the real
 * simulator: every read stored exactly once, in order, across a reader
 * reboot (lost reads counted), a reader that goes silent, a controller
 * restart between store and ACK, and a FIFO overflow (lost reads counted). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "itest.h"
#include "lane_modbus.h"
#include "lane_reader.h"

static char ctl_path[512], workdir[256];

#define ctl(...) itest_sim_ctl(ctl_path, workdir, __VA_ARGS__)

/* The "journal": what was stored, in order. */
#define MAX_STORED 256
static struct {
	uint32_t boot, seq;
	uint8_t id;
} stored[MAX_STORED];
static int nstored;
static int fail_store; /* refuse the next store (a full disk) */

static int
store(void *ctx, const struct fwi_record *recs, int n, uint32_t boot)
{
	(void)ctx;
	if (fail_store) {
		fail_store--;
		return TOLL_ESYS;
	}
	for (int i = 0; i < n && nstored < MAX_STORED; i++) {
		stored[nstored].boot = boot;
		stored[nstored].seq = recs[i].seq;
		stored[nstored].id = recs[i].epc[11];
		nstored++;
	}
	return 0;
}

static char alarms[8192];

static void
alarm_cb(void *ctx, int prio, const char *text)
{
	(void)ctx;
	fprintf(stderr, "alarm <%d> %s\n", prio, text);
	if (strlen(alarms) + strlen(text) + 2 < sizeof(alarms)) {
		strcat(alarms, text);
		strcat(alarms, "\n");
	}
}

/* Poll until want reads are stored or timeout. */
static void
poll_until(struct lane_reader *r, int want, int timeout_ms)
{
	int64_t deadline = itest_now_ms() + timeout_ms;
	while (nstored < want && itest_now_ms() < deadline) {
		lane_reader_poll(r, toll_mono_ms(), toll_real_ms());
		itest_sleep_ms(10);
	}
}

static int
count_id(uint8_t id)
{
	int k = 0;
	for (int i = 0; i < nstored; i++)
		k += stored[i].id == id;
	return k;
}

static void
tags(int from, int to)
{
	for (int i = from; i < to; i++) {
		ITEST_CHECK(ctl("tag lane=0 epc=aa00000000000000000000%02x ms=40", i) == 0, "ctl tag %d", i);
		itest_sleep_ms(50);
	}
}

int
main(void)
{
	char log[400], portarg[64];
	const char *tmp = getenv("TMPDIR");
	struct lane_link *link;
	struct lane_reader *r;
	struct lane_reader_cfg cfg;

	snprintf(workdir, sizeof(workdir), "%s/toll-itest-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(workdir) == NULL)
		return 2;
	snprintf(log, sizeof(log), "%s/sim.log", workdir);
	snprintf(ctl_path, sizeof(ctl_path), "%s/sim.sock", workdir);
	int port = itest_free_ports(1);
	snprintf(portarg, sizeof(portarg), "127.0.0.1:%d", port);
	char *argv[] = {(char *)itest_bin("toll-sim"), "devices", "--listen", portarg, "--ctl", ctl_path,
			"--fifo", "8", "--boot-ms", "300", "--seed", "11", NULL};
	static struct itest_proc p;
	if (itest_start(&p, log, argv) != 0 || itest_wait_port(port, 10000) != 0) {
		fprintf(stderr, "simulator did not start; log %s\n", log);
		return 1;
	}
	char ep[64];
	snprintf(ep, sizeof(ep), "tcp:127.0.0.1:%d", port);
	ITEST_CHECK(lane_link_new(ep, 200, &link) == 0, "link");
	lane_reader_cfg_defaults(&cfg);
	ITEST_CHECK(lane_reader_new(link, &cfg, store, alarm_cb, NULL, &r) == 0, "reader");

	/* 1. plain: 5 reads stored once each, in order */
	tags(0, 5);
	poll_until(r, 5, 5000);
	ITEST_CHECK(nstored == 5, "stored %d of 5", nstored);
	for (int i = 0; i < nstored; i++)
		ITEST_CHECK(stored[i].seq == (uint32_t)i + 1 && stored[i].id == i, "read %d: seq %u id %u",
			    i, stored[i].seq, stored[i].id);
	ITEST_CHECK(lane_reader_stats(r)->configured == 1, "configured once");

	/* 2. a failed store is not ACKed; the reads come again and are stored once */
	fail_store = 1;
	tags(5, 7);
	poll_until(r, 7, 5000);
	ITEST_CHECK(nstored == 7 && count_id(5) == 1 && count_id(6) == 1, "after a failed store: %d", nstored);

	/* 3. controller restart between store and ACK: a new client resumes
	 * from what the journal holds and skips what was stored */
	tags(7, 9);
	itest_sleep_ms(100);
	lane_reader_free(r);
	lane_link_free(link);
	/* pretend the old controller stored seq 8 (id 7) but died before the ACK */
	stored[nstored].boot = stored[0].boot;
	stored[nstored].seq = 8;
	stored[nstored].id = 7;
	nstored++;
	ITEST_CHECK(lane_link_new(ep, 200, &link) == 0, "link again");
	ITEST_CHECK(lane_reader_new(link, &cfg, store, alarm_cb, NULL, &r) == 0, "reader again");
	lane_reader_resume(r, stored[0].boot, 8);
	poll_until(r, 9, 5000);
	ITEST_CHECK(nstored == 9 && count_id(7) == 1 && count_id(8) == 1,
		    "after restart: %d stored, id7 x%d, id8 x%d", nstored, count_id(7), count_id(8));

	/* 4. overflow: 11 reads into a FIFO of 8 with nobody polling: 3 lost, counted */
	tags(20, 31);
	itest_sleep_ms(100);
	poll_until(r, 17, 5000);
	ITEST_CHECK(nstored == 17, "after overflow %d stored", nstored);
	ITEST_CHECK(lane_reader_stats(r)->lost_reads == 3, "lost reads %llu",
		    (unsigned long long)lane_reader_stats(r)->lost_reads);

	/* 5. reboot: reads not yet delivered are lost; the new boot's reads
	 * start at seq 1 and are stored; configuration applied again */
	tags(40, 42);
	ITEST_CHECK(ctl("reboot lane=0") == 0, "reboot");
	int64_t deadline = itest_now_ms() + 5000;
	while (lane_reader_stats(r)->reboots == 0 && itest_now_ms() < deadline) {
		lane_reader_poll(r, toll_mono_ms(), toll_real_ms());
		itest_sleep_ms(20);
	}
	ITEST_CHECK(lane_reader_stats(r)->reboots == 1, "reboot seen");
	ITEST_CHECK(lane_reader_stats(r)->configured == 2, "configured again: %llu",
		    (unsigned long long)lane_reader_stats(r)->configured);
	int before = nstored;
	tags(50, 52);
	poll_until(r, before + 2, 5000);
	ITEST_CHECK(nstored == before + 2 && stored[nstored - 2].seq == 1 && stored[nstored - 1].seq == 2,
		    "new boot from seq 1");

	/* 6. offline: polls fail fast, reads buffered meanwhile arrive after */
	ITEST_CHECK(ctl("offline lane=0 unit=reader ms=1000") == 0, "offline");
	tags(60, 62);
	int64_t t0 = itest_now_ms();
	int fails = 0;
	while (itest_now_ms() - t0 < 800)
		fails += lane_reader_poll(r, toll_mono_ms(), toll_real_ms()) < 0;
	ITEST_CHECK(fails > 0, "offline reader noticed");
	before = nstored;
	poll_until(r, before + 2, 10000);
	ITEST_CHECK(count_id(60) == 1 && count_id(61) == 1, "reads made while offline delivered once");

	/* device faults in the status word are reported as they come and go */
	ITEST_CHECK(ctl("reader-fault lane=0 antennas=1") == 0, "antenna fault");
	for (int i = 0; i < 20; i++) {
		lane_reader_poll(r, toll_mono_ms(), toll_real_ms());
		itest_sleep_ms(10);
	}
	ITEST_CHECK(strstr(alarms, "reader antenna fault: on") != NULL, "antenna fault reported");
	ITEST_CHECK(ctl("reader-fault lane=0") == 0, "fault cleared");
	for (int i = 0; i < 20; i++) {
		lane_reader_poll(r, toll_mono_ms(), toll_real_ms());
		itest_sleep_ms(10);
	}
	ITEST_CHECK(strstr(alarms, "reader antenna fault: cleared") != NULL, "antenna fault clearing reported");

	/* nothing was ever stored twice */
	for (int i = 0; i < nstored; i++)
		for (int j = i + 1; j < nstored; j++)
			ITEST_CHECK(!(stored[i].boot == stored[j].boot && stored[i].seq == stored[j].seq),
				    "(boot %08x, seq %u) stored twice", stored[i].boot, stored[i].seq);
	lane_reader_free(r);
	lane_link_free(link);
	ITEST_CHECK(itest_stop(&p, 5000) == 0, "simulator stops");
	if (itest_failed)
		fprintf(stderr, "logs in %s\n", workdir);
	return itest_finish();
}

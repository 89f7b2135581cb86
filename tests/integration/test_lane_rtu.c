/* test_lane_rtu.c: toll-lane over Modbus RTU (reader, I/O unit and display
 * on one pseudo-terminal bus), and its behaviour when devices fail: a reader
 * offline for a while (reads buffered and delivered after, vehicles charged
 * once), and the I/O unit's host watchdog when the lane controller stops
 * (red light, barrier forced down). */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

static char workdir[256], ctl_path[512], conf_path[512], sock_path[512];

#define ctl(...) itest_sim_ctl(ctl_path, workdir, __VA_ARGS__)

#define run itest_run

static int
count_lines(const char *file, const char *a, const char *b)
{
	char path[600], line[1024];
	int n = 0;
	snprintf(path, sizeof(path), "%s/%s", workdir, file);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, a) && (b == NULL || strstr(line, b)))
			n++;
	fclose(f);
	return n;
}

static struct itest_proc sim, lane;

int
main(void)
{
	const char *tmp = getenv("TMPDIR");
	char buf[4096], log[600], rtudir[300], portarg[64];

	snprintf(workdir, sizeof(workdir), "%s/toll-itest-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(workdir) == NULL)
		return 2;
	printf("work dir %s\n", workdir);
	snprintf(ctl_path, sizeof(ctl_path), "%s/sim.sock", workdir);
	snprintf(conf_path, sizeof(conf_path), "%s/lane.conf", workdir);
	snprintf(sock_path, sizeof(sock_path), "%s/lane.sock", workdir);
	snprintf(rtudir, sizeof(rtudir), "%s/rtu", workdir);
	mkdir(rtudir, 0755);
	int port = itest_free_ports(1);

	ITEST_CHECK(run("%s keygen %s/lane.key >/dev/null", itest_bin("toll-lane"), workdir) == 0, "keygen");
	snprintf(buf, sizeof(buf), "%s/tags.csv", workdir);
	FILE *f = fopen(buf, "w");
	fprintf(f, "toll-taglist-csv 1\naccount,1,1000000\n");
	for (int i = 0; i < 10; i++)
		fprintf(f, "30360000000000000000%04x,,1,1,51R%05d,valid,0,,,\n", i, i);
	fclose(f);
	ITEST_CHECK(run("%s taglist import %s/tags.csv %s/taglist.tsl >/dev/null", itest_bin("toll-lane"), workdir,
			workdir) == 0, "taglist");
	snprintf(buf, sizeof(buf), "%s/tariff.txt", workdir);
	f = fopen(buf, "w");
	fprintf(f, "toll-tariff 1\nversion 1\nopen 101 35000 50000 75000 120000 180000\n");
	fclose(f);
	f = fopen(conf_path, "w");
	fprintf(f,
		"station.id = 101\nkey.file = %s/lane.key\nstate.dir = %s/state\n"
		"taglist.file = %s/taglist.tsl\ntariff.file = %s/tariff.txt\ncontrol.socket = %s\n"
		"lane.0.reader = rtu:%s/lane0:115200\ndevice.timeout = 100ms\nio.watchdog = 600ms\n",
		workdir, workdir, workdir, workdir, sock_path, rtudir);
	fclose(f);

	snprintf(log, sizeof(log), "%s/sim.log", workdir);
	snprintf(portarg, sizeof(portarg), "127.0.0.1:%d", port);
	char *sargv[] = {(char *)itest_bin("toll-sim"), "devices", "--listen", portarg, "--rtu", rtudir,
			 "--ctl", ctl_path, "--seed", "9", "--max-wait-ms", "8000", NULL};
	if (itest_start(&sim, log, sargv) != 0 || itest_wait_port(port, 10000) != 0)
		return 1;
	snprintf(log, sizeof(log), "%s/lane.log", workdir);
	char *largv[] = {(char *)itest_bin("toll-lane"), "run", "-c", conf_path, NULL};
	ITEST_CHECK(itest_start(&lane, log, largv) == 0, "start toll-lane");
	int64_t deadline = itest_now_ms() + 15000;
	while (count_lines("lane.log", "I/O unit online", NULL) < 1 && itest_now_ms() < deadline)
		itest_sleep_ms(50);
	ITEST_CHECK(count_lines("lane.log", "reader online", NULL) >= 1, "reader online over RTU");

	/* two vehicles over RTU */
	for (int i = 0; i < 2; i++) {
		ITEST_CHECK(ctl("vehicle lane=0 epc=30360000000000000000%04x speed=35", i) == 0, "vehicle");
		ITEST_CHECK(ctl("wait-idle ms=30000") == 0, "idle");
	}
	ITEST_CHECK(count_lines("sim.log", "passed", NULL) == 2, "both passed over RTU");

	/* the reader goes silent for 6 s while a vehicle comes: its read is
	 * buffered, delivered after, and the vehicle charged once */
	ITEST_CHECK(ctl("offline lane=0 unit=reader ms=6000") == 0, "offline");
	ITEST_CHECK(ctl("vehicle lane=0 epc=30360000000000000000%04x speed=35", 2) == 0, "vehicle");
	ITEST_CHECK(ctl("wait-idle ms=30000") == 0, "idle");
	ITEST_CHECK(count_lines("sim.log", "passed", NULL) == 3, "the vehicle passed once the reader was back");
	ITEST_CHECK(count_lines("sim.log", "vehicle 3 stops at the barrier", NULL) == 1,
		    "it waited at the barrier while the reader was silent");
	ITEST_CHECK(count_lines("lane.log", "reader not answering", NULL) >= 1, "the outage was noticed");

	/* the lane controller freezes: the I/O unit's watchdog sets red and
	 * holds the barrier down */
	kill(lane.pid, SIGSTOP);
	deadline = itest_now_ms() + 5000;
	while (count_lines("sim.log", "host watchdog expired on", NULL) < 1 && itest_now_ms() < deadline)
		itest_sleep_ms(50);
	ITEST_CHECK(count_lines("sim.log", "host watchdog expired on", NULL) == 1, "I/O watchdog expired");
	kill(lane.pid, SIGCONT);
	deadline = itest_now_ms() + 5000;
	while (count_lines("sim.log", "host watchdog expired off", NULL) < 1 && itest_now_ms() < deadline)
		itest_sleep_ms(50);
	ITEST_CHECK(count_lines("sim.log", "host watchdog expired off", NULL) == 1, "lane fed the watchdog again");
	ITEST_CHECK(ctl("vehicle lane=0 epc=30360000000000000000%04x speed=35", 3) == 0, "vehicle");
	ITEST_CHECK(ctl("wait-idle ms=30000") == 0, "idle");
	ITEST_CHECK(count_lines("sim.log", "passed", NULL) == 4, "the lane works after the watchdog");

	ITEST_CHECK(itest_stop(&lane, 10000) == 0, "toll-lane stops cleanly");
	snprintf(buf, sizeof(buf), "%s journal dump %s/state/lane-1/journal --csv > %s/lane1.csv", itest_bin("toll-lane"),
		 workdir, workdir);
	ITEST_CHECK(run("%s", buf) == 0, "dump");
	ITEST_CHECK(count_lines("lane1.csv", ",paid,", NULL) == 4, "4 paid, once each: %d",
		    count_lines("lane1.csv", ",paid,", NULL));
	ITEST_CHECK(run("%s journal verify %s/state/lane-1/journal --key %s/lane.key >/dev/null", itest_bin("toll-lane"),
			workdir, workdir) == 0, "journal verifies");
	itest_stop(&sim, 5000);
	if (itest_failed)
		fprintf(stderr, "logs in %s\n", workdir);
	return itest_finish();
}

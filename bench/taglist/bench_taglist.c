/* bench_taglist.c: the tag status list at national scale: write a seeded
 * list of N tags (1 account per 1.2 tags), then load it and measure, in the
 * same run: load time, resident memory per tag, lookups per second (hits
 * and misses); baselines: reading the file with no parsing, and lookups in
 * a plain array of the same keys.  Prints figures; never fails on them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lane_taglist.h"
#include "rng.h"

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long
rss_kib(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f == NULL || fscanf(f, "%ld %ld", &pages, &resident) != 2)
		resident = 0;
	if (f)
		fclose(f);
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void
epc_of(uint64_t i, uint8_t e[12])
{
	uint64_t x = i * 0x9E3779B97F4A7C15ull;
	e[0] = 0x30;
	e[1] = 0x34;
	for (int k = 0; k < 8; k++)
		e[2 + k] = (uint8_t)(x >> (8 * k));
	e[10] = (uint8_t)(i >> 8);
	e[11] = (uint8_t)i;
}

int
main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000;
	const char *path = argc > 2 ? argv[2] : "/tmp/toll-bench.tsl";
	uint64_t naccts = n * 10 / 12;
	struct lane_taglist_writer *w;
	struct lane_taglist *l;
	char err[256], plate[16];
	uint8_t e[12];
	double t0;

	printf("tags %llu, accounts %llu\n", (unsigned long long)n, (unsigned long long)naccts);
	t0 = now_s();
	if (lane_taglist_writer_new(1, &w) != 0)
		return 1;
	for (uint64_t a = 1; a <= naccts; a++)
		lane_taglist_writer_account(w, a, (int64_t)(a % 1000) * 10000);
	for (uint64_t i = 0; i < n; i++) {
		epc_of(i, e);
		snprintf(plate, sizeof(plate), "%02lluA%05llu", (unsigned long long)(i % 99), (unsigned long long)(i % 100000));
		if (lane_taglist_writer_tag(w, e, 96, NULL, 1 + i % naccts, 1 + (unsigned)(i % 5), plate,
					    i % 50 == 0 ? LANE_TAG_LOW_BALANCE : LANE_TAG_VALID, 0, 0, 0, 0) != 0)
			return 1;
	}
	if (lane_taglist_writer_finish(w, path) != 0)
		return 1;
	lane_taglist_writer_free(w);
	printf("write: %.2f s\n", now_s() - t0);

	/* baseline: the file's bytes into memory, no parsing */
	FILE *f = fopen(path, "rb");
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *raw = malloc((size_t)size);
	t0 = now_s();
	size_t got = fread(raw, 1, (size_t)size, f);
	double t_read = now_s() - t0;
	fclose(f);
	free(raw);
	(void)got;

	long before = rss_kib();
	t0 = now_s();
	if (lane_taglist_load(path, &l, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	double t_load = now_s() - t0;
	long after = rss_kib();
	printf("file: %.1f MB; baseline read alone %.2f s\n", (double)size / 1e6, t_read);
	printf("load: %.2f s (target < 3 s)\n", t_load);
	printf("memory: %.1f B/tag resident, %.1f B/tag allocated (target <= 48)\n",
	       (double)(after - before) * 1024 / (double)n, (double)lane_taglist_memory_bytes(l) / (double)n);

	struct toll_rng rng;
	struct lane_tag_info info;
	const int lookups = 2000000;
	uint64_t hits = 0;
	toll_rng_seed(&rng, 1);
	t0 = now_s();
	for (int i = 0; i < lookups; i++) {
		epc_of(toll_rng_below(&rng, 2 * n), e); /* half are misses */
		hits += lane_taglist_lookup(l, e, 96, NULL, &info) == 0;
	}
	double t_look = now_s() - t0;
	printf("lookups: %.2f M/s (%.0f ns each), %.0f%% hits\n", lookups / t_look / 1e6, t_look / lookups * 1e9,
	       100.0 * (double)hits / lookups);

	/* baseline: the same random keys into a plain array */
	uint8_t *arr = malloc(n * 12);
	for (uint64_t i = 0; i < n; i++)
		epc_of(i, arr + 12 * i);
	toll_rng_seed(&rng, 1);
	volatile uint64_t sink = 0;
	t0 = now_s();
	for (int i = 0; i < lookups; i++) {
		uint64_t k = toll_rng_below(&rng, 2 * n);
		epc_of(k, e);
		if (k < n)
			sink += (uint64_t)(memcmp(arr + 12 * k, e, 12) == 0);
	}
	double t_arr = now_s() - t0;
	printf("baseline: %.2f M/s (%.0f ns each) direct array access\n", lookups / t_arr / 1e6, t_arr / lookups * 1e9);
	free(arr);
	lane_taglist_free(l);
	unlink(path);
	return 0;
}

/* bench_taglist.c: the tag status list at national scale.
 *
 * A child process writes a seeded list of N tags (one account per 1.2
 * tags; 1 % long EPCs, 20 % with a TID, 2 % passes, a few invalid, low and
 * exempt), so its memory is gone before the parent measures, in one run:
 *   - load time, warm (the file in the page cache) and cold (its pages
 *     dropped with POSIX_FADV_DONTNEED), against reading the same file
 *     into memory with no parsing;
 *   - resident memory per tag (/proc/self/statm before and after the load)
 *     and what the list says it allocated;
 *   - lookups per second and latency, random hits and random misses, one
 *     thread and two, against one random access to a plain array of the
 *     same keys; debits by account id;
 *   - updates after load (a tenth of N: 80 % changed tags, 20 % new ones,
 *     and central's balance for N/100 accounts): apply time, what the
 *     update layer costs per entry, the lookups again (all, updated tags
 *     only, misses, two threads, and while one thread keeps applying
 *     updates), and saving the merged list and loading it back.
 * Prints the figures next to the targets; never fails on them.
 *
 * usage: bench_taglist [N [FILE [SEED]]] */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lane_taglist.h"
#include "rng.h"

#define LOOKUPS 2000000
#define LAT_SAMPLES 200000

static uint64_t seed = 20261122;

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

static uint64_t
mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

/* Tag i's EPC (SGTIN-96-like: header 0x30, a company prefix, a serial
 * unique by i); every 100th is 128 bits.  i >= N gives EPCs not listed. */
static unsigned
epc_of(uint64_t i, uint8_t e[16])
{
	uint64_t x = mix(seed ^ (i * 0x2545F4914F6CDD1Dull));
	e[0] = 0x30;
	e[1] = 0x34;
	e[2] = (uint8_t)(0x25 + (x & 7));
	e[3] = (uint8_t)(x >> 8);
	e[4] = (uint8_t)(i >> 32);
	e[5] = (uint8_t)(i >> 24);
	e[6] = (uint8_t)(i >> 16);
	e[7] = (uint8_t)(i >> 8);
	e[8] = (uint8_t)i;
	e[9] = (uint8_t)(x >> 16);
	e[10] = (uint8_t)(x >> 24);
	e[11] = (uint8_t)(x >> 32);
	e[12] = (uint8_t)(x >> 40);
	e[13] = (uint8_t)(x >> 48);
	e[14] = e[15] = 0;
	return i % 100 == 7 ? 128 : 96;
}

static int
write_list(uint64_t n, const char *path)
{
	uint64_t naccts = n * 10 / 12;
	struct lane_taglist_writer *w;
	struct toll_rng rng;
	char plate[16];
	uint8_t e[16], tid[12];
	double t0 = now_s();

	toll_rng_seed(&rng, seed);
	if (lane_taglist_writer_new(1, &w) != 0)
		return 1;
	for (uint64_t a = 1; a <= naccts; a++)
		if (lane_taglist_writer_account(w, a, toll_rng_range(&rng, -50000, 5000000)) != 0)
			return 1;
	for (uint64_t i = 0; i < n; i++) {
		unsigned bits = epc_of(i, e);
		uint64_t r = toll_rng_next(&rng);
		unsigned status = r % 100 == 0 ? LANE_TAG_INVALID : r % 50 == 1 ? LANE_TAG_LOW_BALANCE : LANE_TAG_VALID;
		unsigned flags = r % 50 == 2 ? LANE_TAG_F_PASS : r % 200 == 3 ? LANE_TAG_F_EXEMPT : 0;
		if (r % 3 == 0)
			snprintf(plate, sizeof(plate), "%02" PRIu64 "%c%05" PRIu64, 11 + (r >> 8) % 89,
				 (char)('A' + (r >> 16) % 26), (r >> 24) % 100000);
		else
			snprintf(plate, sizeof(plate), "%02" PRIu64 "%c-%03" PRIu64 ".%02" PRIu64, 11 + (r >> 8) % 89,
				 (char)('A' + (r >> 16) % 26), (r >> 24) % 1000, (r >> 40) % 100);
		memcpy(tid, e, 12);
		tid[0] = 0xE2;
		if (lane_taglist_writer_tag(w, e, bits, r % 5 == 0 ? tid : NULL, 1 + i % naccts, 1 + (unsigned)(r >> 56) % 5,
					    plate, status, status == LANE_TAG_INVALID ? 1 + (unsigned)(r >> 50) % 4 : 0,
					    flags, flags == LANE_TAG_F_PASS ? 101 : 0, flags == LANE_TAG_F_PASS ? 20818 : 0) != 0)
			return 1;
	}
	printf("generate: %.2f s\n", now_s() - t0);
	t0 = now_s();
	if (lane_taglist_writer_finish(w, path) != 0) {
		fprintf(stderr, "%s\n", lane_taglist_writer_error(w));
		return 1;
	}
	printf("write (sort, write, fsync): %.2f s\n", now_s() - t0);
	lane_taglist_writer_free(w);
	return 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

struct query {
	uint8_t epc[16];
	unsigned bits;
	uint64_t index;
};

static struct query *
make_queries(uint64_t n, uint64_t base, uint64_t rseed)
{
	struct query *q = malloc(LOOKUPS * sizeof(*q));
	struct toll_rng rng;
	toll_rng_seed(&rng, rseed);
	for (int k = 0; k < LOOKUPS; k++) {
		q[k].index = base + toll_rng_below(&rng, n);
		q[k].bits = epc_of(q[k].index, q[k].epc);
	}
	return q;
}

struct lookup_run {
	const struct lane_taglist *l;
	const struct query *q;
	uint64_t found;
	double secs;
};

static void *
lookup_all(void *arg)
{
	struct lookup_run *r = arg;
	struct lane_tag_info info;
	double t0 = now_s();
	r->found = 0;
	for (int k = 0; k < LOOKUPS; k++)
		r->found += lane_taglist_lookup(r->l, r->q[k].epc, r->q[k].bits, NULL, &info) == 0;
	r->secs = now_s() - t0;
	return NULL;
}

static void
latency(const struct lane_taglist *l, const struct query *q, const char *what)
{
	static double lat[LAT_SAMPLES];
	struct lane_tag_info info;
	struct timespec a, b;
	for (int k = 0; k < LAT_SAMPLES; k++) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		(void)lane_taglist_lookup(l, q[k].epc, q[k].bits, NULL, &info);
		clock_gettime(CLOCK_MONOTONIC, &b);
		lat[k] = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
	}
	qsort(lat, LAT_SAMPLES, sizeof(lat[0]), cmp_double);
	printf("  latency %-6s p50 %4.0f ns, p99 %4.0f ns, p99.9 %5.0f ns, max %6.0f ns (timer included)\n", what,
	       lat[LAT_SAMPLES / 2], lat[LAT_SAMPLES * 99 / 100], lat[LAT_SAMPLES * 999 / 1000], lat[LAT_SAMPLES - 1]);
}

/* Tag i's state in update generation g (>= 1). */
static void
update_of(uint64_t i, unsigned g, uint64_t naccts, struct lane_tag_update *u)
{
	uint64_t r = mix(i ^ ((uint64_t)g << 56));

	memset(u, 0, sizeof(*u));
	u->epc_bits = epc_of(i, u->epc);
	u->tid_valid = r % 5 == 0;
	if (u->tid_valid) {
		memcpy(u->tid, u->epc, 12);
		u->tid[0] = 0xE3;
	}
	u->account_id = 1 + (i + g) % naccts;
	u->vclass = 1 + (unsigned)(r >> 8) % 5;
	u->status = r % 20 == 0 ? LANE_TAG_INVALID : LANE_TAG_VALID;
	u->reason = u->status == LANE_TAG_INVALID ? LANE_TAG_REASON_BLACKLISTED : 0;
	if (r % 50 == 1) {
		u->flags = LANE_TAG_F_PASS;
		u->pass_station = 101;
		u->pass_until_day = 20900;
	}
	snprintf(u->plate, sizeof(u->plate), "%02u%c-%03u.%02u", 11 + (unsigned)(r >> 16) % 89,
		 (char)('A' + (r >> 24) % 26), (unsigned)(r >> 32) % 1000, (unsigned)(r >> 48) % 100);
}

struct updater {
	struct lane_taglist *l;
	const uint64_t *which;
	uint64_t nwhich, naccts, applied;
	int stop; /* atomic */
};

/* Keeps rewriting already-updated tags until told to stop. */
static void *
update_loop(void *arg)
{
	struct updater *up = arg;
	struct lane_tag_update u;
	for (unsigned g = 2; !__atomic_load_n(&up->stop, __ATOMIC_RELAXED); g++)
		for (uint64_t k = 0; k < up->nwhich && !__atomic_load_n(&up->stop, __ATOMIC_RELAXED); k++) {
			update_of(up->which[k], g, up->naccts, &u);
			if (lane_taglist_upsert_tag(up->l, &u) != 0)
				return NULL;
			up->applied++;
		}
	return NULL;
}

static int
bench_updates(struct lane_taglist *l, uint64_t n, const char *path, struct query *hits, struct query *misses)
{
	uint64_t naccts = n * 10 / 12, nup = n / 10, nnew = nup / 5, nexist = nup - nnew;
	uint64_t *which = malloc(nup * sizeof(*which));
	struct lane_tag_update u;
	struct toll_rng rng;
	char err[256];
	double t0;

	toll_rng_seed(&rng, seed + 5);
	size_t mem0 = lane_taglist_memory_bytes(l);
	long rss0 = rss_kib();
	t0 = now_s();
	for (uint64_t k = 0; k < nup; k++) {
		/* changed tags at random, new ones past every index used above */
		which[k] = k < nexist ? toll_rng_below(&rng, n) : 3 * n + (k - nexist);
		update_of(which[k], 1, naccts + nup / 100, &u);
		if (lane_taglist_upsert_tag(l, &u) != 0)
			return 1;
	}
	double t_up = now_s() - t0;
	t0 = now_s();
	for (uint64_t k = 0; k < nup / 10; k++)
		if (lane_taglist_set_account(l, 1 + toll_rng_below(&rng, naccts + nup / 100), 1000000) != 0)
			return 1;
	double t_acct = now_s() - t0;
	size_t held = lane_taglist_update_count(l);
	printf("updates: %" PRIu64 " tags (%" PRIu64 " new), %" PRIu64 " balances: %.2f us a tag, %.2f us a balance "
	       "(timer and state making included)\n",
	       nup, nnew, nup / 10, t_up / (double)nup * 1e6, t_acct / (double)(nup / 10) * 1e6);
	printf("update layer: %zu entries, %.0f B an entry allocated, %.0f B resident; tags now %zu\n", held,
	       (double)(lane_taglist_memory_bytes(l) - mem0) / (double)held,
	       (double)(rss_kib() - rss0) * 1024 / (double)held, lane_taglist_count(l));

	/* lookups again: the same random hits (about 8 % of them updated), only
	 * updated tags, the same misses */
	struct query *upd = malloc(LOOKUPS * sizeof(*upd));
	for (int k = 0; k < LOOKUPS; k++) {
		upd[k].index = which[toll_rng_below(&rng, nup)];
		upd[k].bits = epc_of(upd[k].index, upd[k].epc);
	}
	struct lookup_run rh = {l, hits, 0, 0}, ru = {l, upd, 0, 0}, rm = {l, misses, 0, 0};
	lookup_all(&rh);
	lookup_all(&ru);
	lookup_all(&rm);
	printf("lookups with updates, 1 thread: hits %.2f M/s (%.0f ns), updated tags %.2f M/s (%.0f ns, %.1f%% "
	       "found), misses %.2f M/s (%.0f ns)\n",
	       LOOKUPS / rh.secs / 1e6, rh.secs / LOOKUPS * 1e9, LOOKUPS / ru.secs / 1e6, ru.secs / LOOKUPS * 1e9,
	       100.0 * (double)ru.found / LOOKUPS, LOOKUPS / rm.secs / 1e6, rm.secs / LOOKUPS * 1e9);
	latency(l, hits, "hits");
	latency(l, upd, "upd");
	latency(l, misses, "misses");
	struct lookup_run r2[2] = {{l, hits, 0, 0}, {l, upd, 0, 0}};
	pthread_t th[2];
	t0 = now_s();
	for (int k = 0; k < 2; k++)
		pthread_create(&th[k], NULL, lookup_all, &r2[k]);
	for (int k = 0; k < 2; k++)
		pthread_join(th[k], NULL);
	printf("lookups with updates, 2 threads: %.2f M/s together\n", 2.0 * LOOKUPS / (now_s() - t0) / 1e6);

	/* one thread applying updates while one looks up */
	struct updater up = {l, which, nup, naccts + nup / 100, 0, 0};
	pthread_t uth;
	pthread_create(&uth, NULL, update_loop, &up);
	lookup_all(&rh);
	lookup_all(&ru);
	__atomic_store_n(&up.stop, 1, __ATOMIC_RELAXED);
	pthread_join(uth, NULL);
	printf("lookups while another thread applies updates (%.2f M/s of them): hits %.2f M/s (%.0f ns), updated tags "
	       "%.2f M/s (%.0f ns)\n",
	       (double)up.applied / (rh.secs + ru.secs) / 1e6, LOOKUPS / rh.secs / 1e6, rh.secs / LOOKUPS * 1e9,
	       LOOKUPS / ru.secs / 1e6, ru.secs / LOOKUPS * 1e9);

	/* compaction: the merged list written and loaded back */
	struct lane_taglist *l2;
	t0 = now_s();
	if (lane_taglist_save(l, path, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	double t_save = now_s() - t0;
	t0 = now_s();
	if (lane_taglist_load(path, &l2, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	printf("save of the merged list: %.2f s (temp, fsync, rename); loaded back in %.2f s, %zu tags\n", t_save,
	       now_s() - t0, lane_taglist_count(l2));
	lane_taglist_free(l2);
	free(upd);
	free(which);
	return 0;
}

int
main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000;
	const char *path = argc > 2 ? argv[2] : "/tmp/toll-bench.tsl";
	struct lane_taglist *l = NULL;
	char err[256];
	double t0;

	if (argc > 3)
		seed = strtoull(argv[3], NULL, 10);
	printf("tags %" PRIu64 ", accounts %" PRIu64 ", seed %" PRIu64 "\n", n, n * 10 / 12, seed);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int rc = write_list(n, path);
		fflush(stdout);
		_exit(rc);
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "bench_taglist: writing the list failed\n");
		return 1;
	}

	/* baseline: the file's bytes into memory, no parsing */
	int fd = open(path, O_RDONLY);
	off_t size = lseek(fd, 0, SEEK_END);
	char *raw = malloc((size_t)size);
	double t_read[3];
	for (int k = 0; k < 3; k++) {
		lseek(fd, 0, SEEK_SET);
		t0 = now_s();
		size_t got = 0;
		while (got < (size_t)size) {
			ssize_t r = read(fd, raw + got, (size_t)size - got);
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		t_read[k] = now_s() - t0;
	}
	free(raw);

	/* loads: three warm, one cold */
	double t_load[3], t_cold;
	long before = 0, after = 0;
	for (int k = 0; k < 4; k++) {
		if (l != NULL)
			lane_taglist_free(l);
		if (k == 3) {
			fdatasync(fd);
			posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		}
		before = rss_kib();
		t0 = now_s();
		if (lane_taglist_load(path, &l, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		if (k < 3)
			t_load[k] = now_s() - t0;
		else
			t_cold = now_s() - t0;
		after = rss_kib();
	}
	close(fd);
	printf("file: %.0f MB\n", (double)size / 1e6);
	printf("load, warm: %.2f s median of 3 (target < 3 s); baseline read alone %.2f s\n", median(t_load, 3),
	       median(t_read, 3));
	printf("load, cold (file evicted from the page cache): %.2f s\n", t_cold);
	printf("memory: %.1f B/tag resident, %.1f B/tag allocated (target <= 48, accounts included)\n",
	       (double)(after - before) * 1024 / (double)n, (double)lane_taglist_memory_bytes(l) / (double)n);

	/* lookups */
	struct query *hits = make_queries(n, 0, seed + 1), *misses = make_queries(n, n, seed + 2);
	struct lookup_run rh = {l, hits, 0, 0}, rm = {l, misses, 0, 0};
	lookup_all(&rh);
	lookup_all(&rm);
	printf("lookups, 1 thread: hits %.2f M/s (%.0f ns, %.1f%% found), misses %.2f M/s (%.0f ns, %.1f%% found)\n",
	       LOOKUPS / rh.secs / 1e6, rh.secs / LOOKUPS * 1e9, 100.0 * (double)rh.found / LOOKUPS,
	       LOOKUPS / rm.secs / 1e6, rm.secs / LOOKUPS * 1e9, 100.0 * (double)rm.found / LOOKUPS);
	latency(l, hits, "hits");
	latency(l, misses, "misses");
	struct query *hits2 = make_queries(n, 0, seed + 3);
	struct lookup_run r2[2] = {{l, hits, 0, 0}, {l, hits2, 0, 0}};
	pthread_t th[2];
	t0 = now_s();
	for (int k = 0; k < 2; k++)
		pthread_create(&th[k], NULL, lookup_all, &r2[k]);
	for (int k = 0; k < 2; k++)
		pthread_join(th[k], NULL);
	double t2 = now_s() - t0;
	printf("lookups, 2 threads: hits %.2f M/s together\n", 2.0 * LOOKUPS / t2 / 1e6);

	/* baseline: the same random hits as one access to a plain array */
	uint8_t *arr = malloc(n * 12);
	uint8_t e[16];
	for (uint64_t i = 0; i < n; i++) {
		epc_of(i, e);
		memcpy(arr + 12 * i, e, 12);
	}
	volatile uint64_t sink = 0;
	t0 = now_s();
	for (int k = 0; k < LOOKUPS; k++)
		sink += memcmp(arr + 12 * hits[k].index, hits[k].epc, 12) == 0;
	double t_arr = now_s() - t0;
	printf("baseline: %.2f M/s (%.0f ns) one random read of a plain array of the keys\n", LOOKUPS / t_arr / 1e6,
	       t_arr / LOOKUPS * 1e9);
	free(arr);

	/* debits by account id */
	struct toll_rng rng;
	toll_rng_seed(&rng, seed + 4);
	uint64_t naccts = n * 10 / 12;
	t0 = now_s();
	for (int k = 0; k < 1000000; k++)
		if (lane_taglist_debit(l, 1 + toll_rng_below(&rng, naccts), 1) != 0)
			return 1;
	printf("debits: %.0f ns each (random accounts)\n", (now_s() - t0) / 1e6 * 1e9);
	if (bench_updates(l, n, path, hits, misses) != 0) {
		fprintf(stderr, "bench_taglist: updates failed\n");
		return 1;
	}
	free(hits);
	free(hits2);
	free(misses);
	lane_taglist_free(l);
	unlink(path);
	return 0;
}

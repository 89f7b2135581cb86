/* journal.h: the lane controller's crash-safe, append-only journal.
 *
 * Every tag read and every signed transaction is appended here and made
 * durable (toll_journal_sync) before the reader is acknowledged and before
 * the barrier opens.  Records have a type (1..255), a payload (1..65536
 * bytes) and a seq (1, 2, 3... never reused, across restarts and segment
 * files).  Format and recovery rules: docs/journal-format.md. */
#ifndef TOLL_JOURNAL_H
#define TOLL_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#define TOLL_JOURNAL_PAYLOAD_MAX 65536

struct toll_journal;

struct toll_journal_opts {
	const char *dir;	/* created if missing, mode 0700 */
	uint64_t segment_bytes; /* roll past this; 0: 16 MiB */
	uint64_t max_bytes;	/* appends fail with TOLL_EFULL past it; 0: 1 GiB */
	unsigned warn_percent;	/* usage alarm; 0: 80 */
	int no_sync;		/* tests and benchmarks only */
};

struct toll_journal_recovery {
	uint64_t records, last_seq, acked_seq;
	uint64_t torn_bytes_cut;    /* an incomplete or damaged tail that was cut */
	uint64_t corrupt_after_seq; /* refusing: the last good seq before the damage */
	char detail[256];
};

/* Open, recovering after a crash: a torn tail (an incomplete or damaged
 * last frame with nothing valid after it) is cut; damage followed by valid
 * records, a seq out of order, a bad segment header or cursor, or an unknown
 * version is refused (TOLL_ECORRUPT / TOLL_EVERSION, detail in rep). */
int toll_journal_open(const struct toll_journal_opts *o, struct toll_journal **out,
		      struct toll_journal_recovery *rep);
void toll_journal_close(struct toll_journal *j);

int toll_journal_append(struct toll_journal *j, uint8_t type, const void *payload,
			size_t len, uint64_t *seq);
int toll_journal_sync(struct toll_journal *j);
uint64_t toll_journal_last_seq(const struct toll_journal *j);
uint64_t toll_journal_durable_seq(const struct toll_journal *j);
/* Central has settled up to seq: store the cursor durably, then delete the
 * segments all of whose records are <= seq (never the newest). */
int toll_journal_set_acked(struct toll_journal *j, uint64_t seq);
uint64_t toll_journal_acked(const struct toll_journal *j);
void toll_journal_usage(const struct toll_journal *j, uint64_t *bytes, int *warn);

struct toll_journal_iter;
/* Records with seq >= from, up to the durable seq of an open journal. */
int toll_journal_iter_open(struct toll_journal *j, uint64_t from, struct toll_journal_iter **out);
/* A directory alone, read-only: damage is TOLL_ECORRUPT, nothing repaired. */
int toll_journal_iter_open_dir(const char *dir, uint64_t from, struct toll_journal_iter **out);
/* 0 (payload valid until the next call), TOLL_EEMPTY at the end, or an error. */
int toll_journal_iter_next(struct toll_journal_iter *it, uint64_t *seq, uint8_t *type,
			   const uint8_t **payload, size_t *len);
void toll_journal_iter_close(struct toll_journal_iter *it);

/* A reader that follows a journal another thread (or process) appends to,
 * for the uplink: records with seq >= from, never past `until` given to
 * each call (the writer's durable seq: everything up to it is whole on
 * disk), reading on as the segment grows and across segment rolls.  Holds
 * one segment open and a buffer; no state is shared with the writer. */
struct toll_journal_tail;
int toll_journal_tail_open(const char *dir, uint64_t from, struct toll_journal_tail **out);
/* 0 (payload valid until the next call), TOLL_EEMPTY (nothing more up to
 * until yet), or TOLL_ECORRUPT (a durable record is damaged or missing). */
int toll_journal_tail_next(struct toll_journal_tail *t, uint64_t until, uint64_t *seq,
			   uint8_t *type, const uint8_t **payload, size_t *len);
/* The seq the next record will have. */
uint64_t toll_journal_tail_position(const struct toll_journal_tail *t);
void toll_journal_tail_close(struct toll_journal_tail *t);

#endif

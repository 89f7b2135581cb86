/* lane_taglist.h: the tag status list a lane decides from, in memory, for
 * tens of millions of tags (file format and memory layout:
 * docs/taglist-format.md).
 *
 * A tag (EPC of 1-256 bits, optional 96-bit TID) maps to its account,
 * registered vehicle class, plate, status (valid, low balance, invalid with
 * a reason code) and flags (exempt; a pass for one station, valid through a
 * day); an account to a balance snapshot taken at the list's version.  The
 * lane subtracts its own debits since the snapshot (lane_taglist_debit);
 * one account pays for several vehicles, so a debit lowers the balance every
 * tag of the account reports.
 *
 * Bounds, refused with a clear error rather than truncated:
 * - account ids 1 .. 2^32-1 (the file has 64 bits; memory keeps 32);
 * - at most LANE_TAGLIST_MAX_TAGS tags and as many accounts;
 * - plates of at most 12 printable ASCII characters.
 * Clamped, documented: balances are kept in the int32 range (about +-2.1
 * billion VND; the lane only compares them with fees of a few million), and
 * a lane's debits since the snapshot saturate at INT32_MAX, which leaves
 * the account at or below zero.
 *
 * A listed TID is kept as a 32-bit fingerprint: a read TID that differs
 * from it is reported as tid_mismatch (a cloned EPC); a different TID with
 * the same fingerprint (chance 2^-32) passes as a match.
 *
 * Updates after load (docs/taglist-format.md, "Updates after load"): the
 * loaded list is an immutable base; central's deltas go into an update
 * layer on top of it (lane_taglist_upsert_tag, lane_taglist_set_account,
 * lane_taglist_set_version), which every lookup, debit and count sees.  An
 * updated tag replaces the base tag with the same EPC bits entirely; a tag
 * not in the base is added; nothing is ever deleted.
 *
 * Threads: any number of threads may call lookup, debit, version, count,
 * update_count and memory_bytes while others call the update functions and
 * save.  No reader ever takes a lock or allocates:
 * - the update calls and save serialise on a mutex of their own (one sync
 *   thread is the expected caller; readers never touch that mutex);
 * - the base is never written after load, except one "updated" bit in each
 *   replaced tag entry and the debit word of an account central has
 *   re-published, both set with single atomic stores after the new state
 *   is published;
 * - an updated tag lives in a record whose key never changes and whose
 *   state is rewritten under a sequence lock: a reader copies it and copies
 *   again if the writer was in it, so it returns the old or the new state,
 *   never a mix (a reader only retries while the writer is writing that one
 *   record);
 * - an account's balance and this process's debits share one 64-bit atomic
 *   word once the update layer holds it;
 * - the update layer's hash tables grow into new tables published with one
 *   atomic pointer store; a replaced table is kept until lane_taglist_free
 *   (the replaced ones together are smaller than the current one), and no
 *   record ever moves or is freed before then.
 * lane_taglist_free must not race with anything.  Checking a balance and
 * then debiting it as one step is the caller's to serialise (lane_decide
 * holds its mutex around both); an update may land between the two. */
#ifndef LANE_TAGLIST_H
#define LANE_TAGLIST_H

#include <stddef.h>
#include <stdint.h>

enum lane_tag_status { LANE_TAG_VALID = 0, LANE_TAG_LOW_BALANCE = 1, LANE_TAG_INVALID = 2 };
/* reason codes central uses with LANE_TAG_INVALID (any 0-255 is carried) */
enum lane_tag_reason {
	LANE_TAG_REASON_NONE = 0,
	LANE_TAG_REASON_BLACKLISTED = 1,
	LANE_TAG_REASON_STOLEN = 2,
	LANE_TAG_REASON_CLOSED = 3,
	LANE_TAG_REASON_REPLACED = 4,
};
#define LANE_TAG_F_EXEMPT 0x01
#define LANE_TAG_F_PASS 0x02
#define LANE_PLATE_MAX 12
#define LANE_EPC_MAX_BITS 256
#define LANE_TID_BYTES 12
#define LANE_TAGLIST_MAX_TAGS 100000000u

struct lane_tag_info {
	uint64_t account_id;
	unsigned vclass;	/* 1..5 */
	unsigned status;	/* enum lane_tag_status */
	unsigned reason;	/* 0..255 */
	unsigned flags;		/* LANE_TAG_F_* */
	uint32_t pass_station;	/* with LANE_TAG_F_PASS */
	uint32_t pass_until_day; /* days since 1970-01-01 UTC, valid through it */
	char plate[LANE_PLATE_MAX + 1];
	int64_t balance_vnd;	/* snapshot minus this process's debits since */
	int tid_mismatch;	/* the list has a TID for this EPC and the read one differs: a clone */
	int tid_listed;		/* the list has a TID for this EPC (so a read without TID went unchecked) */
};

struct lane_taglist;

/* Load a list file; nothing is returned unless the whole file checks out
 * (header, every section's and the file's CRC-32C, every record).  err gets
 * "PATH: what is wrong". */
int lane_taglist_load(const char *path, struct lane_taglist **out, char *err, size_t errlen);
/* The same from bytes in memory (tests, fuzzing). */
int lane_taglist_load_mem(const uint8_t *buf, size_t len, struct lane_taglist **out, char *err,
			  size_t errlen);
void lane_taglist_free(struct lane_taglist *l);

/* Find a tag by its exact EPC bits (bytes past epc_bits are ignored) and,
 * when tid (12 bytes) is not NULL, compare the TID.  0 and *out filled, or
 * TOLL_ENOTFOUND (also for epc_bits 0 or above 256) with *out zeroed. */
int lane_taglist_lookup(const struct lane_taglist *l, const uint8_t *epc, unsigned epc_bits,
			const uint8_t *tid, struct lane_tag_info *out);
/* Record this lane's debit against an account: 0, TOLL_ENOTFOUND,
 * TOLL_EINVAL for a negative fee. */
int lane_taglist_debit(struct lane_taglist *l, uint64_t account_id, int64_t fee_vnd);
/* Take back a debit this lane recorded and did not charge after all (the
 * vehicle left before the barrier opened for it): the same returns.  The
 * debits recorded never go below 0 (central's balance may have replaced
 * them meanwhile). */
int lane_taglist_credit(struct lane_taglist *l, uint64_t account_id, int64_t fee_vnd);
uint64_t lane_taglist_version(const struct lane_taglist *l);
size_t lane_taglist_count(const struct lane_taglist *l);
/* Bytes the list allocated (tags, index, accounts, passes, overflow, and
 * the update layer). */
size_t lane_taglist_memory_bytes(const struct lane_taglist *l);

/* ---- updates after load ---- */

/* A tag's whole state as central sends it. */
struct lane_tag_update {
	uint8_t epc[32];	/* (epc_bits + 7) / 8 bytes used; bits past epc_bits ignored */
	unsigned epc_bits;	/* 1..256 */
	int tid_valid;		/* tid is listed */
	uint8_t tid[LANE_TID_BYTES];
	uint64_t account_id;	/* 1..2^32-1 */
	unsigned vclass, status, reason, flags;
	char plate[LANE_PLATE_MAX + 1]; /* NUL-terminated, 0-12 printable ASCII */
	uint32_t pass_station, pass_until_day; /* 0 without LANE_TAG_F_PASS */
};

/* Insert a tag, or replace the whole state of the tag with these EPC bits
 * (TID, account, class, plate, status, reason, flags, pass).  The bounds of
 * lane_taglist_writer_tag: TOLL_EINVAL for a field out of bounds,
 * TOLL_ERANGE for an account id outside 1..2^32-1; TOLL_EFULL past
 * LANE_TAGLIST_MAX_TAGS tags or accounts; TOLL_ENOMEM.  On any error
 * nothing changed.  An account the list does not have is created with
 * balance 0 until lane_taglist_set_account gives central's (so the lane
 * refuses a toll on it rather than trusting an unknown balance). */
int lane_taglist_upsert_tag(struct lane_taglist *l, const struct lane_tag_update *u);
/* Central's balance for an account as of the list version being applied;
 * creates the account if the list has none.  Forgets this process's debits
 * recorded for the account: central's balance already includes what it
 * settled.  The error this leaves is bounded: debits this lane made but
 * central had not settled when it published the balance are forgotten
 * until central publishes the account again (after it settles them).
 * TOLL_ERANGE for an id outside 1..2^32-1, TOLL_EFULL, TOLL_ENOMEM; on any
 * error nothing changed.  Balances are kept in the int32 range as at load
 * (lookups report the clamped value; save writes the one given). */
int lane_taglist_set_account(struct lane_taglist *l, uint64_t account_id, int64_t balance_vnd);
/* The version lane_taglist_version reports and save writes. */
void lane_taglist_set_version(struct lane_taglist *l, uint64_t version);
/* Tags and accounts held in the update layer (each counted once however
 * often it was updated). */
size_t lane_taglist_update_count(const struct lane_taglist *l);
/* Write the merged list (base and updates, balances as central gave them:
 * this process's debits are not subtracted) as a normal list file, the way
 * the writer does (temp file, fsync, rename, fsync of the folder), so that
 * a lane can compact its delta log; the file loads back with the same
 * lookups.  Lookups and debits go on meanwhile; update calls wait for it.
 * The list keeps only a 32-bit fingerprint of a base tag's TID, so such a
 * tag is written with a stand-in TID of the same fingerprint (the lane
 * compares fingerprints only); an updated tag keeps the TID it was given.
 * Saving does not empty the update layer: its memory comes back when the
 * lane loads the file written and frees this list.  TOLL_ESYS, TOLL_ERANGE
 * (more than 64 tags in one hash bucket), TOLL_ENOMEM; err gets what
 * failed. */
int lane_taglist_save(const struct lane_taglist *l, const char *path, char *err, size_t errlen);

/* Writer, for tools, tests and the demo: collects accounts and tags in any
 * order, then writes the file in the order the loader wants (temp file,
 * fsync, rename, fsync of the folder).  Calls return TOLL_EINVAL for a
 * field out of bounds (TOLL_ERANGE for an account id outside 1..2^32-1).
 * finish returns TOLL_EEXIST for an account or EPC added twice,
 * TOLL_ENOTFOUND for a tag of an account never added, TOLL_ESYS when the
 * file cannot be written; lane_taglist_writer_error() then says which
 * (entries are numbered from 0 in the order they were added).  finish may
 * be called again; the writer keeps its entries until freed. */
struct lane_taglist_writer;
int lane_taglist_writer_new(uint64_t list_version, struct lane_taglist_writer **out);
int lane_taglist_writer_account(struct lane_taglist_writer *w, uint64_t account_id, int64_t balance_vnd);
/* epc: (epc_bits + 7) / 8 bytes; tid: 12 bytes or NULL; plate: NUL-terminated or NULL;
 * pass_station and pass_until_day must be 0 without LANE_TAG_F_PASS. */
int lane_taglist_writer_tag(struct lane_taglist_writer *w, const uint8_t *epc, unsigned epc_bits,
			    const uint8_t *tid, uint64_t account_id, unsigned vclass, const char *plate,
			    unsigned status, unsigned reason, unsigned flags, uint32_t pass_station,
			    uint32_t pass_until_day);
int lane_taglist_writer_finish(struct lane_taglist_writer *w, const char *path);
/* What the last failed finish found; "" when nothing failed. */
const char *lane_taglist_writer_error(const struct lane_taglist_writer *w);
void lane_taglist_writer_free(struct lane_taglist_writer *w);

/* Text import.  First line "toll-taglist-csv 1"; then, in any order, lines
 *   account,ID,BALANCE_VND
 *   EPC_HEX,TID_HEX,ACCOUNT,CLASS,PLATE,STATUS,REASON,FLAGS,PASS_STATION,PASS_UNTIL
 * EPC_HEX 1-64 hex digits (4 bits each); TID_HEX 24 hex digits or empty;
 * STATUS valid|low|invalid; REASON 0-255; FLAGS empty, exempt, pass or
 * exempt+pass; PASS_STATION and PASS_UNTIL (YYYY-MM-DD, valid through that
 * day, UTC) only and always with pass.  No quoting; '#' starts a comment
 * line; blank lines and CR line ends are fine.  Errors read "FILE:LINE: ...".
 * out_path is replaced only when the whole file imports. */
int lane_taglist_import_csv(const char *csv_path, const char *out_path, uint64_t list_version,
			    char *err, size_t errlen);

#endif

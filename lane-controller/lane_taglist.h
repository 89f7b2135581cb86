/* lane_taglist.h: the tag status list a lane decides from, in memory, for
 * millions of tags (format and layout: docs/taglist-format.md).
 *
 * A tag (EPC, optional TID) maps to its account, registered class, plate,
 * status (valid, low balance, invalid with a reason) and exemption or pass;
 * an account to a balance snapshot.  The lane subtracts its own debits since
 * the snapshot (lane_taglist_debit): one account pays for several vehicles.
 * In memory: account ids below 2^32, plates of at most 10 characters from
 * 0-9 A-Z - . and space, balances clamped to the int32 range (the lane only
 * compares them with fees); a list outside those bounds is refused. */
#ifndef LANE_TAGLIST_H
#define LANE_TAGLIST_H

#include <stddef.h>
#include <stdint.h>

enum lane_tag_status { LANE_TAG_VALID = 0, LANE_TAG_LOW_BALANCE = 1, LANE_TAG_INVALID = 2 };
#define LANE_TAG_F_EXEMPT 0x01
#define LANE_TAG_F_PASS 0x02
#define LANE_PLATE_MAX 10

struct lane_tag_info {
	uint64_t account_id;
	unsigned vclass, status, reason, flags;
	uint32_t pass_station, pass_until_day; /* days since 1970-01-01 UTC, valid through it */
	char plate[13];
	int64_t balance_vnd; /* snapshot minus this process's debits since */
	int tid_mismatch;    /* the EPC is listed with another TID: a clone */
};

struct lane_taglist;

int lane_taglist_load(const char *path, struct lane_taglist **out, char *err, size_t errlen);
int lane_taglist_load_mem(const uint8_t *buf, size_t len, struct lane_taglist **out, char *err,
			  size_t errlen);
void lane_taglist_free(struct lane_taglist *l);
/* 0 or TOLL_ENOTFOUND */
int lane_taglist_lookup(const struct lane_taglist *l, const uint8_t *epc, unsigned epc_bits,
			const uint8_t *tid, struct lane_tag_info *out);
int lane_taglist_debit(struct lane_taglist *l, uint64_t account_id, int64_t fee_vnd);
uint64_t lane_taglist_version(const struct lane_taglist *l);
size_t lane_taglist_count(const struct lane_taglist *l);
size_t lane_taglist_memory_bytes(const struct lane_taglist *l);

struct lane_taglist_writer;
int lane_taglist_writer_new(uint64_t list_version, struct lane_taglist_writer **out);
int lane_taglist_writer_account(struct lane_taglist_writer *w, uint64_t account_id, int64_t balance_vnd);
int lane_taglist_writer_tag(struct lane_taglist_writer *w, const uint8_t *epc, unsigned epc_bits,
			    const uint8_t *tid, uint64_t account_id, unsigned vclass, const char *plate,
			    unsigned status, unsigned reason, unsigned flags, uint32_t pass_station,
			    uint32_t pass_until_day);
int lane_taglist_writer_finish(struct lane_taglist_writer *w, const char *path);
void lane_taglist_writer_free(struct lane_taglist_writer *w);

/* CSV: a first line "toll-taglist-csv 1", then lines
 *   account,ID,BALANCE
 *   EPC_HEX,TID_HEX_OR_EMPTY,ACCOUNT,CLASS,PLATE,valid|low|invalid,REASON,exempt|pass|,PASS_STATION,PASS_UNTIL_DAY
 * ('#' comments); errors "FILE:LINE: ...". */
int lane_taglist_import_csv(const char *csv_path, const char *out_path, uint64_t list_version,
			    char *err, size_t errlen);

#endif

/* lane_decide.c: one read, one decision. */
#include <string.h>

#include "err.h"
#include "lane_decide.h"
#include "txn.h"

#define DAY_MS (24LL * 3600 * 1000)

static void
refuse(struct lane_decision *d, int outcome, unsigned message)
{
	d->outcome = outcome;
	d->message = message;
	d->opens = 0;
	d->fee_vnd = 0;
}

int
lane_decide(void *arg, const struct lane_read *rd, struct lane_decision *d)
{
	struct lane_decider *dc = arg;
	struct lane_context *c = dc->ctx;
	struct lane_tag_info info;
	unsigned other = 0;
	int neighbour = 0;
	int64_t now = dc->now_ms();
	int64_t fee = 0;
	int rc;

	memset(d, 0, sizeof(*d));
	if (!rd->clock_synced)
		d->flags |= TOLL_TXN_F_CLOCK_UNSYNC;
	switch (lane_plaza_claim(c->plaza, dc->lane, rd->epc, rd->epc_bits, rd->rssi_dbm_x10, now, &other,
				 &neighbour)) {
	case LANE_VOTE_AGAIN:
	case LANE_VOTE_OTHER:
		d->suppressed = 1;
		return 0;
	case LANE_VOTE_MINE:
		break;
	}
	if (neighbour)
		d->flags |= TOLL_TXN_F_NEIGHBOUR;

	pthread_mutex_lock(&c->mu);
	rc = lane_taglist_lookup(c->list, rd->epc, rd->epc_bits, rd->tid_valid ? rd->tid : NULL, &info);
	if (rc == TOLL_ENOTFOUND) {
		refuse(d, TOLL_OUT_UNKNOWN_TAG, FWI_MSG_TAG_INVALID);
		goto refused;
	}
	if (rc != 0) {
		pthread_mutex_unlock(&c->mu);
		lane_plaza_release(c->plaza, dc->lane, rd->epc, rd->epc_bits);
		return rc;
	}
	d->account_id = info.account_id;
	d->vclass = info.vclass;
	memcpy(d->plate, info.plate, sizeof(d->plate));
	d->balance_after_vnd = info.balance_vnd;
	if (info.tid_mismatch || info.status == LANE_TAG_INVALID) {
		refuse(d, TOLL_OUT_REFUSED_INVALID, FWI_MSG_TAG_INVALID);
		goto refused;
	}
	if (info.flags & LANE_TAG_F_EXEMPT) {
		d->outcome = TOLL_OUT_EXEMPT;
		d->message = FWI_MSG_THANK_YOU;
		d->opens = 1;
		goto done;
	}
	if ((info.flags & LANE_TAG_F_PASS) && info.pass_station == c->station_id &&
	    (int64_t)info.pass_until_day >= dc->real_ms() / DAY_MS) {
		d->outcome = TOLL_OUT_PASS;
		d->message = FWI_MSG_THANK_YOU;
		d->opens = 1;
		goto done;
	}
	switch (c->role) {
	case LANE_ROLE_OPEN:
		rc = lane_tariff_open_fee(c->tariff, c->station_id, info.vclass, &fee);
		break;
	case LANE_ROLE_CLOSED_ENTRY:
		d->outcome = TOLL_OUT_ENTRY;
		d->message = info.status == LANE_TAG_LOW_BALANCE ? FWI_MSG_LOW_BALANCE : FWI_MSG_THANK_YOU;
		d->opens = 1;
		goto done;
	case LANE_ROLE_CLOSED_EXIT: {
		/* the entry central sent, if its fee is in this tariff (an
		 * entry of another network, or this station without a matrix
		 * row, is no entry for this exit); else the farthest entry's
		 * fee, flagged: central corrects it when the entry arrives */
		uint32_t est;
		int64_t etime;
		if (c->trips != NULL &&
		    lane_trips_find(c->trips, rd->epc, rd->epc_bits, dc->real_ms(), c->entry_expiry_ms, &est, &etime) == 0 &&
		    lane_tariff_closed_fee(c->tariff, est, c->station_id, info.vclass, &fee) == 0) {
			d->entry_station = est;
			d->entry_time_ms = etime;
			break;
		}
		rc = lane_tariff_max_closed_fee(c->tariff, c->station_id, info.vclass, &fee);
		d->flags |= TOLL_TXN_F_ENTRY_UNKNOWN;
		break;
	}
	default:
		rc = TOLL_ECONFIG;
	}
	if (rc != 0) {
		/* no fee for this class here: a configuration fault, not the
		 * driver's: refuse and alarm through the error */
		pthread_mutex_unlock(&c->mu);
		lane_plaza_release(c->plaza, dc->lane, rd->epc, rd->epc_bits);
		return rc;
	}
	if (info.balance_vnd < fee) {
		refuse(d, TOLL_OUT_REFUSED_BALANCE, FWI_MSG_INSUFFICIENT);
		goto refused;
	}
	rc = lane_taglist_debit(c->list, info.account_id, fee);
	if (rc != 0) {
		pthread_mutex_unlock(&c->mu);
		lane_plaza_release(c->plaza, dc->lane, rd->epc, rd->epc_bits);
		return rc;
	}
	d->outcome = TOLL_OUT_PAID;
	d->fee_vnd = fee;
	d->balance_after_vnd = info.balance_vnd - fee;
	d->message = info.status == LANE_TAG_LOW_BALANCE ? FWI_MSG_LOW_BALANCE : FWI_MSG_THANK_YOU;
	d->opens = 1;
done:
	pthread_mutex_unlock(&c->mu);
	return 0;
refused:
	pthread_mutex_unlock(&c->mu);
	lane_plaza_release(c->plaza, dc->lane, rd->epc, rd->epc_bits);
	return 0;
}

void
lane_decide_recorded(struct lane_decider *dc, const struct lane_read *rd, const struct lane_decision *d)
{
	struct lane_context *c = dc->ctx;

	/* charged from this entry: a later passage without an entry read is
	 * not charged from it again (central's closed record follows) */
	if (d->outcome == TOLL_OUT_PAID && d->entry_station != 0 && c->trips != NULL)
		lane_trips_used(c->trips, rd->epc, rd->epc_bits, d->entry_time_ms);
}

void
lane_decide_release(struct lane_decider *dc, const struct lane_read *rd, const struct lane_decision *d)
{
	struct lane_context *c = dc->ctx;

	if (d->outcome == TOLL_OUT_PAID && d->fee_vnd > 0) {
		pthread_mutex_lock(&c->mu);
		(void)lane_taglist_credit(c->list, d->account_id, d->fee_vnd);
		pthread_mutex_unlock(&c->mu);
	}
	lane_plaza_release(c->plaza, dc->lane, rd->epc, rd->epc_bits);
}

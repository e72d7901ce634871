/* harness/invariant_webhook.c - the webhook's contracts: each event takes
 * effect at most once, and every acknowledged event is applied. */
#include "harness/invariant.h"

#include "harness/invariant_int.h"

/* ---- exactly-once ------------------------------------------------------- */

bool inv_check_exactly_once(const struct history *h, struct inv_violation *v)
{
	for (size_t i = 0; i < h->nevents; i++) {
		const struct hist_wh_event *e = &h->events[i];
		if (e->forged && e->paid_count > 0)
			return inv_violate(v, h->end_us, "forged event %s (bad signature) took effect on order %s",
			               e->id, e->order);
		if (e->paid_count > 1)
			return inv_violate(v, e->ack_us ? e->ack_us : h->end_us,
			               "order %s marked paid %lld times by event %s", e->order,
			               e->paid_count, e->id);
	}
	return true;
}

/* ---- eventually-applied ------------------------------------------------- */

bool inv_check_eventually_applied(const struct history *h, struct inv_violation *v)
{
	for (size_t i = 0; i < h->nevents; i++) {
		const struct hist_wh_event *e = &h->events[i];
		if (e->forged)
			continue;
		if (e->ack_not_durable)
			return inv_violate(v, e->not_durable_us,
			               "event %s answered 2xx while order %s was not paid", e->id,
			               e->order);
		if (e->acked && e->paid_count != 1)
			return inv_violate(v, h->end_us,
			               "event %s was acknowledged but order %s was paid %lld times",
			               e->id, e->order, e->paid_count);
	}
	return true;
}

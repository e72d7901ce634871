/* harness/invariant_webhook.c - the webhook's contracts, from Stripe's
 * webhook and signature pages: each event takes effect at most once, every
 * acknowledged payment is applied, the signature verdict is the reference's,
 * and what needs no work is acknowledged. Judged on answers and final rows. */
#include "harness/invariant.h"

#include "harness/invariant_int.h"

/* ---- exactly-once ------------------------------------------------------- */

/* At most once per event and at most one payment per order, whatever events
 * arrive; where the variant documents its effect record (order_payments),
 * the record names exactly the payments made and only by payment events. */
bool inv_check_exactly_once(const struct history *h, struct inv_violation *v)
{
	if (h->wh_effects_promised && h->wh_stray_effects > 0)
		return inv_violate(v, h->end_us, "%u payment record(s) no event explains; first: %s",
		                   h->wh_stray_effects, h->first_stray_effect);
	for (size_t i = 0; i < h->nevents; i++) {
		const struct hist_wh_event *e = &h->events[i];
		if (e->order[0] == '\0')
			continue;
		if (e->paid_count > 1)
			return inv_violate(v, e->ack_us ? e->ack_us : h->end_us,
			                   "order %s marked paid %lld times by event %s", e->order,
			                   e->paid_count, e->id);
		if (!h->wh_effects_promised)
			continue;
		if (e->effects > 1)
			return inv_violate(v, h->end_us, "event %s recorded %u payments", e->id,
			                   e->effects);
		if (e->effects > 0 && e->kind != HIST_WH_PAYMENT)
			return inv_violate(v, h->end_us, "event %s, not a payment, recorded a payment "
			                   "of order %s", e->id, e->order);
		if ((long long)e->order_effects != e->paid_count)
			return inv_violate(v, h->end_us, "order %s was paid %lld time(s) but %u payment "
			                   "record(s) name it", e->order, e->paid_count,
			                   e->order_effects);
	}
	return true;
}

/* ---- eventually-applied ------------------------------------------------- */

/* A 2xx only when the payment is durable; an acknowledged payment event
 * leaves its order paid exactly once. */
bool inv_check_eventually_applied(const struct history *h, struct inv_violation *v)
{
	/* Each variant records the events it handles (core/webhook.h) under
	 * their own ids: a record under any other id is no event's. */
	if (h->wh_stray_records > 0)
		return inv_violate(v, h->end_us, "%u event record(s) under no event's id; first: %s",
		                   h->wh_stray_records, h->first_stray_record);
	for (size_t i = 0; i < h->nevents; i++) {
		const struct hist_wh_event *e = &h->events[i];
		/* An acknowledged payment event, whether it found its order
		 * pending or not, is recorded under its id and marked processed,
		 * so what reads the table (a reconciliation, a replay) sees it. */
		if (!e->forged && e->acked && e->kind != HIST_WH_OTHER_TYPE &&
		    (e->records == 0 || !e->processed))
			return inv_violate(v, h->end_us, "event %s was acknowledged but is %s", e->id,
			                   e->records == 0 ? "not recorded under its id"
			                                   : "not marked processed");
		if (e->forged || e->kind != HIST_WH_PAYMENT)
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

/* ---- signature-sound ---------------------------------------------------- */

/* Accepted iff the reference accepts (a t, a v1 equal to the HMAC of
 * "t.payload", t within the tolerance, a body within the documented
 * limits); a refused delivery writes nothing. */
bool inv_check_signature_sound(const struct history *h, struct inv_violation *v)
{
	for (size_t i = 0; i < h->nevents; i++) {
		const struct hist_wh_event *e = &h->events[i];
		const char *shape = e->shape[0] != '\0' ? e->shape : "plain";
		if (e->forged && e->accepted > 0)
			return inv_violate(v, e->accepted_us, "event %s (%s) should be refused but was "
			                   "accepted", e->id, shape);
		if (e->forged && (e->paid_count > 0 || e->effects > 0))
			return inv_violate(v, h->end_us, "event %s (%s) should be refused but paid "
			                   "order %s", e->id, shape, e->order);
		if (!e->forged && e->refused > 0)
			return inv_violate(v, e->refused_us, "event %s (%s) is validly signed but was "
			                   "refused", e->id, shape);
	}
	return true;
}

/* ---- webhook-ack -------------------------------------------------------- */

/* What needs no work is acknowledged: a delivery of an event that already
 * took effect, of another type, or for an unknown order is answered 2xx when
 * no fault touched it; other types change nothing; unknown orders are
 * logged. */
bool inv_check_webhook_ack(const struct history *h, struct inv_violation *v)
{
	for (size_t i = 0; i < h->nevents; i++) {
		const struct hist_wh_event *e = &h->events[i];
		if (e->ack_missed > 0)
			return inv_violate(v, e->ack_missed_us, "event %s answered %d with no fault in "
			                   "the way although it %s", e->id, e->ack_missed_status,
			                   e->kind == HIST_WH_OTHER_TYPE ? "is of a type that needs no work" :
			                   e->kind == HIST_WH_UNKNOWN_ORDER ? "names no order" :
			                   "was already acknowledged");
		if (e->kind == HIST_WH_OTHER_TYPE && (e->paid_count > 0 || e->order_effects > 0))
			return inv_violate(v, h->end_us, "event %s, not a payment, left order %s paid",
			                   e->id, e->order);
		if (e->kind == HIST_WH_UNKNOWN_ORDER && !e->forged && e->accepted > 0 && !e->logged)
			return inv_violate(v, h->end_us, "event %s names no order and no [Webhook] log "
			                   "line says so", e->id);
	}
	return true;
}

/* harness/invariant.c - runs the invariant checkers (one file per fix:
 * harness/invariant_*.c) and the two checked always. Pure functions over
 * struct history; no model, no scheduler. */
#include "harness/invariant.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/assert.h"

#include "harness/invariant_int.h"

/* ---- always --------------------------------------------------------------- */

static bool check_no_unhandled(const struct history *h, struct inv_violation *v)
{
	if (h->unhandled > 0)
		return inv_violate(v, h->first_unhandled_us, "%llu unhandled error(s); first: %s",
		               (unsigned long long)h->unhandled, h->first_unhandled);
	return true;
}

static bool check_no_hung(const struct history *h, struct inv_violation *v)
{
	if (h->hung > 0)
		return inv_violate(v, h->first_hung_us, "%llu request(s) left without an answer past "
		               "their deadline; first: %s", (unsigned long long)h->hung,
		               h->first_hung);
	return true;
}

bool invariant_check(enum invariant_id inv, const struct history *h,
                     struct inv_violation *v)
{
	ASSERT(h != NULL && v != NULL);
	switch (inv) {
	case INV_EXACTLY_ONCE: return inv_check_exactly_once(h, v);
	case INV_EVENTUALLY_APPLIED: return inv_check_eventually_applied(h, v);
	case INV_NO_LOCKOUT: return inv_check_no_lockout(h, v);
	case INV_RATELIMIT_WINDOW: return inv_check_ratelimit_window(h, v);
	case INV_NO_FALSE_DUPLICATE: return inv_check_no_false_duplicate(h, v);
	case INV_DEDUP_EFFECTIVE: return inv_check_dedup_effective(h, v);
	case INV_NO_ORPHAN: return inv_check_no_orphan(h, v);
	case INV_EMAIL_SAFE: return inv_check_email_safe(h, v);
	case INV_NO_UNHANDLED: return check_no_unhandled(h, v);
	case INV_NO_HUNG: return check_no_hung(h, v);
	case INV_SIGNATURE_SOUND: return inv_check_signature_sound(h, v);
	case INV_WEBHOOK_ACK: return inv_check_webhook_ack(h, v);
	case INV_CUSTOMER_LIVENESS: return inv_check_customer_liveness(h, v);
	case INV_COUNT: break;
	}
	ASSERT(!"unknown invariant");
	return true;
}

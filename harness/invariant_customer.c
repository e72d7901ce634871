/* harness/invariant_customer.c - Stripe customer get-or-create's contract: every
 * customer created is the one mapped to its user. */
#include "harness/invariant.h"

#include <string.h>

#include "harness/invariant_int.h"

/* ---- stripe-customer ---------------------------------------------------- */

bool inv_check_no_orphan(const struct history *h, struct inv_violation *v)
{
	for (size_t i = 0; i < h->ncust; i++) {
		const struct hist_customer_user *u = &h->cust[i];
		if (u->ncustomers > 1)
			return inv_violate(v, u->last_created_us, "user %s has %u Stripe customers "
			               "(mapped: %s): %u orphaned", u->user, u->ncustomers,
			               u->mapped[0] ? u->mapped : "none",
			               u->ncustomers - (u->mapped[0] ? 1 : 0));
		if (u->ncustomers == 1 && strcmp(u->customers[0], u->mapped) != 0)
			return inv_violate(v, u->last_created_us, "Stripe customer %s of user %s is not "
			               "the one mapped (%s): orphaned", u->customers[0], u->user,
			               u->mapped[0] ? u->mapped : "none");
	}
	return true;
}

/* harness/invariant_customer.c - Stripe customer get-or-create's contract,
 * judged on the answers callers got and on Stripe's and Postgres's final
 * state: one customer per user, the one mapped and nobody else's (no-orphan);
 * every call answered as promised, within its retry budget (customer-liveness). */
#include "harness/invariant.h"

#include <string.h>

#include "harness/invariant_int.h"

/* ---- no-orphan ------------------------------------------------------------ */

static bool cu_owns(const struct hist_customer_user *u, const char *id)
{
	uint32_t n = u->ncustomers < HIST_CUSTOMERS_MAX ? u->ncustomers : HIST_CUSTOMERS_MAX;
	for (uint32_t i = 0; i < n; i++) {
		if (strcmp(u->customers[i], id) == 0)
			return true;
	}
	return false;
}

bool inv_check_no_orphan(const struct history *h, struct inv_violation *v)
{
	if (h->cu_wrong_email && h->cu_wrong_email_user < h->ncust)
		return inv_violate(v, h->cu_wrong_email_us, "a customer create for user %s sent the "
		               "address '%s', which is not the user's", h->cust[h->cu_wrong_email_user].user,
		               h->cu_wrong_email_sent);
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
		/* A mapping names a customer Stripe holds for this user, not one
		 * of another user's (shared) or one that does not exist. */
		if (u->mapped[0] != '\0' && !cu_owns(u, u->mapped))
			return inv_violate(v, h->end_us, "user %s is mapped to %s, which is not a "
			               "Stripe customer of that user", u->user, u->mapped);
		if (u->pre_mapped[0] != '\0' && strcmp(u->pre_mapped, u->mapped) != 0)
			return inv_violate(v, h->end_us, "user %s was mapped to %s before the run and "
			               "is mapped to %s after it", u->user, u->pre_mapped,
			               u->mapped[0] ? u->mapped : "nothing");
	}
	return true;
}

/* ---- customer-liveness ----------------------------------------------------- */

static const char *const cu_answer_names[] = {
	[HIST_CU_OK] = "ok", [HIST_CU_RETRY] = "retry", [HIST_CU_ERROR] = "permanent error",
	[HIST_CU_REJECT] = "rejected",
};

static bool cu_check_request(const struct history *h, size_t i, struct inv_violation *v)
{
	const struct hist_cu_request *r = &h->cu[i];
	if (!r->done)
		return true; /* no-hung-request speaks about it */
	const char *said = cu_answer_names[r->answer];
	if (!r->valid_id) {
		if (r->answer != HIST_CU_REJECT)
			return inv_violate(v, r->end_us, "call %zu with a user id the API refuses "
			               "was answered %s, not rejected", i, said);
		return true;
	}
	const struct hist_customer_user *u = &h->cust[r->user];
	if (r->answer == HIST_CU_OK) {
		if (strcmp(r->customer, u->mapped) != 0)
			return inv_violate(v, r->end_us, "user %s was answered customer %s but is "
			               "mapped to %s", u->user, r->customer,
			               u->mapped[0] ? u->mapped : "nothing");
		return true;
	}
	if (r->answer == HIST_CU_REJECT)
		return inv_violate(v, r->end_us, "user %s: a valid call was rejected", u->user);
	if (!r->touched)
		return inv_violate(v, r->end_us, "user %s: a call no fault touched was answered "
		               "%s", u->user, said);
	if (r->answer == HIST_CU_ERROR && !r->refused && !r->lasting)
		return inv_violate(v, r->end_us, "user %s: answered a permanent error although "
		               "only transient faults touched the call", u->user);
	/* "retry" promises that trying again can succeed. */
	if (r->answer == HIST_CU_RETRY && r->only_lasting)
		return inv_violate(v, r->end_us, "user %s: answered retry although only causes "
		               "no retry mends (a refusal for good, a permanent SQLSTATE) touched "
		               "the call", u->user);
	return true;
}

/* One call's own traffic: each step tried at most 1 + retries_max times,
 * and a create Stripe refused for good never sent again. */
static bool cu_check_budget(const struct history *h, size_t i, struct inv_violation *v)
{
	const struct hist_cu_request *r = &h->cu[i];
	if (!r->done || !r->valid_id || !r->exclusive)
		return true;
	const struct hist_customer_user *u = &h->cust[r->user];
	uint64_t bound = (uint64_t)h->cu_retries_max + 1;
	if (r->stripe_calls > bound)
		return inv_violate(v, r->end_us, "user %s: one call sent %u customer creates, over "
		               "its budget of %llu", u->user, r->stripe_calls, (unsigned long long)bound);
	if (r->insert_calls > bound)
		return inv_violate(v, r->end_us, "user %s: one call sent %u mapping inserts, over "
		               "its budget of %llu", u->user, r->insert_calls, (unsigned long long)bound);
	if (r->search_calls > bound)
		return inv_violate(v, r->end_us, "user %s: one call sent %u customer searches, over "
		               "its budget of %llu", u->user, r->search_calls, (unsigned long long)bound);
	/* Stripe's 4xx (but 409 and 429) says the request itself is wrong:
	 * sending it again cannot succeed. */
	if (r->calls_after_refusal > 0)
		return inv_violate(v, r->end_us, "user %s: customer create sent again after "
		               "Stripe refused it for good", u->user);
	return true;
}

bool inv_check_customer_liveness(const struct history *h, struct inv_violation *v)
{
	for (size_t i = 0; i < h->ncu; i++) {
		if (!cu_check_request(h, i, v) || !cu_check_budget(h, i, v))
			return false;
	}
	if (h->cu_invalid_calls > 0)
		return inv_violate(v, h->end_us, "%u customer create(s) reached Stripe for user ids "
		               "the API refuses", h->cu_invalid_calls);
	/* Calls that overlapped share their user's traffic: bound the sum. */
	uint64_t per_call = (uint64_t)h->cu_retries_max + 1;
	for (size_t i = 0; i < h->ncust; i++) {
		const struct hist_customer_user *u = &h->cust[i];
		uint64_t bound = per_call * u->requests;
		if (u->stripe_calls > bound || u->insert_calls > bound || u->search_calls > bound)
			return inv_violate(v, h->end_us, "user %s: %u customer creates, %u searches and "
			               "%u mapping inserts for %u call(s), over the budget of %llu each",
			               u->user, u->stripe_calls, u->search_calls, u->insert_calls,
			               u->requests, (unsigned long long)bound);
	}
	return true;
}

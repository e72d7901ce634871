/* sim/scenario.c - the names of fixes and invariants, the seeds of a
 * scenario and its release. The description itself is filled by the loader
 * (harness/scenario_load.c); the worlds only read it. */
#include "sim/scenario.h"

#include <stdlib.h>
#include <string.h>

#include "core/assert.h"

const char *const fix_names[FIX_COUNT] = {
	[FIX_RATELIMIT] = "ratelimit",
	[FIX_QUOTE_EMAIL] = "quote-email",
	[FIX_WEBHOOK] = "webhook",
	[FIX_DEDUP] = "request-dedup",
	[FIX_CUSTOMER] = "stripe-customer",
};

const char *const invariant_names[INV_COUNT] = {
	[INV_EXACTLY_ONCE] = "exactly-once",
	[INV_EVENTUALLY_APPLIED] = "eventually-applied",
	[INV_NO_LOCKOUT] = "no-lockout",
	[INV_NO_FALSE_DUPLICATE] = "no-false-duplicate",
	[INV_DEDUP_EFFECTIVE] = "dedup-effective",
	[INV_NO_ORPHAN] = "no-orphan",
	[INV_EMAIL_SAFE] = "email-safe",
	[INV_NO_UNHANDLED] = "no-unhandled-error",
	[INV_NO_HUNG] = "no-hung-request",
	[INV_RATELIMIT_WINDOW] = "ratelimit-window",
	[INV_SIGNATURE_SOUND] = "signature-sound",
	[INV_WEBHOOK_ACK] = "webhook-ack",
	[INV_CUSTOMER_LIVENESS] = "customer-liveness",
};

const char *fix_name(enum fix_id f)
{
	ASSERT((unsigned)f < FIX_COUNT);
	return fix_names[f];
}

bool fix_parse(const char *name, enum fix_id *out)
{
	ASSERT(name != NULL);
	for (unsigned i = 0; i < FIX_COUNT; i++) {
		if (strcmp(name, fix_names[i]) == 0) {
			if (out != NULL)
				*out = (enum fix_id)i;
			return true;
		}
	}
	return false;
}

const char *invariant_name(enum invariant_id i)
{
	ASSERT((unsigned)i < INV_COUNT);
	return invariant_names[i];
}

bool invariant_parse(const char *name, enum invariant_id *out)
{
	ASSERT(name != NULL);
	for (unsigned i = 0; i < INV_COUNT; i++) {
		if (strcmp(name, invariant_names[i]) == 0) {
			if (out != NULL)
				*out = (enum invariant_id)i;
			return true;
		}
	}
	return false;
}

size_t scenario_seed_count(const struct scenario *sc)
{
	ASSERT(sc != NULL);
	return sc->seed_list != NULL ? sc->nseed_list : sc->seeds;
}

uint64_t scenario_seed_at(const struct scenario *sc, size_t index)
{
	ASSERT(sc != NULL);
	ASSERT(index < scenario_seed_count(sc));
	if (sc->seed_list != NULL)
		return sc->seed_list[index];
	return sc->seed_first + index;
}

void scenario_destroy(struct scenario *sc)
{
	if (sc == NULL)
		return;
	free(sc->path);
	free(sc->name);
	free(sc->description);
	free(sc->seed_list);
	free(sc);
}


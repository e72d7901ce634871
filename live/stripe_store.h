/* live/stripe_store.h - the fake Stripe's objects (customers, payment
 * intents, events) in memory, as the JSON Stripe answers with: ids made
 * from a seed, creation order kept for lists and cursors, a bound per kind.
 * Knows no HTTP, no parameters and no idempotency (live/stripe_api.c and
 * live/fake_stripe.c do); not thread-safe. */
#ifndef LIVE_STRIPE_STORE_H
#define LIVE_STRIPE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define STRIPE_STORE_OBJECTS_MAX 100000u  /* objects kept per kind */
#define STRIPE_STORE_ID_MAX 64            /* bytes of an id, with NUL */

enum stripe_kind { STRIPE_CUSTOMER, STRIPE_PAYMENT_INTENT, STRIPE_EVENT,
                   STRIPE_KIND_COUNT };

struct stripe_store;

/* Ids are the kind's prefix ("cus_", "pi_", "evt_") and base62 characters
 * drawn from id_seed: customers 14 as Stripe's, others 24. NULL when out of
 * memory. */
struct stripe_store *stripe_store_create(uint64_t id_seed);
void stripe_store_destroy(struct stripe_store *st); /* accepts NULL */

/* Stores obj (takes the reference in every case) as a new object of kind:
 * sets "id", "object", "created" (created_s) and "livemode": false. Returns
 * obj, borrowed and valid until it is removed; NULL at the bound or out of
 * memory (obj released). */
json_t *stripe_store_add(struct stripe_store *st, enum stripe_kind kind,
                         json_t *obj, int64_t created_s);
/* The object of kind with id, borrowed (modify it in place), a deleted
 * one included; NULL when none. */
json_t *stripe_store_get(const struct stripe_store *st, enum stripe_kind kind,
                         const char *id);
/* Deletes it from lists and cursors and keeps {"id", "object",
 * "deleted": true} under its id, as Stripe answers for a deleted object;
 * false when there is no live object of kind with id. */
bool stripe_store_remove(struct stripe_store *st, enum stripe_kind kind,
                         const char *id);
/* Live objects of kind (deleted ones not counted). */
size_t stripe_store_count(const struct stripe_store *st, enum stripe_kind kind);

/* A page, newest first as Stripe lists: at most limit objects (1..100)
 * older than starting_after or, with ending_before, the ones just newer
 * than it; only objects for which keep (NULL: all) says true. Returns a new
 * array of new references and sets *has_more; NULL with *missing = true
 * when a cursor names no object of kind, or out of memory. */
typedef bool stripe_store_keep_fn(void *arg, const json_t *obj);
json_t *stripe_store_page(const struct stripe_store *st, enum stripe_kind kind,
                          size_t limit, const char *starting_after,
                          const char *ending_before, stripe_store_keep_fn *keep,
                          void *arg, bool *has_more, bool *missing);

#endif

/* sim/models/stripe_model.h - in-process Stripe customer creation and its
 * Idempotency-Key contract, on a virtual clock passed in. Two-phase (begin
 * when a request reaches Stripe, finish when Stripe answers) so "in flight"
 * exists in virtual time. The same key table serves any other request of
 * the live fake Stripe (stripe_model_request_*), whose objects live there.
 * Knows nothing of the scheduler or of faults. Not for webhooks
 * (core/stripe_sig.h); not thread-safe. */
#ifndef SIM_MODELS_STRIPE_MODEL_H
#define SIM_MODELS_STRIPE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/env.h"

#define STRIPE_MODEL_CUSTOMERS_MAX (1u << 20)   /* customers kept */
#define STRIPE_MODEL_KEYS_MAX (1u << 20)        /* idempotency keys remembered */
#define STRIPE_MODEL_PENDING_MAX 4096u          /* requests in flight */
#define STRIPE_MODEL_KEY_LEN_MAX 255            /* Stripe's Idempotency-Key limit */
#define STRIPE_MODEL_EMAIL_MAX 512              /* Stripe's email limit */
#define STRIPE_MODEL_USER_ID_MAX 500            /* Stripe's metadata value limit */
#define STRIPE_MODEL_KEY_TTL_US (24ULL * 3600 * 1000000) /* key lifetime */
#define STRIPE_MODEL_CUSTOMER_ID_LEN 18         /* "cus_" + 14 base62 */
/* How long a new customer stays out of search results: Stripe's search is
 * eventually consistent, "usually under a minute". */
#define STRIPE_MODEL_SEARCH_LAG_US (60ULL * 1000000)

struct stripe_model; /* opaque */

/* Customer ids are "cus_" + 14 base62 characters, a function of id_seed and
 * a creation counter only, and distinct within one model. NULL when out of
 * memory. */
struct stripe_model *stripe_model_create(uint64_t id_seed);
void stripe_model_destroy(struct stripe_model *m); /* accepts NULL */

/* A create request reaches Stripe at now_us (never earlier than the
 * previous call's now_us: the clock is monotonic, asserted). Returns true
 * and fills *reply when it is answered at once, nothing pending:
 *  - key longer than STRIPE_MODEL_KEY_LEN_MAX or empty, email longer than
 *    STRIPE_MODEL_EMAIL_MAX, user_id longer than STRIPE_MODEL_USER_ID_MAX:
 *    400 "invalid_request_error" (validation fails, nothing saved);
 *  - same key as a request still in flight: 409 "idempotency_error"
 *    (Stripe's concurrent-request conflict);
 *  - same key and same params as a finished request: its saved response,
 *    errors included, with idempotent_replay = true;
 *  - same key, other params: 400 "idempotency_error";
 *  - STRIPE_MODEL_PENDING_MAX requests already in flight, or the key table
 *    full of unexpired keys: 429 "invalid_request_error" (Stripe's rate
 *    limit answer; the model's bounds are far beyond any scenario).
 * Otherwise returns false and sets *token to the new pending request; its
 * key (if any) is now in flight. "Same params" means the same email and
 * user_id, a NULL field being the same as "". A key is forgotten
 * STRIPE_MODEL_KEY_TTL_US after the request that first used it began; a key
 * still in flight is never forgotten. Strings in *reply live until the next
 * call on m. */
bool stripe_model_customer_begin(struct stripe_model *m, uint64_t now_us,
                                 const struct stripe_customer_params *p,
                                 uint32_t *token, struct stripe_reply *reply);

/* Finishes pending request token at now_us and fills *reply (never a
 * replay). status 200 creates the customer (email, metadata user_id,
 * created at now_us) and saves the response under the key; another status
 * (e.g. 500) creates nothing and is saved under the key too, since Stripe
 * saves the first result of a key whatever it was. save = false means the
 * request failed before Stripe's API started executing (e.g. 429): nothing
 * is saved and the key is free again; status 200 requires save (asserted).
 * error_type follows the status: "" for 200, "card_error" for 402,
 * "invalid_request_error" for other 4xx, "api_error" otherwise. If the
 * customer bound is reached, a 200 becomes a 500 "api_error". token must
 * name a pending request (asserted). */
void stripe_model_customer_finish(struct stripe_model *m, uint32_t token,
                                  uint64_t now_us, int status, bool save,
                                  struct stripe_reply *reply);

/* Any other request with side effects (live/fake_stripe.c), under the same
 * Idempotency-Key contract as stripe_model_customer_begin: the request is
 * named by fingerprint (method, path and its parameters, at most
 * STRIPE_MODEL_FINGERPRINT_MAX bytes: a longer one is 400
 * "invalid_request_error") instead of email and user_id, and the answer
 * saved under the key is a text (the response body). key may be NULL. When
 * it is answered at once returns true and fills *answer; a replay's body is
 * the saved text, valid until the next call on m; otherwise body is NULL.
 * A key first used by a customer create is another request: 400
 * "idempotency_error". Otherwise false with *token pending. */
#define STRIPE_MODEL_FINGERPRINT_MAX 16384
struct stripe_model_answer {
	int http_status;
	const char *error_type;    /* "" unless the model refused */
	const char *body;          /* a replay's saved body, else NULL */
	bool idempotent_replay;
};
bool stripe_model_request_begin(struct stripe_model *m, uint64_t now_us,
                                const char *key, const char *fingerprint,
                                uint32_t *token,
                                struct stripe_model_answer *answer);
/* Finishes pending request token (from stripe_model_request_begin) at
 * now_us. save: the request executed and answered status with body (copied;
 * NULL as "") and that answer is saved under its key; !save: it never
 * executed and the key is free again. Out of memory while saving forgets
 * the key (a retry executes again). token must name a pending request
 * begun by stripe_model_request_begin (asserted). */
void stripe_model_request_finish(struct stripe_model *m, uint32_t token,
                                 uint64_t now_us, int status, bool save,
                                 const char *body);

/* A customer search by metadata[user_id] at now_us (monotonic, as above):
 * the id of the oldest customer made for user_id, or "" when there is none
 * or it was made less than STRIPE_MODEL_SEARCH_LAG_US ago. "" for an empty
 * user_id. The id is valid until the next call on m. */
const char *stripe_model_customer_find(struct stripe_model *m, uint64_t now_us,
                                       const char *user_id);

size_t stripe_model_customer_count(const struct stripe_model *m);
/* Requests begun and not finished. */
size_t stripe_model_pending_count(const struct stripe_model *m);

/* Every customer in creation order. Strings are valid during the call;
 * email and user_id are "" when absent. fn must not call into m. */
typedef void stripe_model_customer_fn(void *arg, const char *customer_id,
                                      const char *user_id, const char *email,
                                      uint64_t created_us);
void stripe_model_foreach_customer(const struct stripe_model *m,
                                   stripe_model_customer_fn *fn, void *arg);

#endif

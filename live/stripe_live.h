/* live/stripe_live.h - the Stripe port (core/env.h struct stripe_port)
 * over HTTP: POST {base_url}/v1/customers through the shared curl_loop, to
 * Stripe's API or to the built-in fake (fake_stripe.h). The secret key comes
 * from the environment or a file, never from the command line, and is never
 * logged. Not for the simulated runs; not thread-safe. */
#ifndef SIM_LIVE_STRIPE_LIVE_H
#define SIM_LIVE_STRIPE_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "core/env.h"
#include "core/result.h"

struct curl_loop;
struct sched;
struct stripe_live;

#define STRIPE_LIVE_KEY_MAX 256        /* bytes of the secret key */
#define STRIPE_LIVE_URL_MAX 512        /* bytes of base_url */
#define STRIPE_LIVE_IDEM_KEY_MAX 255   /* Stripe's own limit */
#define STRIPE_LIVE_KEY_ENV "FAULTLINE_STRIPE_KEY"

struct stripe_live_config {
	const char *base_url;  /* "https://api.stripe.com" or the fake's
	                        * "http://127.0.0.1:PORT"; copied */
	const char *api_key;   /* copied, wiped at destroy */
	uint64_t timeout_us;   /* > 0: deadline of one request, connect
	                        * included */
};

/* The secret key from $FAULTLINE_STRIPE_KEY or, when that is unset, from the
 * first line of key_file (NULL: none). Writes key (keysize bytes) only on
 * RESULT_OK. RESULT_REJECT with a message in err (which never contains the
 * key) when neither gives a usable key. */
enum result stripe_live_key_load(const char *key_file, char *key,
                                 size_t keysize, char *err,
                                 size_t errsize) MUST_USE;

/* cl and s are borrowed and must outlive the adapter. NULL with a message
 * in err on a bad configuration or out of memory. */
struct stripe_live *stripe_live_create(struct curl_loop *cl, struct sched *s,
                                       const struct stripe_live_config *cfg,
                                       char *err, size_t errsize);

/* Accepts NULL. Requests still running are cancelled without callbacks.
 * Never from inside one of its callbacks. */
void stripe_live_destroy(struct stripe_live *sl);

/* Fills *out with the port. Its contract (core/env.h) holds, and:
 *  - OUTCOME_OK on a 2xx with a customer id in the JSON body;
 *  - OUTCOME_ERROR with http_status and error.type on any other status;
 *    on a 2xx whose body has no id, error_type "invalid_response"; on a
 *    body past CURL_LOOP_BODY_MAX, "response_too_large"; and, with
 *    http_status 0 (nothing sent), "invalid_request_error" for an
 *    Idempotency-Key with control characters or past its limit;
 *  - OUTCOME_TIMEOUT when the deadline passed (connect included);
 *  - OUTCOME_CONN_LOST when the connection was refused, reset or closed
 *    without a full answer, or when the curl_loop is at its bound (not
 *    sent). */
void stripe_live_port(struct stripe_live *sl, struct stripe_port *out);

/* Requests whose callback has not run yet. */
uint64_t stripe_live_pending(const struct stripe_live *sl);

#endif

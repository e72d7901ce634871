/* live/fake_stripe.h - a built-in fake of Stripe's customer API on
 * 127.0.0.1 (evhttp on the caller's event_base), for live runs without
 * network or keys: the Stripe model's Idempotency-Key contract behind POST
 * and GET /v1/customers, with Bearer auth. Not Stripe: no other objects, no
 * webhooks, no TLS; not thread-safe. */
#ifndef SIM_LIVE_FAKE_STRIPE_H
#define SIM_LIVE_FAKE_STRIPE_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct sched;
struct fake_stripe;

#define FAKE_STRIPE_BODY_MAX 8192      /* request body bytes; past: 413 */
#define FAKE_STRIPE_HEADERS_MAX 8192   /* request header bytes; past: 400 */
#define FAKE_STRIPE_PENDING_MAX 1024   /* creates in flight; past: 429 */
#define FAKE_STRIPE_LIST_MAX 100       /* Stripe's page size limit */
#define FAKE_STRIPE_KEY_MAX 256        /* bytes of the API key */
#define FAKE_STRIPE_IDLE_S 30          /* idle keep-alive connections */
#define FAKE_STRIPE_CONNS_MAX 256      /* connections (proxy/http_guard.h) */

struct fake_stripe_config {
	int port;              /* 0: any free port */
	const char *api_key;   /* the one Bearer token accepted; copied */
	uint64_t id_seed;      /* customer ids, as stripe_model_create */
	uint64_t process_us;   /* a create stays in flight this long before
	                        * it is answered (and its key is busy: 409) */
	uint64_t head_timeout_us; /* a request's head and body; 0: 10 s */
};

/* Listens on 127.0.0.1 only. base and s are borrowed and must outlive the
 * fake; s runs on base in SCHED_REAL mode and is the model's clock. NULL
 * with a message in err (errsize bytes) on a bad configuration, a port in
 * use, or out of memory. */
struct fake_stripe *fake_stripe_create(struct event_base *base, struct sched *s,
                                       const struct fake_stripe_config *cfg,
                                       char *err, size_t errsize);
/* Accepts NULL. Creates still in flight are answered 503 (nothing saved)
 * and every connection is closed. */
void fake_stripe_destroy(struct fake_stripe *fs);

int fake_stripe_port(const struct fake_stripe *fs);
/* "http://127.0.0.1:PORT", the base URL for stripe_live. */
const char *fake_stripe_url(const struct fake_stripe *fs);
/* Customers created so far (the orphan count's denominator). */
size_t fake_stripe_customer_count(const struct fake_stripe *fs);

/* The API, in Stripe's shapes (JSON, errors as {"error":{"type",
 * "message"}}), every request needing "Authorization: Bearer <api_key>"
 * (else 401 invalid_request_error):
 *   POST /v1/customers   form email, metadata[user_id]; header
 *                        Idempotency-Key. 200 customer; a replay carries
 *                        "Idempotent-Replayed: true"; 400 idempotency_error
 *                        for a key reused with other params; 409
 *                        idempotency_error while the key is in flight.
 *   GET /v1/customers    ?limit=1..100 (default 10), ?starting_after=ID;
 *                        newest first, as Stripe lists them; has_more.
 * Other paths 404, other methods 405. */

#endif

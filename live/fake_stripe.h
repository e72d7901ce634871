/* live/fake_stripe.h - a stateful fake of Stripe's REST API on 127.0.0.1
 * (evhttp on the caller's event_base), for live runs, `faultline serve` and
 * `faultline stripe`: customers, payment intents and events in Stripe's
 * shapes (live/stripe_api.h), Bearer or Basic auth with one key, the
 * Idempotency-Key contract of the Stripe model on every POST and DELETE,
 * and optional fault rules (target stripe). Not Stripe: no webhooks
 * sent, no TLS, state in memory only; not thread-safe. */
#ifndef SIM_LIVE_FAKE_STRIPE_H
#define SIM_LIVE_FAKE_STRIPE_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct sched;
struct fault_plan;
struct fake_stripe;

#define FAKE_STRIPE_BODY_MAX 8192      /* request body bytes; past: 413 */
#define FAKE_STRIPE_HEADERS_MAX 8192   /* request header bytes; past: 400 */
#define FAKE_STRIPE_PENDING_MAX 1024   /* requests held at once; past: 429 */
#define FAKE_STRIPE_LIST_MAX 100       /* Stripe's page size limit */
#define FAKE_STRIPE_KEY_MAX 256        /* bytes of the API key */
#define FAKE_STRIPE_IDLE_S 30          /* idle keep-alive connections */
#define FAKE_STRIPE_CONNS_MAX 256      /* connections (proxy/http_guard.h) */
#define FAKE_STRIPE_HOLD_US 30000000ULL /* a timeout fault's silence */

struct fake_stripe_config {
	int port;              /* 0: any free port */
	const char *api_key;   /* the one key accepted; copied */
	uint64_t id_seed;      /* object ids (live/stripe_store.h) */
	uint64_t process_us;   /* a POST or DELETE stays in flight this long
	                        * before it executes and is answered (its key
	                        * is busy meanwhile: 409) */
	const struct fault_plan *faults; /* NULL: none; else copied, and its
	                        * stripe rules apply to every request, op
	                        * names as stripe_api_op, time from creation */
	uint64_t fault_seed;   /* the plan's probabilities and latencies */
	uint64_t hold_us;      /* timeout faults: silence before the reset;
	                        * 0: FAKE_STRIPE_HOLD_US */
	uint64_t head_timeout_us; /* a request's head and body; 0: 10 s */
};

/* Listens on 127.0.0.1 only. base and s are borrowed and must outlive the
 * fake; s runs on base in SCHED_REAL mode and is the model's clock. NULL
 * with a message in err (errsize bytes) on a bad configuration, a port in
 * use, or out of memory. */
struct fake_stripe *fake_stripe_create(struct event_base *base, struct sched *s,
                                       const struct fake_stripe_config *cfg,
                                       char *err, size_t errsize);
/* Accepts NULL. Requests still in flight are answered 503 (nothing saved)
 * and every connection is closed. */
void fake_stripe_destroy(struct fake_stripe *fs);

int fake_stripe_port(const struct fake_stripe *fs);
/* "http://127.0.0.1:PORT", the base URL for stripe_live. */
const char *fake_stripe_url(const struct fake_stripe *fs);
/* Customers existing now (the orphan count's denominator). */
size_t fake_stripe_customer_count(const struct fake_stripe *fs);
/* Fault rules fired so far. */
uint64_t fake_stripe_faults_fired(const struct fake_stripe *fs);

/* The API (docs/live.md has the table): every request needs
 * "Authorization: Bearer <api_key>" (or Basic with the key as user), else
 * 401. POST bodies and GET queries are form-encoded; answers are JSON,
 * errors {"error": {"type", "code", "param", "message"}}.
 *   /v1/customers            GET list (limit, starting_after, ending_before,
 *                            email), POST create
 *   /v1/customers/search     GET ?query=email:'x' AND metadata['k']:'v'
 *   /v1/customers/ID         GET, POST update, DELETE ({"deleted": true})
 *   /v1/payment_intents      GET list, POST create (amount, currency,
 *                            customer, metadata, payment_method, confirm)
 *   /v1/payment_intents/ID   GET
 *   /v1/payment_intents/ID/confirm  POST: succeeded (or 402 card_declined
 *                            for pm_card_chargeDeclined)
 *   /v1/events, /v1/events/ID  GET (list ?type=payment_intent.*)
 * POST and DELETE take Idempotency-Key: a retry with the same parameters
 * gets the saved answer and "Idempotent-Replayed: true"; other parameters
 * 400 idempotency_error; while the first is in flight 409; keys expire 24 h
 * after first use (the scheduler's clock). Validation errors (400, 404)
 * are not saved, as at Stripe. Other paths 404, other methods 405. */

#endif

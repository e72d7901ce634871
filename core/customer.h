/* core/customer.h - get or create the Stripe customer of a user, and keep
 * the user -> customer mapping in stripe_customers. One object per env;
 * callbacks run on the env's loop; not thread-safe. Not a cache: every
 * call asks the database first. */
#ifndef CORE_CUSTOMER_H
#define CORE_CUSTOMER_H

#include <stdint.h>

#include "core/env.h"
#include "core/result.h"

#define CUSTOMER_USER_ID_MAX 64        /* octets in a user id */
#define CUSTOMER_EMAIL_MAX 254         /* octets in an e-mail address */
#define CUSTOMER_ID_MAX 255            /* octets in a Stripe customer id */
#define CUSTOMER_RETRIES_LIMIT 10      /* largest retries_max accepted */
#define CUSTOMER_BACKOFF_MS_MAX 60000  /* largest backoff_ms, and cap of one wait */
#define CUSTOMER_IDEMPOTENCY_PREFIX "customer-create-"

struct customer_config {
	enum variant variant;
	uint32_t retries_max; /* seed, hardened: retries of one step, <= CUSTOMER_RETRIES_LIMIT */
	uint64_t backoff_ms;  /* first wait; doubles per retry, capped, jittered */
};

/* rc RESULT_OK: customer_id is the user's customer (borrowed for the
 * call). RESULT_RETRY (hardened): a transient failure (timeout, lost
 * connection, transient SQLSTATE, Stripe 409/429/5xx) outlasted the
 * retries; the same call may succeed later. RESULT_ERROR: a dependency
 * failed for good (legacy, seed: any failure; customer_id ""). RESULT_REJECT:
 * user_id empty or too long, or email too long. */
typedef void customer_done_fn(void *arg, enum result rc, const char *customer_id);

struct customer;

/* NULL when cfg is out of range. env is borrowed and must outlive the
 * object; cfg is copied. Aborts when out of memory. */
struct customer *customer_create(const struct core_env *env, const struct customer_config *cfg);
/* Accepts NULL. Every call must have completed (asserted). */
void customer_destroy(struct customer *c);

/* user_id and email (may be NULL) are borrowed for the call. Calls done
 * exactly once, never before returning; c may be destroyed from done.
 *   all:      SELECT the mapping; found -> it. Else create the customer at
 *             Stripe, then INSERT the mapping (acquire, exec, release).
 *   legacy:   any failure -> RESULT_ERROR; a failed insert orphans the
 *             customer just created. No Idempotency-Key.
 *   seed:     transient insert failures (sqlstate_is_transient, timeout,
 *             connection loss) retried with back-off; 23505 -> the
 *             winner's mapping is returned, `[Stripe]` log; ours is
 *             orphaned. No Idempotency-Key.
 *   hardened: seed plus Idempotency-Key "customer-create-<user_id>" with the
 *             same parameters on every attempt, and the Stripe call retried
 *             on timeout, connection loss, 409, 429 and 5xx: racing
 *             requests get one customer. Before creating, Stripe is
 *             searched for a customer already made for the user (one whose
 *             mapping insert failed for good, its key since expired); one
 *             found is mapped instead (`[Stripe]` log), so no orphan
 *             however late the user comes back. The search is retried as
 *             the create is; when it cannot be done, nothing is created and
 *             the call answers RETRY (transient) or RESULT_ERROR. */
void customer_get_or_create(struct customer *c, const char *user_id, const char *email,
                            customer_done_fn *done, void *arg);

#endif

/* core/ratelimit.h - fixed-window rate limit on payment-intent creation:
 * at most `limit` hits per `window_ms` per user, counted in the key-value
 * port under "ratelimit:<user_id>". One limiter per env; callbacks run on
 * the env's loop; not thread-safe. Not a sliding window. */
#ifndef CORE_RATELIMIT_H
#define CORE_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/env.h"
#include "core/result.h"

#define RATELIMIT_USER_ID_MAX 128        /* octets in a user id */
#define RATELIMIT_WINDOW_MS_MAX (366ull * 86400u * 1000u) /* a leap year */

struct ratelimit_config {
	enum variant variant;
	uint32_t limit;     /* hits allowed per window, >= 1 */
	uint64_t window_ms; /* 1 .. RATELIMIT_WINDOW_MS_MAX */
	bool fail_open;     /* hardened: allow when Redis fails */
};

enum ratelimit_verdict { RATELIMIT_ALLOW, RATELIMIT_REJECT };

/* rc RESULT_OK: verdict is the answer. RESULT_ERROR: the store failed and
 * the request must error out (verdict REJECT). RESULT_REJECT: user_id is
 * empty or longer than RATELIMIT_USER_ID_MAX (verdict REJECT). */
typedef void ratelimit_done_fn(void *arg, enum result rc, enum ratelimit_verdict verdict);

struct ratelimit;

/* Returns NULL when cfg is out of range (limit 0, window 0 or above the
 * maximum). env is borrowed and must outlive the limiter; cfg is copied.
 * Aborts when out of memory, as every core module does. */
struct ratelimit *ratelimit_create(const struct core_env *env, const struct ratelimit_config *cfg);
/* Accepts NULL. Every hit must have completed (asserted). */
void ratelimit_destroy(struct ratelimit *rl);

/* Counts one hit for user_id (borrowed for the call). Calls done exactly
 * once, never before returning. The limiter may be destroyed from done.
 *   legacy:   INCR; when the count is 1, EXPIRE key window_s with the
 *             outcome ignored. INCR failure: RESULT_ERROR.
 *   seed:     the EXPIRE failure is reported: `[RateLimit]` log and
 *             RESULT_ERROR, the key may stay without a TTL.
 *   hardened: MULTI {INCR, PEXPIRE key window_ms NX} on every hit; any
 *             failure is logged `[RateLimit]` and answered by the policy:
 *             fail_open gives RESULT_OK + ALLOW, else RESULT_ERROR. */
void ratelimit_hit(struct ratelimit *rl, const char *user_id, ratelimit_done_fn *done, void *arg);

#endif

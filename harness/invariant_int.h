/* harness/invariant_int.h - what the invariant checkers share: the violation
 * writer and the ordering of a history. Private to harness/invariant*.c. */
#ifndef HARNESS_INVARIANT_INT_H
#define HARNESS_INVARIANT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "harness/invariant.h"

/* A sort key of history entry i (major, then minor; ties keep entry order). */
typedef uint64_t order_key_fn(const struct history *h, size_t i);
/* The indices 0..n-1 ordered by (major, minor), stable; NULL when out of
 * memory. The caller frees. */
size_t *inv_order_indices(const struct history *h, size_t n, order_key_fn *major,
                          order_key_fn *minor);
/* Writes the violation's time and message; returns false (does not hold). */
bool inv_violate(struct inv_violation *v, uint64_t t_us, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

bool inv_check_no_orphan(const struct history *h, struct inv_violation *v);
bool inv_check_customer_liveness(const struct history *h, struct inv_violation *v);
bool inv_check_dedup_effective(const struct history *h, struct inv_violation *v);
bool inv_check_no_false_duplicate(const struct history *h, struct inv_violation *v);
bool inv_check_email_safe(const struct history *h, struct inv_violation *v);
bool inv_check_no_lockout(const struct history *h, struct inv_violation *v);
bool inv_check_ratelimit_window(const struct history *h, struct inv_violation *v);
bool inv_check_eventually_applied(const struct history *h, struct inv_violation *v);
bool inv_check_exactly_once(const struct history *h, struct inv_violation *v);
bool inv_check_signature_sound(const struct history *h, struct inv_violation *v);
bool inv_check_webhook_ack(const struct history *h, struct inv_violation *v);

#endif

/* live/deliver.h - the delivery engine of `faultline deliver`: runs a plan
 * against a user's endpoint over libcurl multi on the caller's event_base,
 * signs each attempt at send time, retries answers that are not 2xx on
 * Stripe's schedule compressed by time_scale, and records every answer.
 * Judging the answers is the caller's; not thread-safe. */
#ifndef LIVE_DELIVER_H
#define LIVE_DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/result.h"
#include "live/deliver_event.h"
#include "live/deliver_plan.h"

struct event_base;

#define DELIVER_ANSWERS_MAX (DELIVER_SENDS_MAX * 4u)
#define DELIVER_TRANSFERS_MAX 256

struct deliver_cfg {
	const char *url;          /* the endpoint, borrowed */
	const char *secret;       /* the endpoint's signing secret, borrowed */
	double time_scale;        /* Stripe seconds per real second, >= 1 */
	long timeout_ms;          /* per attempt, > 0 */
	int64_t tolerance_s;      /* stale copies are signed this much + 60 s ago */
	unsigned retries_max;     /* see deliver_plan_retry_after_ms */
};

struct deliver_answer {
	size_t send;              /* index into the plan */
	unsigned attempt;         /* 1 for the first try */
	long status;              /* HTTP status; 0 when none came */
	char error[96];           /* curl's message when status is 0 */
	uint64_t sent_us;         /* real time after the start */
	uint64_t took_us;
	bool after_applied;       /* an earlier attempt of the same event had
	                           * been answered 2xx before this one left */
};

struct deliver;

/* All pointers borrowed and outliving the engine. NULL when out of memory. */
struct deliver *deliver_create(struct event_base *base, const struct deliver_cfg *cfg,
                               const struct deliver_events *ev,
                               const struct deliver_plan *plan);
void deliver_destroy(struct deliver *d);          /* accepts NULL */

/* Runs base until every send is answered 2xx, refused for good or given
 * up on, then returns. RESULT_NOMEM when the answers overflow. */
MUST_USE enum result deliver_run(struct deliver *d);

size_t deliver_answers(const struct deliver *d);
const struct deliver_answer *deliver_answer_get(const struct deliver *d, size_t i);

#endif

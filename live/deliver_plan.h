/* live/deliver_plan.h - when `faultline deliver` sends what: the first
 * delivery of every event (in N concurrent copies, optionally reordered
 * within each object), later duplicates, stale and badly signed copies,
 * and Stripe's retry schedule for answers that are not 2xx. Times are
 * Stripe's (before --time-scale). Pure and deterministic from the seed. */
#ifndef LIVE_DELIVER_PLAN_H
#define LIVE_DELIVER_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/result.h"
#include "live/deliver_event.h"

#define DELIVER_COPIES_MAX 64u
#define DELIVER_DUPLICATES_MAX 16u
#define DELIVER_SENDS_MAX 65536u
#define DELIVER_RETRIES_MAX 32u
/* Stripe retries in live mode with exponential back-off for up to three
 * days; the intervals are not published: ours double from one minute. */
#define DELIVER_RETRY_FIRST_S 60
#define DELIVER_RETRY_WINDOW_S (3 * 24 * 3600)

enum deliver_kind {
	DELIVER_VALID,      /* the first delivery (each concurrent copy) */
	DELIVER_DUPLICATE,  /* the same event again, later */
	DELIVER_STALE,      /* signed with t older than the tolerance */
	DELIVER_BAD_SIG,    /* signed with another secret */
};

struct deliver_plan_cfg {
	uint64_t seed;
	unsigned copies;            /* 1 .. DELIVER_COPIES_MAX per first send */
	unsigned duplicates;        /* 0 .. DELIVER_DUPLICATES_MAX later copies */
	int64_t duplicate_after_s;  /* gap between duplicates, >= 0 */
	bool reorder;               /* an object's later events go first */
	unsigned stale;             /* events that get one stale copy */
	unsigned bad_signatures;    /* events that get one badly signed copy */
	int64_t spacing_ms;         /* between consecutive events, >= 0 */
	unsigned retries_max;       /* 0 .. DELIVER_RETRIES_MAX */
};

struct deliver_send {
	size_t event;               /* index into the events */
	int64_t at_ms;              /* Stripe time after the start */
	enum deliver_kind kind;
	unsigned copy;              /* 0.. within its kind for the event */
	size_t seq;                 /* planned position: the tie-break */
};

struct deliver_plan;

/* NULL when out of memory or past DELIVER_SENDS_MAX (*too_many set). */
struct deliver_plan *deliver_plan_create(const struct deliver_plan_cfg *cfg,
                                         const struct deliver_events *ev,
                                         bool *too_many);
void deliver_plan_destroy(struct deliver_plan *p);   /* accepts NULL */

/* Sends in time order (stable: ties keep the order they were planned). */
size_t deliver_plan_count(const struct deliver_plan *p);
const struct deliver_send *deliver_plan_get(const struct deliver_plan *p, size_t i);

/* Stripe time in ms from a failed attempt (attempt 1 = the first send) to
 * the next try, or -1 when Stripe gives up: past retries_max retries or
 * past three days after the first send. */
int64_t deliver_plan_retry_after_ms(unsigned retries_max, unsigned attempt);

/* Valid deliveries must be answered 2xx; stale and bad ones 4xx. */
bool deliver_kind_is_valid(enum deliver_kind k);
const char *deliver_kind_name(enum deliver_kind k); /* "valid", "duplicate", ... */

#endif

/* live/live_plan.h - a scenario prepared for a live run: its durations
 * scaled to real time, and each fault rule sorted by how it is applied live
 * (a proxy toxic, a server restart, the port wrappers' fault_plan, or not
 * at all, with the reason). Pure data, no I/O: the live backend
 * (live/world_live.c) applies what this decides. */
#ifndef SIM_LIVE_PLAN_H
#define SIM_LIVE_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/fault.h"
#include "proxy/toxic.h"
#include "sim/scenario.h"

#define LIVE_PLAN_SCALE_MIN 0.001          /* --time-scale bounds */
#define LIVE_PLAN_SCALE_MAX 1.0
#define LIVE_PLAN_SCALE_DEFAULT 0.02
/* Floors that keep scaled durations meaningful next to real latencies and
 * client deadlines (Redis 100 ms by default). */
#define LIVE_PLAN_WINDOW_MIN_US 500000     /* dedup TTLs */
#define LIVE_PLAN_RL_WINDOW_MIN_US 1000000 /* rate-limit windows, whole seconds */
#define LIVE_PLAN_ENDPOINT_MIN_US 1000000  /* Stripe's webhook wait */
#define LIVE_PLAN_RETRY_MIN_US 100000      /* Stripe's webhook back-off ... */
#define LIVE_PLAN_RETRY_MAX_US 2000000     /* ... and its cap: 30 min would be
                                            * 36 s at 0.02 */
#define LIVE_PLAN_DOWN_MIN_US 50000        /* a server restart's down time */
#define LIVE_PLAN_DURATION_MIN_US 5000000  /* the bound of one seed */
#define LIVE_PLAN_LEAD_MAX_US 2000000     /* an idle lead-in (customer.start), cut */
#define LIVE_PLAN_WHY_MAX 160

enum live_rule_how {
	LIVE_RULE_PROXY,        /* a toxic on the target's proxy, in its window */
	LIVE_RULE_RESTART,      /* the target's proxy disabled for a while */
	LIVE_RULE_WRAPPER,      /* decided per operation by the port wrappers
	                         * (or the world, for webhook deliveries) */
	LIVE_RULE_NOT_APPLIED,  /* cannot be applied live: why says so */
};

struct live_rule {
	size_t index;                 /* in the scenario's faults */
	enum live_rule_how how;
	enum fault_target target;
	enum fault_kind kind;
	/* PROXY */
	struct toxic_spec toxic;      /* named "rule<index>" */
	bool stalls;                  /* the toxic can hang a Redis connection:
	                               * the backend resets it after the
	                               * client's deadline */
	/* PROXY and RESTART: real microseconds from the seed's start */
	uint64_t from_us;
	uint64_t until_us;            /* UINT64_MAX: to the end */
	bool flush_keys;              /* RESTART of Redis without persistence */
	char why[LIVE_PLAN_WHY_MAX];  /* NOT_APPLIED */
};

struct live_plan {
	/* The scenario to run: durations scaled; faults holds only the
	 * WRAPPER rules (with scaled windows). Strings and seed list are
	 * borrowed from the source scenario. */
	struct scenario scaled;
	double time_scale;
	/* The stripe-customer workload's idle lead-in (customer.start: an
	 * earlier deploy, then a day of nothing) is not waited for live: the
	 * lead_us before the first purchase last lead_live_us, every later
	 * instant is shifted by the difference. lead_us 0: no cut. */
	uint64_t lead_us, lead_live_us;
	uint64_t probe_margin_us;     /* for world_config */
	struct live_rule rules[FAULT_RULES_MAX];
	size_t nrules;                /* = the source scenario's rules */
	size_t not_applied;           /* rules with LIVE_RULE_NOT_APPLIED */
};

/* Prepares sc (borrowed; must outlive the plan) for a live run at
 * time_scale in [LIVE_PLAN_SCALE_MIN, LIVE_PLAN_SCALE_MAX]. NULL when out of
 * memory. */
struct live_plan *live_plan_create(const struct scenario *sc, double time_scale);
void live_plan_destroy(struct live_plan *lp); /* accepts NULL */

/* The live instant of the scenario's instant t: scaled, with the
 * lead-in cut (see struct live_plan). UINT64_MAX stays. */
uint64_t live_plan_at_us(const struct live_plan *lp, uint64_t t);

/* d scaled, rounded, at least min_us (0 stays 0 when min_us is 0). */
uint64_t live_plan_scale_us(uint64_t d, double time_scale, uint64_t min_us);

/* A rate-limit window scaled: whole seconds (the legacy limiter's EXPIRE
 * counts seconds and would round a fraction up), at least one. */
uint64_t live_plan_rl_window_us(uint64_t window_us, double time_scale);

/* True when every rule of the scenario is NOT_APPLIED (and it has some):
 * such a scenario tests nothing live. */
bool live_plan_nothing_applies(const struct live_plan *lp);

#endif

/* live/live_plan.c - scales a scenario to real time and sorts its fault
 * rules for a live run. The proxy acts on bytes, not on the simulator's
 * operations, so each rule either maps onto a toxic with the same effect on
 * the server and the client, or is refused here with a reason the run
 * prints: never dropped silently. */
#include "live/live_plan.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"

#define LIVE_PLAN_PROBE_MARGIN_US 5000000  /* the world's, before scaling */
#define LIVE_PLAN_PROBE_MIN_US 50000

uint64_t live_plan_scale_us(uint64_t d, double time_scale, uint64_t min_us)
{
	ASSERT(time_scale > 0.0);
	double v = (double)d * time_scale;
	uint64_t out = v >= 1.8e19 ? UINT64_MAX : (uint64_t)llround(v);
	return out < min_us ? min_us : out;
}

uint64_t live_plan_at_us(const struct live_plan *lp, uint64_t t)
{
	if (t == UINT64_MAX)
		return UINT64_MAX;
	if (lp->lead_us == 0)
		return live_plan_scale_us(t, lp->time_scale, 0);
	if (t <= lp->lead_us)
		return (uint64_t)((double)t / (double)lp->lead_us * (double)lp->lead_live_us);
	uint64_t after = live_plan_scale_us(t - lp->lead_us, lp->time_scale, 0);
	return after > UINT64_MAX - lp->lead_live_us ? UINT64_MAX : lp->lead_live_us + after;
}

uint64_t live_plan_rl_window_us(uint64_t window_us, double time_scale)
{
	uint64_t w = live_plan_scale_us(window_us, time_scale, LIVE_PLAN_RL_WINDOW_MIN_US);
	w = (w + 500000) / 1000000 * 1000000;
	return w < LIVE_PLAN_RL_WINDOW_MIN_US ? LIVE_PLAN_RL_WINDOW_MIN_US : w;
}

static void not_applied(struct live_rule *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void not_applied(struct live_rule *r, const char *fmt, ...)
{
	r->how = LIVE_RULE_NOT_APPLIED;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof r->why, fmt, ap);
	va_end(ap);
}

static bool op_is_any(const char *op)
{
	return op[0] == '\0' || strcmp(op, "*") == 0;
}

/* The latency toxic delays a whole connection's data: only a rule on every
 * operation, always, with a fixed or uniform delay, means the same. */
static void map_latency(const struct fault_rule *fr, struct live_rule *r)
{
	if (!op_is_any(fr->op)) {
		not_applied(r, "latency on '%s' only: the proxy delays whole connections, "
		               "not one command", fr->op);
		return;
	}
	if (fr->probability < 1.0) {
		not_applied(r, "latency with probability %g: the proxy's latency applies to "
		               "whole connections, not to a share of the commands", fr->probability);
		return;
	}
	if (fr->dist == FAULT_DIST_PARETO) {
		not_applied(r, "Pareto latency: the proxy's latency toxic is uniform");
		return;
	}
	toxic_spec_init(&r->toxic, TOXIC_LATENCY);
	uint64_t lo_ms = fr->latency_us / 1000;
	uint64_t hi_ms = (fr->dist == FAULT_DIST_UNIFORM ? fr->latency_max_us : fr->latency_us) / 1000;
	if (hi_ms > TOXIC_TIME_MS_MAX)
		hi_ms = TOXIC_TIME_MS_MAX;
	if (lo_ms > hi_ms)
		lo_ms = hi_ms;
	r->toxic.latency.latency_ms = (uint32_t)((lo_ms + hi_ms) / 2);
	r->toxic.latency.jitter_ms = (uint32_t)((hi_ms - lo_ms) / 2);
	r->how = LIVE_RULE_PROXY;
}

/* A protocol toxic on one Redis command or PostgreSQL statement. */
static void map_command(const struct fault_rule *fr, struct live_rule *r)
{
	bool redis = fr->target == FAULT_TARGET_REDIS;
	toxic_spec_init(&r->toxic, redis ? TOXIC_REDIS_COMMAND : TOXIC_PG_COMMAND);
	struct toxic_spec *t = &r->toxic;
	snprintf(t->command.command, sizeof t->command.command, "%s",
	         op_is_any(fr->op) ? "*" : fr->op);
	t->command.nth = fr->nth;
	t->toxicity = fr->probability;
	switch (fr->kind) {
	case FAULT_ERROR:
		/* Refused before the server saw it: the client loses the
		 * connection, nothing was applied. */
		t->command.action = TOXIC_ACTION_CLOSE;
		break;
	case FAULT_CONN_LOST:
		/* Cut before the server saw it: an open transaction rolls back,
		 * a cut COMMIT never commits (the model draws commit_applied). */
		t->command.action = TOXIC_ACTION_CLOSE;
		break;
	case FAULT_SERVER_ERROR:
		t->command.action = TOXIC_ACTION_ERROR;
		if (redis) {
			snprintf(t->command.message, sizeof t->command.message, "%s",
			         fr->error[0] ? fr->error : "ERR injected");
		} else if (strlen(fr->error) == 5) {
			snprintf(t->command.sqlstate, sizeof t->command.sqlstate, "%s", fr->error);
		}
		break;
	case FAULT_TIMEOUT_APPLIED:
		/* Applied, its reply lost. redis_live keeps a connection past a
		 * deadline, so the stalled connection is reset after it; libpq
		 * has its own 5 s deadline, so PostgreSQL gets the cut at once. */
		t->command.action = TOXIC_ACTION_DROP_REPLY;
		t->command.then = redis ? TOXIC_ACTION_STALL : TOXIC_ACTION_CLOSE;
		r->stalls = redis;
		break;
	case FAULT_TIMEOUT_NOT_APPLIED:
		t->command.action = redis ? TOXIC_ACTION_STALL : TOXIC_ACTION_CLOSE;
		r->stalls = redis;
		break;
	case FAULT_STALL:
		if (fr->stall_applied) {
			t->command.action = TOXIC_ACTION_DROP_REPLY;
			t->command.then = TOXIC_ACTION_STALL;
		} else {
			t->command.action = TOXIC_ACTION_STALL;
		}
		r->stalls = redis;
		break;
	default:
		ASSERT(!"map_command: kind handled elsewhere");
	}
	char err[128];
	if (toxic_spec_check(t, err, sizeof err) != RESULT_OK) {
		not_applied(r, "no toxic fits: %s", err);
		return;
	}
	r->how = LIVE_RULE_PROXY;
}

static void map_rule(const struct live_plan *lp, const struct fault_rule *fr, struct live_rule *r)
{
	double scale = lp->time_scale;
	r->target = fr->target;
	r->kind = fr->kind;
	r->from_us = live_plan_at_us(lp, fr->from_us);
	r->until_us = live_plan_at_us(lp, fr->until_us);
	bool wire = fr->target == FAULT_TARGET_REDIS || fr->target == FAULT_TARGET_POSTGRES;
	if (fr->kind == FAULT_RESTART) {
		if (!wire) {
			r->how = LIVE_RULE_WRAPPER; /* the wrapper's fault_plan_down */
			return;
		}
		r->how = LIVE_RULE_RESTART;
		uint64_t down = live_plan_scale_us(fr->duration_us, scale, LIVE_PLAN_DOWN_MIN_US);
		r->until_us = r->from_us + down;
		r->flush_keys = fr->target == FAULT_TARGET_REDIS && !fr->persistence;
		if (fr->probability <= 0.0)
			not_applied(r, "a restart with probability 0 is switched off");
		return;
	}
	/* The pool is the client's: its exhaustion is applied where it is. */
	if (!wire || (fr->target == FAULT_TARGET_POSTGRES && strcmp(fr->op, "acquire") == 0)) {
		r->how = LIVE_RULE_WRAPPER;
		if (fr->after_event[0] != '\0' && strncmp(fr->after_event, "stripe.", 7) != 0 &&
		    strncmp(fr->after_event, "mail.", 5) != 0)
			not_applied(r, "armed after '%s': only Stripe and mail operations are seen "
			               "by the live wrappers", fr->after_event);
		return;
	}
	if (fr->after_event[0] != '\0') {
		not_applied(r, "armed after '%s': the proxy cannot wait for another operation",
		            fr->after_event);
		return;
	}
	if (fr->nth > 0 && fr->and_after) {
		not_applied(r, "'nth: %u' and every later one: a proxy toxic fires on exactly the "
		               "Nth match or on every match", fr->nth);
		return;
	}
	if (fr->max_fires > 0 && !(fr->nth > 0 && fr->max_fires >= 1)) {
		not_applied(r, "max_fires %u: the proxy does not count a toxic's fires",
		            fr->max_fires);
		return;
	}
	switch (fr->kind) {
	case FAULT_LATENCY:
		map_latency(fr, r);
		return;
	case FAULT_POOL_EXHAUSTED:
		not_applied(r, "pool-exhausted on '%s': the pool is only asked on acquire", fr->op);
		return;
	case FAULT_ERROR:
	case FAULT_CONN_LOST:
	case FAULT_SERVER_ERROR:
	case FAULT_TIMEOUT_APPLIED:
	case FAULT_TIMEOUT_NOT_APPLIED:
	case FAULT_STALL:
		map_command(fr, r);
		return;
	default:
		not_applied(r, "kind %s has no live form", fault_kind_name(fr->kind));
		return;
	}
}

static void scale_scenario(const struct live_plan *lp, struct scenario *s, double k)
{
	uint64_t d = live_plan_at_us(lp, s->duration_us);
	s->duration_us = d < LIVE_PLAN_DURATION_MIN_US ? LIVE_PLAN_DURATION_MIN_US : d;
	s->ratelimit.spread_us = live_plan_scale_us(s->ratelimit.spread_us, k, 0);
	s->ratelimit.window_us = live_plan_rl_window_us(s->ratelimit.window_us, k);
	s->dedup.spread_us = live_plan_scale_us(s->dedup.spread_us, k, 0);
	s->dedup.duplicate_delay_us = live_plan_scale_us(s->dedup.duplicate_delay_us, k, 0);
	s->dedup.ttl_us = live_plan_scale_us(s->dedup.ttl_us, k, LIVE_PLAN_WINDOW_MIN_US);
	s->quote_email.spread_us = live_plan_scale_us(s->quote_email.spread_us, k, 0);
	s->webhook.copy_spread_us = live_plan_scale_us(s->webhook.copy_spread_us, k, 0);
	s->webhook.spread_us = live_plan_scale_us(s->webhook.spread_us, k, 0);
	for (size_t i = 0; i < s->webhook.nretry && i < SCENARIO_RETRIES_MAX; i++) {
		uint64_t r = live_plan_scale_us(s->webhook.retry_us[i], k, LIVE_PLAN_RETRY_MIN_US);
		s->webhook.retry_us[i] = r < LIVE_PLAN_RETRY_MAX_US ? r : LIVE_PLAN_RETRY_MAX_US;
	}
	s->webhook.endpoint_timeout_us = live_plan_scale_us(s->webhook.endpoint_timeout_us, k,
	                                                    LIVE_PLAN_ENDPOINT_MIN_US);
	s->customer.spread_us = live_plan_scale_us(s->customer.spread_us, k, 0);
	s->customer.copy_spread_us = live_plan_scale_us(s->customer.copy_spread_us, k, 0);
	s->customer.start_us = live_plan_at_us(lp, s->customer.start_us);
	s->customer.again_us = live_plan_scale_us(s->customer.again_us, k, 0);
}

struct live_plan *live_plan_create(const struct scenario *sc, double time_scale)
{
	ASSERT(sc != NULL);
	ASSERT(time_scale >= LIVE_PLAN_SCALE_MIN && time_scale <= LIVE_PLAN_SCALE_MAX);
	ASSERT(sc->faults.nrules <= FAULT_RULES_MAX);
	struct live_plan *lp = calloc(1, sizeof *lp);
	if (lp == NULL)
		return NULL;
	lp->time_scale = time_scale;
	if ((sc->fixes & (1u << FIX_CUSTOMER)) &&
	    live_plan_scale_us(sc->customer.start_us, time_scale, 0) > LIVE_PLAN_LEAD_MAX_US) {
		lp->lead_us = sc->customer.start_us;
		lp->lead_live_us = LIVE_PLAN_LEAD_MAX_US;
	}
	lp->scaled = *sc;
	scale_scenario(lp, &lp->scaled, time_scale);
	lp->probe_margin_us = live_plan_scale_us(LIVE_PLAN_PROBE_MARGIN_US, time_scale,
	                                         LIVE_PLAN_PROBE_MIN_US);
	struct fault_plan *wrap = &lp->scaled.faults;
	memset(wrap, 0, sizeof *wrap);
	lp->nrules = sc->faults.nrules;
	for (size_t i = 0; i < sc->faults.nrules; i++) {
		const struct fault_rule *fr = &sc->faults.rules[i];
		struct live_rule *r = &lp->rules[i];
		r->index = i;
		map_rule(lp, fr, r);
		if (r->how == LIVE_RULE_PROXY) {
			snprintf(r->toxic.name, sizeof r->toxic.name, "rule%zu", i);
		} else if (r->how == LIVE_RULE_WRAPPER) {
			struct fault_rule *w = &wrap->rules[wrap->nrules++];
			*w = *fr;
			w->from_us = r->from_us;
			w->until_us = r->until_us;
			if (fr->kind == FAULT_RESTART)
				w->duration_us = live_plan_scale_us(fr->duration_us, time_scale,
				                                    LIVE_PLAN_DOWN_MIN_US);
		} else if (r->how == LIVE_RULE_NOT_APPLIED) {
			lp->not_applied++;
		}
	}
	return lp;
}

void live_plan_destroy(struct live_plan *lp)
{
	free(lp);
}

bool live_plan_nothing_applies(const struct live_plan *lp)
{
	return lp->nrules > 0 && lp->not_applied == lp->nrules;
}

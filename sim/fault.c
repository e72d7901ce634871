/* sim/fault.c - the fault plan at run time: names of targets and kinds, and
 * the per-operation decision the simulated network asks for. Loading rules
 * from YAML is harness/scenario_load.c's job; applying a decision to a model is the
 * network's. fault_plan_decide sits on the hot path: no allocation, no
 * formatting, a few comparisons per rule. */
#include "sim/fault.h"

#include <math.h>
#include <string.h>

#include "core/assert.h"
#include "sim/prng.h"

static const char *const fault_target_names[FAULT_TARGET_COUNT] = {
	[FAULT_TARGET_REDIS] = "redis",
	[FAULT_TARGET_POSTGRES] = "postgres",
	[FAULT_TARGET_STRIPE] = "stripe",
	[FAULT_TARGET_MAIL] = "mail",
	[FAULT_TARGET_WEBHOOK] = "webhook",
};

static const char *const fault_kind_names[FAULT_KIND_COUNT] = {
	[FAULT_ERROR] = "error",
	[FAULT_TIMEOUT_APPLIED] = "timeout-applied",
	[FAULT_TIMEOUT_NOT_APPLIED] = "timeout-not-applied",
	[FAULT_CONN_LOST] = "conn-lost",
	[FAULT_SERVER_ERROR] = "server-error",
	[FAULT_LATENCY] = "latency",
	[FAULT_STALL] = "stall",
	[FAULT_POOL_EXHAUSTED] = "pool-exhausted",
	[FAULT_RESTART] = "restart",
	[FAULT_BAD_REPLY] = "bad-reply",
};

const char *fault_target_name(enum fault_target t)
{
	ASSERT((unsigned)t < FAULT_TARGET_COUNT);
	return fault_target_names[t];
}

bool fault_target_parse(const char *name, enum fault_target *out)
{
	ASSERT(name != NULL);
	for (unsigned i = 0; i < FAULT_TARGET_COUNT; i++) {
		if (strcmp(name, fault_target_names[i]) == 0) {
			if (out != NULL)
				*out = (enum fault_target)i;
			return true;
		}
	}
	return false;
}

const char *fault_kind_name(enum fault_kind k)
{
	ASSERT((unsigned)k < FAULT_KIND_COUNT);
	return fault_kind_names[k];
}

bool fault_kind_parse(const char *name, enum fault_kind *out)
{
	ASSERT(name != NULL);
	for (unsigned i = 0; i < FAULT_KIND_COUNT; i++) {
		if (strcmp(name, fault_kind_names[i]) == 0) {
			if (out != NULL)
				*out = (enum fault_kind)i;
			return true;
		}
	}
	return false;
}

void fault_plan_reset(struct fault_plan *plan)
{
	ASSERT(plan != NULL);
	ASSERT(plan->nrules <= FAULT_RULES_MAX);
	memset(plan->matched, 0, sizeof plan->matched);
	memset(plan->fired, 0, sizeof plan->fired);
	memset(plan->armed, 0, sizeof plan->armed);
}

static bool rule_matches_op(const struct fault_rule *r, const char *op)
{
	if (r->op[0] == '*' && r->op[1] == '\0')
		return true;
	return strcmp(r->op, op) == 0;
}

static bool rule_occurrence_agrees(const struct fault_rule *r, uint32_t matched)
{
	if (r->nth == 0)
		return true;
	if (r->and_after)
		return matched >= r->nth;
	return matched == r->nth;
}

/* Pareto with scale x_m and shape alpha by inversion: x_m / u^(1/alpha) for
 * u in (0, 1]; prng_unit gives [0, 1), so 1 - u never divides by zero. The
 * cap keeps one unlucky draw from outlasting the run. */
static uint64_t latency_draw_pareto(const struct fault_rule *r, struct prng *rng)
{
	double u = 1.0 - prng_unit(rng);
	double x = (double)r->latency_us / pow(u, 1.0 / r->pareto_alpha);
	if (!(x < (double)r->latency_max_us))
		return r->latency_max_us;
	uint64_t v = (uint64_t)x;
	return v < r->latency_us ? r->latency_us : v;
}

static uint64_t latency_draw(const struct fault_rule *r, struct prng *rng)
{
	switch (r->dist) {
	case FAULT_DIST_FIXED:
		return r->latency_us;
	case FAULT_DIST_UNIFORM: {
		ASSERT(r->latency_max_us >= r->latency_us);
		uint64_t span = r->latency_max_us - r->latency_us;
		if (span == UINT64_MAX)
			return prng_next(rng);
		return r->latency_us + prng_below(rng, span + 1);
	}
	case FAULT_DIST_PARETO:
		ASSERT(r->pareto_alpha > 0.0);
		ASSERT(r->latency_max_us >= r->latency_us);
		return latency_draw_pareto(r, rng);
	}
	ASSERT(!"unknown latency distribution");
	return 0;
}

/* Counts op in the log and returns its ordinal (1-based); 0 when the log
 * has no room for another name. */
static uint32_t log_count(struct fault_log *log, enum fault_target target, const char *op)
{
	for (size_t i = 0; i < log->nnames; i++) {
		if (log->names[i].target == target && strcmp(log->names[i].op, op) == 0)
			return ++log->names[i].seen;
	}
	if (log->nnames == FAULT_LOG_NAMES_MAX || strlen(op) >= FAULT_OP_MAX) {
		log->overflow = true;
		return 0;
	}
	log->names[log->nnames].target = target;
	strcpy(log->names[log->nnames].op, op);
	log->names[log->nnames].seen = 1;
	log->nnames++;
	return 1;
}

static void log_fire(struct fault_log *log, enum fault_target target, const char *op,
                     uint32_t nth, const struct fault_decision *d)
{
	if (nth == 0 || log->nfires == FAULT_LOG_MAX) {
		log->overflow = true;
		return;
	}
	struct fault_fire *f = &log->fires[log->nfires++];
	f->target = target;
	strcpy(f->op, op);
	f->nth = nth;
	f->rule = d->index;
	f->latency_us = d->latency_us;
	f->commit_applied = d->commit_applied;
}

bool fault_plan_decide(struct fault_plan *plan, struct prng *rng,
                       enum fault_target target, const char *op,
                       uint64_t now_us, struct fault_decision *out)
{
	ASSERT(plan != NULL);
	ASSERT(op != NULL);
	ASSERT(out != NULL);
	ASSERT(plan->nrules <= FAULT_RULES_MAX);

	uint32_t ordinal = plan->log != NULL ? log_count(plan->log, target, op) : 0;
	bool fired = false;
	for (size_t i = 0; i < plan->nrules; i++) {
		const struct fault_rule *r = &plan->rules[i];
		if (r->target != target || !rule_matches_op(r, op))
			continue;
		/* Every matching rule counts the operation, even once another
		 * rule has fired, so "the Nth" means the Nth such operation. */
		if (plan->matched[i] < UINT32_MAX)
			plan->matched[i]++;
		if (fired || r->kind == FAULT_RESTART)
			continue;
		if (now_us < r->from_us || now_us >= r->until_us)
			continue;
		if (!rule_occurrence_agrees(r, plan->matched[i]))
			continue;
		if (r->after_event[0] != '\0' && !plan->armed[i])
			continue;
		if (r->max_fires != 0 && plan->fired[i] >= r->max_fires)
			continue;
		/* Draw last, and only for a real chance, so that adding a rule
		 * with probability 0 or 1 never shifts anybody's randomness. */
		if (!(r->probability > 0.0))
			continue;
		if (r->probability < 1.0 && !(prng_unit(rng) < r->probability))
			continue;

		if (plan->fired[i] < UINT32_MAX)
			plan->fired[i]++;
		struct fault_decision d = {.rule = r, .index = i};
		if (r->kind == FAULT_LATENCY)
			d.latency_us = latency_draw(r, rng);
		/* A COMMIT whose connection dies may have committed, and so may
		 * a statement outside a transaction (autocommit); inside one,
		 * the transaction simply rolls back (simnet decides which). */
		if (r->kind == FAULT_CONN_LOST && target == FAULT_TARGET_POSTGRES)
			d.commit_applied = prng_chance(rng, r->commit_applied_p);
		*out = d;
		fired = true;
		if (plan->log != NULL)
			log_fire(plan->log, target, op, ordinal, &d);
	}
	return fired;
}

/* True when after_event reads "<target name>.<op>". */
static bool after_event_is(const char *after_event, const char *target_name,
                           const char *op)
{
	size_t n = strlen(target_name);
	return strncmp(after_event, target_name, n) == 0 &&
	       after_event[n] == '.' && strcmp(after_event + n + 1, op) == 0;
}

void fault_plan_note(struct fault_plan *plan, enum fault_target target,
                     const char *op)
{
	ASSERT(plan != NULL);
	ASSERT(op != NULL);
	ASSERT(plan->nrules <= FAULT_RULES_MAX);
	const char *tname = fault_target_name(target);
	for (size_t i = 0; i < plan->nrules; i++) {
		const struct fault_rule *r = &plan->rules[i];
		if (plan->armed[i] || r->after_event[0] == '\0')
			continue;
		if (after_event_is(r->after_event, tname, op))
			plan->armed[i] = true;
	}
}

bool fault_plan_down(const struct fault_plan *plan, enum fault_target target,
                     uint64_t now_us, size_t *rule_index)
{
	ASSERT(plan != NULL);
	ASSERT(plan->nrules <= FAULT_RULES_MAX);
	for (size_t i = 0; i < plan->nrules; i++) {
		const struct fault_rule *r = &plan->rules[i];
		if (r->kind != FAULT_RESTART || r->target != target)
			continue;
		/* [from, from + duration), written without the sum so that it
		 * cannot overflow. */
		if (now_us < r->from_us || now_us - r->from_us >= r->duration_us)
			continue;
		if (rule_index != NULL)
			*rule_index = i;
		return true;
	}
	return false;
}

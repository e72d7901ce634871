/* harness/world.c - one run of one seed: the workload of the five fixes and the
 * history it records; the checks are in harness/invariant.c and the servers
 * behind a struct world_backend (models or real ones). Each request is a heap
 * context freed by its completion; at the end the backend is shut down and
 * the run drained, so nothing leaks even when a variant hung. */
#include "harness/world.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "core/assert.h"
#include "core/customer.h"
#include "core/dedup.h"
#include "core/fmt.h"
#include "core/quote_email.h"
#include "core/ratelimit.h"
#include "core/stripe_sig.h"
#include "core/webhook.h"
#include "sim/trace.h"
#include "sim/world_sim.h"

#include "harness/world_int.h"

/* ---- env: clock and log -------------------------------------------------- */

static uint64_t env_now_us(void *ctx)
{
	return world_now_us(ctx);
}

static int64_t env_wall_s(void *ctx)
{
	return WORLD_WALL_EPOCH_S + (int64_t)(world_now_us(ctx) / 1000000);
}

static void env_after(void *ctx, uint64_t delay_us, clock_fn *fn, void *arg)
{
	struct world *w = ctx;
	/* A real-clock drain cannot wait out back-offs: every port fails at
	 * once by then, so the core's retries may run at once too. */
	if (w->draining && w->be.real_clock)
		delay_us = 0;
	sched_after(w->s, delay_us, fn, arg);
}

static uint64_t env_random(void *ctx)
{
	struct world *w = ctx;
	return prng_next(&w->corerng);
}

static enum world_tag tag_of(const char *tag)
{
	static const char *const plain[WT_OTHER] = {"RateLimit", "Email", "Webhook",
	                                             "Dedup", "Stripe"};
	for (int i = 0; i < WT_OTHER; i++) {
		if (tag != NULL && strcmp(tag, plain[i]) == 0)
			return (enum world_tag)i;
	}
	return WT_OTHER;
}

bool world_mentions(const char *msg, const char *ref)
{
	size_t n = strlen(ref);
	if (n == 0)
		return false;
	for (const char *p = strstr(msg, ref); p != NULL; p = strstr(p + 1, ref)) {
		char after = p[n];
		if (!(isalnum((unsigned char)after) || after == '-' || after == '_'))
			return true;
	}
	return false;
}

static void env_log(void *ctx, enum log_level level, const char *tag, const char *msg)
{
	struct world *w = ctx;
	enum world_tag t = tag_of(tag);
	w->out->tags[t]++;
	if (t == WT_EMAIL) {
		for (size_t i = 0; i < w->h.nquotes; i++) {
			if (world_mentions(msg, w->h.quotes[i].spec->ref))
				w->h.quotes[i].logged = true;
		}
		/* Customer data reaches these lines escaped: a raw CR or LF
		 * would let a name forge a log line of its own. */
		for (const unsigned char *p = (const unsigned char *)msg; *p != '\0'; p++) {
			if (*p < 0x20 || *p == 0x7f) {
				if (w->h.email_log_raw++ == 0)
					w->h.email_log_raw_us = world_now_us(w);
				break;
			}
		}
	}
	if (t == WT_WEBHOOK && w->wh != NULL)
		wh_note_log(w, msg);
	if (TRACE_ON(w->tr)) {
		static const char *const levels[] = {"debug", "info", "warn", "error"};
		trace_begin(w->tr, world_now_us(w), "log");
		trace_str(w->tr, "level", levels[level]);
		trace_str(w->tr, "tag", tag);
		trace_str(w->tr, "msg", msg);
		trace_end(w->tr);
	}
}

/* ---- backend hooks ---------------------------------------------------------- */

static void on_fault(void *arg, enum fault_target target, enum fault_kind kind,
                     const char *op)
{
	struct world *w = arg;
	w->out->fault_fired = true;
	w->out->faults[kind]++;
	w->out->cov.faults[target][coverage_op_index(target, op)][kind]++;
	if (target == FAULT_TARGET_REDIS && kind == FAULT_RESTART) {
		uint32_t n = w->h.nredis_restarts++;
		if (n < sizeof w->h.redis_restart_us / sizeof w->h.redis_restart_us[0])
			w->h.redis_restart_us[n] = world_now_us(w);
	}
}

/* Operation names come from a few static tables, so a small cache keyed
 * by the name's address spares the lookup on the hot path. */
static size_t world_op_index(struct world *w, enum fault_target target, const char *op)
{
	size_t slot = ((uintptr_t)op >> 3) % WORLD_OP_CACHE;
	struct world_op_cache *e = &w->op_cache[slot];
	if (e->name != op || e->target != target) {
		e->name = op;
		e->target = target;
		e->index = coverage_op_index(target, op);
	}
	return e->index;
}

static void on_applied(void *arg, enum fault_target target, const char *op,
                       enum world_apply_class cls)
{
	struct world *w = arg;
	w->out->cov.applied[target][world_op_index(w, target, op)][cls]++;
}

static void on_issued(void *arg, enum fault_target target, const char *op)
{
	struct world *w = arg;
	if (!w->unwatched)
		w->out->cov.issued[target][world_op_index(w, target, op)]++;
}

static void on_kv_applied(void *arg, const struct kv_cmd *cmd, const struct kv_reply *reply,
                          uint64_t age_us)
{
	struct world *w = arg;
	uint64_t at_us = world_now_us(w) > age_us ? world_now_us(w) - age_us : 0;
	if (w->dd_reqs != NULL && cmd->argc >= 3 && kv_word_is(cmd->argv[0], "set") &&
	    strncmp(cmd->argv[1], "dedup:", 6) == 0)
		dd_on_set_applied(w, cmd, reply, at_us);
}

/* ---- the run --------------------------------------------------------------------- */

/* Opens the backend for this seed and builds the env; false with
 * w->out->error filled when that failed. */
static enum result world_build(struct world *w)
{
	const struct scenario *sc = w->sc;
	const struct world_config *cfg = w->cfg;
	prng_init(&w->root, cfg->seed);
	prng_fork(&w->root, STREAM_TIES, &w->ties);
	prng_fork(&w->root, STREAM_NET, &w->net);
	prng_fork(&w->root, STREAM_WORK, &w->work);
	prng_fork(&w->root, STREAM_CORE, &w->corerng);
	if (cfg->backend != NULL) {
		w->be = *cfg->backend;
	} else {
		if ((w->sim = world_sim_create(cfg->base, &w->ties)) == NULL)
			return RESULT_NOMEM;
		world_sim_backend(w->sim, &w->be);
	}
	w->plan = sc->faults;
	fault_plan_reset(&w->plan);
	struct world_seed seed = {
		.sc = sc, .seed = cfg->seed, .plan = &w->plan, .net = &w->net, .tr = w->tr,
		.hooks = {.on_fault = on_fault, .on_kv_applied = on_kv_applied,
		          .on_applied = on_applied, .on_issued = on_issued, .arg = w},
	};
	w->opened = true;
	enum result orc = w->be.ops->open(w->be.ctx, &seed, &w->s, &w->env, w->out->error,
	                                  sizeof w->out->error);
	if (orc != RESULT_OK) {
		if (w->out->error[0] == '\0')
			snprintf(w->out->error, sizeof w->out->error, "%s", result_name(orc));
		return orc;
	}
	ASSERT(w->s != NULL);
	w->t0_us = sched_now_us(w->s);
	w->dd_current = SIZE_MAX;
	w->rl_current = SIZE_MAX;
	w->kv_inner = w->env.kv;
	w->env.kv = (struct kv_port){.ctx = w, .command = world_kv_command,
	                             .transaction = world_kv_transaction};
	w->env.clock = (struct clock_port){.ctx = w, .now_us = env_now_us, .wall_s = env_wall_s,
	                                   .after = env_after, .random = env_random};
	w->env.log = (struct log_port){.ctx = w, .write = env_log};

	const enum variant *v = cfg->variants;
	if (world_fix_on(w, FIX_RATELIMIT)) {
		struct ratelimit_config c = {.variant = v[FIX_RATELIMIT],
		                             .limit = sc->ratelimit.limit,
		                             .window_ms = sc->ratelimit.window_us / 1000,
		                             .fail_open = sc->ratelimit.fail_open};
		if ((w->rl = ratelimit_create(&w->env, &c)) == NULL)
			return RESULT_NOMEM;
	}
	if (world_fix_on(w, FIX_DEDUP)) {
		struct dedup_config c = {.variant = v[FIX_DEDUP], .ttl_ms = sc->dedup.ttl_us / 1000};
		if ((w->dd = dedup_create(&w->env, &c)) == NULL)
			return RESULT_NOMEM;
	}
	if (world_fix_on(w, FIX_QUOTE_EMAIL)) {
		struct quote_email_config c = {.variant = v[FIX_QUOTE_EMAIL],
		                               .from_address = "quotes@faultline.invalid",
		                               .from_name = "Faultline Quotes"};
		if (!qe_build(w, &c))
			return RESULT_NOMEM;
	}
	if (world_fix_on(w, FIX_WEBHOOK)) {
		struct webhook_config c = {.variant = v[FIX_WEBHOOK], .secret = WEBHOOK_SECRET,
		                           .tolerance_s = STRIPE_SIG_TOLERANCE_S};
		if ((w->wh = webhook_create(&w->env, &c)) == NULL)
			return RESULT_NOMEM;
	}
	if (world_fix_on(w, FIX_CUSTOMER)) {
		if (!cu_build(w, v[FIX_CUSTOMER]))
			return RESULT_NOMEM;
	}
	return RESULT_OK;
}

static void world_schedule(struct world *w)
{
	if (world_fix_on(w, FIX_RATELIMIT))
		rl_schedule(w);
	if (world_fix_on(w, FIX_DEDUP))
		dd_schedule(w);
	if (world_fix_on(w, FIX_QUOTE_EMAIL))
		qe_schedule(w);
	if (world_fix_on(w, FIX_WEBHOOK))
		wh_schedule(w);
	if (world_fix_on(w, FIX_CUSTOMER))
		cu_schedule(w);
	world_arrivals_start(w);
	w->be.ops->start_faults(w->be.ctx);
}

static enum result world_check(struct world *w)
{
	const struct scenario *sc = w->sc;
	struct world_result *out = w->out;
	w->h.end_us = world_now_us(w);
	enum result src = w->be.ops->snapshot(w->be.ctx, out->error, sizeof out->error);
	if (src != RESULT_OK)
		return src;
	if (w->inflight_requests > 0) {
		if (w->h.hung == 0) {
			w->h.first_hung_us = w->h.end_us;
			snprintf(w->h.first_hung, sizeof w->h.first_hung,
			         "%llu request(s) still unanswered when the run ended",
			         (unsigned long long)w->inflight_requests);
		}
		w->h.hung += w->inflight_requests;
	}
	if (world_fix_on(w, FIX_QUOTE_EMAIL))
		qe_snapshot(w);
	if (world_fix_on(w, FIX_WEBHOOK))
		wh_snapshot(w);
	if (world_fix_on(w, FIX_DEDUP))
		dd_count_let_through(w);
	/* Last: the users who come back stop every other workload. */
	if (world_fix_on(w, FIX_CUSTOMER)) {
		cu_snapshot(w);
		cu_comes_back(w);
	}
	for (int i = 0; i < INV_COUNT; i++) {
		if (!(sc->invariants & (1u << i)))
			continue;
		out->checked |= 1u << i;
		if (invariant_check((enum invariant_id)i, &w->h, &out->v[i]))
			continue;
		out->violated |= 1u << i;
		if (TRACE_ON(w->tr)) {
			trace_begin(w->tr, out->v[i].t_us, "violation");
			trace_str(w->tr, "invariant", invariant_name((enum invariant_id)i));
			trace_str(w->tr, "message", out->v[i].message);
			trace_end(w->tr);
		}
	}
	out->events = sched_dispatched(w->s);
	out->sim_end_us = w->h.end_us;
	out->late_replies = w->be.ops->late_replies(w->be.ctx);
	return RESULT_OK;
}

static void world_on_deadline(void *arg)
{
	struct world *w = arg;
	sched_stop(w->s);
}

/* Real clock: runs the loop for at most for_us. The bound is a timer of
 * the scheduler, not sched_run's own: that one is an event_base loopexit
 * which outlives an early stop and would cut a later seed's run short. */
static void world_run_real(struct world *w, uint64_t for_us)
{
	struct sched_timer t = sched_after(w->s, for_us, world_on_deadline, w);
	sched_run(w->s, UINT64_MAX);
	sched_cancel(w->s, t);
}

/* Real clock: after the shutdown every port fails at once, so the core
 * finishes within a few passes of the loop; bounded all the same. */
static void world_drain_real(struct world *w)
{
	uint64_t start = sched_now_us(w->s);
	while (w->core_busy > 0 && sched_now_us(w->s) - start < WORLD_LIVE_DRAIN_US)
		world_run_real(w, WORLD_LIVE_DRAIN_SLICE_US);
}

static void world_free(struct world *w)
{
	bool core_idle = true;
	if (w->opened && w->s != NULL) {
		/* Answer everything still waiting and let every retry and timer
		 * run out, so each request context is freed by its callback. */
		w->draining = true;
		w->be.ops->shutdown(w->be.ctx);
		if (w->be.real_clock)
			world_drain_real(w);
		else
			sched_run(w->s, sched_now_us(w->s) + WORLD_DRAIN_US);
		core_idle = w->core_busy == 0;
	}
	/* A core object with a request in flight must not be destroyed (it
	 * asserts); after a bounded drain that failed, it is left behind. */
	if (core_idle) {
		ratelimit_destroy(w->rl);
		dd_destroy_instances(w);
		dedup_destroy(w->dd);
		quote_email_destroy(w->qe);
		webhook_destroy(w->wh);
		cu_destroy(w);
	}
	if (w->opened)
		w->be.ops->close(w->be.ctx);
	world_sim_destroy(w->sim);
	/* Contexts whose timers the closed scheduler dropped. */
	world_work_free_all(w);
	free(w->rl_users);
	free(w->arrivals);
	free(w->dd_reqs);
	free(w->wh_events);
	free(w->wh_memo.body);
	free(w->dd_tokens);
	free(w->dd_token_index);
	free(w->dd_more);
	free(w->cu_inflight);
	free(w->cu_refusals);
	free(w->h.cu);
	free(w->h.rl);
	free(w->h.rl_ttl);
	free(w->h.dd);
	free(w->h.quotes);
	free(w->h.mails);
	free(w->h.events);
	free(w->h.cust);
}

enum result world_run(const struct world_config *cfg, struct world_result *out)
{
	ASSERT(cfg != NULL && cfg->sc != NULL && out != NULL);
	ASSERT(cfg->backend != NULL || cfg->base != NULL);
	struct world *w = calloc(1, sizeof *w);
	if (w == NULL)
		return RESULT_NOMEM;
	memset(out, 0, sizeof *out);
	w->cfg = cfg;
	w->sc = cfg->sc;
	w->out = out;
	w->tr = cfg->trace != NULL && cfg->trace->on ? cfg->trace : NULL;
	enum result rc = world_build(w);
	if (rc == RESULT_OK) {
		if (TRACE_ON(w->tr)) {
			trace_begin(w->tr, 0, "run");
			trace_str(w->tr, "scenario", w->sc->name);
			trace_uint(w->tr, "seed", cfg->seed);
			for (int f = 0; f < FIX_COUNT; f++) {
				if (world_fix_on(w, (enum fix_id)f))
					trace_str(w->tr, fix_name((enum fix_id)f),
					          variant_name(cfg->variants[f]));
			}
			trace_end(w->tr);
		}
		world_schedule(w);
		/* A real-clock run also stops as soon as no work is left. */
		if (!w->be.real_clock)
			sched_run(w->s, w->sc->duration_us);
		else if (w->nwork > 0)
			world_run_real(w, w->sc->duration_us);
		rc = world_check(w);
	}
	world_free(w);
	free(w);
	return rc;
}

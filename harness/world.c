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



static const char *const outcome_names[WO_COUNT] = {
	[WO_RL_ALLOWED] = "ratelimit.allowed", [WO_RL_REJECTED] = "ratelimit.rejected",
	[WO_RL_ERROR] = "ratelimit.error", [WO_DD_NEW] = "dedup.new",
	[WO_DD_DUPLICATE] = "dedup.duplicate", [WO_DD_FAILED_OPEN] = "dedup.failed_open",
	[WO_QE_SENT] = "quote.sent", [WO_QE_INVALID] = "quote.invalid",
	[WO_QE_ALREADY_SENT] = "quote.already_sent", [WO_QE_FAILED] = "quote.failed",
	[WO_QE_UNHANDLED] = "quote.unhandled", [WO_WH_2XX] = "webhook.2xx",
	[WO_WH_4XX] = "webhook.4xx", [WO_WH_5XX] = "webhook.5xx",
	[WO_WH_TIMEOUT] = "webhook.timeout", [WO_WH_CONN_ERROR] = "webhook.conn_error",
	[WO_WH_GAVE_UP] = "webhook.gave_up", [WO_CU_OK] = "customer.ok",
	[WO_CU_ERROR] = "customer.error",
};

const char *world_outcome_name(enum world_outcome o)
{
	ASSERT((unsigned)o < WO_COUNT);
	return outcome_names[o];
}

static const char *const tag_names[WT_COUNT] = {
	[WT_RATELIMIT] = "[RateLimit]", [WT_EMAIL] = "[Email]", [WT_WEBHOOK] = "[Webhook]",
	[WT_DEDUP] = "[Dedup]", [WT_STRIPE] = "[Stripe]", [WT_OTHER] = "[other]",
};

const char *world_tag_name(enum world_tag t)
{
	ASSERT((unsigned)t < WT_COUNT);
	return tag_names[t];
}

/* ---- small helpers ------------------------------------------------------ */

/* "<prefix><a>" and "<prefix><a>#<b><suffix>": the keys and ids every
 * simulated request carries, built without printf (a hot path; see
 * core/fmt.h). */
void world_name1(char *buf, size_t size, const char *prefix, uint64_t a)
{
	struct fmt f;
	fmt_init(&f, buf, size);
	fmt_str(&f, prefix);
	fmt_u64(&f, a);
	ASSERT(!f.cut);
}

void world_name2(char *buf, size_t size, const char *prefix, uint64_t a, uint64_t b,
                  const char *suffix)
{
	struct fmt f;
	fmt_init(&f, buf, size);
	fmt_str(&f, prefix);
	fmt_u64(&f, a);
	fmt_mem(&f, "#", 1);
	fmt_u64(&f, b);
	fmt_str(&f, suffix);
	ASSERT(!f.cut);
}

uint64_t world_now_us(const struct world *w)
{
	return sched_now_us(w->s) - w->t0_us;
}

uint64_t world_backend_faults(struct world *w, enum fault_target t)
{
	return w->be.ops->fault_count(w->be.ctx, t);
}

/* ---- work contexts ---------------------------------------------------------- */

/* Every request context and pending read is a work context, linked here so
 * that a real-clock run knows when it is done (none left) and can free
 * those whose timers it drops at the end. */
struct work_hdr {
	struct work_hdr *prev, *next;
	max_align_t align[];          /* the context follows, aligned */
};

void *world_work_new(struct world *w, size_t size)
{
	ASSERT(w->nwork < WORLD_WORK_MAX);
	struct work_hdr *h = calloc(1, sizeof *h + size);
	ASSERT(h != NULL);
	h->next = w->works;
	if (w->works != NULL)
		w->works->prev = h;
	w->works = h;
	w->nwork++;
	return h->align;
}

void world_work_free(struct world *w, void *ctx)
{
	struct work_hdr *h = (struct work_hdr *)((char *)ctx - offsetof(struct work_hdr, align));
	ASSERT(w->nwork > 0);
	if (h->prev != NULL)
		h->prev->next = h->next;
	else
		w->works = h->next;
	if (h->next != NULL)
		h->next->prev = h->prev;
	w->nwork--;
	free(h);
	/* On a real clock nothing else would end the run: the servers'
	 * connections keep the event loop alive. */
	if (w->nwork == 0 && w->be.real_clock && !w->draining)
		sched_stop(w->s);
}

/* Frees the contexts left when timers were dropped (real clock only). */
static void work_free_all(struct world *w)
{
	for (uint64_t guard = 0; w->works != NULL; guard++) {
		ASSERT(guard < WORLD_WORK_MAX);
		struct work_hdr *h = w->works;
		w->works = h->next;
		free(h);
	}
	w->nwork = 0;
}

/* ---- arrivals --------------------------------------------------------------- */

/* The workload's requests, fed to the scheduler an instant at a time. All
 * arrival times are drawn up front (so the seed alone decides them), but
 * scheduling every request at the start would keep tens of thousands of
 * timers in the scheduler's heap for the whole run, and every timer of the
 * run would pay for that depth. The feed hands over only the arrivals of
 * the next arrival instant; each still gets its own timer and random tie
 * key, so simultaneous requests interleave by seed as before. */
struct arrival {
	uint64_t at_us;               /* since the run began */
	uint64_t seq;                 /* order of world_arrival_add: ties sort stably */
	sched_fn *fn;
	void *arg;
	struct world *w;
};

void world_arrival_add(struct world *w, uint64_t at_us, sched_fn *fn, void *arg)
{
	ASSERT(w->arrival_next == 0);    /* the feed has not started */
	ASSERT(w->arrival_pending == 0);
	if (w->narrivals == w->cap_arrivals) {
		size_t ncap = w->cap_arrivals ? 2 * w->cap_arrivals : 256;
		ASSERT(ncap <= WORLD_ARRIVALS_MAX);
		struct arrival *n = realloc(w->arrivals, ncap * sizeof *n);
		ASSERT(n != NULL);
		w->arrivals = n;
		w->cap_arrivals = ncap;
	}
	w->arrivals[w->narrivals] = (struct arrival){.at_us = at_us, .seq = w->narrivals,
	                                             .fn = fn, .arg = arg, .w = w};
	w->narrivals++;
}

static int arrival_cmp(const void *pa, const void *pb)
{
	const struct arrival *a = pa, *b = pb;
	if (a->at_us != b->at_us)
		return a->at_us < b->at_us ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void arrival_on_due(void *arg);

/* Hands the next instant's arrivals to the scheduler. */
static void arrival_feed(struct world *w)
{
	ASSERT(w->arrival_pending == 0);
	if (w->arrival_next == w->narrivals)
		return;
	uint64_t at = w->arrivals[w->arrival_next].at_us;
	uint64_t now = world_now_us(w);
	uint64_t delay = at > now ? at - now : 0;
	while (w->arrival_next < w->narrivals && w->arrivals[w->arrival_next].at_us == at) {
		sched_after(w->s, delay, arrival_on_due, &w->arrivals[w->arrival_next]);
		w->arrival_next++;
		w->arrival_pending++;
	}
}

static void arrival_on_due(void *arg)
{
	struct arrival *a = arg;
	struct world *w = a->w;
	ASSERT(w->arrival_pending > 0);
	if (--w->arrival_pending == 0)
		arrival_feed(w);
	a->fn(a->arg);
}

static void arrivals_start(struct world *w)
{
	if (w->narrivals > 1)
		qsort(w->arrivals, w->narrivals, sizeof *w->arrivals, arrival_cmp);
	arrival_feed(w);
}

uint64_t world_uniform_us(struct world *w, uint64_t max_us)
{
	return max_us ? prng_below(&w->work, max_us + 1) : 0;
}

static bool fix_on(const struct world *w, enum fix_id f)
{
	return (w->sc->fixes & (1u << f)) != 0;
}

void world_request_begin(struct world *w, const char *fix, const char *id)
{
	w->h.requests++;
	w->inflight_requests++;
	if (TRACE_ON(w->tr)) {
		trace_begin(w->tr, world_now_us(w), "request");
		trace_str(w->tr, "fix", fix);
		trace_str(w->tr, "id", id);
		trace_end(w->tr);
	}
}

void world_request_end(struct world *w, const char *fix, const char *id,
                        uint64_t start_us, enum world_outcome o)
{
	uint64_t took = world_now_us(w) - start_us;
	ASSERT(w->inflight_requests > 0);
	w->inflight_requests--;
	if (w->draining)
		return; /* answered by the shutdown, after the checks */
	w->h.requests_done++;
	w->out->outcomes[o]++;
	report_hist_add(w->out->latency_hist, took);
	if (took > WORLD_REQUEST_DEADLINE_US) {
		if (w->h.hung++ == 0) {
			w->h.first_hung_us = world_now_us(w);
			snprintf(w->h.first_hung, sizeof w->h.first_hung,
			         "%s request %s answered after %llu ms", fix, id,
			         (unsigned long long)(took / 1000));
		}
	}
	if (TRACE_ON(w->tr)) {
		trace_begin(w->tr, world_now_us(w), "response");
		trace_str(w->tr, "fix", fix);
		trace_str(w->tr, "id", id);
		trace_str(w->tr, "outcome", outcome_names[o]);
		trace_uint(w->tr, "took_us", took);
		trace_end(w->tr);
	}
}

void world_note_unhandled(struct world *w, const char *what)
{
	if (w->h.unhandled++ == 0) {
		w->h.first_unhandled_us = world_now_us(w);
		snprintf(w->h.first_unhandled, sizeof w->h.first_unhandled, "%s", what);
	}
}

/* Grows a history array by one element, bounded. */
void *world_hist_push(void **arr, size_t *n, size_t *cap, size_t size)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		ASSERT(ncap <= WORLD_REQUESTS_MAX * 4);
		void *na = realloc(*arr, ncap * size);
		ASSERT(na != NULL);
		*arr = na;
		*cap = ncap;
	}
	void *slot = (char *)*arr + *n * size;
	memset(slot, 0, size);
	(*n)++;
	return slot;
}

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

/* True when ref occurs in msg as a whole token (Q-1 is not in Q-10). */
static bool mentions(const char *msg, const char *ref)
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
			if (mentions(msg, w->h.quotes[i].spec->ref))
				w->h.quotes[i].logged = true;
		}
	}
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
	(void)target;
	(void)op;
	w->out->fault_fired = true;
	w->out->faults[kind]++;
}

static bool rl_key_user(const char *key, uint32_t *user)
{
	if (strncmp(key, "ratelimit:u", 11) != 0)
		return false;
	char *end;
	unsigned long u = strtoul(key + 11, &end, 10);
	if (*end != '\0' || u >= WORLD_USERS_MAX)
		return false;
	*user = (uint32_t)u;
	return true;
}

static void on_kv_applied(void *arg, const struct kv_cmd *cmd, const struct kv_reply *reply,
                          uint64_t age_us)
{
	struct world *w = arg;
	uint64_t at_us = world_now_us(w) > age_us ? world_now_us(w) - age_us : 0;
	uint32_t user;
	if (w->dd_reqs != NULL && cmd->argc >= 3 && kv_word_is(cmd->argv[0], "set") &&
	    strncmp(cmd->argv[1], "dedup:", 6) == 0) {
		dd_on_set_applied(w, cmd, reply, at_us);
		return;
	}
	if (w->rl_users == NULL || cmd->argc < 2 || !kv_word_is(cmd->argv[0], "incr") ||
	    reply->type != KV_REPLY_INTEGER || !rl_key_user(cmd->argv[1], &user) ||
	    user >= w->sc->ratelimit.users)
		return;
	struct hist_rl_incr *i = world_hist_push((void **)&w->h.rl_incr, &w->h.nrl_incr,
	                                   &w->cap_rl_incr, sizeof *i);
	i->user = user;
	i->t_us = at_us;
	i->count = reply->integer;
	i->faults = world_backend_faults(w, FAULT_TARGET_REDIS);
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
		.hooks = {.on_fault = on_fault, .on_kv_applied = on_kv_applied, .arg = w},
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
	w->kv_inner = w->env.kv;
	w->env.kv = (struct kv_port){.ctx = w, .command = dd_kv_command,
	                             .transaction = dd_kv_transaction};
	w->env.clock = (struct clock_port){.ctx = w, .now_us = env_now_us, .wall_s = env_wall_s,
	                                   .after = env_after, .random = env_random};
	w->env.log = (struct log_port){.ctx = w, .write = env_log};

	const enum variant *v = cfg->variants;
	if (fix_on(w, FIX_RATELIMIT)) {
		struct ratelimit_config c = {.variant = v[FIX_RATELIMIT],
		                             .limit = sc->ratelimit.limit,
		                             .window_ms = sc->ratelimit.window_us / 1000,
		                             .fail_open = sc->ratelimit.fail_open};
		if ((w->rl = ratelimit_create(&w->env, &c)) == NULL)
			return RESULT_NOMEM;
	}
	if (fix_on(w, FIX_DEDUP)) {
		struct dedup_config c = {.variant = v[FIX_DEDUP], .ttl_ms = sc->dedup.ttl_us / 1000};
		if ((w->dd = dedup_create(&w->env, &c)) == NULL)
			return RESULT_NOMEM;
	}
	if (fix_on(w, FIX_QUOTE_EMAIL)) {
		struct quote_email_config c = {.variant = v[FIX_QUOTE_EMAIL],
		                               .from_address = "quotes@faultline.invalid",
		                               .from_name = "Faultline Quotes"};
		if ((w->qe = quote_email_create(&w->env, &c)) == NULL)
			return RESULT_NOMEM;
	}
	if (fix_on(w, FIX_WEBHOOK)) {
		struct webhook_config c = {.variant = v[FIX_WEBHOOK], .secret = WEBHOOK_SECRET,
		                           .tolerance_s = STRIPE_SIG_TOLERANCE_S};
		if ((w->wh = webhook_create(&w->env, &c)) == NULL)
			return RESULT_NOMEM;
	}
	if (fix_on(w, FIX_CUSTOMER)) {
		struct customer_config c = {.variant = v[FIX_CUSTOMER], .retries_max = 5,
		                            .backoff_ms = 100};
		if ((w->cu = customer_create(&w->env, &c)) == NULL)
			return RESULT_NOMEM;
	}
	return RESULT_OK;
}

static void world_schedule(struct world *w)
{
	if (fix_on(w, FIX_RATELIMIT))
		rl_schedule(w);
	if (fix_on(w, FIX_DEDUP))
		dd_schedule(w);
	if (fix_on(w, FIX_QUOTE_EMAIL))
		qe_schedule(w);
	if (fix_on(w, FIX_WEBHOOK))
		wh_schedule(w);
	if (fix_on(w, FIX_CUSTOMER))
		cu_schedule(w);
	arrivals_start(w);
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
	if (fix_on(w, FIX_QUOTE_EMAIL))
		qe_snapshot(w);
	if (fix_on(w, FIX_WEBHOOK))
		wh_snapshot(w);
	if (fix_on(w, FIX_CUSTOMER))
		cu_snapshot(w);
	if (fix_on(w, FIX_DEDUP))
		dd_count_let_through(w);
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
		dedup_destroy(w->dd);
		quote_email_destroy(w->qe);
		webhook_destroy(w->wh);
		customer_destroy(w->cu);
	}
	if (w->opened)
		w->be.ops->close(w->be.ctx);
	world_sim_destroy(w->sim);
	/* Contexts whose timers the closed scheduler dropped. */
	work_free_all(w);
	free(w->rl_users);
	free(w->arrivals);
	free(w->dd_reqs);
	free(w->wh_events);
	free(w->dd_tokens);
	free(w->cu_inflight);
	free(w->h.rl);
	free(w->h.rl_ttl);
	free(w->h.rl_incr);
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
				if (fix_on(w, (enum fix_id)f))
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

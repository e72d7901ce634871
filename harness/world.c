/* sim/world.c - one run of one seed: the workload of the five fixes and the
 * history it records; the checks are in sim/invariant.c and the servers
 * behind a struct world_backend (models or real ones). Each request is a heap
 * context freed by its completion; at the end the backend is shut down and
 * the run drained, so nothing leaks even when a variant hung. */
#include "sim/world.h"

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
#include "sim/prng.h"
#include "sim/sched.h"
#include "sim/trace.h"
#include "sim/world_backend.h"
#include "sim/world_sim.h"

#define WEBHOOK_SECRET "whsec_faultline_simulated_endpoint"
#define WEBHOOK_BAD_SECRET "whsec_not_the_endpoint_secret"
#define WORLD_USERS_MAX 100000
#define WORLD_REQUESTS_MAX 1000000   /* requests of one fix in one run */
#define WORLD_DRAIN_US (24ULL * 3600 * 1000000) /* bound on the shutdown drain */
#define QUOTE_RESEND_GAP_US 100000   /* a user clicks "send" again after 100 ms */
#define PROBE_MARGIN_US 5000000      /* the probe comes 5 s after the window */
#define WORLD_WORK_MAX (4ULL * WORLD_REQUESTS_MAX) /* work contexts alive at once */
#define WORLD_ARRIVALS_MAX (8ULL * WORLD_REQUESTS_MAX) /* requests of all fixes in one run */
#define WORLD_LIVE_DRAIN_US 2000000  /* real clock: longest shutdown drain */
#define WORLD_LIVE_DRAIN_SLICE_US 10000

enum prng_stream { STREAM_TIES = 1, STREAM_NET, STREAM_WORK, STREAM_CORE };

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

struct rl_user {
	uint32_t inflight;
};

struct dd_request {
	bool started;
	uint64_t first_faults;       /* Redis faults when its first copy started */
};

struct wh_event {
	uint32_t handlers;           /* deliveries being handled right now */
	bool seen_handled;
};

struct world {
	const struct world_config *cfg;
	const struct scenario *sc;
	struct prng root, ties, net, work, corerng;
	struct trace *tr;
	struct sched *s;              /* the backend's */
	uint64_t t0_us;               /* the scheduler's time when the run began */
	struct world_backend be;
	struct world_sim *sim;        /* when the config names no backend */
	bool opened;                  /* be.ops->open was called */
	struct core_env env;
	struct ratelimit *rl;
	struct dedup *dd;
	struct quote_email *qe;
	struct webhook *wh;
	struct customer *cu;
	struct history h;
	struct fault_plan plan;       /* this run's copy: counters are per run */
	struct world_result *out;
	bool draining;
	/* per-fix state */
	struct rl_user *rl_users;
	struct dd_request *dd_reqs;
	uint64_t dd_seq;
	struct wh_event *wh_events;
	struct dd_token *dd_tokens;   /* hash table, dd_token_slots entries */
	size_t dd_token_slots;
	size_t ndd_tokens;
	size_t dd_current;            /* copy whose dedup_check is being called */
	struct kv_port kv_inner;      /* the backend's kv port, behind the dedup wrapper */
	uint32_t *cu_inflight;
	size_t cap_rl, cap_rl_ttl, cap_rl_incr, cap_dd;
	uint64_t inflight_requests;
	uint64_t core_busy;           /* calls into core not yet answered */
	struct work_hdr *works;       /* every live work context */
	uint64_t nwork;
	struct arrival *arrivals;     /* the workload, sorted by time once built */
	size_t narrivals, cap_arrivals;
	size_t arrival_next;          /* first arrival not yet handed to sched */
	size_t arrival_pending;       /* handed over and not yet run */
};

/* ---- small helpers ------------------------------------------------------ */

/* "<prefix><a>" and "<prefix><a>#<b><suffix>": the keys and ids every
 * simulated request carries, built without printf (a hot path; see
 * core/fmt.h). */
static void name1(char *buf, size_t size, const char *prefix, uint64_t a)
{
	struct fmt f;
	fmt_init(&f, buf, size);
	fmt_str(&f, prefix);
	fmt_u64(&f, a);
	ASSERT(!f.cut);
}

static void name2(char *buf, size_t size, const char *prefix, uint64_t a, uint64_t b,
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

static uint64_t now_us(const struct world *w)
{
	return sched_now_us(w->s) - w->t0_us;
}

static uint64_t backend_faults(struct world *w, enum fault_target t)
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

static void *work_new(struct world *w, size_t size)
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

static void work_free(struct world *w, void *ctx)
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
	uint64_t seq;                 /* order of arrival_add: ties sort stably */
	sched_fn *fn;
	void *arg;
	struct world *w;
};

static void arrival_add(struct world *w, uint64_t at_us, sched_fn *fn, void *arg)
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
	uint64_t now = now_us(w);
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

static uint64_t uniform_us(struct world *w, uint64_t max_us)
{
	return max_us ? prng_below(&w->work, max_us + 1) : 0;
}

static bool fix_on(const struct world *w, enum fix_id f)
{
	return (w->sc->fixes & (1u << f)) != 0;
}

static void request_begin(struct world *w, const char *fix, const char *id)
{
	w->h.requests++;
	w->inflight_requests++;
	if (TRACE_ON(w->tr)) {
		trace_begin(w->tr, now_us(w), "request");
		trace_str(w->tr, "fix", fix);
		trace_str(w->tr, "id", id);
		trace_end(w->tr);
	}
}

static void request_end(struct world *w, const char *fix, const char *id,
                        uint64_t start_us, enum world_outcome o)
{
	uint64_t took = now_us(w) - start_us;
	ASSERT(w->inflight_requests > 0);
	w->inflight_requests--;
	if (w->draining)
		return; /* answered by the shutdown, after the checks */
	w->h.requests_done++;
	w->out->outcomes[o]++;
	report_hist_add(w->out->latency_hist, took);
	if (took > WORLD_REQUEST_DEADLINE_US) {
		if (w->h.hung++ == 0) {
			w->h.first_hung_us = now_us(w);
			snprintf(w->h.first_hung, sizeof w->h.first_hung,
			         "%s request %s answered after %llu ms", fix, id,
			         (unsigned long long)(took / 1000));
		}
	}
	if (TRACE_ON(w->tr)) {
		trace_begin(w->tr, now_us(w), "response");
		trace_str(w->tr, "fix", fix);
		trace_str(w->tr, "id", id);
		trace_str(w->tr, "outcome", outcome_names[o]);
		trace_uint(w->tr, "took_us", took);
		trace_end(w->tr);
	}
}

static void note_unhandled(struct world *w, const char *what)
{
	if (w->h.unhandled++ == 0) {
		w->h.first_unhandled_us = now_us(w);
		snprintf(w->h.first_unhandled, sizeof w->h.first_unhandled, "%s", what);
	}
}

/* Grows a history array by one element, bounded. */
static void *hist_push(void **arr, size_t *n, size_t *cap, size_t size)
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
	return now_us(ctx);
}

static int64_t env_wall_s(void *ctx)
{
	return WORLD_WALL_EPOCH_S + (int64_t)(now_us(ctx) / 1000000);
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
		trace_begin(w->tr, now_us(w), "log");
		trace_str(w->tr, "level", levels[level]);
		trace_str(w->tr, "tag", tag);
		trace_str(w->tr, "msg", msg);
		trace_end(w->tr);
	}
}

/* ---- request-dedup attribution ---------------------------------------------- */

#define DD_TOKEN_MAX 64

/* Which copy owns which dedup token: the first SET a dedup_check sends is
 * issued inside the call, so the token is recorded then; later SETs of the
 * same check (retries) carry the same token. */
struct dd_token {
	char token[DD_TOKEN_MAX];
	size_t copy;              /* index in h.dd */
};

static uint64_t dd_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

/* Open addressing over w->dd_tokens, 2 slots per copy: never full. */
static struct dd_token *dd_token_slot(struct world *w, const char *token)
{
	size_t mask = w->dd_token_slots - 1;
	for (size_t i = dd_hash(token) & mask, n = 0; n <= mask; i = (i + 1) & mask, n++) {
		struct dd_token *t = &w->dd_tokens[i];
		if (t->token[0] == '\0' || strcmp(t->token, token) == 0)
			return t;
	}
	ASSERT(!"dedup token table full");
	return NULL;
}

static void dd_on_set_applied(struct world *w, const struct kv_cmd *cmd,
                              const struct kv_reply *reply, uint64_t at_us)
{
	if (reply->type != KV_REPLY_STATUS || strlen(cmd->argv[2]) >= DD_TOKEN_MAX)
		return; /* nil: the key existed; errors: nothing written */
	struct dd_token *t = dd_token_slot(w, cmd->argv[2]);
	if (t->token[0] == '\0')
		return; /* not a token a copy sent */
	struct hist_dd_request *r = &w->h.dd[t->copy];
	if (!r->claimed) {
		r->claimed = true;
		r->claimed_us = at_us;
	}
}

static void dd_kv_command(void *ctx, const struct kv_cmd *cmd, kv_done_fn *done, void *arg)
{
	struct world *w = ctx;
	if (w->dd_current != SIZE_MAX && cmd->argc >= 3 && kv_word_is(cmd->argv[0], "set") &&
	    w->ndd_tokens < w->h.ndd && cmd->argv[2][0] != '\0' &&
	    strlen(cmd->argv[2]) < DD_TOKEN_MAX) {
		struct dd_token *t = dd_token_slot(w, cmd->argv[2]);
		if (t->token[0] == '\0') {
			snprintf(t->token, sizeof t->token, "%s", cmd->argv[2]);
			t->copy = w->dd_current;
			w->ndd_tokens++;
		}
		w->dd_current = SIZE_MAX;
	}
	w->kv_inner.command(w->kv_inner.ctx, cmd, done, arg);
}

static void dd_kv_transaction(void *ctx, int ncmds, const struct kv_cmd *cmds,
                              kv_done_fn *done, void *arg)
{
	struct world *w = ctx;
	w->kv_inner.transaction(w->kv_inner.ctx, ncmds, cmds, done, arg);
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
	uint64_t at_us = now_us(w) > age_us ? now_us(w) - age_us : 0;
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
	struct hist_rl_incr *i = hist_push((void **)&w->h.rl_incr, &w->h.nrl_incr,
	                                   &w->cap_rl_incr, sizeof *i);
	i->user = user;
	i->t_us = at_us;
	i->count = reply->integer;
	i->faults = backend_faults(w, FAULT_TARGET_REDIS);
}

/* ---- ratelimit ------------------------------------------------------------- */

struct rl_req {
	struct world *w;
	size_t index;               /* in h.rl */
	uint32_t user;
	char id[32];
};

struct rl_read {
	struct world *w;
	uint32_t user;
};

static void rl_on_pttl(void *arg, bool known, int64_t pttl_ms)
{
	struct rl_read *rd = arg;
	struct world *w = rd->w;
	if (known && pttl_ms != -2) {
		struct hist_rl_ttl *o = hist_push((void **)&w->h.rl_ttl, &w->h.nrl_ttl,
		                                  &w->cap_rl_ttl, sizeof *o);
		o->user = rd->user;
		o->t_us = now_us(w);
		o->pttl_ms = pttl_ms;
	}
	work_free(w, rd);
}

static void rl_observe_key(struct world *w, uint32_t user)
{
	char key[48];
	name1(key, sizeof key, "ratelimit:u", user);
	struct rl_read *rd = work_new(w, sizeof *rd);
	rd->w = w;
	rd->user = user;
	w->be.ops->read_pttl(w->be.ctx, key, rl_on_pttl, rd);
}

static void rl_on_done(void *arg, enum result rc, enum ratelimit_verdict verdict)
{
	struct rl_req *q = arg;
	struct world *w = q->w;
	struct hist_rl_request *r = &w->h.rl[q->index];
	ASSERT(w->core_busy > 0);
	w->core_busy--;
	r->done = true;
	r->end_us = now_us(w);
	enum world_outcome o;
	if (rc != RESULT_OK) {
		r->verdict = HIST_RL_ERROR;
		o = WO_RL_ERROR;
		if (rc == RESULT_UNHANDLED)
			note_unhandled(w, "ratelimit request died");
	} else if (verdict == RATELIMIT_ALLOW) {
		r->verdict = HIST_RL_ALLOW;
		o = WO_RL_ALLOWED;
	} else {
		r->verdict = HIST_RL_REJECT;
		o = WO_RL_REJECTED;
	}
	request_end(w, "ratelimit", q->id, r->start_us, o);
	ASSERT(w->rl_users[q->user].inflight > 0);
	/* no-lockout is judged when none of the user's requests is in flight:
	 * between INCR and EXPIRE a key is legitimately without TTL. */
	if (--w->rl_users[q->user].inflight == 0 && !w->draining)
		rl_observe_key(w, q->user);
	work_free(w, q);
}

static void rl_start(void *arg)
{
	struct rl_req *q = arg;
	struct world *w = q->w;
	if (w->draining) {
		work_free(w, q);
		return;
	}
	struct hist_rl_request *r = &w->h.rl[q->index];
	r->start_us = now_us(w);
	w->rl_users[q->user].inflight++;
	request_begin(w, "ratelimit", q->id);
	char user_id[24];
	name1(user_id, sizeof user_id, "u", q->user);
	w->core_busy++;
	ratelimit_hit(w->rl, user_id, rl_on_done, q);
}

static void rl_schedule(struct world *w)
{
	const struct scenario *sc = w->sc;
	uint32_t per = sc->ratelimit.requests_per_user + (sc->ratelimit.probe_after_window ? 1 : 0);
	size_t total = (size_t)sc->ratelimit.users * per;
	ASSERT(total <= WORLD_REQUESTS_MAX);
	w->rl_users = calloc(sc->ratelimit.users ? sc->ratelimit.users : 1, sizeof *w->rl_users);
	w->h.rl = calloc(total ? total : 1, sizeof *w->h.rl);
	ASSERT(w->rl_users != NULL && w->h.rl != NULL);
	w->h.nrl = total;
	w->h.rl_limit = sc->ratelimit.limit;
	w->h.rl_window_us = sc->ratelimit.window_us;
	uint64_t margin_us = w->cfg->probe_margin_us ? w->cfg->probe_margin_us : PROBE_MARGIN_US;
	size_t k = 0;
	for (uint32_t u = 0; u < sc->ratelimit.users; u++) {
		for (uint32_t i = 0; i < per; i++, k++) {
			bool probe = i == sc->ratelimit.requests_per_user;
			uint64_t at = probe ? sc->ratelimit.spread_us + sc->ratelimit.window_us +
			                      margin_us
			                    : uniform_us(w, sc->ratelimit.spread_us);
			struct rl_req *q = work_new(w, sizeof *q);
			q->w = w;
			q->index = k;
			q->user = u;
			name2(q->id, sizeof q->id, "u", u, i, probe ? "-probe" : "");
			w->h.rl[k].user = u;
			w->h.rl[k].probe = probe;
			arrival_add(w, at, rl_start, q);
		}
	}
}

/* ---- request-dedup --------------------------------------------------------- */

struct dd_req {
	struct world *w;
	size_t index;
	uint32_t request;
	char id[32];
};

static void dd_on_done(void *arg, enum result rc, enum dedup_verdict verdict, bool failed_open)
{
	struct dd_req *q = arg;
	struct world *w = q->w;
	struct hist_dd_request *r = &w->h.dd[q->index];
	ASSERT(w->core_busy > 0);
	w->core_busy--;
	r->done = true;
	r->end_us = now_us(w);
	r->duplicate = rc == RESULT_OK && verdict == DEDUP_DUPLICATE;
	r->failed_open = failed_open;
	r->healthy = backend_faults(w, FAULT_TARGET_REDIS) == w->dd_reqs[q->request].first_faults;
	if (rc == RESULT_UNHANDLED)
		note_unhandled(w, "dedup request died");
	request_end(w, "request-dedup", q->id, r->start_us,
	            r->duplicate ? WO_DD_DUPLICATE : failed_open ? WO_DD_FAILED_OPEN : WO_DD_NEW);
	work_free(w, q);
}

static void dd_start(void *arg)
{
	struct dd_req *q = arg;
	struct world *w = q->w;
	if (w->draining) {
		work_free(w, q);
		return;
	}
	struct hist_dd_request *r = &w->h.dd[q->index];
	r->start_us = now_us(w);
	r->seq = w->dd_seq++;
	struct dd_request *lr = &w->dd_reqs[q->request];
	if (!lr->started) {
		lr->started = true;
		lr->first_faults = backend_faults(w, FAULT_TARGET_REDIS);
	}
	request_begin(w, "request-dedup", q->id);
	char key[32];
	name1(key, sizeof key, "req-", q->request);
	w->dd_current = q->index;
	w->core_busy++;
	dedup_check(w->dd, key, dd_on_done, q);
	w->dd_current = SIZE_MAX;
}

static void dd_schedule(struct world *w)
{
	const struct scenario *sc = w->sc;
	uint32_t per = 1 + sc->dedup.duplicates;
	size_t total = (size_t)sc->dedup.requests * per;
	ASSERT(total <= WORLD_REQUESTS_MAX);
	w->dd_reqs = calloc(sc->dedup.requests ? sc->dedup.requests : 1, sizeof *w->dd_reqs);
	w->h.dd = calloc(total ? total : 1, sizeof *w->h.dd);
	ASSERT(w->dd_reqs != NULL && w->h.dd != NULL);
	w->h.ndd = total;
	w->h.dd_ttl_us = sc->dedup.ttl_us;
	w->dd_token_slots = 2;
	while (w->dd_token_slots < 2 * total)
		w->dd_token_slots *= 2;
	w->dd_tokens = calloc(w->dd_token_slots, sizeof *w->dd_tokens);
	ASSERT(w->dd_tokens != NULL);
	size_t k = 0;
	for (uint32_t i = 0; i < sc->dedup.requests; i++) {
		uint64_t first = uniform_us(w, sc->dedup.spread_us);
		for (uint32_t c = 0; c < per; c++, k++) {
			struct dd_req *q = work_new(w, sizeof *q);
			q->w = w;
			q->index = k;
			q->request = i;
			name2(q->id, sizeof q->id, "req-", i, c, "");
			w->h.dd[k].request = i;
			uint64_t at = c == 0 ? first : first + uniform_us(w, sc->dedup.duplicate_delay_us);
			arrival_add(w, at, dd_start, q);
		}
	}
}

static void dd_count_let_through(struct world *w)
{
	/* True duplicates (a later copy within the TTL of the first) accepted
	 * while the check could not work: the price of failing open, reported
	 * rather than hidden. */
	for (size_t i = 0; i < w->h.ndd; i++) {
		const struct hist_dd_request *r = &w->h.dd[i];
		if (!r->done || r->duplicate)
			continue;
		/* The copies of a request sit together in h.dd (dd_schedule). */
		size_t per = 1 + w->sc->dedup.duplicates;
		size_t base = (size_t)r->request * per;
		const struct hist_dd_request *first = NULL;
		for (size_t j = base; j < base + per && j < w->h.ndd; j++) {
			const struct hist_dd_request *c = &w->h.dd[j];
			if (c->done && (first == NULL || c->seq < first->seq))
				first = c;
		}
		if (first != NULL && first != r && r->start_us < first->start_us + w->h.dd_ttl_us)
			w->out->duplicates_let_through++;
	}
}

/* ---- quote-email ----------------------------------------------------------- */

struct qe_req {
	struct world *w;
	size_t quote;
	uint32_t sends_left;
	uint64_t start_us;
	uint64_t faults_at_start;
	char id[80];
};

static uint64_t qe_faults(struct world *w)
{
	return backend_faults(w, FAULT_TARGET_MAIL) + backend_faults(w, FAULT_TARGET_POSTGRES);
}

static void qe_start(void *arg);

static void qe_on_done(void *arg, enum quote_email_status st)
{
	struct qe_req *q = arg;
	struct world *w = q->w;
	struct hist_quote *hq = &w->h.quotes[q->quote];
	ASSERT(w->core_busy > 0);
	w->core_busy--;
	static const enum world_outcome map[] = {
		[QUOTE_EMAIL_SENT] = WO_QE_SENT, [QUOTE_EMAIL_INVALID] = WO_QE_INVALID,
		[QUOTE_EMAIL_ALREADY_SENT] = WO_QE_ALREADY_SENT, [QUOTE_EMAIL_FAILED] = WO_QE_FAILED,
		[QUOTE_EMAIL_UNHANDLED] = WO_QE_UNHANDLED,
	};
	ASSERT((unsigned)st <= QUOTE_EMAIL_UNHANDLED);
	if (st == QUOTE_EMAIL_UNHANDLED) {
		hq->unhandled++;
		char what[128];
		snprintf(what, sizeof what, "quote %s: request died with an unhandled error",
		         hq->spec->ref);
		note_unhandled(w, what);
	}
	if (qe_faults(w) != q->faults_at_start)
		hq->faults_touched = true;
	hq->last_us = now_us(w);
	request_end(w, "quote-email", q->id, q->start_us, map[st]);
	if (--q->sends_left > 0 && !w->draining) {
		sched_after(w->s, QUOTE_RESEND_GAP_US, qe_start, q);
		return;
	}
	work_free(w, q);
}

static void qe_start(void *arg)
{
	struct qe_req *q = arg;
	struct world *w = q->w;
	if (w->draining) {
		work_free(w, q);
		return;
	}
	const struct quote_spec *spec = w->h.quotes[q->quote].spec;
	q->start_us = now_us(w);
	q->faults_at_start = qe_faults(w);
	request_begin(w, "quote-email", q->id);
	struct quote qt = {
		.ref = spec->ref,
		.customer_name = spec->name_null ? NULL : spec->name,
		.name_len = spec->name_null ? 0 : spec->name_len,
		.customer_email = spec->email_null ? NULL : spec->email,
		.email_len = spec->email_null ? 0 : spec->email_len,
	};
	w->core_busy++;
	quote_email_send(w->qe, &qt, qe_on_done, q);
}

static void qe_schedule(struct world *w)
{
	const struct scenario *sc = w->sc;
	w->h.nquotes = sc->quote_email.nquotes;
	w->h.quotes = calloc(w->h.nquotes ? w->h.nquotes : 1, sizeof *w->h.quotes);
	ASSERT(w->h.quotes != NULL);
	for (size_t i = 0; i < sc->quote_email.nquotes; i++) {
		const struct quote_spec *spec = &sc->quote_email.quotes[i];
		w->h.quotes[i].spec = spec;
		w->h.quotes[i].valid = oracle_quote_valid(spec);
		struct qe_req *q = work_new(w, sizeof *q);
		q->w = w;
		q->quote = i;
		q->sends_left = spec->sends ? spec->sends : 1;
		snprintf(q->id, sizeof q->id, "%s", spec->ref);
		arrival_add(w, uniform_us(w, sc->quote_email.spread_us), qe_start, q);
	}
}

struct header_check {
	char ref[HIST_ID_MAX];
	bool ok;
	char bad[96];
	unsigned seen;               /* bit per allowed header */
};

static const char *const allowed_headers[] = {
	"From", "To", "Subject", "Message-ID", "MIME-Version", "Content-Type",
	"Content-Transfer-Encoding", "Date",
};

static void on_header(void *arg, const char *name, const char *value)
{
	struct header_check *hc = arg;
	size_t n = sizeof allowed_headers / sizeof allowed_headers[0];
	size_t i;
	for (i = 0; i < n; i++) {
		if (strcasecmp(name, allowed_headers[i]) == 0)
			break;
	}
	if (i == n) {
		if (hc->ok)
			snprintf(hc->bad, sizeof hc->bad, "unexpected header '%.60s'", name);
		hc->ok = false;
		return;
	}
	if (hc->seen & (1u << i)) {
		if (hc->ok)
			snprintf(hc->bad, sizeof hc->bad, "header '%s' appears twice", name);
		hc->ok = false;
	}
	hc->seen |= 1u << i;
	if (strchr(value, '\r') != NULL || strchr(value, '\n') != NULL) {
		if (hc->ok)
			snprintf(hc->bad, sizeof hc->bad, "header '%s' carries CR or LF", name);
		hc->ok = false;
	}
	if (strcasecmp(name, "Message-ID") == 0) {
		const char *p = strstr(value, "<quote-");
		if (p != NULL) {
			p += 7;
			const char *at = strchr(p, '@');
			size_t len = at ? (size_t)(at - p) : 0;
			if (len > 0 && len < sizeof hc->ref) {
				memcpy(hc->ref, p, len);
				hc->ref[len] = '\0';
			}
		}
	}
}

/* Finds the quote a message belongs to when its headers are broken. */
static void ref_from_subject(const char *data, size_t len, char *ref, size_t size)
{
	const char *p = memmem(data, len, "Your quote ", 11);
	if (p == NULL)
		return;
	p += 11;
	size_t i = 0;
	while (p + i < data + len && i + 1 < size && p[i] != '\r' && p[i] != '\n' &&
	       p[i] != ' ')
		i++;
	memcpy(ref, p, i);
	ref[i] = '\0';
}

static void qe_snapshot(struct world *w)
{
	const struct world_backend *be = &w->be;
	size_t n = be->ops->mail_count(be->ctx);
	w->h.mails = calloc(n ? n : 1, sizeof *w->h.mails);
	ASSERT(w->h.mails != NULL);
	w->h.nmails = n;
	for (size_t i = 0; i < n; i++) {
		struct header_check hc = {.ok = true};
		if (!be->ops->mail_headers(be->ctx, i, on_header, &hc)) {
			if (hc.ok)
				snprintf(hc.bad, sizeof hc.bad, "malformed header section");
			hc.ok = false;
		}
		if (hc.ok && (hc.seen & 7u) != 7u) {
			hc.ok = false;
			snprintf(hc.bad, sizeof hc.bad, "missing From, To or Subject");
		}
		size_t len;
		const char *data = be->ops->mail_data(be->ctx, i, &len);
		if (hc.ref[0] == '\0')
			ref_from_subject(data, len, hc.ref, sizeof hc.ref);
		struct hist_mail *hm = &w->h.mails[i];
		snprintf(hm->quote_ref, sizeof hm->quote_ref, "%s", hc.ref);
		hm->headers_ok = hc.ok;
		snprintf(hm->bad_header, sizeof hm->bad_header, "%s", hc.bad);
		hm->t_us = w->h.end_us;
		for (size_t q = 0; q < w->h.nquotes; q++) {
			if (strcmp(w->h.quotes[q].spec->ref, hc.ref) == 0)
				w->h.quotes[q].mails++;
		}
	}
}

/* ---- webhook ------------------------------------------------------------------ */

enum wh_kind { WH_REAL, WH_BAD_SIGNATURE, WH_STALE };

struct wh_attempt {
	struct world *w;
	size_t event;
	enum wh_kind kind;
	uint32_t attempt;           /* 0: first delivery, then retries */
	uint32_t copy;
	uint64_t start_us;
	int refs;                   /* pending timers + a running handler */
	bool settled;               /* Stripe has decided this attempt */
	bool reply_lost;            /* the answer never reaches Stripe */
	struct sched_timer timeout;
	bool timeout_pending;
	int status;
	struct fault_decision fd;
	bool faulted;
};

static void wh_unref(struct wh_attempt *a)
{
	ASSERT(a->refs > 0);
	if (--a->refs == 0)
		work_free(a->w, a);
}

static void wh_attempt_start(void *arg);

static struct wh_attempt *wh_attempt_new(struct world *w, size_t event, enum wh_kind kind,
                                         uint32_t attempt, uint32_t copy)
{
	struct wh_attempt *a = work_new(w, sizeof *a);
	a->w = w;
	a->event = event;
	a->kind = kind;
	a->attempt = attempt;
	a->copy = copy;
	a->refs = 1;
	return a;
}

/* A retry, delay_us from now. First deliveries are arrivals (wh_schedule). */
static void wh_schedule_attempt(struct world *w, size_t event, enum wh_kind kind,
                                uint32_t attempt, uint32_t copy, uint64_t delay_us)
{
	sched_after(w->s, delay_us, wh_attempt_start,
	            wh_attempt_new(w, event, kind, attempt, copy));
}

struct wh_read {
	struct world *w;
	size_t event;
	uint64_t ack_us;
};

static void wh_on_ack_order(void *arg, bool known, bool paid)
{
	struct wh_read *rd = arg;
	struct world *w = rd->w;
	struct hist_wh_event *e = &w->h.events[rd->event];
	if (known && !paid && !e->ack_not_durable) {
		e->ack_not_durable = true;
		e->not_durable_us = rd->ack_us;
	}
	work_free(w, rd);
}

/* Stripe's view of one attempt: 2xx, or a failure and a retry later. */
static void wh_settle(struct wh_attempt *a, enum world_outcome o, int status)
{
	struct world *w = a->w;
	if (a->settled)
		return;
	a->settled = true;
	if (a->timeout_pending && sched_cancel(w->s, a->timeout)) {
		a->timeout_pending = false;
		wh_unref(a);
	}
	struct hist_wh_event *e = &w->h.events[a->event];
	request_end(w, "webhook", e->id, a->start_us, o);
	if (status >= 200 && status < 300) {
		if (!e->acked) {
			e->acked = true;
			e->ack_us = now_us(w);
		}
		/* eventually-applied: a 2xx promises the effect is durable now.
		 * (Read at once from the models; from a real server a moment
		 * later, which can only hide a violation, never invent one.) */
		if (a->kind == WH_REAL && !e->ack_not_durable) {
			struct wh_read *rd = work_new(w, sizeof *rd);
			rd->w = w;
			rd->event = a->event;
			rd->ack_us = now_us(w);
			w->be.ops->read_order(w->be.ctx, e->order, wh_on_ack_order, rd);
		}
		return;
	}
	if (a->kind != WH_REAL || w->draining)
		return;
	if (a->attempt < w->sc->webhook.nretry) {
		wh_schedule_attempt(w, a->event, a->kind, a->attempt + 1, a->copy,
		                    w->sc->webhook.retry_us[a->attempt]);
	} else {
		w->out->outcomes[WO_WH_GAVE_UP]++;
	}
}

static enum world_outcome wh_outcome_of(int status)
{
	if (status >= 200 && status < 300)
		return WO_WH_2XX;
	if (status >= 400 && status < 500)
		return WO_WH_4XX;
	return WO_WH_5XX;
}

static void wh_on_stripe_timeout(void *arg)
{
	struct wh_attempt *a = arg;
	a->timeout_pending = false;
	wh_settle(a, WO_WH_TIMEOUT, 0);
	wh_unref(a);
}

static void wh_on_reply(void *arg)
{
	struct wh_attempt *a = arg;
	wh_settle(a, wh_outcome_of(a->status), a->status);
	wh_unref(a);
}

static void wh_on_conn_error(void *arg)
{
	struct wh_attempt *a = arg;
	wh_settle(a, WO_WH_CONN_ERROR, 0);
	wh_unref(a);
}

static void wh_on_handled(void *arg, int http_status)
{
	struct wh_attempt *a = arg;
	struct world *w = a->w;
	ASSERT(w->core_busy > 0);
	w->core_busy--;
	ASSERT(w->wh_events[a->event].handlers > 0);
	w->wh_events[a->event].handlers--;
	a->status = http_status;
	if (!a->reply_lost) {
		a->refs++;
		uint64_t leg = w->sc->stripe.latency.min_us / 2;
		sched_after(w->s, leg, wh_on_reply, a);
	}
	wh_unref(a); /* the handler's reference */
}

static size_t wh_payload(const struct world *w, size_t event, char *buf, size_t size)
{
	const struct hist_wh_event *e = &w->h.events[event];
	int n = snprintf(buf, size,
	                 "{\"id\":\"%s\",\"object\":\"event\",\"type\":\"payment_intent.succeeded\","
	                 "\"created\":%lld,\"data\":{\"object\":{\"id\":\"pi_%s\","
	                 "\"object\":\"payment_intent\",\"status\":\"succeeded\"}}}",
	                 e->id, (long long)WORLD_WALL_EPOCH_S, e->order + 4);
	ASSERT(n > 0 && (size_t)n < size);
	return (size_t)n;
}

static void wh_arrive(void *arg)
{
	struct wh_attempt *a = arg;
	struct world *w = a->w;
	if (w->draining) {
		wh_unref(a);
		return;
	}
	/* Even when Stripe already gave up on this attempt, the request that
	 * is on its way is still handled: the endpoint cannot know. */
	struct wh_event *ev = &w->wh_events[a->event];
	if (ev->handlers > 0)
		w->out->race_seen = true; /* two copies in the handler at once */
	ev->handlers++;
	char payload[512];
	size_t len = wh_payload(w, a->event, payload, sizeof payload);
	int64_t t = WORLD_WALL_EPOCH_S + (int64_t)(now_us(w) / 1000000);
	if (a->kind == WH_STALE)
		t -= 2 * STRIPE_SIG_TOLERANCE_S;
	char header[256];
	size_t hl = stripe_sig_sign(a->kind == WH_BAD_SIGNATURE ? WEBHOOK_BAD_SECRET : WEBHOOK_SECRET,
	                            t, payload, len, header, sizeof header);
	ASSERT(hl > 0);
	/* The arrival's reference passes to the running handler. */
	w->core_busy++;
	webhook_handle(w->wh, header, payload, len, wh_on_handled, a);
}

static void wh_note_fault(struct world *w, const struct wh_attempt *a)
{
	w->out->fault_fired = true;
	w->out->faults[a->fd.rule->kind]++;
	if (TRACE_ON(w->tr)) {
		trace_begin(w->tr, now_us(w), "fault");
		trace_str(w->tr, "target", "webhook");
		trace_str(w->tr, "op", "deliver");
		trace_str(w->tr, "kind", fault_kind_name(a->fd.rule->kind));
		trace_uint(w->tr, "rule", a->fd.index);
		trace_str(w->tr, "event", w->h.events[a->event].id);
		trace_end(w->tr);
	}
}

static void wh_attempt_start(void *arg)
{
	struct wh_attempt *a = arg;
	struct world *w = a->w;
	if (w->draining) {
		wh_unref(a);
		return;
	}
	a->start_us = now_us(w);
	request_begin(w, "webhook", w->h.events[a->event].id);
	/* Stripe waits endpoint_timeout for an answer, then counts a failure. */
	a->refs++;
	a->timeout = sched_after(w->s, w->sc->webhook.endpoint_timeout_us, wh_on_stripe_timeout, a);
	a->timeout_pending = true;
	uint64_t leg = w->sc->stripe.latency.min_us / 2;
	a->faulted = fault_plan_decide(&w->plan, &w->work, FAULT_TARGET_WEBHOOK, "deliver",
	                               now_us(w), &a->fd);
	if (a->faulted)
		wh_note_fault(w, a);
	switch (a->faulted ? a->fd.rule->kind : FAULT_KIND_COUNT) {
	case FAULT_ERROR:
	case FAULT_CONN_LOST:
	case FAULT_RESTART:
	case FAULT_POOL_EXHAUSTED:
		sched_after(w->s, leg, wh_on_conn_error, a); /* takes the start ref */
		return;
	case FAULT_TIMEOUT_NOT_APPLIED:
		wh_unref(a); /* never arrives: Stripe's timeout decides */
		return;
	case FAULT_STALL:
		if (!a->fd.rule->stall_applied) {
			wh_unref(a);
			return;
		}
		a->reply_lost = true;
		break;
	case FAULT_TIMEOUT_APPLIED:
		a->reply_lost = true;
		break;
	case FAULT_SERVER_ERROR:
		/* A proxy in front of the endpoint answers without calling it. */
		a->status = a->fd.rule->status ? a->fd.rule->status : 502;
		sched_after(w->s, 2 * leg, wh_on_reply, a);
		return;
	case FAULT_LATENCY:
		leg += a->fd.latency_us;
		break;
	default:
		break;
	}
	sched_after(w->s, leg, wh_arrive, a); /* the start ref travels along */
}

static void wh_schedule(struct world *w)
{
	const struct scenario *sc = w->sc;
	size_t real = sc->webhook.events;
	size_t total = real + sc->webhook.bad_signatures + sc->webhook.stale_signatures;
	ASSERT(total <= WORLD_REQUESTS_MAX);
	w->h.nevents = total;
	w->h.events = calloc(total ? total : 1, sizeof *w->h.events);
	w->wh_events = calloc(total ? total : 1, sizeof *w->wh_events);
	ASSERT(w->h.events != NULL && w->wh_events != NULL);
	for (size_t i = 0; i < total; i++) {
		struct hist_wh_event *e = &w->h.events[i];
		enum wh_kind kind = i < real ? WH_REAL
		                  : i < real + sc->webhook.bad_signatures ? WH_BAD_SIGNATURE : WH_STALE;
		e->forged = kind != WH_REAL;
		snprintf(e->id, sizeof e->id, "evt_%s%zu",
		         kind == WH_REAL ? "" : kind == WH_BAD_SIGNATURE ? "forged" : "stale", i);
		snprintf(e->order, sizeof e->order, "ord_%zu", i);
		char pi[HIST_ID_MAX + 8];
		snprintf(pi, sizeof pi, "pi_%zu", i);
		w->be.ops->seed_order(w->be.ctx, e->order, pi);
		uint64_t at = uniform_us(w, sc->webhook.spread_us);
		uint32_t copies = kind == WH_REAL ? (sc->webhook.copies ? sc->webhook.copies : 1) : 1;
		for (uint32_t c = 0; c < copies; c++)
			arrival_add(w, at + (c ? uniform_us(w, sc->webhook.copy_spread_us) : 0),
			            wh_attempt_start, wh_attempt_new(w, i, kind, 0, c));
	}
}

static void on_order_final(void *arg, const char *order_id, bool paid, long long paid_count)
{
	struct world *w = arg;
	(void)paid;
	if (strncmp(order_id, "ord_", 4) != 0)
		return;
	char *end;
	unsigned long long i = strtoull(order_id + 4, &end, 10);
	if (*end != '\0' || i >= w->h.nevents || strcmp(w->h.events[i].order, order_id) != 0)
		return;
	w->h.events[i].paid_count = paid_count;
}

static void wh_snapshot(struct world *w)
{
	for (size_t i = 0; i < w->h.nevents; i++)
		w->h.events[i].paid_count = 0;
	w->be.ops->foreach_order(w->be.ctx, on_order_final, w);
}

/* ---- stripe-customer -------------------------------------------------------- */

struct cu_req {
	struct world *w;
	uint32_t user;
	uint64_t start_us;
	char id[32];
};

static void cu_on_done(void *arg, enum result rc, const char *customer_id)
{
	struct cu_req *q = arg;
	struct world *w = q->w;
	(void)customer_id;
	ASSERT(w->core_busy > 0);
	w->core_busy--;
	ASSERT(w->cu_inflight[q->user] > 0);
	w->cu_inflight[q->user]--;
	if (rc == RESULT_UNHANDLED)
		note_unhandled(w, "stripe-customer request died");
	request_end(w, "stripe-customer", q->id, q->start_us,
	            rc == RESULT_OK ? WO_CU_OK : WO_CU_ERROR);
	work_free(w, q);
}

static void cu_start(void *arg)
{
	struct cu_req *q = arg;
	struct world *w = q->w;
	if (w->draining) {
		work_free(w, q);
		return;
	}
	if (w->cu_inflight[q->user] > 0)
		w->out->race_seen = true;
	w->cu_inflight[q->user]++;
	q->start_us = now_us(w);
	request_begin(w, "stripe-customer", q->id);
	char user[24], email[48];
	name1(user, sizeof user, "cu", q->user);
	struct fmt f;
	fmt_init(&f, email, sizeof email);
	fmt_str(&f, user);
	fmt_str(&f, "@example.com");
	ASSERT(!f.cut);
	w->core_busy++;
	customer_get_or_create(w->cu, user, email, cu_on_done, q);
}

static void cu_schedule(struct world *w)
{
	const struct scenario *sc = w->sc;
	uint32_t users = sc->customer.users;
	ASSERT(users <= WORLD_USERS_MAX);
	w->cu_inflight = calloc(users ? users : 1, sizeof *w->cu_inflight);
	w->h.cust = calloc(users ? users : 1, sizeof *w->h.cust);
	ASSERT(w->cu_inflight != NULL && w->h.cust != NULL);
	w->h.ncust = users;
	uint32_t per = sc->customer.concurrent ? sc->customer.concurrent : 1;
	for (uint32_t u = 0; u < users; u++) {
		name1(w->h.cust[u].user, sizeof w->h.cust[u].user, "cu", u);
		uint64_t at = uniform_us(w, sc->customer.spread_us);
		for (uint32_t c = 0; c < per; c++) {
			struct cu_req *q = work_new(w, sizeof *q);
			q->w = w;
			q->user = u;
			name2(q->id, sizeof q->id, "cu", u, c, "");
			arrival_add(w, at + (c ? uniform_us(w, sc->customer.copy_spread_us) : 0),
			            cu_start, q);
		}
	}
}

static struct hist_customer_user *cu_user(struct world *w, const char *user)
{
	if (user == NULL || strncmp(user, "cu", 2) != 0)
		return NULL;
	char *end;
	unsigned long u = strtoul(user + 2, &end, 10);
	if (*end != '\0' || u >= w->h.ncust)
		return NULL;
	return &w->h.cust[u];
}

static void on_mapping_row(void *arg, const char *user_id, const char *customer_id)
{
	struct world *w = arg;
	struct hist_customer_user *u = cu_user(w, user_id);
	if (u != NULL)
		snprintf(u->mapped, sizeof u->mapped, "%s", customer_id);
}

static void on_customer(void *arg, const char *customer_id, const char *user_id,
                        uint64_t created_us)
{
	struct world *w = arg;
	struct hist_customer_user *u = cu_user(w, user_id);
	if (u == NULL)
		return;
	if (u->ncustomers < HIST_CUSTOMERS_MAX)
		snprintf(u->customers[u->ncustomers], sizeof u->customers[0], "%s", customer_id);
	u->ncustomers++;
	if (created_us > u->last_created_us)
		u->last_created_us = created_us;
}

static void cu_snapshot(struct world *w)
{
	w->be.ops->foreach_mapping(w->be.ctx, on_mapping_row, w);
	w->be.ops->foreach_customer(w->be.ctx, on_customer, w);
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
	w->h.end_us = now_us(w);
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

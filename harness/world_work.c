/* harness/world_work.c - what every workload of a run uses: names, work
 * contexts (freed by their completion, all freed at the end), the arrival feed
 * that hands requests to the scheduler an instant at a time, and the request
 * bookkeeping (begin, end, unhandled errors, history growth). */
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

bool world_redis_down(struct world *w)
{
	return fault_plan_down(&w->plan, FAULT_TARGET_REDIS, sched_now_us(w->s), NULL);
}

/* When the Redis restart under way ends (0 when Redis is up). */
uint64_t world_redis_down_until(struct world *w)
{
	size_t i;
	if (!fault_plan_down(&w->plan, FAULT_TARGET_REDIS, sched_now_us(w->s), &i))
		return 0;
	const struct fault_rule *r = &w->plan.rules[i];
	return r->from_us + r->duration_us;
}

/* ---- work contexts ---------------------------------------------------------- */

/* Every request context and pending read is a work context, linked here so
 * that a real-clock run knows when it is done (none left) and can free
 * those whose timers it drops at the end. Contexts come from the run's own
 * arena: chunks carved by size class, a freed context kept on its class's
 * list for the next of that size, every chunk freed with the run. malloc
 * and free per request were a tenth of a large run. Under AddressSanitizer
 * each context is its own allocation, so a use after free is still caught. */
struct work_hdr {
	struct work_hdr *prev, *next;
	uint32_t cls;                 /* size class; 0: allocated on its own */
	max_align_t align[];          /* the context follows, aligned */
};

#define WORK_QUANTUM 16u              /* bytes per size class step */
#define WORK_CLASSES 48u              /* contexts up to 48 * 16 bytes are pooled */
#define WORK_CHUNK_BYTES (64u * 1024u)

struct work_chunk {
	struct work_chunk *next;
	size_t used;                  /* bytes of data[] handed out */
	max_align_t data[];
};

struct work_arena {
	struct work_chunk *chunks;
	struct work_hdr *free[WORK_CLASSES + 1];
};

#if defined(__SANITIZE_ADDRESS__)
#define WORK_POOLED 0
#else
#define WORK_POOLED 1
#endif

static struct work_hdr *work_carve(struct world *w, uint32_t cls)
{
	struct work_arena *a = w->work_arena;
	if (a == NULL) {
		a = w->work_arena = calloc(1, sizeof *a);
		ASSERT(a != NULL);
	}
	if (a->free[cls] != NULL) {
		struct work_hdr *h = a->free[cls];
		a->free[cls] = h->next;
		return h;
	}
	size_t bytes = (size_t)cls * WORK_QUANTUM;
	struct work_chunk *c = a->chunks;
	if (c == NULL || c->used + bytes > WORK_CHUNK_BYTES - sizeof *c) {
		c = malloc(WORK_CHUNK_BYTES);
		ASSERT(c != NULL);
		c->used = 0;
		c->next = a->chunks;
		a->chunks = c;
	}
	struct work_hdr *h = (struct work_hdr *)((char *)c->data + c->used);
	c->used += bytes;
	return h;
}

void *world_work_new(struct world *w, size_t size)
{
	ASSERT(w->nwork < WORLD_WORK_MAX);
	size_t total = sizeof(struct work_hdr) + size;
	uint32_t cls = (uint32_t)((total + WORK_QUANTUM - 1) / WORK_QUANTUM);
	struct work_hdr *h;
	if (WORK_POOLED && cls <= WORK_CLASSES) {
		h = work_carve(w, cls);
		memset(h, 0, (size_t)cls * WORK_QUANTUM);
		h->cls = cls;
	} else {
		h = calloc(1, total);
		ASSERT(h != NULL);
	}
	h->next = w->works;
	if (w->works != NULL)
		w->works->prev = h;
	w->works = h;
	w->nwork++;
	return h->align;
}

static void work_release(struct world *w, struct work_hdr *h)
{
	if (h->cls == 0) {
		free(h);
		return;
	}
	h->next = w->work_arena->free[h->cls];
	w->work_arena->free[h->cls] = h;
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
	work_release(w, h);
	/* On a real clock nothing else would end the run: the servers'
	 * connections keep the event loop alive. */
	if (w->nwork == 0 && w->be.real_clock && !w->draining)
		sched_stop(w->s);
}

/* Frees the contexts left when timers were dropped (real clock only), then
 * the arena. */
void world_work_free_all(struct world *w)
{
	for (uint64_t guard = 0; w->works != NULL; guard++) {
		ASSERT(guard < WORLD_WORK_MAX);
		struct work_hdr *h = w->works;
		w->works = h->next;
		if (h->cls == 0)
			free(h);
	}
	w->nwork = 0;
	struct work_arena *a = w->work_arena;
	if (a == NULL)
		return;
	while (a->chunks != NULL) {
		struct work_chunk *c = a->chunks;
		a->chunks = c->next;
		free(c);
	}
	free(a);
	w->work_arena = NULL;
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
	w->arrivals[w->narrivals] = (struct arrival){.at_us = at_us, .fn = fn, .arg = arg, .w = w};
	w->narrivals++;
}

/* Sorts the arrivals by time, stably (ties keep the order of
 * world_arrival_add): a least-significant-digit radix sort on at_us, one
 * pass per byte the largest time needs. A comparison sort was a tenth of
 * building a large run. */
static void arrivals_sort(struct world *w)
{
	size_t n = w->narrivals;
	uint64_t max = 0;
	for (size_t i = 0; i < n; i++)
		max |= w->arrivals[i].at_us;
	struct arrival *tmp = malloc(n * sizeof *tmp);
	ASSERT(tmp != NULL);
	struct arrival *from = w->arrivals, *to = tmp;
	for (unsigned shift = 0; shift < 64 && (max >> shift) != 0; shift += 8) {
		size_t count[257] = {0};
		for (size_t i = 0; i < n; i++)
			count[((from[i].at_us >> shift) & 0xff) + 1]++;
		for (size_t d = 0; d < 256; d++)
			count[d + 1] += count[d];
		for (size_t i = 0; i < n; i++)
			to[count[(from[i].at_us >> shift) & 0xff]++] = from[i];
		struct arrival *t = from;
		from = to;
		to = t;
	}
	if (from != w->arrivals)
		memcpy(w->arrivals, from, n * sizeof *from);
	free(tmp);
	for (size_t i = 1; i < n; i++) {
		ASSERT(w->arrivals[i - 1].at_us <= w->arrivals[i].at_us);
	}
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

void world_arrivals_start(struct world *w)
{
	if (w->narrivals > 1)
		arrivals_sort(w);
	arrival_feed(w);
}

uint64_t world_uniform_us(struct world *w, uint64_t max_us)
{
	return max_us ? prng_below(&w->work, max_us + 1) : 0;
}

bool world_fix_on(const struct world *w, enum fix_id f)
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
		trace_str(w->tr, "outcome", world_outcome_name(o));
		trace_uint(w->tr, "took_us", took);
		trace_end(w->tr);
	}
}

struct kv_watch {
	struct world *w;
	size_t index;
	world_kv_note_fn *note;
	kv_done_fn *done;
	void *arg;
};

static void kv_watch_done(void *arg, enum outcome oc, const struct kv_reply *reply)
{
	struct kv_watch *c = arg;
	struct world *w = c->w;
	c->note(w, c->index, oc, reply);
	kv_done_fn *done = c->done;
	void *darg = c->arg;
	world_work_free(w, c);
	done(darg, oc, reply);
}

void world_kv_watch(struct world *w, size_t index, world_kv_note_fn *note, kv_done_fn **done,
                    void **arg)
{
	struct kv_watch *c = world_work_new(w, sizeof *c);
	*c = (struct kv_watch){.w = w, .index = index, .note = note, .done = *done, .arg = *arg};
	*done = kv_watch_done;
	*arg = c;
}

/* The kv port the cores see: what the de-duplicator and the rate limiter
 * send is noted and their replies watched, then it goes to the backend. */
void world_kv_command(void *ctx, const struct kv_cmd *cmd, kv_done_fn *done, void *arg)
{
	struct world *w = ctx;
	dd_watch_set(w, cmd, &done, &arg);
	rl_note_incr(w, cmd);
	rl_watch_count(w, cmd, &done, &arg);
	w->kv_inner.command(w->kv_inner.ctx, cmd, done, arg);
}

void world_kv_transaction(void *ctx, int ncmds, const struct kv_cmd *cmds, kv_done_fn *done,
                          void *arg)
{
	struct world *w = ctx;
	for (int i = 0; i < ncmds; i++)
		rl_note_incr(w, &cmds[i]);
	rl_watch_count(w, ncmds > 0 ? &cmds[0] : NULL, &done, &arg);
	w->kv_inner.transaction(w->kv_inner.ctx, ncmds, cmds, done, arg);
}

bool world_core_enter(struct world *w)
{
	bool was = w->in_core_call;
	w->in_core_call = true;
	return was;
}

void world_core_leave(struct world *w, bool was)
{
	w->in_core_call = was;
}

void world_core_answered(struct world *w, const char *entry)
{
	if (w->in_core_call) {
		char what[96];
		snprintf(what, sizeof what, "%s called done before it returned", entry);
		world_note_unhandled(w, what);
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

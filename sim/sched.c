/* sim/sched.c - timers on a virtual or real clock over one event_base.
 * Virtual mode keeps its own 4-ary heap ordered by (due time, random tie
 * key, sequence) and runs due timers, instant after instant, from one
 * libevent callback per bounded batch. Real mode gives
 * each timer an evtimer. Timer slots live in a growable slab; a handle names
 * a slot and its generation, so stale handles are detected, not followed. */
#include "sim/sched.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "core/assert.h"
#include "sim/assert_ctx.h"
#include "sim/prng.h"

struct slot {
	uint64_t due_us;
	uint64_t tie;          /* random tie key (virtual mode) */
	uint64_t seq;          /* creation order: final tie break */
	sched_fn *fn;          /* NULL when free or cancelled */
	void *arg;
	struct event *ev;      /* real mode: this slot's evtimer, reused */
	struct real_cookie *cookie; /* real mode: the evtimer's argument */
	uint32_t gen;
	uint32_t heap_pos;     /* virtual mode: index in heap, or UINT32_MAX */
	uint32_t next_free;
};

/* The heap holds its order keys itself, so comparisons never leave it. */
struct heap_entry {
	uint64_t due_us;
	uint64_t tie;
	uint64_t seq;
	uint32_t slot;
};

struct real_cookie {
	struct sched *s;
	uint32_t slot;
};

struct sched {
	struct event_base *base;
	enum sched_clock clock;
	struct prng *rng;
	struct event *tick;        /* virtual mode: activated to run a batch */
	uint64_t now_us;           /* virtual now */
	struct timespec start;     /* real mode origin */
	struct slot *slots;
	uint32_t nslots, capslots;
	uint32_t free_head;        /* UINT32_MAX when empty */
	struct heap_entry *heap;   /* virtual mode: the order keys and slots */
	uint32_t nheap;
	uint64_t seq;
	uint64_t pending;
	uint64_t dispatched;
	uint64_t run_until_us;
	uint64_t run_count;
	bool stopping;
};

#define NONE UINT32_MAX

static void sched_on_tick(evutil_socket_t fd, short what, void *arg);
static void sched_on_real_timer(evutil_socket_t fd, short what, void *arg);

struct event_base *sched_base_new(enum sched_clock clock)
{
	struct event_config *cfg = event_config_new();
	if (cfg == NULL)
		return NULL;
	if (clock == SCHED_REAL)
		event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	struct event_base *base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

/* The assertion context's view of the clock (sim/assert_ctx.h). */
static uint64_t sched_clock_now(const void *arg)
{
	return sched_now_us(arg);
}

struct sched *sched_create(struct event_base *base, enum sched_clock clock,
                           struct prng *rng)
{
	ASSERT(base != NULL);
	ASSERT(clock == SCHED_REAL || rng != NULL);

	struct sched *s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
	s->base = base;
	s->clock = clock;
	s->rng = rng;
	s->free_head = NONE;
	if (clock == SCHED_VIRTUAL) {
		s->tick = event_new(base, -1, 0, sched_on_tick, s);
		if (s->tick == NULL) {
			free(s);
			return NULL;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &s->start);
	assert_ctx_clock(sched_clock_now, s);
	return s;
}

void sched_destroy(struct sched *s)
{
	if (s == NULL)
		return;
	assert_ctx_clock(NULL, NULL);
	for (uint32_t i = 0; i < s->nslots; i++) {
		if (s->slots[i].ev != NULL)
			event_free(s->slots[i].ev);
		free(s->slots[i].cookie);
	}
	if (s->tick != NULL)
		event_free(s->tick);
	free(s->slots);
	free(s->heap);
	free(s);
}

enum sched_clock sched_clock_kind(const struct sched *s)
{
	return s->clock;
}

struct event_base *sched_base(const struct sched *s)
{
	return s->base;
}

static uint64_t real_now_us(const struct sched *s)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t d = (int64_t)(ts.tv_sec - s->start.tv_sec) * 1000000 +
	            (ts.tv_nsec - s->start.tv_nsec) / 1000;
	return d < 0 ? 0 : (uint64_t)d;
}

uint64_t sched_now_us(const struct sched *s)
{
	return s->clock == SCHED_VIRTUAL ? s->now_us : real_now_us(s);
}

/* ---- virtual heap ----------------------------------------------------- */

static inline bool entry_before(const struct heap_entry *a, const struct heap_entry *b)
{
	if (a->due_us != b->due_us)
		return a->due_us < b->due_us;
	if (a->tie != b->tie)
		return a->tie < b->tie;
	return a->seq < b->seq;
}

static inline void heap_put(struct sched *s, uint32_t pos, const struct heap_entry *e)
{
	s->heap[pos] = *e;
	s->slots[e->slot].heap_pos = pos;
}

/* A 4-ary heap: half the levels of a binary one, and the four children of
 * a node share a cache line or two. */
#define HEAP_ARITY 4

static void heap_up(struct sched *s, uint32_t pos)
{
	struct heap_entry e = s->heap[pos];
	while (pos > 0) {
		uint32_t parent = (pos - 1) / HEAP_ARITY;
		if (!entry_before(&e, &s->heap[parent]))
			break;
		heap_put(s, pos, &s->heap[parent]);
		pos = parent;
	}
	heap_put(s, pos, &e);
}

static void heap_down(struct sched *s, uint32_t pos)
{
	struct heap_entry e = s->heap[pos];
	for (;;) {
		uint32_t first = HEAP_ARITY * pos + 1;
		if (first >= s->nheap)
			break;
		uint32_t best = first;
		uint32_t end = first + HEAP_ARITY < s->nheap ? first + HEAP_ARITY : s->nheap;
		for (uint32_t c = first + 1; c < end; c++) {
			if (entry_before(&s->heap[c], &s->heap[best]))
				best = c;
		}
		if (!entry_before(&s->heap[best], &e))
			break;
		heap_put(s, pos, &s->heap[best]);
		pos = best;
	}
	heap_put(s, pos, &e);
}

static void heap_remove(struct sched *s, uint32_t pos)
{
	ASSERT(pos < s->nheap);
	s->slots[s->heap[pos].slot].heap_pos = NONE;
	struct heap_entry last = s->heap[--s->nheap];
	if (pos == s->nheap)
		return;
	heap_put(s, pos, &last);
	if (pos > 0 && entry_before(&last, &s->heap[(pos - 1) / HEAP_ARITY]))
		heap_up(s, pos);
	else
		heap_down(s, pos);
}

/* ---- slots ------------------------------------------------------------ */

static uint32_t slot_alloc(struct sched *s)
{
	if (s->free_head != NONE) {
		uint32_t i = s->free_head;
		s->free_head = s->slots[i].next_free;
		return i;
	}
	if (s->nslots == s->capslots) {
		uint32_t cap = s->capslots ? s->capslots * 2 : 256;
		ASSERT(cap <= SCHED_TIMERS_MAX);
		struct slot *ns = realloc(s->slots, cap * sizeof *ns);
		ASSERT(ns != NULL); /* out of memory in the simulator is fatal */
		s->slots = ns;
		if (s->clock == SCHED_VIRTUAL) {
			struct heap_entry *nh = realloc(s->heap, cap * sizeof *nh);
			ASSERT(nh != NULL);
			s->heap = nh;
		}
		s->capslots = cap;
	}
	uint32_t i = s->nslots++;
	memset(&s->slots[i], 0, sizeof s->slots[i]);
	s->slots[i].heap_pos = NONE;
	return i;
}

static void slot_free(struct sched *s, uint32_t i)
{
	struct slot *sl = &s->slots[i];
	sl->fn = NULL;
	sl->arg = NULL;
	sl->gen++;
	sl->next_free = s->free_head;
	s->free_head = i;
}

struct sched_timer sched_after(struct sched *s, uint64_t delay_us, sched_fn *fn,
                               void *arg)
{
	ASSERT(fn != NULL);
	ASSERT(s->pending < SCHED_TIMERS_MAX);

	uint32_t i = slot_alloc(s);
	struct slot *sl = &s->slots[i];
	sl->fn = fn;
	sl->arg = arg;
	sl->seq = s->seq++;
	s->pending++;

	if (s->clock == SCHED_VIRTUAL) {
		sl->due_us = s->now_us + delay_us;
		struct heap_entry e = {.due_us = sl->due_us, .tie = prng_next(s->rng),
		                       .seq = sl->seq, .slot = i};
		heap_put(s, s->nheap++, &e);
		heap_up(s, s->nheap - 1);
	} else {
		sl->due_us = real_now_us(s) + delay_us;
		if (sl->ev == NULL) {
			/* The slab may move, so the evtimer's argument is a small
			 * cookie holding the scheduler and the slot index. */
			struct real_cookie *c = malloc(sizeof *c);
			ASSERT(c != NULL);
			c->s = s;
			c->slot = i;
			sl->cookie = c;
			sl->ev = event_new(s->base, -1, 0, sched_on_real_timer, c);
			ASSERT(sl->ev != NULL);
		}
		struct timeval tv = {
			.tv_sec = (time_t)(delay_us / 1000000),
			.tv_usec = (suseconds_t)(delay_us % 1000000),
		};
		int rc = event_add(sl->ev, &tv);
		ASSERT(rc == 0);
	}
	return (struct sched_timer){.slot = i, .gen = sl->gen};
}

bool sched_cancel(struct sched *s, struct sched_timer t)
{
	if (t.slot >= s->nslots)
		return false;
	struct slot *sl = &s->slots[t.slot];
	if (sl->gen != t.gen || sl->fn == NULL)
		return false;
	if (s->clock == SCHED_VIRTUAL) {
		heap_remove(s, sl->heap_pos);
	} else {
		event_del(sl->ev);
	}
	slot_free(s, t.slot);
	s->pending--;
	return true;
}

void sched_stop(struct sched *s)
{
	s->stopping = true;
	if (s->clock == SCHED_REAL)
		event_base_loopbreak(s->base);
}

uint64_t sched_pending(const struct sched *s)
{
	return s->pending;
}

uint64_t sched_dispatched(const struct sched *s)
{
	return s->dispatched;
}

/* Runs one timer: frees its slot first, so the callback may schedule again
 * (and reuse the slot) without confusion. */
static void run_slot(struct sched *s, uint32_t i)
{
	struct slot *sl = &s->slots[i];
	sched_fn *fn = sl->fn;
	void *arg = sl->arg;
	ASSERT(fn != NULL);
	slot_free(s, i);
	s->pending--;
	s->dispatched++;
	s->run_count++;
	fn(arg);
}

/* Virtual mode: one libevent callback runs timers in (due, tie) order,
 * instant after instant (including those scheduled while it runs), up to
 * SCHED_BATCH_MAX, then re-activates itself while work remains. Nothing
 * else waits on the base in virtual mode, so going back to libevent
 * between instants would only cost time: it was a tenth of a run. */
static void sched_on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct sched *s = arg;
	(void)fd;
	(void)what;

	for (int n = 0; n < SCHED_BATCH_MAX && s->nheap > 0 && !s->stopping; n++) {
		uint64_t due = s->heap[0].due_us;
		if (due > s->run_until_us)
			break;
		ASSERT(due >= s->now_us);
		s->now_us = due;
		uint32_t i = s->heap[0].slot;
		heap_remove(s, 0);
		run_slot(s, i);
	}
	if (s->nheap > 0 && !s->stopping && s->heap[0].due_us <= s->run_until_us)
		event_active(s->tick, EV_TIMEOUT, 0);
}

static void sched_on_real_timer(evutil_socket_t fd, short what, void *arg)
{
	struct real_cookie *c = arg;
	(void)fd;
	(void)what;
	struct sched *s = c->s;
	if (s->slots[c->slot].fn == NULL)
		return;
	run_slot(s, c->slot);
	if (s->stopping)
		event_base_loopbreak(s->base);
}

static void sched_on_until(void *arg)
{
	struct sched *s = arg;
	s->run_count--; /* the end of the run is not an event of the run */
	s->dispatched--;
	sched_stop(s);
}

uint64_t sched_run(struct sched *s, uint64_t until_us)
{
	s->stopping = false;
	s->run_until_us = until_us;
	s->run_count = 0;
	if (s->clock == SCHED_VIRTUAL) {
		if (s->nheap > 0)
			event_active(s->tick, EV_TIMEOUT, 0);
		/* Returns when nothing is active or pending on the base. */
		event_base_loop(s->base, 0);
	} else {
		/* The end of the run is a timer of our own, cancelled after the
		 * loop: a libevent loopexit would stay pending when sched_stop
		 * ends the loop first, and cut the next run short. */
		struct sched_timer end = {0, 0};
		bool has_end = until_us != UINT64_MAX;
		if (has_end) {
			uint64_t now = real_now_us(s);
			end = sched_after(s, until_us > now ? until_us - now : 0, sched_on_until, s);
		}
		event_base_loop(s->base, 0);
		if (has_end)
			sched_cancel(s, end);
	}
	return s->run_count;
}

/* live/deliver_plan.c - the send list: one slot per event in a shuffled
 * order, copies fanned out at the slot's time, extras after, then a stable
 * sort by time. Retries are not planned here: they follow answers. */
#include "live/deliver_plan.h"

#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "sim/prng.h"

struct deliver_plan {
	struct deliver_send *v;
	size_t n, cap;
};

static bool plan_push(struct deliver_plan *p, size_t event, int64_t at_ms,
                      enum deliver_kind kind, unsigned copy)
{
	if (p->n >= DELIVER_SENDS_MAX)
		return false;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		struct deliver_send *nv = realloc(p->v, cap * sizeof *nv);
		if (nv == NULL)
			return false;
		p->v = nv;
		p->cap = cap;
	}
	p->v[p->n++] = (struct deliver_send){
		.event = event, .at_ms = at_ms, .kind = kind, .copy = copy,
	};
	return true;
}

static int send_cmp(const void *a, const void *b)
{
	const struct deliver_send *x = a, *y = b;
	if (x->at_ms != y->at_ms)
		return x->at_ms < y->at_ms ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Event indices in the order their first delivery goes out: shuffled
 * across objects; within an object by rank, or by reverse rank when
 * reordering (succeeded before created, refunded before the charge). */
static size_t *plan_order(const struct deliver_plan_cfg *cfg,
                          const struct deliver_events *ev, struct prng *rng)
{
	size_t n = deliver_events_count(ev);
	size_t *order = malloc(n * sizeof *order);
	if (order == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	for (size_t i = n; i > 1; i--) {     /* Fisher-Yates */
		size_t j = (size_t)prng_below(rng, i);
		size_t t = order[i - 1];
		order[i - 1] = order[j];
		order[j] = t;
	}
	/* The shuffle decides which object each slot serves; within the
	 * slots of one object the events then go in (reverse) rank order. */
	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; j < n; j++) {
			const struct deliver_event *a = deliver_events_get(ev, order[i]);
			const struct deliver_event *b = deliver_events_get(ev, order[j]);
			if (a->object != b->object)
				continue;
			bool swap = cfg->reorder ? a->rank < b->rank : a->rank > b->rank;
			if (swap) {
				size_t t = order[i];
				order[i] = order[j];
				order[j] = t;
			}
		}
	}
	return order;
}

/* count distinct events, picked at random, get one extra copy of kind at
 * the time of their first delivery. */
static bool plan_extras(struct deliver_plan *p, struct prng *rng, size_t n,
                        const int64_t *first_ms, unsigned count,
                        enum deliver_kind kind)
{
	size_t *pick = malloc(n * sizeof *pick);
	if (pick == NULL)
		return false;
	for (size_t i = 0; i < n; i++)
		pick[i] = i;
	bool ok = true;
	for (size_t k = 0; k < count && k < n && ok; k++) {  /* partial shuffle */
		size_t j = k + (size_t)prng_below(rng, n - k);
		size_t t = pick[k];
		pick[k] = pick[j];
		pick[j] = t;
		ok = plan_push(p, pick[k], first_ms[pick[k]], kind, 0);
	}
	free(pick);
	return ok;
}

struct deliver_plan *deliver_plan_create(const struct deliver_plan_cfg *cfg,
                                         const struct deliver_events *ev,
                                         bool *too_many)
{
	ASSERT(cfg != NULL);
	ASSERT(cfg->copies >= 1);
	ASSERT(cfg->copies <= DELIVER_COPIES_MAX);
	ASSERT(cfg->duplicates <= DELIVER_DUPLICATES_MAX);
	ASSERT(cfg->retries_max <= DELIVER_RETRIES_MAX);
	ASSERT(cfg->spacing_ms >= 0);
	ASSERT(cfg->duplicate_after_s >= 0);

	size_t n = deliver_events_count(ev);
	*too_many = (uint64_t)n * (cfg->copies + cfg->duplicates + 2) > DELIVER_SENDS_MAX;
	if (*too_many || n == 0)
		return NULL;
	struct deliver_plan *p = calloc(1, sizeof *p);
	int64_t *first_ms = calloc(n, sizeof *first_ms);
	struct prng rng;
	prng_init(&rng, cfg->seed);
	size_t *order = p != NULL && first_ms != NULL ? plan_order(cfg, ev, &rng) : NULL;
	if (order == NULL)
		goto fail;
	for (size_t slot = 0; slot < n; slot++) {
		size_t e = order[slot];
		int64_t at = (int64_t)slot * cfg->spacing_ms;
		first_ms[e] = at;
		for (unsigned c = 0; c < cfg->copies; c++)
			if (!plan_push(p, e, at, DELIVER_VALID, c))
				goto fail;
		for (unsigned d = 0; d < cfg->duplicates; d++)
			if (!plan_push(p, e, at + (int64_t)(d + 1) * cfg->duplicate_after_s * 1000,
			               DELIVER_DUPLICATE, d))
				goto fail;
	}
	if (!plan_extras(p, &rng, n, first_ms, cfg->stale, DELIVER_STALE) ||
	    !plan_extras(p, &rng, n, first_ms, cfg->bad_signatures, DELIVER_BAD_SIG))
		goto fail;
	for (size_t i = 0; i < p->n; i++)
		p->v[i].seq = i;
	qsort(p->v, p->n, sizeof *p->v, send_cmp);   /* stable through seq */
	free(order);
	free(first_ms);
	return p;

fail:
	free(order);
	free(first_ms);
	deliver_plan_destroy(p);
	return NULL;
}

void deliver_plan_destroy(struct deliver_plan *p)
{
	if (p == NULL)
		return;
	free(p->v);
	free(p);
}

size_t deliver_plan_count(const struct deliver_plan *p)
{
	return p->n;
}

const struct deliver_send *deliver_plan_get(const struct deliver_plan *p, size_t i)
{
	ASSERT(i < p->n);
	return &p->v[i];
}

int64_t deliver_plan_retry_after_ms(unsigned retries_max, unsigned attempt)
{
	ASSERT(attempt >= 1);
	if (attempt > retries_max || attempt > DELIVER_RETRIES_MAX)
		return -1;
	/* retry k comes 60 s * 2^(k-1) after try k; it is sent at
	 * 60 s * (2^k - 1) after the first send. */
	int64_t gap_s = (int64_t)DELIVER_RETRY_FIRST_S << (attempt - 1);
	int64_t offset_s = (int64_t)DELIVER_RETRY_FIRST_S * (((int64_t)1 << attempt) - 1);
	if (offset_s > DELIVER_RETRY_WINDOW_S)
		return -1;
	return gap_s * 1000;
}

bool deliver_kind_is_valid(enum deliver_kind k)
{
	return k == DELIVER_VALID || k == DELIVER_DUPLICATE;
}

const char *deliver_kind_name(enum deliver_kind k)
{
	switch (k) {
	case DELIVER_VALID: return "valid";
	case DELIVER_DUPLICATE: return "duplicate";
	case DELIVER_STALE: return "stale";
	case DELIVER_BAD_SIG: return "bad-signature";
	}
	return "?";
}

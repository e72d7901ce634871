/* harness/work_webhook.c - Stripe's side of the webhook workload: events,
 * concurrent copies, retries on Stripe's schedule, bad signatures and stale
 * deliveries, and what each answer and the final orders say. */
#include <stdlib.h>

#include <string.h>

#include "core/assert.h"
#include "core/stripe_sig.h"
#include "core/webhook.h"
#include "sim/trace.h"

#include "harness/world_int.h"

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
		world_work_free(a->w, a);
}

static void wh_attempt_start(void *arg);

static struct wh_attempt *wh_attempt_new(struct world *w, size_t event, enum wh_kind kind,
                                         uint32_t attempt, uint32_t copy)
{
	struct wh_attempt *a = world_work_new(w, sizeof *a);
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
	world_work_free(w, rd);
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
	world_request_end(w, "webhook", e->id, a->start_us, o);
	if (status >= 200 && status < 300) {
		if (!e->acked) {
			e->acked = true;
			e->ack_us = world_now_us(w);
		}
		/* eventually-applied: a 2xx promises the effect is durable now.
		 * (Read at once from the models; from a real server a moment
		 * later, which can only hide a violation, never invent one.) */
		if (a->kind == WH_REAL && !e->ack_not_durable) {
			struct wh_read *rd = world_work_new(w, sizeof *rd);
			rd->w = w;
			rd->event = a->event;
			rd->ack_us = world_now_us(w);
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
	int64_t t = WORLD_WALL_EPOCH_S + (int64_t)(world_now_us(w) / 1000000);
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
		trace_begin(w->tr, world_now_us(w), "fault");
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
	a->start_us = world_now_us(w);
	world_request_begin(w, "webhook", w->h.events[a->event].id);
	/* Stripe waits endpoint_timeout for an answer, then counts a failure. */
	a->refs++;
	a->timeout = sched_after(w->s, w->sc->webhook.endpoint_timeout_us, wh_on_stripe_timeout, a);
	a->timeout_pending = true;
	uint64_t leg = w->sc->stripe.latency.min_us / 2;
	a->faulted = fault_plan_decide(&w->plan, &w->work, FAULT_TARGET_WEBHOOK, "deliver",
	                               world_now_us(w), &a->fd);
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

void wh_schedule(struct world *w)
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
		uint64_t at = world_uniform_us(w, sc->webhook.spread_us);
		uint32_t copies = kind == WH_REAL ? (sc->webhook.copies ? sc->webhook.copies : 1) : 1;
		for (uint32_t c = 0; c < copies; c++)
			world_arrival_add(w, at + (c ? world_uniform_us(w, sc->webhook.copy_spread_us) : 0),
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

void wh_snapshot(struct world *w)
{
	for (size_t i = 0; i < w->h.nevents; i++)
		w->h.events[i].paid_count = 0;
	w->be.ops->foreach_order(w->be.ctx, on_order_final, w);
}

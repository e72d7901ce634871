/* live/deliver.c - one timer drives the plan: it starts every send whose
 * real time has come (up to DELIVER_TRANSFERS_MAX at once, so concurrent
 * copies really overlap) and every retry due; answers schedule retries. */
#include "live/deliver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "core/assert.h"
#include "core/stripe_sig.h"
#include "live/curl_loop.h"

struct pending {               /* one send's next attempt */
	size_t send;
	unsigned attempt;
	uint64_t due_us;           /* real time after the start */
	bool running, finished;
	uint64_t started_us;
	bool applied_at_start;     /* the event had a 2xx when this left */
	struct curl_slist *headers;
};

struct deliver {
	struct event_base *base;
	struct deliver_cfg cfg;
	const struct deliver_events *ev;
	const struct deliver_plan *plan;
	struct curl_loop *cl;
	struct event *timer;
	struct pending *p;         /* one per send */
	size_t np, finished;
	bool *applied;             /* per event: a 2xx came */
	struct deliver_answer *answers;
	size_t nanswers, cap;
	bool overflow;
	struct timespec t0;
};

struct deliver_ctx {
	struct deliver *d;
	size_t i;
};

static uint64_t now_us(const struct deliver *d)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)(t.tv_sec - d->t0.tv_sec) * 1000000u +
	       (uint64_t)((t.tv_nsec - d->t0.tv_nsec) / 1000);
}

static uint64_t real_us(const struct deliver *d, int64_t stripe_ms)
{
	return (uint64_t)((double)stripe_ms * 1000.0 / d->cfg.time_scale);
}

static void deliver_arm(struct deliver *d);

static void deliver_record(struct deliver *d, struct pending *pd, long status,
                           const char *error, uint64_t t)
{
	if (d->nanswers >= DELIVER_ANSWERS_MAX) {
		d->overflow = true;
		return;
	}
	if (d->nanswers == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 256;
		struct deliver_answer *na = realloc(d->answers, cap * sizeof *na);
		if (na == NULL) {
			d->overflow = true;
			return;
		}
		d->answers = na;
		d->cap = cap;
	}
	struct deliver_answer *a = &d->answers[d->nanswers++];
	memset(a, 0, sizeof *a);
	a->send = pd->send;
	a->attempt = pd->attempt;
	a->status = status;
	snprintf(a->error, sizeof a->error, "%s", error);
	a->sent_us = pd->started_us;
	a->took_us = t - pd->started_us;
	a->after_applied = pd->applied_at_start;
}

static void deliver_on_done(void *arg, CURL *easy, const struct curl_loop_response *r)
{
	struct deliver_ctx *ctx = arg;
	struct deliver *d = ctx->d;
	struct pending *pd = &d->p[ctx->i];
	(void)easy;
	uint64_t t = now_us(d);
	long status = r->code == CURLE_OK ? r->status : 0;
	deliver_record(d, pd, status, r->error, t);
	const struct deliver_send *s = deliver_plan_get(d->plan, pd->send);
	pd->running = false;
	curl_slist_free_all(pd->headers);
	pd->headers = NULL;
	free(ctx);
	bool ok = status >= 200 && status <= 299;
	if (ok && deliver_kind_is_valid(s->kind))
		d->applied[s->event] = true;
	int64_t next_ms = deliver_kind_is_valid(s->kind) && !ok ?
	                  deliver_plan_retry_after_ms(d->cfg.retries_max, pd->attempt) : -1;
	if (next_ms < 0) {
		pd->finished = true;
		d->finished++;
	} else {
		pd->attempt++;
		pd->due_us = t + real_us(d, next_ms);
	}
	deliver_arm(d);
}

/* Starts one attempt: a fresh signature, as Stripe signs every attempt. */
static bool deliver_start(struct deliver *d, size_t i)
{
	struct pending *pd = &d->p[i];
	const struct deliver_send *s = deliver_plan_get(d->plan, pd->send);
	const struct deliver_event *e = deliver_events_get(d->ev, s->event);
	int64_t t = (int64_t)time(NULL);
	const char *secret = d->cfg.secret;
	if (s->kind == DELIVER_STALE)
		t -= d->cfg.tolerance_s + 60;
	if (s->kind == DELIVER_BAD_SIG)
		secret = "whsec_faultline_not_your_secret";
	char sig[STRIPE_SIG_HEADER_MAX], hdr[STRIPE_SIG_HEADER_MAX + 32];
	if (stripe_sig_sign(secret, t, e->body, e->body_len, sig, sizeof sig) == 0)
		return false;
	snprintf(hdr, sizeof hdr, "Stripe-Signature: %s", sig);
	struct curl_slist *h = curl_slist_append(NULL, hdr);
	struct curl_slist *h2 = h != NULL ?
		curl_slist_append(h, "Content-Type: application/json; charset=utf-8") : NULL;
	struct curl_slist *h3 = h2 != NULL ?
		curl_slist_append(h2, "User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)") : NULL;
	struct curl_slist *h4 = h3 != NULL ? curl_slist_append(h3, "Expect:") : NULL;
	CURL *easy = h4 != NULL ? curl_easy_init() : NULL;
	struct deliver_ctx *ctx = easy != NULL ? malloc(sizeof *ctx) : NULL;
	if (ctx == NULL) {
		if (easy != NULL)
			curl_easy_cleanup(easy);
		curl_slist_free_all(h);
		return false;
	}
	ctx->d = d;
	ctx->i = i;
	curl_easy_setopt(easy, CURLOPT_URL, d->cfg.url);
	curl_easy_setopt(easy, CURLOPT_POST, 1L);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, e->body);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)e->body_len);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, d->cfg.timeout_ms);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);  /* copies overlap */
	pd->headers = h;
	pd->started_us = now_us(d);
	pd->applied_at_start = d->applied[s->event];
	pd->running = true;
	if (curl_loop_start(d->cl, easy, deliver_on_done, ctx) != RESULT_OK) {
		pd->running = false;
		pd->headers = NULL;
		curl_slist_free_all(h);
		free(ctx);
		return false;
	}
	return true;
}

static void deliver_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct deliver *d = arg;
	(void)fd;
	(void)what;
	uint64_t t = now_us(d);
	for (size_t i = 0; i < d->np; i++) {
		struct pending *pd = &d->p[i];
		if (pd->running || pd->finished || pd->due_us > t)
			continue;
		if (curl_loop_running(d->cl) >= DELIVER_TRANSFERS_MAX)
			break;                         /* the next answer re-arms */
		if (!deliver_start(d, i)) {
			d->overflow = true;
			pd->finished = true;
			d->finished++;
		}
	}
	deliver_arm(d);
}

/* The timer for the earliest due attempt, or the loop's end when done. */
static void deliver_arm(struct deliver *d)
{
	if (d->finished == d->np) {
		event_base_loopexit(d->base, NULL);
		return;
	}
	uint64_t next = UINT64_MAX, t = now_us(d);
	for (size_t i = 0; i < d->np; i++) {
		const struct pending *pd = &d->p[i];
		if (!pd->running && !pd->finished && pd->due_us < next)
			next = pd->due_us;
	}
	if (next == UINT64_MAX)
		return;                                /* answers pending */
	uint64_t wait = next > t ? next - t : 0;
	struct timeval tv = { .tv_sec = (time_t)(wait / 1000000u),
	                      .tv_usec = (suseconds_t)(wait % 1000000u) };
	evtimer_add(d->timer, &tv);
}

struct deliver *deliver_create(struct event_base *base, const struct deliver_cfg *cfg,
                               const struct deliver_events *ev,
                               const struct deliver_plan *plan)
{
	ASSERT(base != NULL);
	ASSERT(cfg->time_scale >= 1.0);
	ASSERT(cfg->timeout_ms > 0);
	struct deliver *d = calloc(1, sizeof *d);
	if (d == NULL)
		return NULL;
	d->base = base;
	d->cfg = *cfg;
	d->ev = ev;
	d->plan = plan;
	d->np = deliver_plan_count(plan);
	d->p = calloc(d->np, sizeof *d->p);
	d->applied = calloc(deliver_events_count(ev), sizeof *d->applied);
	d->cl = curl_loop_create(base, DELIVER_TRANSFERS_MAX);
	d->timer = evtimer_new(base, deliver_on_timer, d);
	if (d->p == NULL || d->applied == NULL || d->cl == NULL || d->timer == NULL) {
		deliver_destroy(d);
		return NULL;
	}
	for (size_t i = 0; i < d->np; i++) {
		d->p[i].send = i;
		d->p[i].attempt = 1;
	}
	return d;
}

void deliver_destroy(struct deliver *d)
{
	if (d == NULL)
		return;
	curl_loop_destroy(d->cl);
	for (size_t i = 0; i < d->np && d->p != NULL; i++)
		curl_slist_free_all(d->p[i].headers);
	if (d->timer != NULL)
		event_free(d->timer);
	free(d->p);
	free(d->applied);
	free(d->answers);
	free(d);
}

enum result deliver_run(struct deliver *d)
{
	clock_gettime(CLOCK_MONOTONIC, &d->t0);
	for (size_t i = 0; i < d->np; i++)
		d->p[i].due_us = real_us(d, deliver_plan_get(d->plan, i)->at_ms);
	deliver_arm(d);
	event_base_dispatch(d->base);
	return d->overflow ? RESULT_NOMEM : RESULT_OK;
}

size_t deliver_answers(const struct deliver *d)
{
	return d->nanswers;
}

const struct deliver_answer *deliver_answer_get(const struct deliver *d, size_t i)
{
	ASSERT(i < d->nanswers);
	return &d->answers[i];
}

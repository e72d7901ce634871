/* live/world_live_ops.c - the live backend's operations in flight: each
 * port call becomes one op that completes exactly once (answer, emulated
 * timeout or failure), and the small helpers the ports and reads share. */
#include "live/world_live.h"

#include "live/world_live_int.h"

/* ---- small helpers -------------------------------------------------------- */

uint64_t wl_now_us(const struct world_live *wl)
{
	return sched_now_us(wl->s);
}

char *wl_xstrdup(const char *s)
{
	char *d = strdup(s != NULL ? s : "");
	ASSERT(d != NULL);
	return d;
}

static void spin_on_slice(void *arg)
{
	struct world_live *wl = arg;
	sched_stop(wl->s);
}

/* Runs the loop until *flag or until limit_us passes, in slices bounded by
 * scheduler timers (sched_run's own bound would outlive an early stop). */
void wl_spin_until(struct world_live *wl, const bool *flag, uint64_t limit_us)
{
	uint64_t start = wl_now_us(wl);
	for (uint64_t guard = 0; !*flag && wl_now_us(wl) - start < limit_us; guard++) {
		ASSERT(guard <= limit_us / LIVE_SPIN_SLICE_US + 1000);
		struct sched_timer t = sched_after(wl->s, LIVE_SPIN_SLICE_US, spin_on_slice, wl);
		sched_run(wl->s, UINT64_MAX);
		sched_cancel(wl->s, t);
	}
}

void wl_note_fault(struct world_live *wl, enum fault_target t, enum fault_kind k,
                       const char *op)
{
	wl->faults[t]++;
	if (wl->seed.hooks.on_fault != NULL)
		wl->seed.hooks.on_fault(wl->seed.hooks.arg, t, k, op);
}

/* The emulated deadline of a wrapper's timeout: the client's own, scaled
 * like the scenario's durations so a fault does not stall the suite. */
uint64_t wl_emulated_timeout_us(const struct world_live *wl, enum fault_target t)
{
	const struct backend_settings *b = t == FAULT_TARGET_STRIPE ? &wl->sc->stripe
	                                 : t == FAULT_TARGET_MAIL ? &wl->sc->mail
	                                 : &wl->sc->postgres;
	double k = wl->lp != NULL ? wl->lp->time_scale : 1.0;
	uint64_t d = live_plan_scale_us(b->timeout_us, k, WORLD_LIVE_EMULATED_MIN_US);
	return d < b->timeout_us ? d : b->timeout_us;
}

/* ---- ops ---------------------------------------------------------------------- */

struct lop *wl_lop_new(struct world_live *wl, enum lop_type type, void *arg)
{
	ASSERT(wl->nops < WORLD_LIVE_OPS_MAX);
	struct lop *op = calloc(1, sizeof *op);
	ASSERT(op != NULL);
	op->wl = wl;
	op->type = type;
	op->arg = arg;
	op->sent_us = wl_now_us(wl);
	op->next = wl->ops;
	if (wl->ops != NULL)
		wl->ops->prev = op;
	wl->ops = op;
	wl->nops++;
	return op;
}

void wl_lop_free(struct lop *op)
{
	struct world_live *wl = op->wl;
	if (op->prev != NULL)
		op->prev->next = op->next;
	else
		wl->ops = op->next;
	if (op->next != NULL)
		op->next->prev = op->prev;
	ASSERT(wl->nops > 0);
	wl->nops--;
	free(op->argbuf);
	free(op);
}

void wl_lop_maybe_free(struct lop *op)
{
	if (op->answered && !op->inner_pending && !op->timer_pending && !op->held)
		wl_lop_free(op);
}

void wl_kv_copy(struct lop *op, int ncmds, const struct kv_cmd *cmds)
{
	size_t cap = 0;
	for (int c = 0; c < ncmds; c++) {
		for (int i = 0; i < cmds[c].argc; i++)
			cap += strlen(cmds[c].argv[i]) + 1;
	}
	op->argbuf = malloc(cap ? cap : 1);
	ASSERT(op->argbuf != NULL);
	size_t used = 0;
	op->ncmds = ncmds;
	for (int c = 0; c < ncmds; c++) {
		ASSERT(cmds[c].argc > 0 && cmds[c].argc <= KV_ARGV_MAX);
		op->cmds[c].argc = cmds[c].argc;
		for (int i = 0; i < cmds[c].argc; i++) {
			size_t n = strlen(cmds[c].argv[i]) + 1;
			memcpy(op->argbuf + used, cmds[c].argv[i], n);
			op->cmds[c].argv[i] = op->argbuf + used;
			used += n;
		}
	}
}

/* Answers the caller with what op holds (oc and the type's payload). */
void wl_lop_answer(struct lop *op)
{
	ASSERT(!op->answered);
	op->answered = true;
	switch (op->type) {
	case LOP_KV:
		op->done.kv(op->arg, op->oc, NULL);
		break;
	case LOP_ACQUIRE:
		op->done.acquire(op->arg, op->oc, NULL,
		                 op->sqlstate[0] ? op->sqlstate : SQLSTATE_CONNECTION_FAILURE);
		break;
	case LOP_EXEC:
		op->done.sql(op->arg, op->oc, NULL);
		break;
	case LOP_STRIPE:
		op->done.stripe(op->arg, op->oc,
		                op->oc == OUTCOME_OK || op->oc == OUTCOME_ERROR ? &op->sr : NULL);
		break;
	case LOP_MAIL:
		op->done.mail(op->arg, op->oc, op->code);
		break;
	case LOP_PTTL:
		op->done.pttl(op->arg, false, 0);
		break;
	case LOP_ORDER:
		op->done.order(op->arg, false, false);
		break;
	case LOP_CLAIM:
		break;
	}
}

static void lop_on_timer(void *arg)
{
	struct lop *op = arg;
	op->timer_pending = false;
	if (!op->answered)
		wl_lop_answer(op);
	wl_lop_maybe_free(op);
}

/* Answers op with its held outcome after delay_us, never inside the call. */
void wl_lop_answer_later(struct lop *op, uint64_t delay_us)
{
	ASSERT(!op->timer_pending);
	op->timer_pending = true;
	sched_after(op->wl->s, delay_us, lop_on_timer, op);
}

void wl_lop_fail(struct lop *op, enum outcome oc)
{
	op->oc = oc;
	op->sr = (struct stripe_reply){.error_type = "", .customer_id = ""};
	wl_lop_answer_later(op, 0);
}

/* ---- proxies and bounded connects ------------------------------------------ */

static enum fault_target px_target(enum proxy_id i)
{
	return i == PX_REDIS ? FAULT_TARGET_REDIS : FAULT_TARGET_POSTGRES;
}

/* Toxics report only a total per proxy: each fire is put down to the rule
 * whose toxic is there (the first installed, else the last removed). */
void wl_px_poll(struct world_live *wl)
{
	for (int i = 0; i < PX_COUNT; i++) {
		if (wl->px[i] == NULL)
			continue;
		struct proxy_stats st;
		proxy_get_stats(wl->px[i], &st);
		if (st.toxics_fired <= wl->px_fired[i])
			continue;
		uint64_t delta = st.toxics_fired - wl->px_fired[i];
		wl->px_fired[i] = st.toxics_fired;
		enum fault_kind kind = FAULT_ERROR;
		bool found = false;
		for (size_t r = 0; r < wl->lp->nrules && !found; r++) {
			const struct live_rule *lr = &wl->lp->rules[r];
			if (wl->installed[r] && lr->target == px_target((enum proxy_id)i)) {
				kind = lr->kind;
				found = true;
			}
		}
		if (!found && wl->px_has_rule[i])
			kind = wl->lp->rules[wl->px_last_rule[i]].kind;
		for (uint64_t k = 0; k < delta; k++)
			wl_note_fault(wl, px_target((enum proxy_id)i), kind, "*");
	}
}

/* Closes every connection through the proxy, so a client stuck behind a
 * stalled one reconnects (unless the server is "down" anyway). */
void wl_px_bounce(struct world_live *wl, enum proxy_id i)
{
	if (wl->px[i] == NULL || wl->px_down[i])
		return;
	proxy_set_enabled(wl->px[i], false);
	proxy_set_enabled(wl->px[i], true);
}

/* ---- start-up connects ----------------------------------------------------- */

/* A blocking connection that cannot hang on a silent server: the string's
 * own settings (key=value or URI), with connect_timeout forced. */
PGconn *pg_connect_bounded(const char *conninfo)
{
	char secs[16];
	snprintf(secs, sizeof secs, "%d", (WORLD_LIVE_CONNECT_TIMEOUT_MS + 999) / 1000);
	const char *const keys[] = {"dbname", "connect_timeout", NULL};
	const char *const vals[] = {conninfo, secs, NULL};
	return PQconnectdbParams(keys, vals, 1);
}
